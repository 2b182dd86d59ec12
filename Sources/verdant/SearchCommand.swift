import ArgumentParser
import Foundation
import VerdantCompress
import VerdantEval
import VerdantModels
import VerdantSearch
import VerdantTensors
import VerdantTraining

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Avatar's student search end to end: solver-legal samples distilled and scored, surrogate, NSGA-II front.",
        discussion: """
            1. --samples configurations, spread over the Z3-legal space (farthest-point), are each distilled from \
            one shared hidden-state teacher cache (OUT/teacher-cache) on the same --tokens-per-sample, then scored: \
            held-out perplexity and line-completion ES on --tasks. 2. Bayesian ridge and a Gaussian process are fitted \
            on the scores (--indicator), their leave-one-out errors reported, the better one kept. 3. Latency and \
            energy per token come from a cost model calibrated on this machine (`verdant search-cost`'s method, cached \
            in OUT). 4. NSGA-II over size, predicted effectiveness, latency and energy; Avatar's GA on the same \
            evaluation budget; hypervolumes of both; every front member re-proved legal. Writes OUT/front.json and \
            OUT/report.md (SVG plots). Resumable: rerun the same command and finished samples are reused. \
            --distill-top K distils K front members on --final-tokens and measures them against the teacher. \
            A vocab_size below the teacher's is a vocabulary pruned from the teacher's by frequency on the training \
            files (OUT/vocab-N, as `verdant prune --vocab-size N`), with its own token stream and teacher cache; \
            the bpb indicator (−bits per byte) compares students of different vocabularies, log-ppl does not. \
            --init from-teacher cuts every student from the teacher (as `verdant distill --init from-teacher`); \
            the solver then admits only configurations that can be cut.
            """)

    @Argument(help: "Teacher model directory (Hugging Face layout, with tokenizer.json).")
    var teacherDir: String

    @Option(help: "Size budget of the stored student, in MB (10^6 bytes) at --format.")
    var budgetMb: Double

    @Option(help: "Training text: JSONL or JSONL.xz with a `text` (and `path`) field per line.")
    var data: String

    @Option(help: "Output directory (created; an existing search there is resumed).")
    var out: String

    @Option(help: "Configuration space JSON (default: Verdant's decoder space).")
    var space: String?

    @Option(help: "Configurations distilled and scored for the effectiveness indicator.")
    var samples = 20

    @Option(help: "NSGA-II generations (evaluations = population × generations, Avatar's GA gets the same).")
    var generations = 50

    @Option(help: "Population of NSGA-II and of Avatar's GA.")
    var population = 20

    @Option(help: "Predicted tokens each sample is distilled on (the same for every sample).")
    var tokensPerSample = 16384

    @Option(help: "Weight format the size budget is counted in: bf16, f16, f32, q8_0, q4_0, int4, int4_gG, w8a8.")
    var format = "bf16"

    @Option(help: "Front members distilled in full on --final-tokens and measured against the teacher.")
    var distillTop = 0

    @Option(help: "Predicted tokens of the --distill-top runs.")
    var finalTokens = 131072

    @Option(help: "Held-out text for perplexity (JSONL); default: a --hold-out fraction of --data's files.")
    var dev: String?

    @Option(help: "Fraction of --data's files held out of training for perplexity (when --dev is not given).")
    var holdOut = 0.02

    @Option(help: "Held-out tokens perplexity is computed on.")
    var evalTokens = 8192

    @Option(help: "Line-completion tasks (JSONL with context/target) scored for ES.")
    var tasks: String?

    @Option(help: "Tasks used from --tasks (the first N).")
    var tasksLimit = 100

    @Option(help: "What the indicator predicts: es (needs --tasks), bpb (−bits per byte of the held-out text) or log-ppl (−ln perplexity; one vocabulary only). Default: es with --tasks, else bpb.")
    var indicator: SearchIndicator?

    @Option(name: .customLong("init"), help: "How every sample and finalist starts: random, or from-teacher (the teacher cut down to its shape, as `verdant distill --init from-teacher`; the solver then admits only configurations that can be cut: the teacher's head size, activation and tying, nothing larger than the teacher).")
    var initialisation: DistillCommand.Initialisation = .random

    @Option(help: "With --init from-teacher: which teacher blocks to keep, bi (greedy block influence) or even (evenly spaced).")
    var initLayers: StudentLayerChoice = .bi

    @Option(help: "With --init from-teacher: calibration tokens (from the start of the token stream) for the importance scores.")
    var initCalibrationTokens: Int = 8192

    @Option(help: "Input tokens per distillation sequence.")
    var context = 256

    @Option(help: "Distillation temperature T.")
    var temperature: Float = 10

    @Option(help: "Solver-legal candidates the samples are chosen from (farthest-point); each costs solver repairs.")
    var pool = 400

    @Option(help: "Random-weight students measured to calibrate the cost model (at least 5).")
    var costPoints = 6

    @Option(help: "Seed of the data order, the candidate pool and the searches.")
    var seed: UInt64 = 1

    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard budgetMb.isFinite, budgetMb > 0, budgetMb < 1e7 else { throw ValidationError("--budget-mb must be a positive number of MB") }
        guard StorageFormat(name: format) != nil else {
            throw ValidationError("unknown --format '\(format)' (bf16, f16, f32, q8_0, q4_0, int4, int4_g32/64/128, w8a8)")
        }
        guard (3...1000).contains(samples) else { throw ValidationError("--samples must be between 3 and 1000 (leave-one-out needs 3)") }
        guard (1...10_000).contains(generations) else { throw ValidationError("--generations must be between 1 and 10000") }
        guard (4...10_000).contains(population) else { throw ValidationError("--population must be between 4 and 10000") }
        guard tokensPerSample >= 1, finalTokens >= 1, evalTokens >= 2 else {
            throw ValidationError("--tokens-per-sample and --final-tokens must be ≥ 1, --eval-tokens ≥ 2")
        }
        guard distillTop >= 0 else { throw ValidationError("--distill-top must be ≥ 0") }
        guard holdOut > 0 && holdOut < 1 else { throw ValidationError("--hold-out must lie strictly between 0 and 1") }
        guard tasksLimit >= 1 else { throw ValidationError("--tasks-limit must be ≥ 1") }
        guard (2...1 << 16).contains(context) else { throw ValidationError("--context must lie in 2...65536") }
        guard temperature.isFinite, temperature > 0, temperature <= 1000 else { throw ValidationError("--temperature must lie in (0, 1000]") }
        guard (1...100_000).contains(pool), pool >= samples else { throw ValidationError("--pool must be ≥ --samples and ≤ 100000") }
        guard (5...200).contains(costPoints) else { throw ValidationError("--cost-points must be between 5 and 200") }
        if indicator == .es && tasks == nil { throw ValidationError("--indicator es needs --tasks") }
        guard initCalibrationTokens >= 1 else { throw ValidationError("--init-calibration-tokens must be ≥ 1") }
        for (flag, path) in [("--data", data), ("--dev", dev), ("--tasks", tasks), ("--space", space)] {
            if let path, !FileManager.default.fileExists(atPath: path) { throw ValidationError("\(flag) \(path): no such file") }
        }
    }

    func run() throws {
        guard let storage = StorageFormat(name: format) else { throw CLIError("unknown --format \(format)") }
        let indicator = self.indicator ?? (tasks != nil ? .es : .bitsPerByte)
        let files = SearchFiles(root: out)
        let teacher = try LoadedModel.load(directory: teacherDir)
        let space = try SearchSpaceSetup.restrict(try loadSpace(), teacher: teacher.config, context: context)
        let vocabSizes = space.geneIndex(GeneName.vocabSize).map { space.genes[$0].values.compactMap(\.intValue) } ?? []
        if indicator == .logPerplexity && vocabSizes.count > 1 {
            throw CLIError("--indicator log-ppl compares perplexities per token, which mean different things in vocabularies of \(vocabSizes.map(String.init).joined(separator: ", ")) ids: use bpb (−bits per byte of the same text) or es")
        }
        let initialisation = self.initialisation == .random ? nil
            : SearchInitialisation(layers: initLayers, calibrationTokens: initCalibrationTokens)
        // With --init from-teacher every legal student must be cut-able: the solver holds them to the teacher.
        let budget = Budget(sizeBytes: Int(budgetMb * 1e6), storage: storage,
                            teacher: initialisation == nil ? nil : TeacherLimits(teacher: teacher.config))
        let solver: ConstraintSolver
        do { solver = try ConstraintSolver(space: space, budget: budget) } catch let e as SpaceError { throw CLIError(e.description) }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try files.checkSettings(SearchSettings(teacher: teacherDir, data: data, budgetBytes: budget.sizeBytes, format: storage.name,
                                               tokensPerSample: tokensPerSample, context: context, seed: seed, holdOut: holdOut,
                                               dev: dev, evalTokens: evalTokens, tasks: tasks, tasksLimit: tasksLimit,
                                               temperature: temperature, pool: self.pool, space: String(decoding: try space.encoded(), as: UTF8.self),
                                               initialisation: SearchInitialisation.describe(initialisation)))
        try atomicWrite(try space.encoded(), to: files.space)

        let pool = runtime.makePool()
        let batchChoices = space.geneIndex(GeneName.batchSize).map { space.genes[$0].values.compactMap(\.intValue) } ?? [8]
        let vocabularies = try SearchVocabularies(teacher: teacher, teacherDir: teacherDir, data: data, dev: dev, holdOut: holdOut,
                                                  context: context, seed: seed, evalTokens: evalTokens, batchChoices: batchChoices,
                                                  files: files, pool: pool)
        let taskList = try tasks.map { Array(try readLineCompletionTasks(path: $0).prefix(tasksLimit)) } ?? []
        printError("search: \(space.genes.count) genes, budget \(String(format: "%.3f", budgetMb)) MB at \(storage.name); "
                   + "\(vocabularies.own.run.stream.tokens.count) training tokens, \(vocabularies.own.heldOut.count) held-out tokens "
                   + "(\(vocabularies.heldOutBytes) bytes), \(taskList.count) tasks; vocabularies \(vocabSizes.map(String.init).joined(separator: ", ")); "
                   + "indicator \(indicator.rawValue); init \(SearchInitialisation.describe(initialisation)); \(pool.threads) threads")

        // Its own solver, for the reason StudentSearch gives: the search must not depend on
        // whether the calibration ran now or was read from OUT.
        let cost = try SearchCostSetup.calibration(solver: try ConstraintSolver(space: space, budget: budget), points: costPoints, seed: seed, path: files.costCalibration,
                                                   threads: pool.threads)
        let evaluator = SearchSampleEvaluator(space: space, teacher: teacher, teacherDir: teacherDir, vocabularies: vocabularies,
                                              tasks: taskList, pool: pool, temperature: temperature, seed: seed,
                                              initialisation: initialisation)
        let reference = try SearchCostSetup.teacherReference(teacher: teacher, teacherDir: teacherDir, evaluator: evaluator,
                                                             path: files.teacherReference, threads: pool.threads)

        var metrics = try files.loadMetrics()
        var store = try SampleStore.load(path: files.samples)
        // Scores are re-derived from the recorded metrics, so --indicator may change on a resume.
        store.samples = store.samples.compactMap { s in
            metrics.first { $0.configuration == s.configuration }.flatMap { indicator.score($0.metrics) }
                .map { SampleStore.Sample(configuration: s.configuration, score: $0) }
        }
        var search = StudentSearch()
        search.samples = samples
        search.poolSize = self.pool
        search.populationSize = population
        search.maxEvaluations = population * generations
        search.seed = seed
        let latency = cost.latency, energy = cost.energy, bf16 = StorageFormat(.bf16)
        // The plan as last saved (train() saves right after planning): the evaluate closure cannot
        // read `store` while run() holds it inout.
        var planned = store.planned
        let report = try search.run(solver: solver, store: &store, save: { planned = $0.planned; try $0.save(path: files.samples) },
                                    costs: [{ latency.predict($0, storage: bf16) }, { energy.predict($0, storage: bf16) }]) { c, _ in
            let index = planned.firstIndex(of: c) ?? metrics.count
            printError("sample \(index + 1)/\(planned.count): \(space.describe(c))")
            let m = try evaluator.evaluate(c, directory: files.sampleDirectory(index), tokens: tokensPerSample, log: printError)
            metrics.removeAll { $0.configuration == c }
            metrics.append(SampleRecord(index: index, genes: space.describe(c), configuration: c, metrics: m))
            try files.saveMetrics(metrics)
            guard let score = indicator.score(m) else { throw CLIError("sample \(index) has no \(indicator.rawValue) score") }
            return score
        }
        var finals: [FinalStudent] = []
        if distillTop > 0 {
            finals = try SearchFinalists.distil(report.front, count: distillTop, space: space, evaluator: evaluator, tokens: finalTokens,
                                                indicator: indicator, reference: reference, files: files, threads: pool.threads)
        }
        let output = SearchOutput(budgetBytes: budget.sizeBytes, format: storage.name, indicator: indicator.rawValue,
                                  tokensPerSample: tokensPerSample, teacher: reference, cost: cost, samples: metrics.sorted { $0.index < $1.index },
                                  search: report, finals: finals,
                                  vocabularyNote: vocabSizes == [teacher.config.vocabSize]
                                      ? "vocabulary: the teacher's \(teacher.config.vocabSize) ids"
                                      : "vocabularies \(vocabSizes.map(String.init).joined(separator: ", ")) (those below the teacher's \(teacher.config.vocabSize) pruned from it by frequency on the training files)",
                                  initialisation: SearchInitialisation.describe(initialisation))
        try SearchReportWriter(output: output, space: space, files: files).write()
        print("front: \(report.front.count) students; hypervolume NSGA-II \(String(format: "%.4f", report.hypervolumeNSGA2)), "
              + "Avatar GA \(String(format: "%.4f", report.hypervolumeAvatar)) (\(report.avatarIllegal) of \(report.avatarArchive) archive members illegal); "
              + "surrogate \(report.surrogate.first?.model ?? "-") LOO RMSE \(String(format: "%.4g", report.surrogate.first?.rmse ?? .nan))")
        print("wrote \(files.front) and \(files.report)")
    }

    private func loadSpace() throws -> ConfigurationSpace {
        do { return try space.map { try ConfigurationSpace.load(path: $0) } ?? .defaultDecoder() } catch let e as SpaceError {
            throw CLIError(e.description)
        }
    }
}
