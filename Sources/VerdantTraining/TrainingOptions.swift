/// Everything that determines a training run's trajectory (saved with each
/// checkpoint; a resume must use the same values).
public struct TrainingOptions: Sendable, Codable, Equatable {
    /// Tokens each sequence predicts (sequences hold context + 1 ids).
    public var context: Int
    /// Sequences per forward/backward (micro-batch).
    public var sequences: Int
    /// Micro-batches per optimizer step.
    public var accumulate: Int
    public var schedule: LearningRateSchedule
    public var adamW: AdamWSettings
    /// Global gradient-norm clip (0 = off).
    public var clip: Float
    public var seed: UInt64
    /// Write a checkpoint every this many steps (0 = never).
    public var saveEvery: Int

    public init(context: Int, sequences: Int, accumulate: Int, schedule: LearningRateSchedule,
                adamW: AdamWSettings, clip: Float, seed: UInt64, saveEvery: Int) throws {
        guard context >= 1 else { throw TrainingError.invalidArgument("context must be ≥ 1, got \(context)") }
        guard sequences >= 1 else { throw TrainingError.invalidArgument("batch must hold ≥ 1 sequence") }
        guard accumulate >= 1 else { throw TrainingError.invalidArgument("--accumulate must be ≥ 1, got \(accumulate)") }
        guard clip >= 0, clip.isFinite else { throw TrainingError.invalidArgument("--clip must be ≥ 0, got \(clip)") }
        guard saveEvery >= 0 else { throw TrainingError.invalidArgument("--save-every must be ≥ 0, got \(saveEvery)") }
        self.context = context
        self.sequences = sequences
        self.accumulate = accumulate
        self.schedule = schedule
        self.adamW = adamW
        self.clip = clip
        self.seed = seed
        self.saveEvery = saveEvery
    }

    /// Tokens predicted per optimizer step.
    public var tokensPerStep: Int { context * sequences * accumulate }
    public var totalSteps: Int { schedule.totalSteps }
}
