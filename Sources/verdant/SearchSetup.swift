import Foundation
import VerdantEval
import VerdantModels
import VerdantSearch
import VerdantTensors

enum SearchSpaceSetup {
    /// The space the search can distil: vocabulary sizes above the teacher's dropped (a
    /// student vocabulary is a pruned subset of the teacher's), and context lengths below the
    /// distillation context dropped (the student must hold a whole training sequence).
    static func restrict(_ space: ConfigurationSpace, teacher: ModelConfig, context: Int) throws -> ConfigurationSpace {
        guard space.architecture == .llama else {
            throw CLIError("the search distils llama-family students only; the space declares \(space.architecture.rawValue)")
        }
        guard teacher.family == .llama else {
            throw CLIError("the teacher is '\(teacher.modelType)': the search distils llama-family students from a llama-family teacher")
        }
        var genes = space.genes
        do {
            if let i = space.geneIndex(GeneName.vocabSize) {
                let kept = genes[i].values.filter { ($0.intValue ?? 0) <= teacher.vocabSize }
                guard !kept.isEmpty else {
                    throw CLIError("no vocab_size of the space is ≤ the teacher's \(teacher.vocabSize) ids (student vocabularies are pruned from the teacher's)")
                }
                genes[i] = try .choices(GeneName.vocabSize, kept)
            }
            if let i = space.geneIndex(GeneName.contextLength) {
                let kept = genes[i].values.filter { ($0.intValue ?? 0) >= context }
                guard !kept.isEmpty else {
                    throw CLIError("no context_length of the space is ≥ the distillation --context \(context)")
                }
                genes[i] = try .choices(GeneName.contextLength, kept)
            }
            return try ConfigurationSpace(architecture: space.architecture, qkvBias: space.qkvBias, outputBias: space.outputBias,
                                          genes: genes)
        } catch let e as SpaceError {
            throw CLIError(e.description)
        }
    }
}

/// The cost model and the teacher's reference figures, each measured once per search
/// directory and cached there (a resumed search reuses them).
enum SearchCostSetup {
    struct Calibration: Codable {
        var points: [CostCalibration.Point]
        var latency: CostModel
        var energy: CostModel
        var loadAverage: Double?
        var promptTokens: Int
        var genTokens: Int
        var runs: Int
    }

    static let measureOptions = MeasureOptions(promptTokens: 64, genTokens: 32, runs: 3)

    /// The same options shrunk in proportion for a student whose context cannot hold them
    /// (as CostCalibration does for its points).
    static func measureOptions(context: Int) -> MeasureOptions {
        var o = measureOptions
        let total = o.promptTokens + o.genTokens
        if total > context {
            o.promptTokens = max(1, context * o.promptTokens / total)
            o.genTokens = max(1, context - o.promptTokens)
        }
        return o
    }

    /// `verdant search-cost`'s method: random-weight students spread over the legal space
    /// (farthest-point from the largest), measured, latency / energy fitted.
    static func calibration(solver: ConstraintSolver, points: Int, seed: UInt64, path: String, threads: Int) throws -> Calibration {
        if let data = FileManager.default.contents(atPath: path) {
            do { return try searchJSONDecoder().decode(Calibration.self, from: data) } catch {
                throw CLIError("\(path) is corrupt (\(error)): remove it to measure again")
            }
        }
        let space = solver.space, storage = StorageFormat(.bf16)
        let pool = try SampleSelection.legalPool(solver, count: 40 * points, seed: seed)
        let shapes = try pool.map { try StudentShape(space: space, configuration: $0) }
        guard let largest = shapes.indices.max(by: { shapes[$0].bytes(storage) < shapes[$1].bytes(storage) }) else {
            throw CLIError("the solver found no configuration to measure")
        }
        let chosen = try SampleSelection.farthestPoints(pool, count: points, start: pool[largest], space: space)
            .map { try StudentShape(space: space, configuration: $0) }
        // A space too narrow for `points` distinct students still needs one point per feature.
        guard chosen.count >= CostModel.featureNames.count else {
            throw CLIError("only \(chosen.count) distinct legal students to calibrate the cost model on (need \(CostModel.featureNames.count))")
        }
        let c = CostCalibration(options: measureOptions, threads: threads)
        let load = loadAverage()
        let measured = try c.measure(chosen) { i, p in
            printError(String(format: "cost [%d/%d] %.3f ms/token  %.5f J/token  (%d params)", i + 1, chosen.count,
                              p.decodeSecondsPerToken * 1e3, p.joulesPerToken, p.shape.parameterCount))
        }
        let (latency, energy) = try c.fit(measured)
        let result = Calibration(points: measured, latency: latency, energy: energy, loadAverage: load,
                                 promptTokens: measureOptions.promptTokens, genTokens: measureOptions.genTokens, runs: measureOptions.runs)
        try atomicWrite(try jsonData(result), to: path)
        return result
    }

    struct TeacherReference: Codable {
        var parameters: Int
        var bytesBF16: Int
        var perplexity: Double
        /// nil in references measured before bits per byte were recorded.
        var bitsPerByte: Double?
        var es: Double?
        var em: Double?
        var decodeSecondsPerToken: Double
        var joulesPerToken: Double
        var flopsPerToken: Double
        var energyMethod: String
        var loadAverage: Double?
    }

    /// The teacher scored on the same held-out tokens and tasks as the students, and measured
    /// with the same method as the cost model's points.
    static func teacherReference(teacher: LoadedModel, teacherDir: String, evaluator: SearchSampleEvaluator, path: String,
                                 threads: Int) throws -> TeacherReference {
        if let data = FileManager.default.contents(atPath: path) {
            do { return try searchJSONDecoder().decode(TeacherReference.self, from: data) } catch {
                throw CLIError("\(path) is corrupt (\(error)): remove it to measure again")
            }
        }
        printError("teacher: scoring and measuring")
        let s = try evaluator.score(teacher.model, vocabulary: evaluator.vocabularies.own)
        let load = loadAverage()
        let m = try measure(model: teacher.model, info: try ModelInfo.read(directory: teacherDir), options: measureOptions,
                            pool: ThreadPool(threads: threads))
        let shape = StudentShape(config: teacher.config)
        let r = TeacherReference(parameters: shape.parameterCount, bytesBF16: shape.bytes(StorageFormat(.bf16)), perplexity: s.perplexity,
                                 bitsPerByte: s.bitsPerByte, es: s.es, em: s.em, decodeSecondsPerToken: m.decodeSecondsPerToken.median,
                                 joulesPerToken: m.energyJoulesPerToken.median, flopsPerToken: m.flopsPerToken,
                                 energyMethod: m.energyDescription, loadAverage: load)
        try atomicWrite(try jsonData(r), to: path)
        return r
    }
}
