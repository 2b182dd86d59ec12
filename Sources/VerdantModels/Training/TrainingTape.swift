import VerdantTensors

/// A zeroed f32 heap buffer of fixed size.
final class FloatBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    init(_ count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(1, count))
        pointer.initialize(repeating: 0, count: max(1, count))
    }
    deinit { pointer.deallocate() }
}

/// What the training forward keeps for the backward, for a batch of `batch`
/// sequences of `tokens` positions (N = batch·tokens rows), reused step after step.
///
/// Activation memory, per layer (floats): the block input x and the residual
/// after attention (2·N·H), post-RoPE q, k, v and the attention output
/// (N·(2·qDim + 2·kvDim)), the attention logsumexp (N·heads), and the MLP
/// pre-activations (N·I, twice for gated MLPs). Recomputed instead of stored,
/// because recomputing is cheap next to the matmuls that use them: the normed
/// block inputs (one pass over N·H), the attention probabilities (flash-attention
/// style, O(T) per row, never O(T²) memory) and the MLP activation outputs. For
/// pycoder-llama-19m (H 384, qDim 384, kvDim 128, 6 heads, I 1024, 8 layers) at
/// N = 2048 that is 2048·(768 + 1024 + 6 + 2048)·4 B ≈ 31.5 MB per layer, 252 MB
/// in all, plus layer-independent scratch (one layer's gradients, one logits
/// chunk of `lossChunkRows`·vocab).
public final class TrainingTape: @unchecked Sendable {
    public let batch: Int
    public let tokens: Int
    public var rows: Int { batch * tokens }
    /// Rows of logits materialised at once by the chunked loss.
    public let lossChunkRows: Int
    /// Where the steps run with this tape spent their time.
    public let timings = TrainingTimings()

    // Saved per layer. layerInput has layers + 1 entries: the last is the final norm's input.
    let layerInput: [FloatBuffer]     // [N, H]
    let q: [FloatBuffer]              // [N, qDim] after RoPE
    let k: [FloatBuffer]              // [N, kvDim] after RoPE
    let v: [FloatBuffer]              // [N, kvDim]
    let attention: [FloatBuffer]      // [N, qDim]
    let lse: [FloatBuffer]            // [B, heads, T]
    let middle: [FloatBuffer]         // [N, H] residual after attention
    let gate: [FloatBuffer]           // [N, I] pre-activation (plain MLP: up's output)
    let up: [FloatBuffer]             // [N, I] gated MLPs only (else empty)
    let hidden: FloatBuffer           // [N, H] final-normed

    // Scratch.
    let normed: FloatBuffer           // [N, H] a norm's output (recomputed in the backward)
    let fused: FloatBuffer            // [N, qDim + 2·kvDim]
    let dx: FloatBuffer               // [N, H] gradient of the residual stream
    let dNormed: FloatBuffer          // [N, H]
    let dTemp: FloatBuffer            // [N, H]
    let dq: FloatBuffer               // [N, qDim]
    let dk: FloatBuffer               // [N, kvDim]
    let dv: FloatBuffer               // [N, kvDim]
    let dAttention: FloatBuffer       // [N, qDim]
    let activated: FloatBuffer        // [N, I]
    let dh: FloatBuffer               // [N, I]
    let dGate: FloatBuffer            // [N, I]
    let logits: FloatBuffer           // [lossChunkRows, vocab]

    public init(config c: ModelConfig, batch: Int, tokens: Int, lossChunkRows: Int? = nil) {
        self.batch = batch
        self.tokens = tokens
        let N = batch * tokens, H = c.hiddenSize, I = c.intermediateSize, L = c.numLayers
        let gated = c.family == .llama
        // ~32 MB of logits per chunk by default (512 rows at a 16k vocabulary). Each
        // chunk repacks the output matrix for its two products and passes once over its
        // gradient (k = rows in dW += dlogitsᵀ·h): at 128 rows those per-chunk costs
        // made the head's GEMMs ~25% slower per flop than at 512.
        self.lossChunkRows = max(1, min(N, lossChunkRows ?? max(16, (8 << 20) / max(1, c.vocabSize))))
        func many(_ n: Int, _ count: Int) -> [FloatBuffer] { (0..<n).map { _ in FloatBuffer(count) } }
        layerInput = many(L + 1, N * H)
        q = many(L, N * c.qDim)
        k = many(L, N * c.kvDim)
        v = many(L, N * c.kvDim)
        attention = many(L, N * c.qDim)
        lse = many(L, N * c.numHeads)
        middle = many(L, N * H)
        normed = FloatBuffer(N * H)
        gate = many(L, N * I)
        up = gated ? many(L, N * I) : []
        hidden = FloatBuffer(N * H)
        fused = FloatBuffer(c.family == .gpt2 ? N * (c.qDim + 2 * c.kvDim) : 0)
        dx = FloatBuffer(N * H)
        dNormed = FloatBuffer(N * H)
        dTemp = FloatBuffer(N * H)
        dq = FloatBuffer(N * c.qDim)
        dk = FloatBuffer(N * c.kvDim)
        dv = FloatBuffer(N * c.kvDim)
        dAttention = FloatBuffer(N * c.qDim)
        activated = FloatBuffer(N * I)
        dh = FloatBuffer(N * I)
        dGate = FloatBuffer(gated ? N * I : 0)
        logits = FloatBuffer(self.lossChunkRows * c.vocabSize)
    }

    /// Bytes held (saved activations and scratch).
    public var byteCount: Int {
        let groups: [[FloatBuffer]] = [layerInput, q, k, v, attention, lse, middle, gate, up,
                                       [hidden, normed, fused, dx, dNormed, dTemp, dq, dk, dv, dAttention, activated, dh, dGate, logits]]
        return groups.joined().reduce(0) { $0 + $1.count * 4 }
    }
}
