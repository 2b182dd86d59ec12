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
public final class KVCache: @unchecked Sendable {
    public let capacity: Int
    public let kvDim: Int
    /// Positions filled.
    public internal(set) var count: Int = 0
    /// per layer: [capacity, kvDim]
    let keys: [UnsafeMutablePointer<Float>]
    let values: [UnsafeMutablePointer<Float>]

    public init(layers: Int, capacity: Int, kvDim: Int) {
        self.capacity = capacity
        self.kvDim = kvDim
        keys = (0..<layers).map { _ in .allocate(capacity: capacity * kvDim) }
        values = (0..<layers).map { _ in .allocate(capacity: capacity * kvDim) }
    }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }

    public func reset() { count = 0 }

    /// Forget positions from `length` on (e.g. to reuse a shared prefix).
    public func truncate(to length: Int) { count = min(count, max(0, length)) }

    public var byteCount: Int { keys.count * 2 * capacity * kvDim * 4 }
}
