import VerdantModels
import VerdantTensors

/// The weight groups of a Group Lasso penalty α·Σ_g √|g|·‖W_g‖₂ (Yuan & Lin's
/// √(group size) weighting, so one α means the same for 2-weight tiles and
/// 768-weight neurons).
///
/// Llama-family models only (separate q/k/v/o and gate/up/down, stored [out, in]):
/// - `tile1x2`: two adjacent weights of a row of every q/k/v/o/gate/up/down
///   matrix (the seed's finest group). Removal needs a sparse format.
/// - `row`: one FFN neuron j of a layer, seen from the side that produces it —
///   row j of gate_proj and row j of up_proj (768 weights at hidden 384). When both
///   are zero the neuron's output silu(0)·0 is 0, so removing the neuron (with
///   down_proj's column j) changes nothing.
/// - `column`: the same neuron seen from the side that consumes it — column j of
///   down_proj. When it is zero the neuron contributes nothing either.
/// `row` and `column` remove whole neurons (a smaller dense checkpoint through the
/// pruning slicer); attention is not grouped there because pycoder-style GQA has
/// 2 key/value groups per layer (one removal = half the layer's attention) and the
/// config needs the same head count in every layer.
public enum LassoGroup: String, Sendable, CaseIterable, Codable {
    case tile1x2 = "1x2"
    case row
    case column

    /// The matrices a group kind covers, as layer-relative suffixes.
    public var matrices: [String] {
        switch self {
        case .tile1x2: return ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                               "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
        case .row, .column: return ["mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
        }
    }
}

/// The groups of one model, as offsets into a `ParameterStore`'s flat buffer
/// (model layout = checkpoint layout for the llama family).
public struct LassoGroups: Sendable {
    public let kind: LassoGroup
    public let layers: Int
    /// Per layer: (gate, up, down) offsets for row/column; per matrix (offset, rows, cols) for 1x2.
    let matrices: [(name: String, offset: Int, rows: Int, cols: Int)]
    let ffn: [(gate: Int, up: Int, down: Int)]
    let hidden: Int
    let intermediate: Int

    public init(kind: LassoGroup, store: ParameterStore) throws {
        let c = store.config
        guard c.family == .llama else {
            throw TrainingError.invalidArgument("Group Lasso supports the llama family (llama, mistral, qwen2), not \(c.modelType)")
        }
        self.kind = kind
        layers = c.numLayers
        hidden = c.hiddenSize
        intermediate = c.intermediateSize
        var mats: [(String, Int, Int, Int)] = []
        var ffn: [(Int, Int, Int)] = []
        for l in 0..<c.numLayers {
            var off: [String: Int] = [:]
            for m in kind.matrices {
                let name = "model.layers.\(l).\(m).weight"
                guard let p = store.parameter(name), p.shape.count == 2, p.layout == .plain else {
                    throw TrainingError.invalidArgument("Group Lasso: the model has no 2-D \(name)")
                }
                if kind == .tile1x2 && p.shape[1] % 2 != 0 {
                    throw TrainingError.invalidArgument("1x2 groups need an even number of input columns; \(name) has \(p.shape[1])")
                }
                mats.append((name, p.offset, p.shape[0], p.shape[1]))
                off[m] = p.offset
            }
            if kind != .tile1x2, let g = off["mlp.gate_proj"], let u = off["mlp.up_proj"], let d = off["mlp.down_proj"] {
                ffn.append((g, u, d))
            }
        }
        matrices = mats
        self.ffn = ffn
    }

    /// Elements per group.
    public var groupSize: Int { kind == .tile1x2 ? 2 : (kind == .row ? 2 * hidden : hidden) }

    /// Weights the groups cover (what a sparsity is a fraction of). For row/column
    /// a neuron also owns its other-side weights, so this counts all three FFN matrices.
    public var coveredWeights: Int { matrices.reduce(0) { $0 + $1.rows * $1.cols } }

    /// ‖W_g‖₂ of every group. 1x2: per matrix, [rows · cols/2] in row-major pair order;
    /// row/column: per layer, [intermediate].
    public func norms(_ values: UnsafePointer<Float>) -> [(name: String, norms: [Float])] {
        switch kind {
        case .tile1x2:
            return matrices.map { m in
                let base = values + m.offset
                return (m.name, (0..<(m.rows * m.cols / 2)).map { i in
                    let a = base[2 * i], b = base[2 * i + 1]
                    return (a * a + b * b).squareRoot()
                })
            }
        case .row, .column:
            return ffn.enumerated().map { l, o in
                ("model.layers.\(l).mlp", (0..<intermediate).map { j in
                    var s: Float = 0
                    if kind == .row {
                        for k in 0..<hidden {
                            let g = values[o.gate + j * hidden + k], u = values[o.up + j * hidden + k]
                            s += g * g + u * u
                        }
                    } else {
                        for k in 0..<hidden { let d = values[o.down + k * intermediate + j]; s += d * d }
                    }
                    return s.squareRoot()
                })
            }
        }
    }
}

/// The proximal step of the Group Lasso penalty, applied after each AdamW update:
/// w_g ← w_g · max(0, 1 − τ/‖w_g‖) with τ = lr · α · √|g| (group soft-threshold).
///
/// Why proximal rather than a subgradient α·w_g/‖w_g‖ added to the gradient:
/// the subgradient never lands on 0 (it oscillates around it), while the
/// threshold sets a group exactly to zero once its norm is below τ, so the
/// groups the penalty has given up on are already gone when pruning ranks them.
/// Why the plain learning rate, not Adam's per-coordinate step: AdamW decouples
/// its weight decay from the adaptive scaling for the same reason — Adam divides
/// each coordinate's step by √v̂, so a penalty pushed through the gradient would be
/// scaled up for rarely-updated weights and down for busy ones, and the exact
/// proximal operator of a group norm under a non-uniform diagonal metric has no
/// closed form. Decoupled, α is in "Adam step" units: Adam moves a coordinate by at
/// most ≈ lr per step, a group by ≈ lr·√|g|, so with α < 1 a group whose gradient
/// keeps a consistent sign survives and one whose gradient is noise drifts to zero;
/// α > 1 shrinks every group.
public final class GroupLassoProximal: @unchecked Sendable {
    public let groups: LassoGroups
    public let alpha: Float

    public init(groups: LassoGroups, alpha: Float) {
        self.groups = groups
        self.alpha = alpha
    }

    /// Applies the threshold for learning rate `lr` to the store's values.
    public func apply(_ values: UnsafeMutablePointer<Float>, learningRate lr: Float, pool: ThreadPool) {
        let tau = lr * alpha * Float(groups.groupSize).squareRoot()
        guard tau > 0 else { return }
        let g = groups
        switch g.kind {
        case .tile1x2:
            // Fixed chunks of rows per matrix: element-wise per group, so deterministic.
            var work: [(Int, Int)] = []
            for m in g.matrices {
                var r = 0
                while r < m.rows { work.append((m.offset + r * m.cols, min(64, m.rows - r) * m.cols)); r += 64 }
            }
            pool.run(work.count) { t in
                let (start, n) = work[t]
                shrinkPairs(values + start, count: n, tau: tau)
            }
        case .row, .column:
            let hidden = g.hidden, inter = g.intermediate, kind = g.kind
            pool.run(g.ffn.count) { l in
                let o = g.ffn[l]
                for j in 0..<inter {
                    var s: Float = 0
                    if kind == .row {
                        let gp = values + o.gate + j * hidden, up = values + o.up + j * hidden
                        for k in 0..<hidden { s += gp[k] * gp[k] + up[k] * up[k] }
                        let f = shrinkFactor(s, tau)
                        if f != 1 { for k in 0..<hidden { gp[k] *= f; up[k] *= f } }
                    } else {
                        let d = values + o.down + j
                        for k in 0..<hidden { s += d[k * inter] * d[k * inter] }
                        let f = shrinkFactor(s, tau)
                        if f != 1 { for k in 0..<hidden { d[k * inter] *= f } }
                    }
                }
            }
        }
    }

    /// Penalty value α·Σ √|g|·‖w_g‖ and the fraction of groups that are exactly zero.
    public func penalty(_ values: UnsafePointer<Float>) -> (value: Double, zeroFraction: Double) {
        var sum = 0.0, zeros = 0, count = 0
        for (_, ns) in groups.norms(values) {
            for n in ns {
                sum += Double(n)
                if n == 0 { zeros += 1 }
            }
            count += ns.count
        }
        return (Double(alpha) * Double(groups.groupSize).squareRoot() * sum, count > 0 ? Double(zeros) / Double(count) : 0)
    }
}

/// max(0, 1 − τ/‖w‖) from the squared norm.
@inline(__always)
func shrinkFactor(_ squaredNorm: Float, _ tau: Float) -> Float {
    let n = squaredNorm.squareRoot()
    return n > tau ? 1 - tau / n : 0
}

/// Group soft-threshold of consecutive pairs (count even). The SIMD body and the
/// scalar tail compute the same per-pair formula (tested against `shrinkFactor`).
@inline(__always)
func shrinkPairs(_ p: UnsafeMutablePointer<Float>, count: Int, tau: Float) {
    typealias V = SIMD16<Float>
    var i = 0
    while i + 16 <= count {
        let w = UnsafeRawPointer(p + i).loadUnaligned(as: V.self)
        let sq = w * w
        let n = (sq.evenHalf + sq.oddHalf).squareRoot()
        let f8 = (1 - tau / n).replacing(with: 0, where: n .<= tau)
        var f = V()
        for k in 0..<8 { f[2 * k] = f8[k]; f[2 * k + 1] = f8[k] }
        UnsafeMutableRawPointer(p + i).storeBytes(of: w * f, as: V.self)
        i += 16
    }
    while i + 2 <= count {
        let f = shrinkFactor(p[i] * p[i] + p[i + 1] * p[i + 1], tau)
        p[i] *= f
        p[i + 1] *= f
        i += 2
    }
}

