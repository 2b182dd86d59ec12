import ArgumentParser
import Foundation
import VerdantModels
import VerdantTensors

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Prefill and decode speed (medians over runs) and peak memory.",
        discussion: """
        Each run prefills --prompt-tokens deterministic pseudo-random token ids in one batched pass, then \
        makes --gen-tokens single-token decode steps (greedy). A warm-up run first touches every weight page.
        """)

    @Argument(help: "Model directory (Hugging Face layout).")
    var modelDir: String

    @Option(help: "Prompt length for the prefill measurement.")
    var promptTokens: Int = 512

    @Option(help: "Decode steps.")
    var genTokens: Int = 128

    @Option(help: "Measured runs (the median is reported).")
    var runs: Int = 3

    @OptionGroup var runtime: RuntimeOptions

    @Flag(help: "Print JSON: prefill_tokens_per_s, decode_tokens_per_s, peak_rss_bytes, ...")
    var json = false

    func validate() throws {
        guard (1...1_000_000).contains(promptTokens) else { throw ValidationError("--prompt-tokens must be ≥ 1") }
        guard (0...1_000_000).contains(genTokens) else { throw ValidationError("--gen-tokens must be ≥ 0") }
        guard (1...1000).contains(runs) else { throw ValidationError("--runs must be between 1 and 1000") }
    }

    struct Output: Encodable {
        var prefill_tokens_per_s: Double
        var decode_tokens_per_s: Double
        var peak_rss_bytes: Int
        var prompt_tokens: Int
        var gen_tokens: Int
        var runs: Int
        var threads: Int
        var weight_bytes_per_token: Int
        var cpu: String
        var cpu_flags: String
    }

    func run() throws {
        let loaded = try LoadedModel.load(directory: modelDir)
        let model = loaded.model
        let pool = runtime.makePool()
        guard promptTokens + genTokens <= model.config.maxPositions else {
            throw CLIError("--prompt-tokens + --gen-tokens = \(promptTokens + genTokens) exceeds the model's context length \(model.config.maxPositions)")
        }
        var random = RandomSource(seed: 1234)
        let prompt = (0..<promptTokens).map { _ in Int(random.next() % UInt64(model.vocabSize)) }
        let cache = model.makeCache(capacity: promptTokens + genTokens)
        let workspace = Workspace(config: model.config)
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: model.vocabSize)
        defer { logits.deallocate() }

        func once(prefill: [Int], steps: Int) throws -> (Double, Double) {
            cache.reset()
            let t0 = monotonicSeconds()
            try model.forward(prefill, cache: cache, workspace: workspace, pool: pool)
            model.logits(workspace: workspace, firstRow: prefill.count - 1, rows: 1, into: logits, pool: pool)
            let t1 = monotonicSeconds()
            var next = Sampler.argmax(logits, count: model.vocabSize)
            for _ in 0..<steps {
                try model.forward([next], cache: cache, workspace: workspace, pool: pool)
                model.logits(workspace: workspace, firstRow: 0, rows: 1, into: logits, pool: pool)
                next = Sampler.argmax(logits, count: model.vocabSize)
            }
            return (t1 - t0, monotonicSeconds() - t1)
        }
        _ = try once(prefill: Array(prompt.prefix(min(promptTokens, 32))), steps: min(genTokens, 4))
        var prefill: [Double] = [], decode: [Double] = []
        for r in 0..<runs {
            let (p, d) = try once(prefill: prompt, steps: genTokens)
            prefill.append(Double(promptTokens) / p)
            if genTokens > 0 { decode.append(Double(genTokens) / d) }
            if !json {
                printError(String(format: "run %d: prefill %.1f tokens/s, decode %.1f tokens/s", r + 1,
                                  prefill.last ?? 0, decode.last ?? 0))
            }
        }
        let out = Output(prefill_tokens_per_s: median(prefill), decode_tokens_per_s: median(decode),
                         peak_rss_bytes: peakRSSBytes(), prompt_tokens: promptTokens, gen_tokens: genTokens,
                         runs: runs, threads: pool.threads, weight_bytes_per_token: model.weightBytesPerToken,
                         cpu: CPUInfo.current.modelName, cpu_flags: CPUInfo.current.flagSummary)
        if json { try printJSON(out); return }
        print(String(format: """
            model           %@ (%@)
            cpu             %@ (%@), %d threads
            prefill         %.1f tokens/s (%d-token prompt, median of %d)
            decode          %.2f tokens/s (%d steps, median of %d); %.1f MB of weights read per token
            peak RSS        %.1f MiB
            """, modelDir, loaded.config.modelType, out.cpu, out.cpu_flags, pool.threads, out.prefill_tokens_per_s, promptTokens, runs,
                     out.decode_tokens_per_s, genTokens, runs, Double(out.weight_bytes_per_token) / 1e6,
                     Double(out.peak_rss_bytes) / 1_048_576))
    }
}
