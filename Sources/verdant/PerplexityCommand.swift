import ArgumentParser
import Foundation
import VerdantEval
import VerdantModels
import VerdantTokenizer

struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Perplexity over a JSONL (a `text` field per line) or plain-text file.",
        discussion: """
        Each document is tokenized without special tokens and followed by EOS; the stream is cut into \
        consecutive non-overlapping windows of --context tokens (a last partial window counts if it has \
        at least 2 tokens); every token after the first of each window is predicted from its prefix. \
        Bits per byte (total negative log-likelihood in bits over the UTF-8 bytes of the scored text) compares \
        models with different tokenizers, where perplexity per token does not.
        """)

    @Argument(help: "Model directory (Hugging Face layout, with tokenizer.json).")
    var modelDir: String

    @Option(help: "JSONL file with a `text` field per line, or a plain text file (one document).")
    var data: String

    @Option(help: "Window length in tokens.")
    var context: Int = 512

    @Option(help: "Truncate the token stream to this many tokens first.")
    var maxTokens: Int?

    @OptionGroup var runtime: RuntimeOptions

    @Flag(help: "Print JSON: perplexity, tokens (predicted), tokens_per_s, bits_per_byte, bytes.")
    var json = false

    func validate() throws {
        guard context >= 2 && context <= 1 << 20 else { throw ValidationError("--context must be ≥ 2") }
        if let m = maxTokens, m < 2 { throw ValidationError("--max-tokens must be ≥ 2") }
    }

    struct Output: Encodable {
        var perplexity: Double
        var tokens: Int
        var tokens_per_s: Double
        /// Negative log-likelihood in bits per UTF-8 byte of the text (tokenizer-independent).
        var bits_per_byte: Double
        var bytes: Int
    }

    func run() throws {
        let loaded = try LoadedModel.load(directory: modelDir)
        let tokenizer = try loadTokenizer(directory: modelDir)
        let pool = runtime.makePool()
        let documents = try readDocuments(path: data)
        guard let eos = loaded.config.eosTokenIds.first ?? tokenizer.eosTokenId else {
            throw CLIError("the model declares no EOS token to separate documents")
        }
        var stream: [Int] = []
        for ids in tokenizer.encodeBatch(documents, addSpecialTokens: false, threads: pool.threads) {
            stream.append(contentsOf: ids)
            stream.append(eos)
            if let m = maxTokens, stream.count >= m { break }
        }
        if let m = maxTokens, stream.count > m { stream.removeLast(stream.count - m) }
        let interactive = isatty(2) != 0 && !json
        let result = try perplexity(model: loaded.model, tokens: stream, context: context, pool: pool) { done, total in
            if interactive { printErrorInline(String(format: "\rperplexity: %d / %d tokens", done, total)) }
        }
        if interactive { printErrorInline("\r\u{1B}[K") }
        // The bytes of the text the stream holds (decoding byte-level BPE gives the
        // documents back; EOS counts no bytes). The first token of each window is
        // not scored, so this is ≈ 1/context below the exact figure for every model alike.
        let bytes = tokenizer.decode(stream, skipSpecialTokens: true).utf8.count
        let bitsPerByte = result.negativeLogLikelihood / log(2) / Double(max(bytes, 1))
        if json {
            try printJSON(Output(perplexity: result.perplexity, tokens: result.predictedTokens, tokens_per_s: result.tokensPerSecond,
                                 bits_per_byte: bitsPerByte, bytes: bytes))
        } else {
            print(String(format: "perplexity %.4f over %d predicted tokens (%d documents, %d windows of %d), %.4f bits per byte, %.0f tokens/s",
                         result.perplexity, result.predictedTokens, documents.count, result.windows, context, bitsPerByte, result.tokensPerSecond))
        }
    }
}

func printErrorInline(_ s: String) {
    FileHandle.standardError.write(Data(s.utf8))
}

