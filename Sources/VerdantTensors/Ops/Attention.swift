#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Head layout of a (grouped-query) attention layer.
public struct AttentionShape: Sendable {
    public var numHeads: Int
    public var numKVHeads: Int
    public var headDim: Int
    /// Keys further back than `window − 1` positions are masked (Mistral); nil = full causal.
    public var window: Int?

    public init(numHeads: Int, numKVHeads: Int, headDim: Int, window: Int? = nil) {
        self.numHeads = numHeads
        self.numKVHeads = numKVHeads
        self.headDim = headDim
        self.window = window
    }
}

/// Causal scaled-dot-product attention of T new queries against a KV cache that
/// already holds their own keys/values.
///
/// q:      [T, qStride]          head h at offset h·headDim, queries at positions start..<start+T
/// keys:   [start+T, kvStride]   kv head g at offset g·headDim
/// values: [start+T, kvStride]
/// out:    [T, outStride]        head h written at h·headDim
/// scratch: numHeads × (start+T) floats for the scores of one query per head.
/// Query head h reads kv head h / (numHeads / numKVHeads) (GQA; MQA when numKVHeads = 1).
public func causalAttention(q: UnsafePointer<Float>, qStride: Int,
                            keys: UnsafePointer<Float>, values: UnsafePointer<Float>, kvStride: Int,
                            tokens: Int, start: Int, shape: AttentionShape,
                            out: UnsafeMutablePointer<Float>, outStride: Int,
                            scratch: UnsafeMutablePointer<Float>, pool: ThreadPool) {
    let d = shape.headDim
    let group = shape.numHeads / shape.numKVHeads
    let scale = 1 / Float(d).squareRoot()
    let span = start + tokens
    pool.run(shape.numHeads) { h in
        let kvOffset = (h / group) * d
        let scores = scratch + h * span
        for t in 0..<tokens {
            let pos = start + t
            let first = shape.window.map { max(0, pos - $0 + 1) } ?? 0
            let qv = q + t * qStride + h * d
            var maxScore = -Float.infinity
            for j in first...pos {
                let s = dotF32(qv, keys + j * kvStride + kvOffset, d) * scale
                scores[j] = s
                if s > maxScore { maxScore = s }
            }
            var sum: Float = 0
            for j in first...pos {
                let e = expf(scores[j] - maxScore)
                scores[j] = e
                sum += e
            }
            let o = out + t * outStride + h * d
            o.initialize(repeating: 0, count: d)
            let inv = 1 / sum
            for j in first...pos {
                axpyF32(scores[j] * inv, values + j * kvStride + kvOffset, o, d)
            }
        }
    }
}

/// log Σ exp(x[i]) over n values, stable.
public func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var m = -Float.infinity
    for i in 0..<n where x[i] > m { m = x[i] }
    if m == -Float.infinity { return m }
    var s: Double = 0
    for i in 0..<n { s += Double(expf(x[i] - m)) }
    return m + Float(log(s))
}
