import VerdantModels
import VerdantTensors

/// How intermediate neurons are ranked.
public enum UnitCriterion: String, Sendable, CaseIterable, Codable {
    /// Calibration-measured contribution to the residual stream: for an FFN
    /// neuron ‖W_down[:, j]‖ · RMS_t(a_j(t)) (Wanda-style, per neuron); for a head
    /// or KV group the RMS over tokens of the norm of its output-projection term.
    case activation
    /// Naive baseline: a seeded random order.
    case random
}

/// How many neurons each layer loses.
public enum FFNAllocation: String, Sendable, CaseIterable, Codable {
    /// Every layer loses the same number.
    case uniform
    /// One ranking across all layers: a layer loses the neurons that rank low
    /// globally. Hugging Face configs have one intermediate_size, so every layer is
    /// stored at the widest kept width and narrower layers' extra neurons are zeroed.
    case global
}

public enum FFNPruner {
    public struct LayerResult: Sendable, Codable, Equatable {
        /// Original layer index.
        public var layer: Int
        /// Score of every neuron (index = neuron).
        public var scores: [Float]
        /// Neurons removed, ascending.
        public var removed: [Int]
        /// Neurons kept in the file but zeroed (global allocation).
        public var zeroed: [Int]
    }

    /// ‖W_down[:, j]‖ · RMS_t(a_j) for every neuron of every layer of `model`, where
    /// a is the activated intermediate the down projection reads.
    public static func activationScores(model: DecoderModel, calibration: CalibrationSet, pool: ThreadPool,
                                        progress: ((Int, Int) -> Void)? = nil) throws -> [[Float]] {
        let observer = IntermediateObserver(model: model)
        try calibration.run(model: model, observer: observer, pool: pool, progress: progress)
        return model.layers.indices.map { l in
            let down = downProjection(model.layers[l])
            let norms = columnNorms(down.weight)
            let t = Double(max(1, observer.tokens[l]))
            return (0..<norms.count).map { j in Float(Double(norms[j]) * (observer.sumSquares[l][j] / t).squareRoot()) }
        }
    }

    public static func randomScores(layers: Int, width: Int, seed: UInt64) -> [[Float]] {
        var rng = RandomSource(seed: seed ^ 0x0FF1_CE00)
        return (0..<layers).map { _ in (0..<width).map { _ in rng.nextUnitFloat() } }
    }

    /// Chooses the neurons to remove. `scores[i]` belongs to original layer `layers[i]`.
    public static func plan(scores: [[Float]], layers: [Int], ratio: Double, allocation: FFNAllocation)
        -> (plan: [PruningPlan.LayerNeurons], results: [LayerResult]) {
        let width = scores.first?.count ?? 0
        let remove = min(width - 1, Int((ratio * Double(width)).rounded()))
        // Lowest score first; ties by index.
        func ascending(_ s: [Float]) -> [Int] { s.indices.sorted { (s[$0], $0) < (s[$1], $1) } }
        var keepCounts = [Int](repeating: width - remove, count: scores.count)
        if allocation == .global {
            var all: [(Float, Int, Int)] = []
            for (l, s) in scores.enumerated() { for (j, v) in s.enumerated() { all.append((v, l, j)) } }
            all.sort { ($0.0, $0.1, $0.2) < ($1.0, $1.1, $1.2) }
            keepCounts = [Int](repeating: width, count: scores.count)
            var removed = 0
            for (_, l, _) in all where removed < remove * scores.count {
                guard keepCounts[l] > 1 else { continue }
                keepCounts[l] -= 1
                removed += 1
            }
        }
        let stored = keepCounts.max() ?? width
        var plan: [PruningPlan.LayerNeurons] = []
        var results: [LayerResult] = []
        for (i, s) in scores.enumerated() {
            let order = ascending(s)
            let kept = Array(order.suffix(stored)).sorted()
            // Stored but below this layer's own count: zero them.
            let zeroed = Array(order.dropFirst(width - stored).prefix(stored - keepCounts[i])).sorted()
            let removedNeurons = Array(order.prefix(width - stored)).sorted()
            plan.append(PruningPlan.LayerNeurons(layer: layers[i], kept: kept, zeroed: zeroed))
            results.append(LayerResult(layer: layers[i], scores: s, removed: removedNeurons, zeroed: zeroed))
        }
        return (plan, results)
    }

    static func downProjection(_ layer: DecoderLayer) -> Linear {
        switch layer.mlp {
        case .gated(_, _, let down): return down
        case .plain(_, let down): return down
        }
    }
}

/// L2 norm of every column of a [rows, cols] matrix.
func columnNorms(_ w: WeightMatrix) -> [Float] {
    var sums = [Double](repeating: 0, count: w.cols)
    let row = UnsafeMutablePointer<Float>.allocate(capacity: w.cols)
    defer { row.deallocate() }
    for r in 0..<w.rows {
        w.copyRow(r, into: row)
        for c in 0..<w.cols { sums[c] += Double(row[c]) * Double(row[c]) }
    }
    return sums.map { Float($0.squareRoot()) }
}

/// Sums a_j² over tokens for the input of every layer's down projection.
final class IntermediateObserver: ForwardObserver {
    private var downNames: [String: Int] = [:]
    var sumSquares: [[Double]]
    var tokens: [Int]

    init(model: DecoderModel) {
        for (l, layer) in model.layers.enumerated() { downNames[FFNPruner.downProjection(layer).name] = l }
        sumSquares = model.layers.map { _ in [Double](repeating: 0, count: model.config.intermediateSize) }
        tokens = [Int](repeating: 0, count: model.layers.count)
    }

    func linearInput(layer: Int, linears: [Linear], x: UnsafePointer<Float>, rows: Int) {
        guard linears.count == 1, let l = downNames[linears[0].name], l == layer else { return }
        let n = linears[0].inFeatures
        sumSquares[l].withUnsafeMutableBufferPointer { acc in
            for r in 0..<rows {
                let row = x + r * n
                for j in 0..<n { acc[j] += Double(row[j]) * Double(row[j]) }
            }
        }
        tokens[l] += rows
    }
}
