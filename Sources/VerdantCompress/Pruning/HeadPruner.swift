import VerdantModels
import VerdantTensors

/// Attention pruning, GQA-aware: the unit removed is a key/value head with all
/// the query heads that read it; with a single key/value head (multi-query) the
/// unit is a query head. GPT-2-family configs derive head_dim from n_embd / n_head,
/// so there a removed head is zeroed in place (no parameters leave the file).
public enum HeadPruner {
    public enum Unit: String, Sendable, Codable, CaseIterable {
        /// A key/value head with every query head that reads it.
        case kvGroup = "kv-group"
        /// One query head; with GQA every group loses the same number, keeping its key/value head.
        case queryHead = "query-head"
    }

    /// What a ratio removes from one layer of a model.
    public struct Granularity: Sendable, Equatable {
        public var unit: Unit
        /// Units per layer (the length of a layer's score list).
        public var units: Int
        /// Sets the removal is spread evenly over (the KV groups when removing
        /// query heads of a GQA model; otherwise 1).
        public var groups: Int
        public var removedPerGroup: Int
        /// The architecture's config cannot express fewer heads: units are zeroed.
        public var zeroed: Bool
        public var removedPerLayer: Int { removedPerGroup * groups }

        public init(config c: ModelConfig, requested: Unit, ratio: Double) throws(PruningError) {
            zeroed = c.family == .gpt2
            if c.family == .llama && c.numKVHeads > 1 && requested == .kvGroup {
                unit = .kvGroup
                units = c.numKVHeads
                groups = 1
            } else {
                unit = .queryHead
                units = c.numHeads
                groups = c.family == .llama ? c.numKVHeads : 1
            }
            let perGroup = units / groups
            removedPerGroup = Int((ratio * Double(perGroup)).rounded())
            let name = unit == .kvGroup ? "key/value groups" : groups > 1 ? "query heads of each key/value group" : "heads"
            guard removedPerGroup < perGroup else {
                throw .invalidOption("--heads-ratio \(ratio) would remove all \(perGroup) \(name) of a layer")
            }
            guard removedPerGroup > 0 || ratio == 0 else {
                throw .invalidOption("--heads-ratio \(ratio) removes nothing: a layer has \(perGroup) \(name); the smallest useful ratio is \(1.0 / Double(2 * perGroup))")
            }
        }
    }

    public struct LayerResult: Sendable, Codable, Equatable {
        public var layer: Int
        /// Score of every unit (index = kv head for kv groups, query head otherwise).
        public var scores: [Float]
        public var removed: [Int]
    }

    /// Whether removed units are zeroed rather than cut out of the tensors.
    public static func zeroesInPlace(_ c: ModelConfig) -> Bool { c.family == .gpt2 }

    /// RMS over calibration tokens of ‖Σ_{h ∈ unit} W_o[:, h] · attn_h(t)‖: the size
    /// of what the unit adds to the residual stream.
    public static func activationScores(model: DecoderModel, unit: Unit, calibration: CalibrationSet, pool: ThreadPool,
                                        progress: ((Int, Int) -> Void)? = nil) throws -> [[Float]] {
        let observer = HeadContributionObserver(model: model, unit: unit, pool: pool)
        try calibration.run(model: model, observer: observer, pool: pool, progress: progress)
        return observer.scores
    }

    public static func randomScores(layers: Int, units: Int, seed: UInt64) -> [[Float]] {
        var rng = RandomSource(seed: seed ^ 0x4EAD_5EED)
        return (0..<layers).map { _ in (0..<units).map { _ in rng.nextUnitFloat() } }
    }

    /// Removes the lowest-scoring units of every layer (evenly over the groups).
    /// `scores[i]` belongs to original layer `layers[i]`.
    public static func plan(scores: [[Float]], layers: [Int], granularity g: Granularity, config c: ModelConfig)
        -> (plan: [PruningPlan.LayerHeads], results: [LayerResult]) {
        let perGroup = g.units / g.groups
        let queriesPerKV = c.numHeads / c.numKVHeads
        var plan: [PruningPlan.LayerHeads] = []
        var results: [LayerResult] = []
        for (i, s) in scores.enumerated() {
            var removed: [Int] = []
            for group in 0..<g.groups {
                let members = Array((group * perGroup)..<((group + 1) * perGroup))
                let order = members.sorted { (s[$0], $0) < (s[$1], $1) }
                removed += order.prefix(g.removedPerGroup)
            }
            removed.sort()
            let keptUnits = (0..<g.units).filter { !removed.contains($0) }
            let entry: PruningPlan.LayerHeads
            if g.zeroed {
                entry = .init(layer: layers[i], keptHeads: Array(0..<c.numHeads), keptKVHeads: Array(0..<c.numKVHeads),
                              zeroedHeads: removed)
            } else if g.unit == .kvGroup {
                entry = .init(layer: layers[i], keptHeads: keptUnits.flatMap { k in (k * queriesPerKV)..<((k + 1) * queriesPerKV) },
                              keptKVHeads: keptUnits)
            } else {
                entry = .init(layer: layers[i], keptHeads: keptUnits, keptKVHeads: Array(0..<c.numKVHeads))
            }
            plan.append(entry)
            results.append(LayerResult(layer: layers[i], scores: s, removed: removed))
        }
        return (plan, results)
    }
}

/// Accumulates, per layer and unit, Σ_t ‖Σ_{h ∈ unit} W_o[:, h·d..<(h+1)·d] · x_h(t)‖².
final class HeadContributionObserver: ForwardObserver {
    private let pool: ThreadPool
    private let headsPerUnit: Int
    private let headDim: Int
    private let hidden: Int
    private var outputNames: [String: Int] = [:]
    private var headWeights: [[WeightMatrix]?]
    private let outputs: [Linear]
    private var sums: [[Double]]
    private var tokens: [Int]

    init(model: DecoderModel, unit: HeadPruner.Unit, pool: ThreadPool) {
        let c = model.config
        self.pool = pool
        headsPerUnit = unit == .kvGroup ? c.numHeads / c.numKVHeads : 1
        headDim = c.headDim
        hidden = c.hiddenSize
        outputs = model.layers.map(\.output)
        for (l, o) in outputs.enumerated() { outputNames[o.name] = l }
        headWeights = Array(repeating: nil, count: model.layers.count)
        let units = unit == .kvGroup ? c.numKVHeads : c.numHeads
        sums = model.layers.map { _ in [Double](repeating: 0, count: units) }
        tokens = [Int](repeating: 0, count: model.layers.count)
    }

    var scores: [[Float]] {
        zip(sums, tokens).map { s, t in s.map { Float(($0 / Double(max(1, t))).squareRoot()) } }
    }

    /// W_o's columns of each head as an f32 [hidden, headDim] matrix.
    private func weights(_ l: Int) -> [WeightMatrix] {
        if let w = headWeights[l] { return w }
        let w = outputs[l].weight
        let heads = w.cols / headDim
        let row = UnsafeMutablePointer<Float>.allocate(capacity: w.cols)
        defer { row.deallocate() }
        var values = [[Float]](repeating: [Float](repeating: 0, count: hidden * headDim), count: heads)
        for r in 0..<w.rows {
            w.copyRow(r, into: row)
            for h in 0..<heads {
                for j in 0..<headDim { values[h][r * headDim + j] = row[h * headDim + j] }
            }
        }
        let result = values.map { WeightMatrix.f32(rows: hidden, cols: headDim, values: $0) }
        headWeights[l] = result
        return result
    }

    func linearInput(layer: Int, linears: [Linear], x: UnsafePointer<Float>, rows: Int) {
        guard linears.count == 1, let l = outputNames[linears[0].name], l == layer else { return }
        let w = weights(l)
        let qDim = linears[0].inFeatures
        let d = headDim, H = hidden
        let xh = UnsafeMutablePointer<Float>.allocate(capacity: rows * d)
        let y = UnsafeMutablePointer<Float>.allocate(capacity: rows * H)
        let acc = UnsafeMutablePointer<Float>.allocate(capacity: rows * H)
        defer { xh.deallocate(); y.deallocate(); acc.deallocate() }
        for u in 0..<sums[l].count {
            acc.update(repeating: 0, count: rows * H)
            for h in (u * headsPerUnit)..<((u + 1) * headsPerUnit) {
                for t in 0..<rows { (xh + t * d).update(from: x + t * qDim + h * d, count: d) }
                matmul(xh, rows: rows, w[h], y, pool: pool)
                addInPlace(acc, y, rows * H)
            }
            var s = 0.0
            for t in 0..<rows { s += Double(dotF32(acc + t * H, acc + t * H, H)) }
            sums[l][u] += s
        }
        tokens[l] += rows
    }
}
