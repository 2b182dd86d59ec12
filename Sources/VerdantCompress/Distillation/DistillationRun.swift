import Foundation
import VerdantModels
import VerdantTensors
import VerdantTraining

/// The settings of one distillation run, as `verdant distill` takes them on its command line.
public struct DistillationRunOptions: Sendable {
    /// Predicted training tokens (nil: one pass over the stream).
    public var tokens: Int?
    /// Tokens per micro-batch, a multiple of the stream's context (nil: 8 sequences).
    public var batchTokens: Int?
    public var learningRate: Float = 1e-3
    public var warmup: Int?
    public var schedule: LearningRateSchedule.Decay = .cosine
    public var weightDecay: Float = 0.01
    public var clip: Float = 1
    public var seed: UInt64 = 0
    public var temperature: Float = 10
    public var alpha: Float = 1
    /// Checkpoint every N steps (0: only at the end).
    public var saveEvery = 100
    public var resume = false
    /// Dtype of the written model (training is f32 throughout; bf16 halves a searched
    /// student's file to the size its budget counts).
    public var outputDType: DType = .f32

    public init() {}
}

/// One knowledge-distillation run, in process: a student (config.json) trained on a teacher's
/// predictions over a token stream, checkpointed in `OUT.checkpoints`, written atomically to
/// OUT as an f32 Hugging Face checkpoint with the teacher's tokenizer. `verdant distill` and
/// `verdant search` (one run per sampled student, all sharing one teacher cache) both call it,
/// so the search needs no subprocess per sample and pays the teacher load once.
public struct DistillationRun {
    public struct Progress: Sendable {
        public var step: Int
        public var steps: Int
        public var loss: Double
        /// Mean KL and cross-entropy per token when the loss mixes them (A < 1), else nil.
        public var klAndCrossEntropy: (kl: Double, crossEntropy: Double)?
        public var learningRate: Float
        public var gradientNorm: Double
        public var tokensPerSecond: Double
        public var secondsLeft: Double
    }

    public struct Summary: Sendable {
        public var parameters: Int
        public var steps: Int
        public var tokensPerStep: Int
        public var activationBytes: Int
        public var teacherMode: String
        public var resumedFromStep: Int?
    }

    public let teacher: LoadedModel
    public let teacherDirectory: String
    public let stream: TokenStream
    public let pool: ThreadPool
    /// The student's vocabulary when it is a pruned subset of the teacher's (the stream is then
    /// tokenized with it and the teacher's distribution restricted to its ids); nil: the teacher's.
    public let vocabulary: StudentVocabulary?
    /// The directory whose tokenizer files the student carries (the teacher's, or the pruned vocabulary's).
    public let vocabularyDirectory: String

    public init(teacher: LoadedModel, teacherDirectory: String, stream: TokenStream, pool: ThreadPool,
                vocabulary: StudentVocabulary? = nil, vocabularyDirectory: String? = nil) {
        self.teacher = teacher
        self.teacherDirectory = teacherDirectory
        self.stream = stream
        self.pool = pool
        self.vocabulary = vocabulary
        self.vocabularyDirectory = vocabularyDirectory ?? teacherDirectory
    }

    /// Trains the student described by `studentConfigPath` (already parsed and checked as
    /// `student`) and writes it to `out`. `teacherCache` names a cache directory validated
    /// against teacher, stream and temperature; nil runs the teacher online. `initialise`
    /// builds the starting weights of a fresh run (given the checkpoint root; nil: random from
    /// the seed). `started` gets the run's shape before the first step, `progress` every step.
    @discardableResult
    public func run(studentConfigPath: String, student: ModelConfig, options o: DistillationRunOptions,
                    teacherCache: String?, out: String, force: Bool,
                    initialise: ((String) throws -> ParameterStore)? = nil,
                    started: (Summary) -> Void = { _ in }, progress: (Progress) -> Void = { _ in },
                    warning: (String) -> Void = { _ in }) throws -> Summary {
        let context = stream.context
        let writer = ModelDirectoryWriter(destination: out, force: force)
        try writer.checkDestination()
        guard context <= min(teacher.config.maxPositions, student.maxPositions) else {
            throw DistillationError("context \(context) exceeds the teacher's \(teacher.config.maxPositions) or the student's \(student.maxPositions) positions")
        }
        let checkpointRoot = (out.hasSuffix("/") ? String(out.dropLast()) : out) + ".checkpoints"
        let source = TokenStreamSource(stream: stream)
        let sequences = (o.batchTokens ?? min(8, stream.sequencesPerEpoch) * context) / context
        let perStep = sequences * context
        let steps = max(1, (stream.sequenceCount(tokens: o.tokens) + sequences - 1) / sequences)

        // A = 0 is plain cross-entropy: the teacher would run for a term of weight 0, so it is
        // skipped (the same training, tested against DistillationTokenLoss with A = 0).
        var distillation: DistillationTokenLoss?
        if o.alpha > 0 {
            let teacherSource: TeacherSource
            if let teacherCache {
                let cache = try TeacherCache.open(directory: teacherCache, teacherDirectory: teacherDirectory, stream: stream,
                                                  temperature: o.temperature)
                guard cache.completed >= steps * sequences else {
                    throw DistillationError("\(teacherCache) holds \(cache.completed) sequences, this run needs \(steps * sequences) (\(steps) steps × \(sequences)): extend it with `verdant teacher-cache --tokens`")
                }
                if cache.layout.content == .topK && o.temperature > 2 {
                    // Measured on pycoder-llama-19m: at T = 10 the top 128 ids hold < 2% of the
                    // teacher's mass, so a top-k cache carries almost none of the soft labels.
                    warning("a top-k teacher cache at T \(o.temperature) keeps little of the teacher's distribution (KL and gradient errors near 100% at T = 10 on pycoder-llama-19m); use `verdant teacher-cache --hidden-states` or no cache (online teacher)")
                }
                teacherSource = try TeacherSource(cache: cache, teacher: teacher.model, pool: pool, vocabulary: vocabulary)
            } else {
                teacherSource = try TeacherSource(online: teacher.model, context: context, pool: pool, vocabulary: vocabulary)
            }
            distillation = try DistillationTokenLoss(loss: try DistillationLoss(temperature: o.temperature, alpha: o.alpha),
                                                     teacher: teacherSource, data: source)
        }
        let mode = distillation.map { $0.teacher.mode.rawValue + " teacher" } ?? "no teacher (A = 0: cross-entropy only)"

        // The checkpoints and the output reuse this directory's config.json and tokenizer files.
        let template = try StudentTemplate.write(root: checkpointRoot, studentConfig: studentConfigPath, vocabularyDir: vocabularyDirectory)
        let store: ParameterStore
        if let initialise, !o.resume {
            store = try initialise(checkpointRoot)
        } else {
            // A resumed run restores every weight from its checkpoint.
            store = try ParameterStore(randomFor: student, seed: o.seed)
        }
        let schedule = try LearningRateSchedule(peak: o.learningRate, warmupSteps: o.warmup ?? min(100, steps / 10),
                                                totalSteps: steps, decay: o.schedule)
        let options = try TrainingOptions(context: context, sequences: sequences, accumulate: 1, schedule: schedule,
                                          adamW: try AdamWSettings(weightDecay: o.weightDecay), clip: o.clip, seed: o.seed,
                                          saveEvery: o.saveEvery)
        let trainer = try Trainer(store: store, options: options, data: source, pool: pool,
                                  loss: distillation.map { $0 as TokenLoss } ?? CrossEntropyLoss())
        var resumedFrom: Int?
        if o.resume {
            guard let last = TrainingCheckpoint.steps(in: checkpointRoot).last else {
                throw DistillationError("resume: no checkpoint in \(checkpointRoot)")
            }
            try TrainingCheckpoint.restore(trainer, from: TrainingCheckpoint.directory(root: checkpointRoot, step: last))
            resumedFrom = last
        }
        let summary = Summary(parameters: store.totalCount, steps: steps, tokensPerStep: perStep,
                              activationBytes: trainer.activationBytes, teacherMode: mode, resumedFromStep: resumedFrom)
        started(summary)
        let start = Date()
        let startStep = trainer.step
        while !trainer.isFinished {
            let r: StepReport
            do {
                r = try trainer.trainStep()
            } catch {
                // A teacher failure surfaces as a NaN loss in the trainer: report the cause.
                throw distillation?.failure ?? error
            }
            let totals = distillation?.takeTotals()
            let elapsed = Date().timeIntervalSince(start)
            let done = trainer.step - startStep
            var parts: (kl: Double, crossEntropy: Double)?
            if let totals, o.alpha < 1 {
                let rows = Double(max(totals.rows, 1))
                parts = (totals.kl / rows, totals.crossEntropy / rows)
            }
            progress(Progress(step: r.step, steps: steps, loss: r.loss, klAndCrossEntropy: parts, learningRate: r.learningRate,
                              gradientNorm: r.gradientNorm, tokensPerSecond: Double(done * perStep) / max(elapsed, 1e-9),
                              secondsLeft: elapsed / Double(done) * Double(steps - trainer.step)))
            if o.saveEvery > 0 && trainer.step % o.saveEvery == 0 && !trainer.isFinished {
                try TrainingCheckpoint.save(trainer, root: checkpointRoot, source: template, dtype: .f32)
            }
        }
        try TrainingCheckpoint.save(trainer, root: checkpointRoot, source: template, dtype: .f32)
        try writer.write(config: try ModelDirectoryWriter.readConfigObject(directory: template),
                         weights: try TrainingCheckpoint.modelWriter(store, dtype: o.outputDType), copyFrom: template)
        return summary
    }
}
