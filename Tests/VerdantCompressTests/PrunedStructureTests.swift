import Foundation
import Testing
@testable import VerdantCompress
import VerdantModels
import VerdantTensors

/// A structurally pruned model must compute exactly what the original computes
/// with the removed parts' contributions zeroed — checked against a reference
/// built independently (`MaskedWeights` zeroes the stored down-projection
/// columns / output-projection inputs of the removed units).
@Suite struct PrunedStructureTests {
    static let ids = [3, 17, 42, 5, 99, 8, 150, 23, 64, 1]

    /// Down-projection name and whether its stored layout is [in, out] (Conv1D).
    static func down(_ c: ModelConfig, layer: Int) -> (String, Bool) {
        switch c.family {
        case .llama: return ("model.layers.\(layer).mlp.down_proj.weight", false)
        case .gpt2: return ("transformer.h.\(layer).mlp.c_proj.weight", c.modelType == "gpt2")
        }
    }

    static func output(_ c: ModelConfig, layer: Int) -> (String, Bool) {
        switch c.family {
        case .llama: return ("model.layers.\(layer).self_attn.o_proj.weight", false)
        case .gpt2: return ("transformer.h.\(layer).attn.c_proj.weight", c.modelType == "gpt2")
        }
    }

    static func mask(_ m: MaskedWeights, _ tensor: (String, Bool), inputs: Set<Int>) {
        let name = m.checkpoint.info(tensor.0) != nil ? tensor.0 : tensor.0.replacingOccurrences(of: "transformer.", with: "")
        if tensor.1 { m.zeroRows[name] = inputs } else { m.zeroCols[name] = inputs }
    }

    @Test(arguments: ["llama-gqa-f32", "qwen2-tied", "mistral-f16", "gpt2", "gpt2-bf16", "bigcode-mqa", "llama-sharded"])
    func ffnRemovalEqualsZeroedNeurons(_ name: String) throws {
        let (config, checkpoint, original) = try PruningFixtures.load(name)
        let I = config.intermediateSize
        var plan = PruningPlan()
        let masked = MaskedWeights(checkpoint)
        plan.ffn = (0..<config.numLayers).map { l in
            // Different neurons per layer, a quarter removed.
            let kept = (0..<I).filter { ($0 * 7 + l * 3) % 4 != 0 }
            Self.mask(masked, Self.down(config, layer: l), inputs: Set(0..<I).subtracting(kept))
            return .init(layer: l, kept: kept)
        }
        let pruned = try PrunedWeights(checkpoint: checkpoint, config: config, plan: plan)
        #expect(pruned.config.intermediateSize == plan.ffn![0].kept.count)
        let a = try logits(pruned.buildModel(), Self.ids)
        let b = try logits(DecoderModel.build(config: config, weights: masked), Self.ids)
        #expect(worstDifference(a, b) < 1e-5, "\(name)")
        // The removal matters: the unpruned model computes something else.
        #expect(worstDifference(try logits(original, Self.ids), b) > 1e-3)
    }

    @Test(arguments: ["llama-gqa-f32", "qwen2-tied", "llama-attn-bias", "llama-bf16-tied-oldrope"])
    func headRemovalEqualsZeroedHeads(_ name: String) throws {
        let (config, checkpoint, original) = try PruningFixtures.load(name)
        let d = config.headDim, group = config.numHeads / config.numKVHeads
        var plan = PruningPlan()
        let masked = MaskedWeights(checkpoint)
        plan.heads = (0..<config.numLayers).map { l in
            let keptKV: [Int], keptHeads: [Int]
            if config.numKVHeads > 1 {
                keptKV = [(l + 1) % config.numKVHeads]
                keptHeads = keptKV.flatMap { g in (g * group)..<((g + 1) * group) }
            } else {
                keptKV = [0]
                keptHeads = (0..<config.numHeads).filter { $0 % 2 == l % 2 }
            }
            let removed = Set(0..<config.numHeads).subtracting(keptHeads)
            Self.mask(masked, Self.output(config, layer: l), inputs: Set(removed.flatMap { h in (h * d)..<((h + 1) * d) }))
            return .init(layer: l, keptHeads: keptHeads, keptKVHeads: keptKV)
        }
        let pruned = try PrunedWeights(checkpoint: checkpoint, config: config, plan: plan)
        #expect(pruned.config.numHeads == plan.heads![0].keptHeads.count)
        let a = try logits(pruned.buildModel(), Self.ids)
        let b = try logits(DecoderModel.build(config: config, weights: masked), Self.ids)
        #expect(worstDifference(a, b) < 1e-5, "\(name)")
        #expect(worstDifference(try logits(original, Self.ids), b) > 1e-3)
    }

    /// GPT-2 family: heads are zeroed in place; the effect equals removing the
    /// head's output-projection inputs, and nothing leaves the file.
    @Test(arguments: ["gpt2", "bigcode-mqa", "bigcode-mha"])
    func gpt2HeadsAreZeroedInPlace(_ name: String) throws {
        let (config, checkpoint, _) = try PruningFixtures.load(name)
        let d = config.headDim
        let masked = MaskedWeights(checkpoint)
        var plan = PruningPlan()
        plan.heads = (0..<config.numLayers).map { l in
            let zeroed = [l % config.numHeads, (l + 2) % config.numHeads]
            Self.mask(masked, Self.output(config, layer: l), inputs: Set(zeroed.flatMap { h in (h * d)..<((h + 1) * d) }))
            return .init(layer: l, keptHeads: Array(0..<config.numHeads), keptKVHeads: Array(0..<config.numKVHeads),
                         zeroedHeads: zeroed.sorted())
        }
        let pruned = try PrunedWeights(checkpoint: checkpoint, config: config, plan: plan)
        #expect(pruned.parameterCount == checkpoint.parameterCount)
        #expect(pruned.entries.reduce(0) { $0 + $1.edit.zeroedElements($1.source.shape) } > 0)
        let a = try logits(pruned.buildModel(), Self.ids)
        let b = try logits(DecoderModel.build(config: config, weights: masked), Self.ids)
        #expect(worstDifference(a, b) < 1e-5, "\(name)")

        // Removing (rather than zeroing) heads is refused for this family.
        var bad = PruningPlan()
        bad.heads = (0..<config.numLayers).map { .init(layer: $0, keptHeads: [0, 1], keptKVHeads: config.numKVHeads == 1 ? [0] : [0, 1]) }
        #expect(throws: PruningError.self) { try PrunedWeights(checkpoint: checkpoint, config: config, plan: bad) }
    }

    @Test(arguments: ["llama-gqa-f32", "gpt2", "qwen2-tied"])
    func layerRemovalEqualsSkippingBlocks(_ name: String) throws {
        let (config, checkpoint, model) = try PruningFixtures.load(name)
        let pruned = try PrunedWeights(checkpoint: checkpoint, config: config, plan: PruningPlan(keptLayers: [1]))
        #expect(pruned.config.numLayers == 1)
        #expect(pruned.entries.allSatisfy { !$0.name.contains("layers.1.") && !$0.name.contains("h.1.") })
        let a = try logits(pruned.buildModel(), Self.ids)
        let b = try logits(model.keepingLayers([1]), Self.ids)
        #expect(worstDifference(a, b) == 0, "\(name)")
    }

    /// Vocabulary slicing: the pruned model's logits are the original's at the kept ids.
    @Test(arguments: ["llama-gqa-f32", "llama-bf16-tied-oldrope", "gpt2"])
    func vocabularySlicingKeepsLogitsOfKeptTokens(_ name: String) throws {
        let (config, checkpoint, model) = try PruningFixtures.load(name)
        let kept = (0..<config.vocabSize).filter { $0 % 3 != 1 }
        let pruned = try PrunedWeights(checkpoint: checkpoint, config: config, plan: PruningPlan(vocabulary: kept))
        #expect(pruned.config.vocabSize == kept.count)
        let newIds = [0, 5, 9, 20, 33, 60, 2]
        let a = try logits(pruned.buildModel(), newIds)
        let b = try logits(model, newIds.map { kept[$0] })
        let V = config.vocabSize, K = kept.count
        var worst = 0.0
        for t in 0..<newIds.count {
            for (j, old) in kept.enumerated() { worst = max(worst, Double(abs(a[t * K + j] - b[t * V + old]))) }
        }
        #expect(worst < 1e-5, "\(name): \(worst)")
    }

    /// Global FFN allocation keeps one width and zeroes the extra neurons.
    @Test func zeroedNeuronsEqualMaskedNeurons() throws {
        let (config, checkpoint, _) = try PruningFixtures.load("mistral-f16")
        let I = config.intermediateSize
        let masked = MaskedWeights(checkpoint)
        let plan = PruningPlan(ffn: (0..<config.numLayers).map { l in
            let kept = Array(0..<(I - 8))
            let zeroed = l == 0 ? [1, 5, 9] : []
            Self.mask(masked, Self.down(config, layer: l), inputs: Set(zeroed).union((I - 8)..<I))
            return .init(layer: l, kept: kept, zeroed: zeroed)
        })
        let pruned = try PrunedWeights(checkpoint: checkpoint, config: config, plan: plan)
        let a = try logits(pruned.buildModel(), Self.ids)
        let b = try logits(DecoderModel.build(config: config, weights: masked), Self.ids)
        #expect(worstDifference(a, b) < 1e-5)
    }

    /// All four at once equal layers skipped + masks + vocabulary slice.
    @Test(arguments: ["llama-gqa-f32", "gpt2"])
    func compositionEqualsEachReference(_ name: String) throws {
        let (config, checkpoint, _) = try PruningFixtures.load(name)
        let I = config.intermediateSize, d = config.headDim
        let masked = MaskedWeights(checkpoint)
        let layer = 1
        let keptNeurons = (0..<I).filter { $0 % 3 != 0 }
        Self.mask(masked, Self.down(config, layer: layer), inputs: Set(0..<I).subtracting(keptNeurons))
        let heads: PruningPlan.LayerHeads
        if config.family == .gpt2 {
            heads = .init(layer: layer, keptHeads: Array(0..<config.numHeads), keptKVHeads: Array(0..<config.numKVHeads), zeroedHeads: [2])
            Self.mask(masked, Self.output(config, layer: layer), inputs: Set((2 * d)..<(3 * d)))
        } else {
            let group = config.numHeads / config.numKVHeads
            heads = .init(layer: layer, keptHeads: Array(group..<(2 * group)), keptKVHeads: [1])
            Self.mask(masked, Self.output(config, layer: layer), inputs: Set(0..<(group * d)))
        }
        let kept = (0..<config.vocabSize).filter { $0 % 2 == 0 }
        let plan = PruningPlan(keptLayers: [layer], ffn: [.init(layer: layer, kept: keptNeurons)], heads: [heads], vocabulary: kept)
        let pruned = try PrunedWeights(checkpoint: checkpoint, config: config, plan: plan)
        let newIds = [1, 4, 9, 16, 25]
        let a = try logits(pruned.buildModel(), newIds)
        let b = try logits(DecoderModel.build(config: config, weights: masked).keepingLayers([layer]), newIds.map { kept[$0] })
        let V = config.vocabSize, K = kept.count
        var worst = 0.0
        for t in 0..<newIds.count {
            for (j, old) in kept.enumerated() { worst = max(worst, Double(abs(a[t * K + j] - b[t * V + old])) / max(1, Double(abs(b[t * V + old])))) }
        }
        #expect(worst < 1e-5, "\(name): \(worst)")
    }

    @Test func dtypeAndBitsArePreserved() throws {
        let (config, checkpoint, _) = try PruningFixtures.load("gpt2-bf16")
        let plan = PruningPlan(ffn: (0..<config.numLayers).map { .init(layer: $0, kept: Array(stride(from: 0, to: config.intermediateSize, by: 2))) })
        let pruned = try PrunedWeights(checkpoint: checkpoint, config: config, plan: plan)
        let fc = try #require(pruned.entry("transformer.h.0.mlp.c_fc.weight"))
        #expect(fc.source.dtype == .bf16 && fc.shape == [config.hiddenSize, config.intermediateSize / 2])
        let original = try checkpoint.view("transformer.h.0.mlp.c_fc.weight")
        var bytes = [UInt8](repeating: 0, count: fc.elementCount * 2)
        try bytes.withUnsafeMutableBytes { try pruned.fill(fc, into: $0) }
        // Row 3, kept column 5 = source column 10: same two bytes.
        let src = original.bytes
        let row = 3, col = 5, I = config.intermediateSize
        #expect(bytes[(row * I / 2 + col) * 2] == src[(row * I + 10) * 2])
        #expect(bytes[(row * I / 2 + col) * 2 + 1] == src[(row * I + 10) * 2 + 1])
    }
}
