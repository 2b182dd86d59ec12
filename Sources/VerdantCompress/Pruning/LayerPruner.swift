import Foundation
import VerdantModels
import VerdantTensors

/// How a decoder block's importance is measured.
public enum LayerCriterion: String, Sendable, CaseIterable, Codable {
    /// Block influence (ShortGPT): 1 − mean cos(block input, block output) over
    /// calibration tokens. A block that barely turns the residual stream matters little.
    case bi
    /// KL(full model ‖ model without the block) of the next-token distribution,
    /// averaged over calibration tokens (the Flab-Pruner paper's criterion).
    case kl
    /// Naive baseline: the last blocks go, nothing is measured.
    case last
}

/// Called while scoring: (what is being scored, done, total).
public typealias PruningProgress = (_ stage: String, _ done: Int, _ total: Int) -> Void

/// Greedy layer removal: score every remaining block, remove the least
/// important, re-score the smaller model, repeat.
public enum LayerPruner {
    public struct Step: Sendable, Codable, Equatable {
        /// Original index of the block removed at this step.
        public var removed: Int
        /// Score of every block still present before the removal (original indices).
        public var scores: [LayerScore]
    }

    public struct LayerScore: Sendable, Codable, Equatable {
        public var layer: Int
        public var score: Double
    }

    public struct Result: Sendable {
        /// Original indices, in removal order.
        public var removed: [Int]
        public var steps: [Step]
        public var kept: [Int]
    }

    /// Picks `count` blocks of `model` to remove.
    public static func select(model: DecoderModel, count: Int, criterion: LayerCriterion, calibration: CalibrationSet?,
                              pool: ThreadPool, progress: PruningProgress? = nil) throws -> Result {
        let n = model.layers.count
        guard count >= 0 && count < n else {
            throw PruningError.invalidOption("--drop-layers \(count) must be between 0 and \(n - 1) (the model has \(n) layers)")
        }
        var kept = Array(0..<n)
        if criterion == .last || count == 0 {
            let removed = Array(kept.suffix(count))
            return Result(removed: removed, steps: [], kept: Array(kept.prefix(n - count)))
        }
        guard let calibration, !calibration.sequences.isEmpty else {
            throw PruningError.invalidOption("layer criterion '\(criterion.rawValue)' needs --calibration data")
        }
        var steps: [Step] = []
        for step in 0..<count {
            let stage = "layers (\(criterion.rawValue)) step \(step + 1)/\(count)"
            let scores: [Double]
            switch criterion {
            case .bi:
                scores = try blockInfluence(model: model.keepingLayers(kept), calibration: calibration, pool: pool) { d, t in
                    progress?(stage, d, t)
                }
            case .kl:
                scores = try klWithout(kept: kept, full: model, calibration: calibration, pool: pool) { d, t in
                    progress?(stage, d, t)
                }
            case .last:
                scores = []
            }
            // Least important first; ties go to the later layer.
            var worst = 0
            for i in 1..<kept.count where scores[i] <= scores[worst] { worst = i }
            steps.append(Step(removed: kept[worst], scores: zip(kept, scores).map { LayerScore(layer: $0, score: $1) }))
            kept.remove(at: worst)
        }
        return Result(removed: steps.map(\.removed), steps: steps, kept: kept)
    }

    /// 1 − mean cos(input, output) of every block of `model`, over the calibration tokens.
    public static func blockInfluence(model: DecoderModel, calibration: CalibrationSet, pool: ThreadPool,
                                      progress: ((Int, Int) -> Void)? = nil) throws -> [Double] {
        let observer = BlockInfluenceObserver(layers: model.layers.count)
        try calibration.run(model: model, observer: observer, pool: pool, progress: progress)
        return observer.scores
    }

    /// For each block of `kept`: mean KL(full ‖ model with `kept` minus that block)
    /// over every calibration position.
    public static func klWithout(kept: [Int], full: DecoderModel, calibration: CalibrationSet, pool: ThreadPool,
                                 progress: ((Int, Int) -> Void)? = nil) throws -> [Double] {
        let candidates = kept.indices.map { i -> DecoderModel in
            var without = kept
            without.remove(at: i)
            return full.keepingLayers(without)
        }
        let longest = calibration.sequences.map(\.count).max() ?? 1
        let cache = full.makeCache(capacity: longest)
        let candidateCaches = candidates.map { $0.makeCache(capacity: longest) }
        let candidateWorkspaces = candidates.map { Workspace(config: $0.config) }
        let workspace = Workspace(config: full.config)
        let H = full.hiddenSize, V = full.vocabSize
        let block = 16
        let reference = UnsafeMutablePointer<Float>.allocate(capacity: longest * H)
        let refLogits = UnsafeMutablePointer<Float>.allocate(capacity: block * V)
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: block * V)
        defer { reference.deallocate(); refLogits.deallocate(); logits.deallocate() }
        var totals = [Double](repeating: 0, count: candidates.count)
        var positions = 0
        let total = calibration.sequences.count * (candidates.count + 1)
        var done = 0
        for sequence in calibration.sequences {
            let tokens = Array(sequence.prefix(cache.capacity))
            let T = tokens.count
            cache.reset()
            try full.forward(tokens, cache: cache, workspace: workspace, pool: pool)
            reference.update(from: workspace.hiddenStates, count: T * H)
            done += 1
            progress?(done, total)
            for (c, candidate) in candidates.enumerated() {
                let candidateCache = candidateCaches[c], candidateWorkspace = candidateWorkspaces[c]
                candidateCache.reset()
                try candidate.forward(tokens, cache: candidateCache, workspace: candidateWorkspace, pool: pool)
                var row = 0
                while row < T {
                    let rows = min(block, T - row)
                    full.lmHead(reference + row * H, rows: rows, refLogits, pool: pool)
                    candidate.logits(workspace: candidateWorkspace, firstRow: row, rows: rows, into: logits, pool: pool)
                    for r in 0..<rows {
                        totals[c] += klDivergence(refLogits + r * V, logits + r * V, V)
                    }
                    row += rows
                }
                done += 1
                progress?(done, total)
            }
            positions += T
        }
        return totals.map { $0 / Double(max(1, positions)) }
    }
}

/// KL(softmax(p) ‖ softmax(q)) for logit rows p, q of length n.
func klDivergence(_ p: UnsafePointer<Float>, _ q: UnsafePointer<Float>, _ n: Int) -> Double {
    let lp = Double(logSumExp(p, n)), lq = Double(logSumExp(q, n))
    var kl = 0.0
    for i in 0..<n {
        let logP = Double(p[i]) - lp
        let prob = exp(logP)
        if prob > 0 { kl += prob * (logP - (Double(q[i]) - lq)) }
    }
    return max(0, kl)
}

/// Accumulates 1 − cos(x_in, x_out) per block and token.
final class BlockInfluenceObserver: ForwardObserver {
    private var inputs: [[Float]]
    private var sums: [Double]
    private var counts: [Int]

    init(layers: Int) {
        inputs = Array(repeating: [], count: layers)
        sums = Array(repeating: 0, count: layers)
        counts = Array(repeating: 0, count: layers)
    }

    var scores: [Double] { zip(sums, counts).map { $1 > 0 ? $0 / Double($1) : 0 } }

    func blockInput(layer: Int, x: UnsafePointer<Float>, rows: Int, cols: Int) {
        inputs[layer] = Array(UnsafeBufferPointer(start: x, count: rows * cols))
    }

    func blockOutput(layer: Int, x: UnsafePointer<Float>, rows: Int, cols: Int) {
        inputs[layer].withUnsafeBufferPointer { input in
            guard let a = input.baseAddress, input.count >= rows * cols else { return }
            for r in 0..<rows {
                let u = a + r * cols, v = x + r * cols
                let dot = Double(dotF32(u, v, cols))
                let nu = Double(dotF32(u, u, cols)).squareRoot(), nv = Double(dotF32(v, v, cols)).squareRoot()
                let cos = nu > 0 && nv > 0 ? dot / (nu * nv) : 1
                sums[layer] += 1 - cos
                counts[layer] += 1
            }
        }
    }
}
