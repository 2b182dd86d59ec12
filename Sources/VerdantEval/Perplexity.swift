#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VerdantModels
import VerdantTensors

public struct PerplexityResult: Sendable {
    public var perplexity: Double
    public var negativeLogLikelihood: Double
    /// Tokens whose probability was scored (every token after the first of each window).
    public var predictedTokens: Int
    public var windows: Int
    public var seconds: Double

    public var tokensPerSecond: Double { seconds > 0 ? Double(predictedTokens) / seconds : 0 }
}

public enum PerplexityError: Error, CustomStringConvertible {
    case badContext(Int, max: Int)
    case tooFewTokens(Int)

    public var description: String {
        switch self {
        case .badContext(let c, let m): return "--context \(c) must be between 2 and the model's context length \(m)"
        case .tooFewTokens(let n): return "the data has \(n) tokens; perplexity needs at least 2"
        }
    }
}

/// Perplexity by the protocol every Verdant figure uses: the stream is cut into
/// consecutive non-overlapping windows of `context` tokens (a last partial window
/// counts if it has ≥ 2 tokens); each token after the first of a window is
/// predicted from its prefix in that window; perplexity = exp(mean NLL).
public func perplexity(model: DecoderModel, tokens: [Int], context: Int, pool: ThreadPool,
                       progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> PerplexityResult {
    guard context >= 2 && context <= model.config.maxPositions else {
        throw PerplexityError.badContext(context, max: model.config.maxPositions)
    }
    guard tokens.count >= 2 else { throw PerplexityError.tooFewTokens(tokens.count) }
    let cache = model.makeCache(capacity: context)
    let workspace = Workspace(config: model.config)
    let vocab = model.vocabSize
    // The output projection runs over blocks of rows so that a 150k vocabulary
    // never needs a [context, vocab] buffer.
    let block = 32
    let logits = UnsafeMutablePointer<Float>.allocate(capacity: block * vocab)
    defer { logits.deallocate() }

    var nll = 0.0
    var predicted = 0
    var windows = 0
    let start = monotonicSeconds()
    var offset = 0
    while offset < tokens.count {
        let window = Array(tokens[offset..<min(offset + context, tokens.count)])
        offset += context
        if window.count < 2 { break }
        cache.reset()
        try model.forward(window, cache: cache, workspace: workspace, pool: pool)
        var row = 0
        while row < window.count - 1 {
            let rows = min(block, window.count - 1 - row)
            model.logits(workspace: workspace, firstRow: row, rows: rows, into: logits, pool: pool)
            for r in 0..<rows {
                let l = logits + r * vocab
                let target = window[row + r + 1]
                nll += Double(logSumExp(l, vocab) - l[target])
            }
            row += rows
        }
        predicted += window.count - 1
        windows += 1
        progress?(min(offset, tokens.count), tokens.count)
    }
    let seconds = monotonicSeconds() - start
    return PerplexityResult(perplexity: exp(nll / Double(predicted)), negativeLogLikelihood: nll,
                            predictedTokens: predicted, windows: windows, seconds: seconds)
}
