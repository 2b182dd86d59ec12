import VerdantTensors
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct GenerationResult: Sendable {
    /// Generated ids only (the prompt excluded), including a final EOS if one was produced.
    public var tokens: [Int]
    public var promptTokens: Int
    public var prefillSeconds: Double
    /// Time spent in single-token forward passes.
    public var decodeSeconds: Double
    public var decodeSteps: Int
    public var stoppedAtEOS: Bool

    public var prefillTokensPerSecond: Double { prefillSeconds > 0 ? Double(promptTokens) / prefillSeconds : 0 }
    public var decodeTokensPerSecond: Double { decodeSeconds > 0 ? Double(decodeSteps) / decodeSeconds : 0 }
}

public enum GenerationError: Error, CustomStringConvertible {
    case emptyPrompt
    case promptTooLong(Int, capacity: Int)

    public var description: String {
        switch self {
        case .emptyPrompt: return "the prompt is empty and the model declares no BOS token to start from"
        case .promptTooLong(let n, let c): return "the prompt has \(n) tokens; the model's context holds \(c)"
        }
    }
}

/// Monotonic seconds.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

extension DecoderModel {
    /// Prefills `prompt` in one batched pass, then decodes one token at a time
    /// until `maxTokens` are generated or an EOS id is produced. `onToken` sees
    /// each generated id as soon as it is chosen (for streaming output).
    public func generate(prompt: [Int], maxTokens: Int, sampling: SamplingOptions,
                         stopTokens: Set<Int>? = nil, pool: ThreadPool,
                         onToken: (Int) -> Void = { _ in }) throws -> GenerationResult {
        var prompt = prompt
        if prompt.isEmpty {
            guard let bos = config.bosTokenIds.first else { throw GenerationError.emptyPrompt }
            prompt = [bos]
        }
        let capacity = min(config.maxPositions, prompt.count + max(0, maxTokens))
        guard prompt.count <= config.maxPositions else { throw GenerationError.promptTooLong(prompt.count, capacity: config.maxPositions) }
        let stops = stopTokens ?? Set(config.eosTokenIds)
        let cache = makeCache(capacity: capacity)
        let workspace = Workspace(config: config)
        var sampler = Sampler(options: sampling)
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: vocabSize)
        defer { logits.deallocate() }

        var result = GenerationResult(tokens: [], promptTokens: prompt.count, prefillSeconds: 0,
                                      decodeSeconds: 0, decodeSteps: 0, stoppedAtEOS: false)
        if maxTokens <= 0 { return result }
        let t0 = monotonicSeconds()
        try forward(prompt, cache: cache, workspace: workspace, pool: pool)
        self.logits(workspace: workspace, firstRow: prompt.count - 1, rows: 1, into: logits, pool: pool)
        result.prefillSeconds = monotonicSeconds() - t0

        var next = sampler.sample(logits, count: vocabSize)
        let t1 = monotonicSeconds()
        while true {
            result.tokens.append(next)
            onToken(next)
            if stops.contains(next) { result.stoppedAtEOS = true; break }
            if result.tokens.count >= maxTokens || cache.count >= cache.capacity { break }
            try forward([next], cache: cache, workspace: workspace, pool: pool)
            self.logits(workspace: workspace, firstRow: 0, rows: 1, into: logits, pool: pool)
            result.decodeSteps += 1
            next = sampler.sample(logits, count: vocabSize)
        }
        result.decodeSeconds = monotonicSeconds() - t1
        return result
    }
}
