import VerdantModels
import VerdantTensors

/// A constraint on the weights around each optimizer update (Group Lasso's proximal
/// step, the pruning mask of a recovery run after the cut).
public protocol WeightConstraint: AnyObject, Sendable {
    /// Before clipping and AdamW (model layout): a mask zeroes the gradients of removed
    /// groups so they count neither in the clipping norm nor in the moments.
    func prepareGradients(_ gradients: UnsafeMutablePointer<Float>, pool: ThreadPool)
    /// After AdamW, with that update's learning rate and 0-based step index.
    func apply(_ values: UnsafeMutablePointer<Float>, learningRate: Float, step: Int, pool: ThreadPool)
}

/// What one optimizer step did.
public struct StepReport: Sendable {
    public var step: Int
    /// Mean loss over the step's counted targets.
    public var loss: Double
    public var learningRate: Float
    /// Global gradient norm before clipping.
    public var gradientNorm: Double
    public var tokens: Int
}

/// The training loop: micro-batches from the data source, forward + backward
/// into the store's gradients, gradient accumulation, global-norm clipping,
/// AdamW with the schedule's learning rate. Deterministic for a seed and thread
/// count: every reduction uses fixed partitions (see RowBlocks.swift, the
/// attention backward, gradientNorm).
public final class Trainer {
    public let store: ParameterStore
    public let model: DecoderModel
    public let options: TrainingOptions
    public let optimizer: AdamW
    public let data: TrainingDataSource
    public let pool: ThreadPool
    public var loss: TokenLoss
    let tape: TrainingTape
    /// Optimizer steps done.
    public internal(set) var step = 0
    public internal(set) var tokensSeen = 0
    /// For stochastic parts of future losses (dropout, LoRA init); saved and restored.
    public var rng: RandomSource
    /// Run around every AdamW update (Group Lasso's proximal step, a pruning mask);
    /// nil for plain training.
    public var constraint: (any WeightConstraint)?
    /// What a resumed run must match besides the options (e.g. the Group Lasso α,
    /// schedule, groups and sparsity): saved in trainer_state.json, compared on restore.
    public var runSettings: [String: String] = [:]

    public init(store: ParameterStore, options: TrainingOptions, data: TrainingDataSource, pool: ThreadPool,
                loss: TokenLoss = CrossEntropyLoss()) throws {
        self.store = store
        model = try store.model()
        guard options.context <= store.config.maxPositions else {
            throw TrainingError.invalidArgument("context \(options.context) exceeds the model's \(store.config.maxPositions) positions")
        }
        self.options = options
        optimizer = AdamW(store: store, settings: options.adamW)
        self.data = data
        self.pool = pool
        self.loss = loss
        tape = TrainingTape(config: store.config, batch: options.sequences, tokens: options.context)
        rng = RandomSource(seed: options.seed)
    }

    public var isFinished: Bool { step >= options.totalSteps }

    /// Time per phase of the steps so far.
    public var timings: TrainingTimings { tape.timings }

    /// Bytes of saved activations and scratch.
    public var activationBytes: Int { tape.byteCount }

    public func trainStep() throws -> StepReport {
        let o = options
        // Fetch the whole step first: the mean is over every counted target of the step.
        var batches: [TrainingBatch] = []
        for _ in 0..<o.accumulate {
            let seqs = try data.next(sequences: o.sequences, length: o.context + 1)
            batches.append(TrainingBatch(sequences: seqs))
        }
        let counted = batches.reduce(0) { $0 + $1.targetCount }
        guard counted > 0 else { throw TrainingError.data("a training step has no target tokens") }
        store.zeroGradients()
        var sum = 0.0
        for b in batches {
            sum += try model.accumulateGradients(b, loss: loss, scale: 1 / Float(counted), tape: tape, store: store, pool: pool)
        }
        let meanLoss = sum / Double(counted)
        guard meanLoss.isFinite else { throw TrainingError.data("loss became \(meanLoss) at step \(step + 1); lower --lr") }
        let t0 = ContinuousClock.now
        constraint?.prepareGradients(store.gradients, pool: pool)
        let norm = gradientNorm(store, pool: pool)
        let lr = o.schedule.rate(step: step)
        // Clipping is folded into the update (one pass over the gradients, not two).
        optimizer.update(store: store, learningRate: lr, gradientScale: clippingFactor(norm: norm, maxNorm: o.clip), pool: pool)
        constraint?.apply(store.values, learningRate: lr, step: step, pool: pool)
        let d = ContinuousClock.now - t0
        timings.optimizer += Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        step += 1
        tokensSeen += counted
        return StepReport(step: step, loss: meanLoss, learningRate: lr, gradientNorm: norm, tokens: counted)
    }
}
