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

    /// The group lists' names, in `norms` order (1x2: the matrices; row/column: the layers' MLPs).
    public var listNames: [String] {
        kind == .tile1x2 ? matrices.map(\.name) : ffn.indices.map { "model.layers.\($0).mlp" }
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
            return matrices.map { m in (m.name, tileNorms(values + m.offset, count: m.rows * m.cols / 2)) }
        case .row, .column:
            return ffn.indices.map { l in (listNames[l], neuronNorms(values, layer: l)) }
        }
    }

    /// Norms of `count` consecutive pairs.
    func tileNorms(_ base: UnsafePointer<Float>, count: Int) -> [Float] {
        (0..<count).map { i in
            let a = base[2 * i], b = base[2 * i + 1]
            return (a * a + b * b).squareRoot()
        }
    }

    /// Norms of layer l's neuron groups (row: gate + up rows; column: down column).
    func neuronNorms(_ values: UnsafePointer<Float>, layer l: Int) -> [Float] {
        let o = ffn[l]
        return (0..<intermediate).map { j in
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
        }
    }

    /// Multiplies neuron j's group of layer l by f; `wholeNeuron` takes all three sides
    /// (gate row, up row, down column) whatever the kind.
    func scaleGroup(_ values: UnsafeMutablePointer<Float>, layer l: Int, neuron j: Int, by f: Float, wholeNeuron: Bool = false) {
        let o = ffn[l]
        if kind == .row || wholeNeuron {
            let gp = values + o.gate + j * hidden, up = values + o.up + j * hidden
            // f = 0 assigns: 0 · w would keep the sign (−0) and a NaN.
            for k in 0..<hidden { gp[k] = f == 0 ? 0 : gp[k] * f; up[k] = f == 0 ? 0 : up[k] * f }
        }
        if kind == .column || wholeNeuron {
            let d = values + o.down + j
            for k in 0..<hidden { d[k * intermediate] = f == 0 ? 0 : d[k * intermediate] * f }
        }
    }
}

/// How α moves over the penalty phase.
/// - `constant`: α from the first step (the seed's recipe).
/// - `ramp`: α_t = A·(t+1)/T, from ≈ 0 to A at the last step: the model fits the
///   data first and the groups are pushed harder as the cut approaches (a
///   continuation), instead of shrinking every group from step one.
public enum AlphaSchedule: String, Sendable, CaseIterable, Codable {
    case constant, ramp
}

/// Which groups the penalty acts on.
/// - `all`: every group (the plain Group Lasso).
/// - `cut`: only the groups the cut at the target sparsity would remove now,
///   re-ranked after every step (a targeted Group Lasso): the kept weights are never
///   shrunk, the doomed ones are driven to exactly zero while the rest re-adapts,
///   and a group whose gradient keeps growing it can still climb out of the cut set.
public enum PenaltyTarget: String, Sendable, CaseIterable, Codable {
    case all, cut
}

/// The proximal step of the Group Lasso penalty, applied after each AdamW update:
/// w_g ← w_g · max(0, 1 − τ/‖w_g‖) with τ = lr · α_t · √|g| (group soft-threshold).
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
/// α > 1 shrinks every group it acts on (with `cut`, only the doomed ones).
public final class GroupLassoProximal: WeightConstraint, @unchecked Sendable {
    public let groups: LassoGroups
    /// The peak α (the constant one for `constant`).
    public let alpha: Float
    public let schedule: AlphaSchedule
    public let target: PenaltyTarget
    /// The cut's sparsity (what `cut` targets).
    public let sparsity: Double
    /// Steps of the penalty phase (what `ramp` spreads over).
    public let totalSteps: Int

    public init(groups: LassoGroups, alpha: Float, schedule: AlphaSchedule = .constant, target: PenaltyTarget = .all,
                sparsity: Double = 0, totalSteps: Int = 1) {
        self.groups = groups
        self.alpha = alpha
        self.schedule = schedule
        self.target = target
        self.sparsity = sparsity
        self.totalSteps = max(1, totalSteps)
    }

    /// α of 0-based step `step`.
    public func alpha(step: Int) -> Float {
        switch schedule {
        case .constant: return alpha
        case .ramp: return alpha * Float(min(step + 1, totalSteps)) / Float(totalSteps)
        }
    }

    public func prepareGradients(_ gradients: UnsafeMutablePointer<Float>, pool: ThreadPool) {}

    /// Applies the threshold of step `step` with learning rate `lr` to the store's values.
    public func apply(_ values: UnsafeMutablePointer<Float>, learningRate lr: Float, step: Int, pool: ThreadPool) {
        let tau = lr * alpha(step: step) * Float(groups.groupSize).squareRoot()
        guard tau > 0 else { return }
        let g = groups
        switch (g.kind, target) {
        case (.tile1x2, .all):
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
        case (.tile1x2, .cut):
            let s = sparsity
            pool.run(g.matrices.count) { i in
                let m = g.matrices[i], base = values + m.offset
                let ns = g.tileNorms(base, count: m.rows * m.cols / 2)
                let doomed = smallestGroups(ns, count: removedCount(ns.count, sparsity: s))
                for p in ns.indices where doomed[p] {
                    let f = ns[p] > tau ? 1 - tau / ns[p] : 0
                    base[2 * p] *= f
                    base[2 * p + 1] *= f
                }
            }
        case (.row, _), (.column, _):
            let s = sparsity, t = target
            pool.run(g.ffn.count) { l in
                let ns = g.neuronNorms(values, layer: l)
                let doomed = t == .cut ? smallestGroups(ns, count: removedCount(ns.count, sparsity: s)) : nil
                for j in ns.indices where doomed?[j] ?? true {
                    let f = ns[j] > tau ? 1 - tau / ns[j] : 0
                    if f != 1 { g.scaleGroup(values, layer: l, neuron: j, by: f) }
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

/// The groups removed at `sparsity` of a list of `count` (one matrix of 1x2 tiles,
/// one layer's FFN neurons): round(sparsity · count) — the cut rule of every removal.
public func removedCount(_ count: Int, sparsity: Double) -> Int {
    min(count, max(0, Int((sparsity * Double(count)).rounded())))
}

/// Marks the `count` smallest of `norms`, ties broken towards the lower index: the
/// one ranking the penalty's target set, the recovery mask and the written output
/// share. A selection (O(n)), not a sort, because `cut` runs it on every matrix at
/// every step.
public func smallestGroups(_ norms: [Float], count: Int) -> [Bool] {
    guard count > 0 else { return [Bool](repeating: false, count: norms.count) }
    guard count < norms.count else { return [Bool](repeating: true, count: norms.count) }
    var scratch = norms
    let t = scratch.withUnsafeMutableBufferPointer { kthSmallest($0, count - 1) }
    var ties = count - norms.reduce(0) { $0 + ($1 < t ? 1 : 0) }
    return norms.map { n in
        if n < t { return true }
        if n == t && ties > 0 { ties -= 1; return true }
        return false
    }
}

/// The k-th smallest (0-based) of `a`, reordering it. Three-way partitioning around a
/// median-of-three pivot, so the many exact zeros a working penalty leaves do not
/// make it quadratic.
func kthSmallest(_ a: UnsafeMutableBufferPointer<Float>, _ k: Int) -> Float {
    var lo = 0, hi = a.count - 1
    while lo < hi {
        let x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi]
        let pivot = max(min(x, y), min(max(x, y), z))
        var lt = lo, i = lo, gt = hi
        while i <= gt {
            if a[i] < pivot { a.swapAt(lt, i); lt += 1; i += 1 } else if a[i] > pivot { a.swapAt(i, gt); gt -= 1 } else { i += 1 }
        }
        if k < lt { hi = lt - 1 } else if k > gt { lo = gt + 1 } else { return pivot }
    }
    return a[lo]
}

/// The removed groups of a cut, held at exactly zero while the kept weights re-adapt
/// (masked recovery after the cut). Gradients of removed groups are zeroed before the
/// update (so they neither count in the clipping norm nor build AdamW moments) and
/// the weights after it (weight decay and a zero moment leave them at 0 anyway; the
/// second pass makes "exactly zero" independent of that). For row/column a removed
/// neuron loses all three of its sides (gate row, up row, down column), since the
/// smaller checkpoint drops all three.
public final class GroupMask: WeightConstraint, @unchecked Sendable {
    public let groups: LassoGroups
    /// Per group list (1x2: per matrix; row/column: per layer), true = removed.
    public let removed: [[Bool]]

    /// The cut at `sparsity` of the groups' current norms in `values`.
    public init(groups: LassoGroups, values: UnsafePointer<Float>, sparsity: Double) {
        self.groups = groups
        removed = groups.norms(values).map { smallestGroups($0.norms, count: removedCount($0.norms.count, sparsity: sparsity)) }
    }

    public func prepareGradients(_ gradients: UnsafeMutablePointer<Float>, pool: ThreadPool) { zero(gradients, pool: pool) }

    public func apply(_ values: UnsafeMutablePointer<Float>, learningRate: Float, step: Int, pool: ThreadPool) {
        zero(values, pool: pool)
    }

    /// Sets the removed groups of `buffer` (values or gradients, model layout) to 0.
    public func zero(_ buffer: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let g = groups, removed = removed
        switch g.kind {
        case .tile1x2:
            pool.run(g.matrices.count) { i in
                let base = buffer + g.matrices[i].offset
                for (p, r) in removed[i].enumerated() where r { base[2 * p] = 0; base[2 * p + 1] = 0 }
            }
        case .row, .column:
            pool.run(g.ffn.count) { l in
                for (j, r) in removed[l].enumerated() where r { g.scaleGroup(buffer, layer: l, neuron: j, by: 0, wholeNeuron: true) }
            }
        }
    }

    /// Groups removed, how many of them are exactly zero in `values`, and the largest
    /// norm among them (what a penalty must erase to zero the whole cut).
    public func removedCounts(zeroIn values: UnsafePointer<Float>) -> (removed: Int, zero: Int, total: Int, largestNorm: Float) {
        var r = 0, z = 0, t = 0, largest: Float = 0
        for (list, (_, ns)) in zip(removed, groups.norms(values)) {
            t += list.count
            for (cut, n) in zip(list, ns) where cut {
                r += 1
                if n == 0 { z += 1 }
                largest = max(largest, n)
            }
        }
        return (r, z, t, largest)
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

