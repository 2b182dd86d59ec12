import Foundation
import Testing
@testable import VerdantCompress
import VerdantModels
import VerdantTensors

/// Importance scores on models with a known answer: a block, neuron or head
/// whose contribution is zeroed scores 0 and goes first.
@Suite struct PruningScoreTests {
    static var pool: ThreadPool { ThreadPool(threads: 1) }

    static func calibration(vocab: Int) -> CalibrationSet {
        CalibrationSet(sequences: [probeIds(24, vocab: vocab, seed: 1), probeIds(17, vocab: vocab, seed: 2)])
    }

    /// llama-gqa-f32 with block `layer` turned into the identity (its attention
    /// output and MLP down projection zeroed).
    static func identityBlock(_ layer: Int, fixture: String = "llama-gqa-f32") throws -> DecoderModel {
        let (config, checkpoint, _) = try PruningFixtures.load(fixture)
        let masked = MaskedWeights(checkpoint)
        masked.zeroCols["model.layers.\(layer).self_attn.o_proj.weight"] = Set(0..<config.qDim)
        masked.zeroCols["model.layers.\(layer).mlp.down_proj.weight"] = Set(0..<config.intermediateSize)
        return try DecoderModel.build(config: config, weights: masked)
    }

    @Test(arguments: [LayerCriterion.bi, .kl])
    func identityBlockIsRemovedFirst(_ criterion: LayerCriterion) throws {
        for layer in 0..<2 {
            let model = try Self.identityBlock(layer)
            let result = try LayerPruner.select(model: model, count: 1, criterion: criterion,
                                                calibration: Self.calibration(vocab: 300), pool: Self.pool)
            #expect(result.removed == [layer] && result.kept == [1 - layer])
            let scores = try #require(result.steps.first?.scores)
            #expect(scores.map(\.layer) == [0, 1])
            #expect(abs(scores[layer].score) < 1e-6, "\(criterion) \(scores)")
            #expect(scores[1 - layer].score > 1e-3)
        }
    }

    @Test func greedyStepsRescoreTheRemainingBlocks() throws {
        let (_, _, model) = try PruningFixtures.load("demo")
        let calibration = Self.calibration(vocab: 512)
        let result = try LayerPruner.select(model: model, count: 1, criterion: .kl, calibration: calibration, pool: Self.pool)
        #expect(result.steps.count == 1 && result.steps[0].scores.count == 2)
        // KL of a block equals the KL measured directly on the model without it.
        let direct = try LayerPruner.klWithout(kept: [0, 1], full: model, calibration: calibration, pool: Self.pool)
        #expect(result.steps[0].scores.map(\.score) == direct)
        let last = try LayerPruner.select(model: model, count: 1, criterion: .last, calibration: nil, pool: Self.pool)
        #expect(last.removed == [1] && last.steps.isEmpty)
        #expect(throws: PruningError.self) {
            try LayerPruner.select(model: model, count: 2, criterion: .bi, calibration: calibration, pool: Self.pool)
        }
        #expect(throws: PruningError.self) {
            try LayerPruner.select(model: model, count: 1, criterion: .bi, calibration: nil, pool: Self.pool)
        }
    }

    @Test func klOfIdenticalDistributionsIsZero() {
        let p: [Float] = [1, 2, 3, -1]
        let q: [Float] = [2, 3, 4, 0]  // the same distribution, shifted logits
        #expect(abs(klDivergence(p, q, 4)) < 1e-6)
        #expect(klDivergence(p, [3, 2, 1, 0], 4) > 0.1)
    }

    @Test(arguments: ["llama-gqa-f32", "gpt2", "bigcode-mha"])
    func deadNeuronsScoreZeroAndGoFirst(_ name: String) throws {
        let (config, checkpoint, _) = try PruningFixtures.load(name)
        let masked = MaskedWeights(checkpoint)
        let dead: Set<Int> = [3, 7, 40]
        let (down, conv1D) = PrunedStructureTests.down(config, layer: 0)
        if conv1D { masked.zeroRows[down] = dead } else { masked.zeroCols[down] = dead }
        let model = try DecoderModel.build(config: config, weights: masked)
        let scores = try FFNPruner.activationScores(model: model, calibration: Self.calibration(vocab: 300), pool: Self.pool)
        #expect(scores.count == config.numLayers && scores[0].count == config.intermediateSize)
        for j in 0..<config.intermediateSize {
            #expect(dead.contains(j) ? scores[0][j] == 0 : scores[0][j] > 0)
        }
        let ratio = 3.0 / Double(config.intermediateSize)
        let (plan, results) = FFNPruner.plan(scores: scores, layers: [0, 1], ratio: ratio, allocation: .uniform)
        #expect(results[0].removed == dead.sorted())
        #expect(plan[0].kept == (0..<config.intermediateSize).filter { !dead.contains($0) })
        #expect(plan.allSatisfy { $0.kept.count == config.intermediateSize - 3 && $0.zeroed.isEmpty })
    }

    @Test func neuronScoreIsColumnNormTimesRMSActivation() throws {
        // Doubling one down column doubles that neuron's score and nothing else.
        let (config, checkpoint, model) = try PruningFixtures.load("llama-gqa-f32")
        let calibration = Self.calibration(vocab: 300)
        let base = try FFNPruner.activationScores(model: model, calibration: calibration, pool: Self.pool)
        final class Doubled: WeightSource {
            let c: Checkpoint
            init(_ c: Checkpoint) { self.c = c }
            func shape(of name: String) -> [Int]? { c.info(name)?.shape }
            func vector(_ name: String) throws -> [Float] { try c.floats(name) }
            func matrix(_ name: String) throws -> WeightMatrix {
                let m = try c.weightMatrix(name)
                guard name == "model.layers.1.mlp.down_proj.weight" else { return m }
                var v = [Float](repeating: 0, count: m.rows * m.cols)
                for r in 0..<m.rows { for k in 0..<m.cols { v[r * m.cols + k] = m.element(r, k) * (k == 5 ? 2 : 1) } }
                return .f32(rows: m.rows, cols: m.cols, values: v)
            }
        }
        let doubled = try FFNPruner.activationScores(model: DecoderModel.build(config: config, weights: Doubled(checkpoint)),
                                                     calibration: calibration, pool: Self.pool)
        #expect(abs(doubled[1][5] / base[1][5] - 2) < 1e-5)
        #expect(doubled[0] == base[0])
        #expect(doubled[1].indices.filter { $0 != 5 }.allSatisfy { abs(doubled[1][$0] - base[1][$0]) <= 1e-6 * base[1][$0] })
    }

    @Test func globalAllocationKeepsOneWidthAndZeroesTheRest() {
        // Layer 0's neurons all rank below layer 1's: globally, layer 0 loses them all but one.
        let layer0: [Float] = (0..<8).map { Float($0) * 0.01 }
        let layer1: [Float] = (0..<8).map { 1 + Float($0) }
        let (plan, results) = FFNPruner.plan(scores: [layer0, layer1], layers: [0, 2], ratio: 0.5, allocation: .global)
        // 8 neurons go in total: 7 from layer 0 (one must stay), 1 from layer 1.
        #expect(plan.map(\.layer) == [0, 2])
        #expect(plan.allSatisfy { $0.kept.count == 7 })
        #expect(plan[0].zeroed.count == 6 && plan[1].zeroed.isEmpty)
        #expect(plan[0].kept.count - plan[0].zeroed.count == 1 && plan[0].kept.contains(7) && !plan[0].zeroed.contains(7))
        #expect(results[1].removed == [0] && results[0].removed == [0])
        let uniform = FFNPruner.plan(scores: [layer0, layer1], layers: [0, 2], ratio: 0.5, allocation: .uniform).plan
        #expect(uniform.allSatisfy { $0.kept == [4, 5, 6, 7] && $0.zeroed.isEmpty })
    }

    @Test(arguments: [("llama-gqa-f32", HeadPruner.Unit.kvGroup), ("llama-gqa-f32", .queryHead), ("qwen2-tied", .kvGroup),
                      ("llama-attn-bias", .kvGroup), ("gpt2", .kvGroup), ("bigcode-mqa", .queryHead)])
    func silencedHeadsScoreZeroAndGoFirst(_ name: String, _ requested: HeadPruner.Unit) throws {
        let (config, checkpoint, _) = try PruningFixtures.load(name)
        let masked = MaskedWeights(checkpoint)
        let g = try HeadPruner.Granularity(config: config, requested: requested, ratio: 0.4)
        let silenced = 1
        let width = (g.unit == .kvGroup ? config.numHeads / config.numKVHeads : 1) * config.headDim
        let (output, conv1D) = PrunedStructureTests.output(config, layer: 1)
        let zero = Set((silenced * width)..<((silenced + 1) * width))
        if conv1D { masked.zeroRows[output] = zero } else { masked.zeroCols[output] = zero }
        let model = try DecoderModel.build(config: config, weights: masked)
        let scores = try HeadPruner.activationScores(model: model, unit: g.unit, calibration: Self.calibration(vocab: 300), pool: Self.pool)
        #expect(scores[1].count == g.units && scores[1][silenced] == 0 && scores[0].allSatisfy { $0 > 0 })
        let (plan, results) = HeadPruner.plan(scores: scores, layers: [0, 1], granularity: g, config: config)
        #expect(results[1].removed.contains(silenced) && results[1].removed.count == g.removedPerLayer)
        if g.zeroed {
            #expect(plan[1].zeroedHeads.contains(silenced) && plan[1].keptHeads.count == config.numHeads)
        } else if g.unit == .kvGroup {
            #expect(g.units == config.numKVHeads && g.removedPerLayer == 1)
            #expect(!plan[1].keptKVHeads.contains(silenced) && plan[1].keptKVHeads.count == config.numKVHeads - 1)
            #expect(plan[1].keptHeads.count == config.numHeads - config.numHeads / config.numKVHeads)
        } else {
            #expect(plan[1].keptKVHeads == Array(0..<config.numKVHeads) && !plan[1].keptHeads.contains(silenced))
            // The same number of query heads leaves every group.
            #expect(g.groups == config.numKVHeads && plan[1].keptHeads.count == config.numHeads - g.removedPerLayer)
        }
        // The plan is valid for the model.
        _ = try PrunedWeights(checkpoint: checkpoint, config: config, plan: PruningPlan(heads: plan))
    }

    @Test func headGranularityRefusesRatiosThatRemoveAllOrNothing() throws {
        let (gqa, _, _) = try PruningFixtures.load("llama-gqa-f32")   // 4 query heads, 2 kv heads
        #expect(try HeadPruner.Granularity(config: gqa, requested: .kvGroup, ratio: 0.5).removedPerLayer == 1)
        #expect(try HeadPruner.Granularity(config: gqa, requested: .queryHead, ratio: 0.5).removedPerLayer == 2)
        #expect(throws: PruningError.self) { try HeadPruner.Granularity(config: gqa, requested: .kvGroup, ratio: 0.9) }
        #expect(throws: PruningError.self) { try HeadPruner.Granularity(config: gqa, requested: .queryHead, ratio: 0.2) }
        let (mqa, _, _) = try PruningFixtures.load("llama-attn-bias")  // 4 query heads, 1 kv head
        let g = try HeadPruner.Granularity(config: mqa, requested: .kvGroup, ratio: 0.5)
        #expect(g.unit == .queryHead && g.units == 4 && g.removedPerLayer == 2 && !g.zeroed)
        let (gpt2, _, _) = try PruningFixtures.load("gpt2")
        #expect(try HeadPruner.Granularity(config: gpt2, requested: .kvGroup, ratio: 0.25).zeroed)
    }

    @Test func randomBaselinesAreSeeded() {
        #expect(FFNPruner.randomScores(layers: 2, width: 16, seed: 3) == FFNPruner.randomScores(layers: 2, width: 16, seed: 3))
        #expect(FFNPruner.randomScores(layers: 2, width: 16, seed: 3) != FFNPruner.randomScores(layers: 2, width: 16, seed: 4))
        #expect(HeadPruner.randomScores(layers: 2, units: 4, seed: 0) == HeadPruner.randomScores(layers: 2, units: 4, seed: 0))
    }
}
