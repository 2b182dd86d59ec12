import ArgumentParser
import VerdantTraining

/// The options every training command shares (finetune, distill): data stream,
/// batch and schedule shape, optimizer regularisation, checkpointing. The peak
/// learning rate stays with each command, whose sensible defaults differ.
struct TrainingRunOptions: ParsableArguments {
    @Option(help: "Training tokens (predicted); default one pass over the data.")
    var tokens: Int?

    @Option(help: "Input tokens per sequence.")
    var context: Int = 256

    @Option(help: "Tokens per micro-batch (a multiple of --context: that many sequences).")
    var batchTokens: Int?

    @Option(help: "Warm-up steps (default: 10% of the steps, at most 100).")
    var warmup: Int?

    @Option(help: "Decay after warm-up: cosine, linear or constant.")
    var schedule: LearningRateSchedule.Decay = .cosine

    @Option(help: "Decoupled AdamW weight decay (≥ 2-D weights only).")
    var weightDecay: Float = 0.01

    @Option(help: "Global gradient-norm clip (0 = off).")
    var clip: Float = 1.0

    @Option(help: "Seed of the data order (and of any random initialisation).")
    var seed: UInt64 = 0

    @Option(help: "Fraction of files (by path) held out of training, in (0, 1).")
    var holdOut: Double?

    @Option(help: "Write a resumable checkpoint every N steps (0 = only at the end).")
    var saveEvery: Int = 100

    @Flag(help: "Continue from the newest checkpoint in OUT.checkpoints.")
    var resume = false

    @Flag(help: "Replace an existing non-empty OUT.")
    var force = false

    func validate() throws {
        guard context >= 2 && context <= 1 << 20 else { throw ValidationError("--context must be ≥ 2, got \(context)") }
        if let b = batchTokens, b < context || b % context != 0 || b > 1 << 26 {
            throw ValidationError("--batch-tokens must be a positive multiple of --context (\(context)), at most 2^26, got \(b)")
        }
        if let t = tokens, t < 1 { throw ValidationError("--tokens must be ≥ 1, got \(t)") }
        if let w = warmup, w < 0 { throw ValidationError("--warmup must be ≥ 0, got \(w)") }
        guard weightDecay.isFinite, weightDecay >= 0, weightDecay < 1 else {
            throw ValidationError("--weight-decay must lie in [0, 1), got \(weightDecay)")
        }
        guard clip.isFinite, clip >= 0 else { throw ValidationError("--clip must be ≥ 0, got \(clip)") }
        if let h = holdOut, !(h > 0 && h < 1) { throw ValidationError("--hold-out must lie strictly between 0 and 1, got \(h)") }
        guard saveEvery >= 0 else { throw ValidationError("--save-every must be ≥ 0, got \(saveEvery)") }
    }
}
