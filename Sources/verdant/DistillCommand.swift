import ArgumentParser
import Foundation
import VerdantCompress
import VerdantModels
import VerdantTensors
import VerdantTraining

struct DistillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distill",
        abstract: "Knowledge distillation on CPU: trains a student (a config.json) on a teacher's predictions.",
        discussion: """
        loss = A · KL(p_teacher,T ‖ p_student,T) · T² + (1 − A) · cross-entropy on the data, per predicted token \
        (A = --alpha, T = --temperature; A = 1 is Avatar's pure soft-label loss). The student uses the teacher's \
        tokenizer and vocabulary (same model_type family, same vocab_size), or with --student-vocab DIR a subset of \
        it: the data is tokenized with DIR's tokenizer and the teacher's distribution is restricted to those ids and \
        renormalised. --init from-teacher cuts the teacher down to the student's shape by pruning. The token stream is the one \
        `verdant teacher-cache` reads for the same --data, --context, --seed and --hold-out. The teacher runs \
        alongside the student unless --teacher-cache DIR names a cache of it (validated against teacher, data and \
        temperature); a hidden-state cache is exact, a top-k cache keeps little of the teacher at high T. \
        Training as in `verdant finetune --full`: AdamW, warm-up then --schedule, clipping, f32 weights, \
        checkpoints in OUT.checkpoints every --save-every steps, --resume continues exactly. OUT is a Hugging \
        Face checkpoint (f32) with the tokenizer files of the vocabulary it uses, written atomically at the end.
        """)

    enum Initialisation: String, ExpressibleByArgument, CaseIterable { case random, fromTeacher = "from-teacher" }

    @Argument(help: "Teacher model directory (Hugging Face layout, with tokenizer.json).")
    var teacherDir: String

    @Option(help: "Student config.json (Hugging Face style, same model_type family and vocab_size as the teacher).")
    var student: String

    @Option(help: "Training text: JSONL or JSONL.xz with a `text` (and `path`) field per line.")
    var data: String

    @Option(help: "Output model directory.")
    var out: String

    @OptionGroup var training: TrainingRunOptions




    @Option(help: "Peak learning rate.")
    var lr: Float = 1e-3





    @Option(help: "Distillation temperature T (> 0).")
    var temperature: Float = 10

    @Option(help: "Weight A of the soft-label term in [0, 1] (1: pure distillation, 0: cross-entropy only).")
    var alpha: Float = 1

    @Option(name: .customLong("init"), help: "Student initialisation: random (from --seed) or from-teacher (the teacher cut down to the student's shape by pruning: vocabulary, layers, KV groups / query heads, FFN neurons, hidden channels, scored on the start of --data).")
    var initialisation: Initialisation = .random

    @Option(help: "With --init from-teacher: which teacher blocks to keep, bi (greedy block influence) or even (evenly spaced).")
    var initLayers: StudentLayerChoice = .bi

    @Option(help: "With --init from-teacher: calibration tokens (from the start of the token stream) for the importance scores.")
    var initCalibrationTokens: Int = 8192

    @Option(help: "Teacher cache directory (`verdant teacher-cache`) instead of running the teacher.")
    var teacherCache: String?

    @Option(help: "Student vocabulary: a directory whose tokenizer.json is a subset of the teacher's (e.g. `verdant prune TEACHER --vocab-corpus F --vocab-size N --out DIR`). The data is tokenized with it; the teacher's distribution is restricted to its ids and renormalised. The output carries its tokenizer files.")
    var studentVocab: String?






    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard lr.isFinite, lr > 0, lr <= 1 else { throw ValidationError("--lr must lie in (0, 1], got \(lr)") }
        guard temperature.isFinite, temperature > 0, temperature <= 1000 else {
            throw ValidationError("--temperature must lie in (0, 1000], got \(temperature)")
        }
        guard alpha.isFinite, alpha >= 0, alpha <= 1 else { throw ValidationError("--alpha must lie in [0, 1], got \(alpha)") }
        guard initCalibrationTokens >= 1 else { throw ValidationError("--init-calibration-tokens must be ≥ 1, got \(initCalibrationTokens)") }
    }

    func run() throws {
        let writer = ModelDirectoryWriter(destination: out, force: training.force)
        try writer.checkDestination()
        let checkpointRoot = (out.hasSuffix("/") ? String(out.dropLast()) : out) + ".checkpoints"

        let teacher = try LoadedModel.load(directory: teacherDir)
        let vocab = try DistillationVocabulary.resolve(teacherDir: teacherDir, teacher: teacher.config,
                                                       teacherRows: teacher.model.vocabSize, studentVocab: studentVocab)
        let studentConfig = try StudentConfig.read(path: student, teacher: teacher.config,
                                                   vocabulary: vocab.vocabulary?.count, vocabularySource: studentVocab)
        guard training.context <= min(teacher.config.maxPositions, studentConfig.maxPositions) else {
            throw CLIError("--context \(training.context) exceeds the teacher's \(teacher.config.maxPositions) or the student's \(studentConfig.maxPositions) positions")
        }
        let pool = runtime.makePool()
        let streamOptions = TokenStreamOptions(context: training.context, seed: training.seed,
                                               split: training.holdOut.map { .holdOutFraction($0, keep: .train) } ?? .all)
        let stream = try TokenStream.load(data: data, tokenizerDirectory: vocab.tokenizerDirectory, eos: vocab.eos, options: streamOptions, threads: pool.threads)
        let source = TokenStreamSource(stream: stream)

        let sequences = (training.batchTokens ?? min(8, stream.sequencesPerEpoch) * training.context) / training.context
        let perStep = sequences * training.context
        let steps = max(1, (stream.sequenceCount(tokens: training.tokens) + sequences - 1) / sequences)

        // A = 0 is plain cross-entropy: the teacher would run for a term of weight 0, so it is
        // skipped (the same training, tested against DistillationTokenLoss with A = 0).
        var distillation: DistillationTokenLoss?
        if alpha > 0 {
            let teacherSource: TeacherSource
            if let teacherCache {
                let cache = try TeacherCache.open(directory: teacherCache, teacherDirectory: teacherDir, stream: stream, temperature: temperature)
                guard cache.completed >= steps * sequences else {
                    throw CLIError("\(teacherCache) holds \(cache.completed) sequences, this run needs \(steps * sequences) (\(steps) steps × \(sequences)): extend it with `verdant teacher-cache --tokens`")
                }
                if cache.layout.content == .topK && temperature > 2 {
                    // Measured on pycoder-llama-19m: at T = 10 the top 128 ids hold < 2% of the
                    // teacher's mass, so a top-k cache carries almost none of the soft labels.
                    printError("warning: a top-k teacher cache at T \(temperature) keeps little of the teacher's distribution (KL and gradient errors near 100% at T = 10 on pycoder-llama-19m); use `verdant teacher-cache --hidden-states` or no cache (online teacher)")
                }
                teacherSource = try TeacherSource(cache: cache, teacher: teacher.model, pool: pool, vocabulary: vocab.vocabulary)
            } else {
                teacherSource = try TeacherSource(online: teacher.model, context: training.context, pool: pool, vocabulary: vocab.vocabulary)
            }
            distillation = try DistillationTokenLoss(loss: try DistillationLoss(temperature: temperature, alpha: alpha),
                                                     teacher: teacherSource, data: source)
        }
        let mode = distillation.map { $0.teacher.mode.rawValue + " teacher" } ?? "no teacher (A = 0: cross-entropy only)"

        // The checkpoints and the output reuse this directory's config.json and tokenizer files.
        let template = try StudentConfig.writeTemplate(root: checkpointRoot, studentConfig: student, vocabularyDir: vocab.tokenizerDirectory)
        let store: ParameterStore
        if initialisation == .fromTeacher && !training.resume {
            let initDir = try StudentInitialisation.build(teacherDir: teacherDir, student: studentConfig, vocabulary: vocab.vocabulary,
                                                          stream: stream, layers: initLayers, calibrationTokens: initCalibrationTokens,
                                                          root: checkpointRoot, pool: pool)
            store = try ParameterStore(checkpoint: try Checkpoint(path: initDir), config: studentConfig)
        } else {
            // A resumed run restores every weight from its checkpoint.
            store = try ParameterStore(randomFor: studentConfig, seed: training.seed)
        }
        let lrSchedule = try LearningRateSchedule(peak: lr, warmupSteps: training.warmup ?? min(100, steps / 10), totalSteps: steps, decay: training.schedule)
        let options = try TrainingOptions(context: training.context, sequences: sequences, accumulate: 1, schedule: lrSchedule,
                                          adamW: try AdamWSettings(weightDecay: training.weightDecay), clip: training.clip, seed: training.seed, saveEvery: training.saveEvery)
        let trainer = try Trainer(store: store, options: options, data: source, pool: pool,
                                  loss: distillation.map { $0 as TokenLoss } ?? CrossEntropyLoss())
        if training.resume {
            guard let last = TrainingCheckpoint.steps(in: checkpointRoot).last else {
                throw CLIError("--resume: no checkpoint in \(checkpointRoot)")
            }
            try TrainingCheckpoint.restore(trainer, from: TrainingCheckpoint.directory(root: checkpointRoot, step: last))
            printError("resumed from \(TrainingCheckpoint.directory(root: checkpointRoot, step: last)) (step \(last))")
        }
        printError(String(format: "distill: student %d parameters (teacher %d), %@, T %g, A %g; %d tokens of data, %d steps × %d tokens, activations %.0f MB, %d threads",
                          store.totalCount, Int(StudentConfig.estimatedParameters(teacher.config)), mode as NSString, Double(temperature), Double(alpha),
                          stream.tokens.count, steps, perStep, Double(trainer.activationBytes) / 1e6, pool.threads))
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
            let rate = Double(done * perStep) / max(elapsed, 1e-9)
            let left = elapsed / Double(done) * Double(steps - trainer.step)
            // KL and CE per token when the loss mixes them (the loss skips the CE when A = 1).
            var parts = ""
            if let totals, alpha < 1 {
                let rows = Double(max(totals.rows, 1))
                parts = String(format: "  KL %.4f  CE %.4f", totals.kl / rows, totals.crossEntropy / rows)
            }
            printError(String(format: "step %d/%d  loss %.4f%@  lr %.3e  |g| %.3f  %.0f tokens/s  %@ left",
                              r.step, steps, r.loss, parts as NSString, r.learningRate, r.gradientNorm, rate,
                              formatDuration(left)))
            if training.saveEvery > 0 && trainer.step % training.saveEvery == 0 && !trainer.isFinished {
                try TrainingCheckpoint.save(trainer, root: checkpointRoot, source: template, dtype: .f32)
            }
        }
        try TrainingCheckpoint.save(trainer, root: checkpointRoot, source: template, dtype: .f32)
        try writer.write(config: try ModelDirectoryWriter.readConfigObject(directory: template),
                         weights: try TrainingCheckpoint.modelWriter(store, dtype: .f32), copyFrom: template)
        printError("wrote \(out) (checkpoints in \(checkpointRoot))")
    }
}
