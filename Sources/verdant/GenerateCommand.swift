import ArgumentParser
import Foundation
import VerdantModels
import VerdantTokenizer

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt. Prints only the completion on stdout; speed on stderr.")

    @Argument(help: "Model directory (Hugging Face layout, with tokenizer.json).")
    var modelDir: String

    @Option(help: "Prompt text.")
    var prompt: String?

    @Option(help: "Prompt as comma-separated token ids instead of text (for checkpoints without tokenizer.json; use with --json).")
    var promptIds: String?

    @Option(help: "Maximum number of tokens to generate.")
    var maxTokens: Int = 128

    @Option(help: "Sampling temperature; 0 = greedy.")
    var temperature: Float = 0

    @Option(help: "Keep only the K most likely tokens (0 = off).")
    var topK: Int = 0

    @Option(help: "Nucleus sampling: keep the smallest set of tokens with this much probability (1 = off).")
    var topP: Float = 1

    @Option(help: "Random seed for sampling.")
    var seed: UInt64 = 0

    @OptionGroup var runtime: RuntimeOptions

    @Flag(help: "Print one JSON object: text, token_ids, prompt_tokens, prefill_tokens_per_s, decode_tokens_per_s.")
    var json = false

    func validate() throws {
        guard (prompt == nil) != (promptIds == nil) else { throw ValidationError("give exactly one of --prompt and --prompt-ids") }
        if let promptIds, parseIds(promptIds) == nil {
            throw ValidationError("--prompt-ids must be comma-separated non-negative integers, got '\(promptIds)'")
        }
        guard (0...1_000_000).contains(maxTokens) else { throw ValidationError("--max-tokens must be between 0 and 1000000") }
        guard temperature.isFinite, temperature >= 0, temperature <= 100 else { throw ValidationError("--temperature must be in [0, 100]") }
        guard topK >= 0 else { throw ValidationError("--top-k must be ≥ 0") }
        guard topP.isFinite, topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
    }

    struct Output: Encodable {
        var text: String
        var token_ids: [Int]
        var prompt_tokens: Int
        var prefill_tokens_per_s: Double
        var decode_tokens_per_s: Double
    }

    func run() throws {
        let loaded = try LoadedModel.load(directory: modelDir)
        if let ids = promptIds.flatMap(parseIds) {
            // Token ids in, token ids out: no tokenizer needed (the GGUF checks use this).
            guard json else { throw CLIError("--prompt-ids prints token ids; add --json") }
            let result = try loaded.model.generate(prompt: ids, maxTokens: maxTokens,
                                                   sampling: SamplingOptions(temperature: temperature, topK: topK, topP: topP, seed: seed),
                                                   pool: runtime.makePool()) { _ in }
            try printJSON(Output(text: "", token_ids: result.tokens, prompt_tokens: result.promptTokens,
                                 prefill_tokens_per_s: result.prefillTokensPerSecond,
                                 decode_tokens_per_s: result.decodeTokensPerSecond))
            return
        }
        let tokenizer = try loadTokenizer(directory: modelDir)
        let pool = runtime.makePool()
        let promptIds = tokenizer.encode(prompt ?? "", addSpecialTokens: true)
        let sampling = SamplingOptions(temperature: temperature, topK: topK, topP: topP, seed: seed)
        var stream = StreamingDecoder(tokenizer: tokenizer, skipSpecialTokens: true)
        let result = try loaded.model.generate(prompt: promptIds, maxTokens: maxTokens, sampling: sampling, pool: pool) { id in
            if !json { writeStdout(stream.push(id)) }
        }
        if json {
            try printJSON(Output(text: tokenizer.decode(result.tokens, skipSpecialTokens: true), token_ids: result.tokens,
                                 prompt_tokens: result.promptTokens,
                                 prefill_tokens_per_s: result.prefillTokensPerSecond,
                                 decode_tokens_per_s: result.decodeTokensPerSecond))
        } else {
            writeStdout(stream.finish() + "\n")
            printError(String(format: "prefill: %d tokens, %.1f tokens/s | decode: %d tokens, %.1f tokens/s | %d threads%@",
                              result.promptTokens, result.prefillTokensPerSecond, result.tokens.count,
                              result.decodeTokensPerSecond, pool.threads, result.stoppedAtEOS ? " | stopped at EOS" : ""))
        }
    }
}

/// "1, 2,3" → [1, 2, 3]; nil on anything else.
private func parseIds(_ s: String) -> [Int]? {
    let parts = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    guard !parts.isEmpty else { return nil }
    var ids: [Int] = []
    for p in parts {
        guard let v = Int(p), v >= 0 else { return nil }
        ids.append(v)
    }
    return ids
}
