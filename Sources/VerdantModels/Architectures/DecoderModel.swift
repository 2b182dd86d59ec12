import VerdantTensors
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum ModelError: Error, CustomStringConvertible {
    case contextOverflow(needed: Int, capacity: Int)
    case tokenOutOfRange(Int, vocab: Int)
    case missingTensor(String)
    case shapeMismatch(String, expected: [Int], found: [Int])
    case unsupportedDType(String, String)
    case inconsistentQuantizedTensor(String, String)

    public var description: String {
        switch self {
        case .contextOverflow(let n, let c): return "sequence of \(n) tokens exceeds the context capacity \(c)"
        case .tokenOutOfRange(let t, let v): return "token id \(t) is outside the vocabulary (size \(v))"
        case .missingTensor(let n): return "checkpoint has no tensor '\(n)'"
        case .shapeMismatch(let n, let e, let f): return "tensor '\(n)' has shape \(f), expected \(e)"
        case .unsupportedDType(let n, let d): return "tensor '\(n)' has dtype \(d), which cannot be used as a weight"
        case .inconsistentQuantizedTensor(let n, let why): return "quantized tensor '\(n)': \(why)"
        }
    }
}

/// A decoder-only language model: one implementation for every supported
/// architecture; the family decides positions, norms and MLP shape.
public final class DecoderModel: @unchecked Sendable {
    public let config: ModelConfig
    /// [vocab, hidden]
    public let embedding: WeightMatrix
    /// [maxPositions, hidden], learned absolute positions (GPT-2 family)
    public let positionEmbedding: WeightMatrix?
    public let layers: [DecoderLayer]
    public let finalNorm: Norm
    /// [vocab, hidden]; shares `embedding`'s storage when tied.
    public let lmHead: Linear
    let rope: RoPETable?
    let activation: ActivationKind
    /// Checkpoint names of the embeddings (training accumulates their gradients by name).
    public let embeddingName: String
    public let positionEmbeddingName: String?

    init(config: ModelConfig, embedding: WeightMatrix, positionEmbedding: WeightMatrix?,
         layers: [DecoderLayer], finalNorm: Norm, lmHead: Linear,
         embeddingName: String = "", positionEmbeddingName: String? = nil) {
        self.config = config
        self.embeddingName = embeddingName
        self.positionEmbeddingName = positionEmbeddingName
        self.embedding = embedding
        self.positionEmbedding = positionEmbedding
        self.layers = layers
        self.finalNorm = finalNorm
        self.lmHead = lmHead
        if let r = config.rope {
            rope = RoPETable(inverseFrequencies: Self.inverseFrequencies(r), positions: config.maxPositions)
        } else {
            rope = nil
        }
        switch config.activation {
        case .silu: activation = .silu
        case .gelu: activation = .gelu
        case .geluTanh: activation = .geluTanh
        case .relu: activation = .relu
        }
    }

    /// inv_freq[i] = θ^(−2i/d), then the configured scaling (as transformers computes it).
    static func inverseFrequencies(_ r: RoPEConfig) -> [Float] {
        let d = r.rotaryDim
        var inv = (0..<(d / 2)).map { i -> Float in
            1 / Float(pow(Double(r.theta), Double(Float(2 * i) / Float(d))))
        }
        switch r.scaling {
        case .none:
            break
        case .linear(let factor):
            inv = inv.map { $0 / factor }
        case .llama3(let factor, let lowFreqFactor, let highFreqFactor, let original):
            let oldContext = Float(original)
            let lowWavelen = oldContext / lowFreqFactor
            let highWavelen = oldContext / highFreqFactor
            inv = inv.map { f in
                let wavelen = 2 * Float.pi / f
                if wavelen < highWavelen { return f }
                if wavelen > lowWavelen { return f / factor }
                let smooth = (oldContext / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor)
                return (1 - smooth) * f / factor + smooth * f
            }
        }
        return inv
    }

    public var hiddenSize: Int { config.hiddenSize }
    public var vocabSize: Int { lmHead.outFeatures }

    public func makeCache(capacity: Int? = nil) -> KVCache {
        let cap = min(capacity ?? config.maxPositions, config.maxPositions)
        return KVCache(layers: layers.count, capacity: max(1, cap), kvHeads: config.numKVHeads, headDim: config.headDim)
    }

    /// Runs `tokens` at positions cache.count..<cache.count+T, appends their keys
    /// and values to the cache, and leaves the final-normed hidden states of the
    /// T tokens in `workspace.hidden` ([T, hidden]).
    public func forward(_ tokens: [Int], cache: KVCache, workspace: Workspace, pool: ThreadPool,
                        observer: ForwardObserver? = nil) throws {
        let T = tokens.count
        guard T > 0 else { return }
        let start = cache.count
        guard start + T <= cache.capacity else { throw ModelError.contextOverflow(needed: start + T, capacity: cache.capacity) }
        for t in tokens where t < 0 || t >= embedding.rows { throw ModelError.tokenOutOfRange(t, vocab: embedding.rows) }
        workspace.reserve(rows: T, context: cache.stride)

        let H = config.hiddenSize, qDim = config.qDim, kvDim = config.kvDim
        let x = workspace.hidden, xn = workspace.normed
        // x: [T, H] embeddings (+ learned positions)
        for (t, token) in tokens.enumerated() {
            embedding.copyRow(token, into: x + t * H)
            if let pe = positionEmbedding {
                pe.copyRow(start + t, into: workspace.scratchRow)
                addInPlace(x + t * H, workspace.scratchRow, H)
            }
        }
        let shape = AttentionShape(numHeads: config.numHeads, numKVHeads: config.numKVHeads,
                                   headDim: config.headDim, window: config.slidingWindow)
        for (l, layer) in layers.enumerated() {
            observer?.blockInput(layer: l, x: x, rows: T, cols: H)
            layer.attentionNorm(x, xn, rows: T)
            // q: [T, qStride], k: [T, kStride], v: [T, vStride]
            var q = workspace.query, k = workspace.key, v = workspace.value
            var qStride = qDim, kStride = kvDim, vStride = kvDim
            switch layer.attention {
            case .separate(let wq, let wk, let wv):
                observer?.linearInput(layer: l, linears: [wq, wk, wv], x: xn, rows: T)
                wq(xn, rows: T, q, pool: pool)
                wk(xn, rows: T, k, pool: pool)
                wv(xn, rows: T, v, pool: pool)
            case .fused(let wqkv):
                let width = qDim + 2 * kvDim
                observer?.linearInput(layer: l, linears: [wqkv], x: xn, rows: T)
                wqkv(xn, rows: T, workspace.fused, pool: pool)
                q = workspace.fused
                k = q + qDim
                v = q + qDim + kvDim
                qStride = width; kStride = width; vStride = width
            }
            if let rope {
                for t in 0..<T {
                    rope.apply(q + t * qStride, heads: config.numHeads, headStride: config.headDim, position: start + t)
                    rope.apply(k + t * kStride, heads: config.numKVHeads, headStride: config.headDim, position: start + t)
                }
            }
            cache.store(layer: l, position: start, tokens: T, k: k, kStride: kStride, v: v, vStride: vStride)
            causalAttention(q: q, qStride: qStride, keysT: cache.keys[l], values: cache.values[l], capacity: cache.stride,
                            tokens: T, start: start, shape: shape,
                            out: workspace.attention, outStride: qDim, scratch: workspace.scores, pool: pool)
            observer?.linearInput(layer: l, linears: [layer.output], x: workspace.attention, rows: T)
            layer.output(workspace.attention, rows: T, xn, pool: pool)
            addInPlace(x, xn, T * H)

            layer.mlpNorm(x, xn, rows: T)
            let I = config.intermediateSize
            switch layer.mlp {
            case .gated(let gate, let up, let down):
                observer?.linearInput(layer: l, linears: [gate, up], x: xn, rows: T)
                gate(xn, rows: T, workspace.gate, pool: pool)
                up(xn, rows: T, workspace.up, pool: pool)
                if activation == .silu {
                    siluMultiply(workspace.gate, workspace.up, count: T * I)
                } else {
                    applyActivation(activation, workspace.gate, count: T * I)
                    for i in 0..<(T * I) { workspace.gate[i] *= workspace.up[i] }
                }
                observer?.linearInput(layer: l, linears: [down], x: workspace.gate, rows: T)
                down(workspace.gate, rows: T, xn, pool: pool)
            case .plain(let up, let down):
                observer?.linearInput(layer: l, linears: [up], x: xn, rows: T)
                up(xn, rows: T, workspace.gate, pool: pool)
                applyActivation(activation, workspace.gate, count: T * I)
                observer?.linearInput(layer: l, linears: [down], x: workspace.gate, rows: T)
                down(workspace.gate, rows: T, xn, pool: pool)
            }
            addInPlace(x, xn, T * H)
            observer?.blockOutput(layer: l, x: x, rows: T, cols: H)
        }
        cache.count = start + T
        finalNorm(x, x, rows: T)
        observer?.finalHidden(x: x, rows: T, cols: H)
    }

    /// logits[r] = lmHead(hidden[r]) for `rows` rows starting at `firstRow` of the
    /// last forward's hidden states. out: [rows, vocab]
    public func logits(workspace: Workspace, firstRow: Int, rows: Int, into out: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        lmHead(workspace.hidden + firstRow * config.hiddenSize, rows: rows, out, pool: pool)
    }
}

/// Activation buffers for up to `rows` tokens, reused across calls so that
/// decoding allocates nothing per token.
public final class Workspace: @unchecked Sendable {
    let config: ModelConfig
    public private(set) var rows = 0
    private(set) var context = 0
    private(set) var hidden: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private(set) var normed: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private(set) var query: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private(set) var key: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private(set) var value: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private(set) var fused: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private(set) var attention: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private(set) var gate: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private(set) var up: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private(set) var scores: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    let scratchRow: UnsafeMutablePointer<Float>

    public init(config: ModelConfig) {
        self.config = config
        scratchRow = .allocate(capacity: config.hiddenSize)
    }

    deinit {
        [hidden, normed, query, key, value, fused, attention, gate, up, scores, scratchRow].forEach { $0.deallocate() }
    }

    /// Read access to the final hidden states of the last forward: [rows, hidden].
    public var hiddenStates: UnsafePointer<Float> { UnsafePointer(hidden) }

    func reserve(rows needed: Int, context neededContext: Int) {
        if needed > rows {
            rows = needed
            let c = config
            func realloc(_ p: inout UnsafeMutablePointer<Float>, _ n: Int) {
                p.deallocate()
                p = .allocate(capacity: max(1, n))
            }
            realloc(&hidden, needed * c.hiddenSize)
            realloc(&normed, needed * c.hiddenSize)
            realloc(&query, needed * c.qDim)
            realloc(&key, needed * c.kvDim)
            realloc(&value, needed * c.kvDim)
            realloc(&fused, needed * (c.qDim + 2 * c.kvDim))
            realloc(&attention, needed * c.qDim)
            realloc(&gate, needed * c.intermediateSize)
            realloc(&up, needed * c.intermediateSize)
        }
        if neededContext > context {
            context = neededContext
            scores.deallocate()
            scores = .allocate(capacity: config.numHeads * attentionQueryBlock * context)
        }
    }
}

extension DecoderModel {
    /// Bytes of weights a single decode step streams from memory: every linear
    /// layer, the output projection, one embedding row (norms and biases are negligible).
    public var weightBytesPerToken: Int {
        var total = lmHead.weight.byteCount + embedding.format.rowBytes(cols: embedding.cols)
        for layer in layers {
            switch layer.attention {
            case .separate(let q, let k, let v): total += q.weight.byteCount + k.weight.byteCount + v.weight.byteCount
            case .fused(let qkv): total += qkv.weight.byteCount
            }
            total += layer.output.weight.byteCount
            switch layer.mlp {
            case .gated(let g, let u, let d): total += g.weight.byteCount + u.weight.byteCount + d.weight.byteCount
            case .plain(let u, let d): total += u.weight.byteCount + d.weight.byteCount
            }
        }
        return total
    }
}
