import Foundation
import VerdantEval
import VerdantModels
import VerdantTensors
import VerdantTokenizer
import VerdantTraining

/// What to prune. Every stage is optional; they compose in the order
/// vocabulary → layers → heads → FFN, each later stage scored on the model the
/// earlier stages leave.
public struct PruningOptions: Sendable {
    /// Keep only the tokens this corpus uses (JSONL `text` or plain text).
    public var vocabularyCorpus: String?
    /// Keep exactly this many tokens, by frequency on the corpus (see
    /// `VocabularyPruner.select`); nil keeps every token the corpus uses.
    public var vocabularySize: Int?
    public var dropLayers = 0
    public var layerCriterion: LayerCriterion = .bi
    /// Fraction of intermediate neurons to remove, in [0, 1).
    public var ffnRatio = 0.0
    public var ffnAllocation: FFNAllocation = .uniform
    public var ffnCriterion: UnitCriterion = .activation
    /// Fraction of heads (KV groups for GQA) to remove, in [0, 1).
    public var headsRatio = 0.0
    public var headsCriterion: UnitCriterion = .activation
    /// Key/value groups (GQA default) or query heads spread evenly over the groups.
    public var headsUnit: HeadPruner.Unit = .kvGroup
    /// Seed of the random baselines.
    public var seed: UInt64 = 0
    public var calibrationPath: String?
    public var calibrationTokens = 8192
    public var calibrationLength = 512
    /// Apply this plan instead of scoring.
    public var plan: PruningPlan?
    public var threads = 1

    public init() {}

    public var needsCalibration: Bool {
        (dropLayers > 0 && layerCriterion != .last) || (ffnRatio > 0 && ffnCriterion == .activation)
            || (headsRatio > 0 && headsCriterion == .activation)
    }

    public var requestsPruning: Bool {
        plan != nil || vocabularyCorpus != nil || dropLayers > 0 || ffnRatio > 0 || headsRatio > 0
    }

    public func validate() throws(PruningError) {
        guard requestsPruning else {
            throw .invalidOption("nothing to prune: give --vocab-corpus, --drop-layers, --ffn-ratio, --heads-ratio or --plan")
        }
        for (name, r) in [("--ffn-ratio", ffnRatio), ("--heads-ratio", headsRatio)] {
            guard r.isFinite, r >= 0, r < 1 else { throw .invalidOption("\(name) must be in [0, 1), got \(r)") }
        }
        if let n = vocabularySize {
            guard vocabularyCorpus != nil else { throw .invalidOption("--vocab-size needs --vocab-corpus (the text whose token frequencies rank the vocabulary)") }
            guard n >= 1 else { throw .invalidOption("--vocab-size must be ≥ 1, got \(n)") }
        }
        guard dropLayers >= 0 else { throw .invalidOption("--drop-layers must be ≥ 0, got \(dropLayers)") }
        guard calibrationTokens > 0 else { throw .invalidOption("--calibration-tokens must be positive, got \(calibrationTokens)") }
        guard calibrationLength >= 2 else { throw .invalidOption("--calibration-length must be at least 2, got \(calibrationLength)") }
        if plan != nil && (vocabularyCorpus != nil || dropLayers > 0 || ffnRatio > 0 || headsRatio > 0) {
            throw .invalidOption("--plan applies a saved plan; it cannot be combined with other pruning options")
        }
        if needsCalibration && calibrationPath == nil {
            throw .invalidOption("importance scoring needs --calibration FILE (or use --criterion last / random criteria)")
        }
    }
}

/// The documents of a corpus file: JSONL or JSONL.xz (`text` per line, read as
/// training data is) or plain text.
func readCorpus(_ path: String) throws -> [String] {
    if path.hasSuffix(".xz") { return try TrainingCorpus.read(path: path).documents.map(\.text) }
    return try readDocuments(path: path)
}

/// Scores a model and writes the pruned checkpoint.
public final class Pruner {
    public let directory: String
    public let config: ModelConfig
    public let checkpoint: Checkpoint
    let configJSON: OrderedJSON
    let embeddingRows: Int

    public init(directory: String) throws {
        self.directory = directory
        config = try ModelRegistry.config(directory: directory)
        checkpoint = try Checkpoint(path: directory)
        configJSON = try Self.readJSON((directory as NSString).appendingPathComponent("config.json"))
        let layout = PruningLayout(config: config, tensorNames: Set(checkpoint.tensorNames))
        guard let e = checkpoint.info(layout.embeddingName), e.shape.count == 2 else {
            throw PruningError.unsupported("the checkpoint has no 2-D embedding '\(layout.embeddingName)'")
        }
        embeddingRows = e.shape[0]
    }

    static func readJSON(_ path: String) throws -> OrderedJSON {
        guard let data = FileManager.default.contents(atPath: path) else { throw PruningError.input("cannot read \(path)") }
        do { return try OrderedJSON.parse([UInt8](data)) } catch {
            throw PruningError.input("\(path) is not valid JSON: \(error.description)")
        }
    }

    func optionalJSON(_ name: String) throws -> OrderedJSON? {
        let path = (directory as NSString).appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try Self.readJSON(path)
    }

    var tokenizerPath: String { (directory as NSString).appendingPathComponent("tokenizer.json") }

    func loadTokenizer(for purpose: String) throws -> Tokenizer {
        guard FileManager.default.fileExists(atPath: tokenizerPath) else {
            throw PruningError.input("\(directory) has no tokenizer.json, which \(purpose) needs")
        }
        return try Tokenizer(contentsOf: tokenizerPath)
    }

    /// Scores the model as `options` ask and returns the plan with a report
    /// (without the output-side fields, which `write` fills in).
    public func makePlan(_ options: PruningOptions, pool: ThreadPool,
                         progress: PruningProgress? = nil) throws -> (PruningPlan, PruningReport) {
        try options.validate()
        let start = Date()
        var plan = options.plan ?? PruningPlan()
        var report = PruningReport(
            source: directory, modelType: config.modelType, parametersBefore: checkpoint.parameterCount,
            parametersAfter: 0, removedFraction: 0, zeroedParameters: 0, shapeBefore: .init(config),
            shapeAfter: .init(config), plan: plan, scoringSeconds: 0)
        if options.plan != nil {
            try plan.validate(config: config, embeddingRows: embeddingRows)
            return (plan, report)
        }
        // Fail on a bad ratio before any expensive work.
        let headGranularity = try HeadPruner.Granularity(config: config, requested: options.headsUnit, ratio: options.headsRatio)
        guard options.dropLayers < config.numLayers else {
            throw PruningError.invalidOption("--drop-layers \(options.dropLayers) must be below the number of layers (\(config.numLayers))")
        }
        var tokenizer: Tokenizer? = nil
        var calibration: CalibrationSet? = nil
        if options.needsCalibration, let path = options.calibrationPath {
            let t = try loadTokenizer(for: "tokenizing the calibration data")
            tokenizer = t
            let length = min(options.calibrationLength, config.maxPositions)
            calibration = try CalibrationSet.load(path: path, tokenizer: t, tokens: options.calibrationTokens,
                                                  sequenceLength: length, threads: options.threads)
            report.calibration = .init(file: path, tokens: calibration?.tokenCount ?? 0,
                                       sequences: calibration?.sequences.count ?? 0, sequenceLength: length)
        }

        if let corpus = options.vocabularyCorpus {
            let t = try tokenizer ?? loadTokenizer(for: "vocabulary pruning")
            tokenizer = t
            progress?("vocabulary", 0, 1)
            let selection = try vocabularySelection(documents: try readCorpus(corpus), size: options.vocabularySize,
                                                    tokenizer: t, threads: options.threads)
            plan.vocabulary = selection.keptIds
            report.vocabulary = .init(corpus: corpus, stats: selection.stats)
            progress?("vocabulary", 1, 1)
        }

        let full = try DecoderModel.build(config: config, weights: checkpoint)
        if options.dropLayers > 0 {
            let result = try LayerPruner.select(model: full, count: options.dropLayers, criterion: options.layerCriterion,
                                                calibration: calibration, pool: pool, progress: progress)
            plan.keptLayers = result.kept
            report.layers = .init(criterion: options.layerCriterion, removed: result.removed, steps: result.steps)
        }
        let kept = plan.layers(of: config)

        if options.headsRatio > 0 {
            let g = headGranularity
            let scores: [[Float]]
            switch options.headsCriterion {
            case .activation:
                guard let calibration else { throw PruningError.invalidOption("head scoring needs --calibration") }
                scores = try HeadPruner.activationScores(model: full.keepingLayers(kept), unit: g.unit, calibration: calibration,
                                                         pool: pool) { d, t in progress?("heads (activation)", d, t) }
            case .random:
                scores = HeadPruner.randomScores(layers: kept.count, units: g.units, seed: options.seed)
            }
            let (heads, results) = HeadPruner.plan(scores: scores, layers: kept, granularity: g, config: config)
            plan.heads = heads
            var notes: [String] = []
            if g.zeroed {
                notes.append("\(config.modelType) configs derive head_dim from n_embd / n_head, so removed heads are zeroed in place (q/k/v outputs and output-projection inputs); the file does not shrink")
            }
            if config.numKVHeads == 1 && config.numHeads > 1 {
                notes.append("multi-query attention: the single key/value head is shared, only query heads are removed")
            }
            report.heads = .init(criterion: options.headsCriterion, ratio: options.headsRatio, unit: g.unit,
                                 mode: g.zeroed ? "zeroed" : "removed", unitsPerLayer: g.units,
                                 removedPerLayer: g.removedPerLayer, layers: results,
                                 note: notes.isEmpty ? nil : notes.joined(separator: "; "))
        }

        if options.ffnRatio > 0 {
            let scores: [[Float]]
            switch options.ffnCriterion {
            case .activation:
                guard let calibration else { throw PruningError.invalidOption("FFN scoring needs --calibration") }
                // Score on the model the earlier stages leave (layers and heads removed).
                let model = try PrunedWeights(checkpoint: checkpoint, config: config,
                                              plan: PruningPlan(keptLayers: plan.keptLayers, heads: plan.heads)).buildModel()
                scores = try FFNPruner.activationScores(model: model, calibration: calibration, pool: pool) { d, t in
                    progress?("ffn (activation)", d, t)
                }
            case .random:
                scores = FFNPruner.randomScores(layers: kept.count, width: config.intermediateSize, seed: options.seed)
            }
            let (neurons, results) = FFNPruner.plan(scores: scores, layers: kept, ratio: options.ffnRatio, allocation: options.ffnAllocation)
            plan.ffn = neurons
            report.ffn = .init(
                criterion: options.ffnCriterion, allocation: options.ffnAllocation, ratio: options.ffnRatio,
                intermediateBefore: config.intermediateSize, intermediateAfter: neurons.first?.kept.count ?? config.intermediateSize,
                effectivePerLayer: neurons.map { $0.kept.count - $0.zeroed.count }, layers: results,
                note: options.ffnAllocation == .global
                    ? "Hugging Face configs have one intermediate_size: every layer is stored at the widest kept width and the other layers' extra neurons are zeroed"
                    : nil)
        }
        try plan.validate(config: config, embeddingRows: embeddingRows)
        report.plan = plan
        report.scoringSeconds = Date().timeIntervalSince(start)
        return (plan, report)
    }

    /// The tokens a vocabulary pruned on `documents` keeps (`VocabularyPruner.select`), with
    /// the special ids config.json and generation_config.json name; `size`: exactly that many,
    /// by frequency.
    func vocabularySelection(documents: [String], size: Int?, tokenizer: Tokenizer? = nil,
                             threads: Int) throws -> VocabularyPruner.Selection {
        var required = PrunedConfigFiles.tokenIds(in: configJSON)
        if let g = try optionalJSON("generation_config.json") { required += PrunedConfigFiles.tokenIds(in: g) }
        return try VocabularyPruner.select(tokenizerJSON: try Self.readJSON(tokenizerPath),
                                           tokenizer: try tokenizer ?? loadTokenizer(for: "vocabulary pruning"),
                                           documents: documents, requiredIds: required, rows: embeddingRows, threads: threads,
                                           maxTokens: size)
    }

    /// `verdant prune --vocab-corpus F --vocab-size N`'s plan for documents already read
    /// (`corpus` names them in the report): only the vocabulary pruned. `verdant search`
    /// builds its students' vocabularies with it from the training split.
    public func vocabularyPlan(documents: [String], corpus: String, size: Int,
                               threads: Int) throws -> (PruningPlan, PruningReport) {
        guard size >= 1 else { throw PruningError.invalidOption("--vocab-size must be ≥ 1, got \(size)") }
        let start = Date()
        let selection = try vocabularySelection(documents: documents, size: size, threads: threads)
        let plan = PruningPlan(vocabulary: selection.keptIds)
        try plan.validate(config: config, embeddingRows: embeddingRows)
        var report = PruningReport(
            source: directory, modelType: config.modelType, parametersBefore: checkpoint.parameterCount,
            parametersAfter: 0, removedFraction: 0, zeroedParameters: 0, shapeBefore: .init(config),
            shapeAfter: .init(config), plan: plan, scoringSeconds: 0)
        report.vocabulary = .init(corpus: corpus, stats: selection.stats)
        report.scoringSeconds = Date().timeIntervalSince(start)
        return (plan, report)
    }

    /// Writes the pruned model to `out` and returns the completed report.
    /// `verificationCorpus`: documents the pruned tokenizer must tokenize exactly
    /// like the original (the vocabulary corpus).
    public func write(plan: PruningPlan, report input: PruningReport, to out: String, force: Bool,
                      threads: Int = 1) throws -> PruningReport {
        try PrunedCheckpointWriter.checkDestination(out, force: force)
        var report = input
        let weights = try PrunedWeights(checkpoint: checkpoint, config: config, plan: plan)
        let pruned = weights.config
        var files: [String: OrderedJSON] = [:]
        let map = plan.vocabularyMap
        files["config.json"] = PrunedConfigFiles.config(configJSON, original: config, pruned: pruned,
                                                        keptLayers: plan.layers(of: config), vocabularyMap: map)
        if let keptIds = plan.vocabulary, let map {
            let original = try loadTokenizer(for: "vocabulary pruning")
            let rebuilt = try VocabularyPruner.rebuild(try Self.readJSON(tokenizerPath), keptIds: keptIds)
            files["tokenizer.json"] = rebuilt.json
            var vocabulary = report.vocabulary ?? .init()
            vocabulary.mergesBefore = rebuilt.mergesBefore
            vocabulary.mergesAfter = rebuilt.mergesAfter
            let prunedTokenizer: Tokenizer
            do { prunedTokenizer = try Tokenizer(jsonString: rebuilt.json.serialized()) } catch {
                throw PruningError.output("the rebuilt tokenizer.json does not load: \(error)")
            }
            // A size-limited vocabulary drops tokens the corpus uses, so the corpus
            // re-tokenizes into shorter tokens by design: nothing to verify.
            if let corpus = vocabulary.corpus, vocabulary.stats?.sizeLimit == nil {
                let documents = try readCorpus(corpus)
                if let difference = VocabularyPruner.verify(original: original, pruned: prunedTokenizer, keptIds: keptIds,
                                                           documents: documents, threads: threads) {
                    throw PruningError.output("the pruned tokenizer does not reproduce the corpus tokenization: \(difference)")
                }
                vocabulary.tokenizationVerified = true
            }
            var rewritten = ["config.json", "tokenizer.json"]
            for name in ["generation_config.json", "tokenizer_config.json", "added_tokens.json", "special_tokens_map.json"] {
                guard let json = try optionalJSON(name) else { continue }
                switch name {
                case "tokenizer_config.json": files[name] = PrunedConfigFiles.tokenizerConfig(json, map: map)
                case "added_tokens.json": files[name] = PrunedConfigFiles.addedTokensFile(json, map: map)
                default: files[name] = PrunedConfigFiles.remapTokenIds(json, map: map)
                }
                rewritten.append(name)
            }
            vocabulary.rewrittenFiles = rewritten
            report.vocabulary = vocabulary
        }
        report.parametersAfter = weights.parameterCount
        report.removedFraction = report.parametersBefore > 0
            ? 1 - Double(report.parametersAfter) / Double(report.parametersBefore) : 0
        report.zeroedParameters = weights.entries.reduce(0) { $0 + $1.edit.zeroedElements($1.source.shape) }
        report.shapeAfter = .init(pruned)
        report.plan = plan
        let copies = PrunedCheckpointWriter.plannedCopies(source: directory, rewritten: Set(files.keys),
                                                          vocabularyPruned: plan.vocabulary != nil)
        report.copiedFiles = copies.copied
        report.skippedFiles = copies.skipped
        try PrunedCheckpointWriter.write(weights: weights, source: directory, files: files,
                                         extra: [PruningReport.fileName: try report.encoded()],
                                         copy: copies.copied, to: out, force: force) { temp in
            // The result must load as a model before it replaces anything.
            do { _ = try LoadedModel.load(directory: temp) } catch {
                throw PruningError.output("the written checkpoint does not load: \(error)")
            }
        }
        return report
    }
}
