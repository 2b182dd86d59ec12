import Foundation
import VerdantModels
import VerdantTensors
import VerdantTraining

/// A trainer set up from the shared training options (finetune, prune --group-lasso):
/// the token stream, the step count for --tokens, the schedule, resume from
/// OUT.checkpoints, and the loop that prints progress and saves checkpoints.
struct TrainingRun {
    let trainer: Trainer
    let steps: Int
    /// Predicted tokens per optimizer step.
    let perStep: Int
    let streamTokens: Int
    let checkpointRoot: String

    /// OUT.checkpoints for an output directory.
    static func checkpointRoot(out: String) -> String {
        (out.hasSuffix("/") ? String(out.dropLast()) : out) + ".checkpoints"
    }

    /// When to restore from checkpointRoot: never, the newest checkpoint (an error when
    /// there is none: `--resume` of a single-phase run), or the newest if any (a later
    /// phase of a resumed run may not have started yet).
    enum Resume { case no, required, ifAny }

    /// root: where checkpoints go (default OUT.checkpoints); tokens: the budget (default
    /// --tokens); resume: default from --resume; settings: what a resume must match.
    init(store: ParameterStore, modelDir: String, data: String, out: String, lr: Float, accumulate: Int,
         training: TrainingRunOptions, pool: ThreadPool, root: String? = nil, tokens: Int? = nil, resume: Resume? = nil,
         settings: [String: String] = [:], dataPosition: String? = nil,
         makeConstraint: (_ steps: Int) -> (any WeightConstraint)? = { _ in nil }) throws {
        let config = store.config
        guard training.context <= config.maxPositions else {
            throw CLIError("--context \(training.context) exceeds the model's \(config.maxPositions) positions")
        }
        let tokenizerEOS = try loadTokenizer(directory: modelDir).eosTokenId
        guard let eos = config.eosTokenIds.first ?? tokenizerEOS else {
            throw CLIError("the model declares no EOS token to separate documents")
        }
        // The same stream as `verdant teacher-cache` and `verdant distill` for these options.
        let streamOptions = TokenStreamOptions(context: training.context, seed: training.seed,
                                               split: training.holdOut.map { .holdOutFraction($0, keep: .train) } ?? .all)
        let stream = try TokenStream.load(data: data, tokenizerDirectory: modelDir, eos: eos, options: streamOptions, threads: pool.threads)
        let source = TokenStreamSource(stream: stream)

        let sequences = (training.batchTokens ?? min(8, stream.sequencesPerEpoch) * training.context) / training.context
        perStep = sequences * training.context * accumulate
        steps = max(1, (stream.sequenceCount(tokens: tokens ?? training.tokens) * training.context + perStep - 1) / perStep)
        let lrSchedule = try LearningRateSchedule(peak: lr, warmupSteps: training.warmup ?? min(100, steps / 10), totalSteps: steps,
                                                decay: training.schedule)
        let options = try TrainingOptions(context: training.context, sequences: sequences, accumulate: accumulate, schedule: lrSchedule,
                                          adamW: try AdamWSettings(weightDecay: training.weightDecay), clip: training.clip, seed: training.seed,
                                          saveEvery: training.saveEvery)
        trainer = try Trainer(store: store, options: options, data: source, pool: pool)
        trainer.constraint = makeConstraint(steps)
        trainer.runSettings = settings
        streamTokens = stream.tokens.count
        checkpointRoot = root ?? Self.checkpointRoot(out: out)
        // A later phase continues the stream where the earlier one stopped (unless its own checkpoint says otherwise).
        if let p = dataPosition { try trainer.data.restore(position: p) }
        let mode = resume ?? (training.resume ? .required : .no)
        if mode != .no {
            guard let last = TrainingCheckpoint.steps(in: checkpointRoot).last else {
                if mode == .ifAny { return }
                throw CLIError("--resume: no checkpoint in \(checkpointRoot)")
            }
            try TrainingCheckpoint.restore(trainer, from: TrainingCheckpoint.directory(root: checkpointRoot, step: last))
            printError("resumed from \(TrainingCheckpoint.directory(root: checkpointRoot, step: last)) (step \(last))")
        }
    }

    /// Trains to the end, printing a line per step (plus `extra` of the trainer) and
    /// saving a checkpoint every --save-every steps and at the end; returns the final
    /// checkpoint's directory (itself a Hugging Face model directory).
    @discardableResult
    func run(training: TrainingRunOptions, source modelDir: String, dtype: DType?,
             extra: (Trainer) -> String = { _ in "" }) throws -> String {
        let start = Date()
        let startStep = trainer.step
        // A resumed run that had already finished: its last checkpoint is the result.
        if trainer.isFinished && TrainingCheckpoint.steps(in: checkpointRoot).last == trainer.step {
            return TrainingCheckpoint.directory(root: checkpointRoot, step: trainer.step)
        }
        var last = start
        while !trainer.isFinished {
            let r = try trainer.trainStep()
            let time = Date()
            let elapsed = time.timeIntervalSince(start)
            let done = trainer.step - startStep
            let rate = Double(done * perStep) / max(elapsed, 1e-9)
            let left = elapsed / Double(done) * Double(steps - trainer.step)
            printError(String(format: "step %d/%d  loss %.4f  lr %.3e  |g| %.3f  %.0f tokens/s  (%.3f s this step)  %@ left%@",
                              r.step, steps, r.loss, r.learningRate, r.gradientNorm, rate, time.timeIntervalSince(last),
                              formatDuration(left), extra(trainer)))
            last = time
            if training.saveEvery > 0 && trainer.step % training.saveEvery == 0 && !trainer.isFinished {
                try TrainingCheckpoint.save(trainer, root: checkpointRoot, source: modelDir, dtype: dtype)
            }
        }
        printError("time per phase: " + trainer.timings.summary)
        try TrainingCheckpoint.save(trainer, root: checkpointRoot, source: modelDir, dtype: dtype)
        return TrainingCheckpoint.directory(root: checkpointRoot, step: trainer.step)
    }
}

func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "?" }
    let s = Int(seconds.rounded())
    return String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
}
