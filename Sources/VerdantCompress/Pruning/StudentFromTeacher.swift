import Foundation
import VerdantModels
import VerdantTensors

/// Which teacher blocks a student built by pruning keeps.
public enum StudentLayerChoice: String, Sendable, CaseIterable, Codable {
    /// Greedy block influence (ShortGPT), as `verdant prune --criterion bi`.
    case bi
    /// Evenly spaced, first and last kept.
    case even
}

/// Builds a student of an exact shape from its teacher with the pruning
/// operations, each scored on calibration text over the model the earlier steps
/// leave: vocabulary (the student vocabulary's ids), layers (`StudentLayerChoice`),
/// KV groups then query heads within the kept groups (activation importance), FFN
/// neurons (activation importance, the same count in every layer) and hidden
/// channels (residual-stream RMS). Head size cannot change (RoPE's frequencies and
/// the q·k scale depend on it), nor can anything grow.
public enum StudentFromTeacher {
    /// Checks that `student` can be cut out of `teacher`; throws why not.
    public static func check(student s: ModelConfig, teacher t: ModelConfig, vocabulary: Int) throws(PruningError) {
        func no(_ why: String) -> PruningError { .unsupported("--init from-teacher: \(why)") }
        guard t.family == .llama, s.family == .llama else {
            throw no("building a student by pruning needs the llama family (llama, mistral, qwen2); \(t.modelType) ties head size to the hidden size")
        }
        guard s.headDim == t.headDim else {
            throw no("the student's head_dim \(s.headDim) differs from the teacher's \(t.headDim) (heads are kept whole: RoPE frequencies and the attention scale depend on head_dim); set head_dim \(t.headDim)")
        }
        let pairs: [(String, Int, Int)] = [("num_hidden_layers", s.numLayers, t.numLayers), ("hidden_size", s.hiddenSize, t.hiddenSize),
                                           ("num_attention_heads", s.numHeads, t.numHeads), ("num_key_value_heads", s.numKVHeads, t.numKVHeads),
                                           ("intermediate_size", s.intermediateSize, t.intermediateSize), ("vocab_size", s.vocabSize, vocabulary)]
        for (name, a, b) in pairs where a > b || a < 1 {
            throw no("the student's \(name) \(a) is \(a < 1 ? "below 1" : "larger than the teacher's \(b)"): pruning only removes")
        }
        guard s.numHeads % s.numKVHeads == 0, s.numHeads / s.numKVHeads <= t.numHeads / t.numKVHeads else {
            throw no("the student's \(s.numHeads) heads over \(s.numKVHeads) KV heads need \(s.numHeads / max(s.numKVHeads, 1)) query heads per group; the teacher's groups have \(t.numHeads / t.numKVHeads)")
        }
        guard s.activation == t.activation, s.qkvBias == t.qkvBias, s.outputBias == t.outputBias, s.mlpBias == t.mlpBias,
              s.tieWordEmbeddings == t.tieWordEmbeddings else {
            throw no("the student's activation, biases and tie_word_embeddings must be the teacher's (\(t.activation.rawValue), qkv bias \(t.qkvBias), tied \(t.tieWordEmbeddings))")
        }
    }

    /// The plan and its report. `vocabulary`: teacher ids the student keeps,
    /// ascending (nil: the teacher's vocabulary); `calibration` in teacher ids.
    public static func plan(pruner: Pruner, student s: ModelConfig, vocabulary: [Int]?, layers: StudentLayerChoice,
                            calibration: CalibrationSet, pool: ThreadPool,
                            progress: PruningProgress? = nil) throws -> (PruningPlan, PruningReport) {
        let t = pruner.config
        try check(student: s, teacher: t, vocabulary: vocabulary?.count ?? t.vocabSize)
        let start = Date()
        var plan = PruningPlan(vocabulary: vocabulary)
        var report = PruningReport(
            source: pruner.directory, modelType: t.modelType, parametersBefore: pruner.checkpoint.parameterCount,
            parametersAfter: 0, removedFraction: 0, zeroedParameters: 0, shapeBefore: .init(t), shapeAfter: .init(t),
            plan: plan, scoringSeconds: 0)
        let full = try DecoderModel.build(config: t, weights: pruner.checkpoint)

        let drop = t.numLayers - s.numLayers
        if drop > 0 {
            switch layers {
            case .bi:
                let result = try LayerPruner.select(model: full, count: drop, criterion: .bi, calibration: calibration, pool: pool, progress: progress)
                plan.keptLayers = result.kept
                report.layers = .init(criterion: .bi, removed: result.removed, steps: result.steps)
            case .even:
                let kept = evenlySpaced(s.numLayers, of: t.numLayers)
                plan.keptLayers = kept
                report.layers = .init(criterion: .last, removed: (0..<t.numLayers).filter { !kept.contains($0) }, steps: [])
            }
        }
        let kept = plan.layers(of: t)

        let groupSize = t.numHeads / t.numKVHeads, queries = s.numHeads / s.numKVHeads
        if s.numHeads < t.numHeads || s.numKVHeads < t.numKVHeads {
            let model = full.keepingLayers(kept)
            let groupScores = try HeadPruner.activationScores(model: model, unit: .kvGroup, calibration: calibration, pool: pool) { d, n in
                progress?("kv groups (activation)", d, n)
            }
            let headScores = try HeadPruner.activationScores(model: model, unit: .queryHead, calibration: calibration, pool: pool) { d, n in
                progress?("query heads (activation)", d, n)
            }
            plan.heads = kept.indices.map { i in
                let groups = top(groupScores[i], s.numKVHeads)
                let heads = groups.flatMap { g in top(Array(headScores[i][(g * groupSize)..<((g + 1) * groupSize)]), queries).map { g * groupSize + $0 } }
                return PruningPlan.LayerHeads(layer: kept[i], keptHeads: heads.sorted(), keptKVHeads: groups)
            }
        }

        if s.intermediateSize < t.intermediateSize {
            let model = try PrunedWeights(checkpoint: pruner.checkpoint, config: t,
                                          plan: PruningPlan(keptLayers: plan.keptLayers, heads: plan.heads)).buildModel()
            let scores = try FFNPruner.activationScores(model: model, calibration: calibration, pool: pool) { d, n in
                progress?("ffn (activation)", d, n)
            }
            plan.ffn = kept.indices.map { PruningPlan.LayerNeurons(layer: kept[$0], kept: top(scores[$0], s.intermediateSize)) }
        }

        if s.hiddenSize < t.hiddenSize {
            let model = try PrunedWeights(checkpoint: pruner.checkpoint, config: t,
                                          plan: PruningPlan(keptLayers: plan.keptLayers, ffn: plan.ffn, heads: plan.heads)).buildModel()
            let scores = try HiddenChannelPruner.activationScores(model: model, calibration: calibration, pool: pool) { d, n in
                progress?("hidden channels (residual RMS)", d, n)
            }
            plan.hiddenChannels = HiddenChannelPruner.plan(scores: scores, keep: s.hiddenSize)
        }
        try plan.validate(config: t, embeddingRows: pruner.embeddingRows)
        let shape = plan.apply(to: t, embeddingRows: pruner.embeddingRows)
        for (name, a, b) in [("layers", shape.numLayers, s.numLayers), ("hidden", shape.hiddenSize, s.hiddenSize),
                             ("heads", shape.numHeads, s.numHeads), ("kv heads", shape.numKVHeads, s.numKVHeads),
                             ("intermediate", shape.intermediateSize, s.intermediateSize), ("vocabulary", shape.vocabSize, s.vocabSize)] where a != b {
            throw PruningError.output("the pruning plan gives \(name) \(a), the student config asks for \(b)")
        }
        report.plan = plan
        report.scoringSeconds = Date().timeIntervalSince(start)
        return (plan, report)
    }

    /// `n` of `total` indices evenly spaced, first and last included.
    public static func evenlySpaced(_ n: Int, of total: Int) -> [Int] {
        guard n > 1 else { return [0] }
        return (0..<n).map { Int((Double($0) * Double(total - 1) / Double(n - 1)).rounded()) }
    }

    /// Indices of the `k` largest scores, ascending (ties: the lower index stays).
    static func top(_ scores: [Float], _ k: Int) -> [Int] {
        Array(scores.indices.sorted { (scores[$0], -$0) > (scores[$1], -$1) }.prefix(k)).sorted()
    }
}

extension Pruner {
    /// `verdant prune --to-config`: the plan that cuts this model down to `student`'s
    /// shape. Calibration comes from `options.calibrationPath`; a smaller student
    /// vocabulary is selected by frequency on `options.vocabularyCorpus`.
    public func studentPlan(student: ModelConfig, options: PruningOptions, layers: StudentLayerChoice, pool: ThreadPool,
                            progress: PruningProgress? = nil) throws -> (PruningPlan, PruningReport) {
        guard let path = options.calibrationPath else {
            throw PruningError.invalidOption("--to-config scores what to keep: give --calibration FILE")
        }
        let tokenizer = try loadTokenizer(for: "tokenizing the calibration data")
        let length = min(options.calibrationLength, config.maxPositions)
        let calibration = try CalibrationSet.load(path: path, tokenizer: tokenizer, tokens: options.calibrationTokens,
                                                  sequenceLength: length, threads: options.threads)
        var vocabulary: [Int]? = nil
        var vocabularyReport: PruningReport.Vocabulary? = nil
        if student.vocabSize < embeddingRows {
            guard let corpus = options.vocabularyCorpus else {
                throw PruningError.invalidOption("the student's vocab_size \(student.vocabSize) is below the model's \(embeddingRows): give --vocab-corpus FILE to choose its tokens")
            }
            let selection = try vocabularySelection(documents: try readCorpus(corpus), size: student.vocabSize,
                                                    tokenizer: tokenizer, threads: options.threads)
            vocabulary = selection.keptIds
            vocabularyReport = .init(corpus: corpus, stats: selection.stats)
        }
        // Calibration ids are the model's own; the student vocabulary only slices rows.
        var (plan, report) = try StudentFromTeacher.plan(pruner: self, student: student, vocabulary: vocabulary, layers: layers,
                                                         calibration: calibration, pool: pool, progress: progress)
        report.vocabulary = vocabularyReport
        report.calibration = .init(file: path, tokens: calibration.tokenCount, sequences: calibration.sequences.count, sequenceLength: length)
        plan.vocabulary = vocabulary
        return (plan, report)
    }
}
