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
        try ModelDirectoryWriter(destination: out, force: training.force).checkDestination()
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
        let run = DistillationRun(teacher: teacher, teacherDirectory: teacherDir, stream: stream, pool: pool,
                                  vocabulary: vocab.vocabulary, vocabularyDirectory: vocab.tokenizerDirectory)
        let checkpointRoot = (out.hasSuffix("/") ? String(out.dropLast()) : out) + ".checkpoints"
        // Called only for a fresh run: a resumed run restores every weight from its checkpoint.
        let initialise = initialisation == .random ? nil
            : StudentInitialisation.initialiser(teacherDir: teacherDir, student: studentConfig, vocabulary: vocab.vocabulary,
                                                stream: stream, layers: initLayers, calibrationTokens: initCalibrationTokens, pool: pool)
        try run.run(studentConfigPath: student, student: studentConfig, options: distillationOptions, teacherCache: teacherCache,
                    out: out, force: training.force, initialise: initialise,
                    started: { s in
                        if let step = s.resumedFromStep {
                            printError("resumed from \(TrainingCheckpoint.directory(root: checkpointRoot, step: step)) (step \(step))")
                        }
                        printError(String(format: "distill: student %d parameters (teacher %d), %@, T %g, A %g; %d tokens of data, %d steps × %d tokens, activations %.0f MB, %d threads",
                                          s.parameters, Int(StudentConfig.estimatedParameters(teacher.config)), s.teacherMode as NSString,
                                          Double(temperature), Double(alpha), stream.tokens.count, s.steps, s.tokensPerStep,
                                          Double(s.activationBytes) / 1e6, pool.threads))
                    },
                    progress: { p in
                        // KL and CE per token when the loss mixes them (the loss skips the CE when A = 1).
                        let parts = p.klAndCrossEntropy.map { String(format: "  KL %.4f  CE %.4f", $0.kl, $0.crossEntropy) } ?? ""
                        printError(String(format: "step %d/%d  loss %.4f%@  lr %.3e  |g| %.3f  %.0f tokens/s  %@ left",
                                          p.step, p.steps, p.loss, parts as NSString, p.learningRate, p.gradientNorm,
                                          p.tokensPerSecond, formatDuration(p.secondsLeft)))
                    },
                    warning: { printError("warning: " + $0) })
        printError("wrote \(out) (checkpoints in \(checkpointRoot))")
    }

    var distillationOptions: DistillationRunOptions {
        var o = DistillationRunOptions()
        o.tokens = training.tokens
        o.batchTokens = training.batchTokens
        o.learningRate = lr
        o.warmup = training.warmup
        o.schedule = training.schedule
        o.weightDecay = training.weightDecay
        o.clip = training.clip
        o.seed = training.seed
        o.temperature = temperature
        o.alpha = alpha
        o.saveEvery = training.saveEvery
        o.resume = training.resume
        return o
    }
}
