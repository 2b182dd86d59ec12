import VerdantTensors

/// One pre-norm transformer block. Which fields are used depends on the family:
/// Llama-style blocks have separate q/k/v and a gated MLP; GPT-2-style blocks
/// have one fused qkv projection and a plain MLP.
public struct DecoderLayer: Sendable {
    public enum Attention: Sendable {
        /// q: [qDim, hidden], k/v: [kvDim, hidden]
        case separate(q: Linear, k: Linear, v: Linear)
        /// [qDim + 2·kvDim, hidden], output columns ordered q | k | v
        case fused(Linear)
    }
    public enum MLP: Sendable {
        /// down(act(gate(x)) · up(x)); gate/up: [inter, hidden], down: [hidden, inter]
        case gated(gate: Linear, up: Linear, down: Linear)
        /// down(act(up(x))); up: [inter, hidden], down: [hidden, inter]
        case plain(up: Linear, down: Linear)
    }

    public var attentionNorm: Norm
    public var attention: Attention
    /// [hidden, qDim]
    public var output: Linear
    public var mlpNorm: Norm
    public var mlp: MLP
}

/// Keys and values of every layer for the positions seen so far.
/// Keys are stored transposed per kv head ([kvHeads, headDim, capacity]) so that
/// attention scores 16 keys per SIMD step; values row-major per kv head
/// ([kvHeads, capacity, headDim]).
public final class KVCache: @unchecked Sendable {
    /// Positions the cache can hold.
    public let capacity: Int
    /// `capacity` rounded up to the attention key block (the row length in memory).
    let stride: Int
    let kvHeads: Int
    let headDim: Int
    /// Positions filled.
    public internal(set) var count: Int = 0
    let keys: [UnsafeMutablePointer<Float>]
    let values: [UnsafeMutablePointer<Float>]

    public init(layers: Int, capacity: Int, kvHeads: Int, headDim: Int) {
        self.capacity = capacity
        self.kvHeads = kvHeads
        self.headDim = headDim
        stride = (capacity + attentionKeyBlock - 1) / attentionKeyBlock * attentionKeyBlock
        let n = kvHeads * headDim * stride
        // Zeroed: score blocks read whole 16-key columns, past `count` too.
        keys = (0..<layers).map { _ in let p = UnsafeMutablePointer<Float>.allocate(capacity: n); p.initialize(repeating: 0, count: n); return p }
        values = (0..<layers).map { _ in let p = UnsafeMutablePointer<Float>.allocate(capacity: n); p.initialize(repeating: 0, count: n); return p }
    }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }

    public func reset() { count = 0 }

    /// Forget positions from `length` on (e.g. to reuse a shared prefix).
    public func truncate(to length: Int) { count = min(count, max(0, length)) }

    public var byteCount: Int { keys.count * 2 * kvHeads * headDim * stride * 4 }

    /// Stores k/v rows of `tokens` positions from `position` on in layer `layer`.
    /// k, v: [tokens, kvHeads·headDim] at row strides kStride / vStride.
    func store(layer: Int, position: Int, tokens: Int, k: UnsafePointer<Float>, kStride: Int,
               v: UnsafePointer<Float>, vStride: Int) {
        let kT = keys[layer], vs = values[layer]
        let d = headDim
        for t in 0..<tokens {
            let p = position + t
            for g in 0..<kvHeads {
                let src = k + t * kStride + g * d
                let dst = kT + g * d * stride + p
                for c in 0..<d { dst[c * stride] = src[c] }
                (vs + (g * stride + p) * d).update(from: v + t * vStride + g * d, count: d)
            }
        }
    }
}
