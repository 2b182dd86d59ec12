import Foundation
import Testing
import VerdantModels
import VerdantTensors
@testable import VerdantTraining

/// A fixture model (llama, gpt2 with Conv1D layout, bigcode-mha with regrouped qkv)
/// trained on a random token stream.
func makeTrainer(_ fixture: String, threads: Int = 2, steps: Int = 4, tokenCount: Int = 600,
                 sequences: Int = 3, accumulate: Int = 2) throws -> Trainer {
    let dir = TrainingFixtures.root.appendingPathComponent(fixture).path
    let store = try ParameterStore(directory: dir)
    var rng = RandomSource(seed: 3)
    let tokens = (0..<tokenCount).map { _ in Int32(rng.next() % UInt64(store.config.vocabSize)) }
    let data = TokenStreamSource(stream: try TokenStream(tokens: tokens, documentCount: 1, fingerprint: "random",
                                                         options: TokenStreamOptions(context: 8, seed: 5)))
    let options = try TrainingOptions(
        context: 8, sequences: sequences, accumulate: accumulate,
        schedule: try LearningRateSchedule(peak: 1e-2, warmupSteps: 1, totalSteps: steps, decay: .cosine),
        adamW: try AdamWSettings(weightDecay: 0.1), clip: 0.5, seed: 11, saveEvery: 2)
    return try Trainer(store: store, options: options, data: data, pool: ThreadPool(threads: threads))
}

func values(_ t: Trainer) -> [Float] { Array(UnsafeBufferPointer(start: t.store.values, count: t.store.totalCount)) }

@Suite struct TrainerTests {
    @Test(arguments: ["llama", "gpt2", "bigcode-mha"])
    func resumeIsBitIdentical(_ fixture: String) throws {
        let straight = try makeTrainer(fixture)
        var losses: [Double] = []
        for _ in 0..<4 { losses.append(try straight.trainStep().loss) }

        let root = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-resume-\(fixture)-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let first = try makeTrainer(fixture)
        for _ in 0..<2 { _ = try first.trainStep() }
        let source = TrainingFixtures.root.appendingPathComponent(fixture).path
        try TrainingCheckpoint.save(first, root: root, source: source)
        // "Kill": a fresh process state, from the original model directory plus the checkpoint.
        let resumed = try makeTrainer(fixture)
        try TrainingCheckpoint.restore(resumed, from: TrainingCheckpoint.directory(root: root, step: 2))
        #expect(resumed.step == 2)
        var resumedLosses: [Double] = []
        for _ in 0..<2 { resumedLosses.append(try resumed.trainStep().loss) }
        #expect(resumedLosses == Array(losses[2...]))
        #expect(values(resumed) == values(straight), "resumed parameters differ from the uninterrupted run")

        // The checkpoint is a loadable model with the step-2 weights in checkpoint layout.
        let saved = try ParameterStore(directory: TrainingCheckpoint.directory(root: root, step: 2))
        for p in saved.parameters {
            #expect(saved.checkpointValues(p.name) == first.store.checkpointValues(p.name), "\(p.name)")
        }
        _ = try LoadedModel.load(directory: TrainingCheckpoint.directory(root: root, step: 2))
    }

    /// Three windows seen every step: the model memorises them.
    @Test func lossGoesDownOnRepeatedData() throws {
        let t = try makeTrainer("llama", steps: 6, tokenCount: 27)
        var losses: [Double] = []
        for _ in 0..<6 { losses.append(try t.trainStep().loss) }
        #expect(losses.last! < losses.first! - 0.1, "loss did not go down: \(losses)")
    }

    @Test func sameSeedSameThreadsSameResult() throws {
        let a = try makeTrainer("qwen2"), b = try makeTrainer("qwen2")
        for _ in 0..<2 { _ = try a.trainStep(); _ = try b.trainStep() }
        #expect(values(a) == values(b))
    }

    /// 3 micro-batches of 2 sequences accumulate to the gradient of one batch of 6
    /// (the mean over all the step's targets), up to f32 summation order.
    @Test func accumulationEqualsTheBigBatch() throws {
        let a = try makeTrainer("llama", sequences: 2, accumulate: 3), b = try makeTrainer("llama", sequences: 6, accumulate: 1)
        let ra = try a.trainStep(), rb = try b.trainStep()
        #expect(abs(ra.loss - rb.loss) < 1e-6 * rb.loss)
        let ga = UnsafeBufferPointer(start: a.store.gradients, count: a.store.totalCount)
        let gb = UnsafeBufferPointer(start: b.store.gradients, count: b.store.totalCount)
        let largest = gb.map { abs($0) }.max() ?? 0
        let worst = zip(ga, gb).map { abs($0 - $1) }.max() ?? 1
        #expect(worst <= 1e-5 * largest, "accumulated gradient differs by \(worst) (largest \(largest))")
    }

    /// Every reduction uses partitions fixed independently of the thread count
    /// (and `sgemm` computes each output element in one task), so 1 and 3 threads agree bit for bit.
    @Test func threadCountDoesNotChangeTheResult() throws {
        let a = try makeTrainer("gpt2", threads: 1), b = try makeTrainer("gpt2", threads: 3)
        for _ in 0..<2 { _ = try a.trainStep(); _ = try b.trainStep() }
        #expect(values(a) == values(b))
    }

    /// One AdamW update against the formula, in f64: decay only on ≥ 2-D tensors.
    @Test func adamWMatchesTheFormula() throws {
        let t = try makeTrainer("llama")
        let store = t.store
        var rng = RandomSource(seed: 1)
        for i in 0..<store.totalCount { store.gradients[i] = rng.nextUnitFloat() - 0.5 }
        let before = values(t), grads = Array(UnsafeBufferPointer(start: store.gradients, count: store.totalCount))
        let opt = AdamW(store: store, settings: try AdamWSettings(weightDecay: 0.1))
        let lr: Float = 1e-2
        opt.update(store: store, learningRate: lr, pool: ThreadPool(threads: 2))
        var worst = 0.0
        for p in store.parameters where p.trainable {
            for i in p.offset..<(p.offset + p.count) {
                let g = Double(grads[i])
                let m = 0.1 * g, v = 0.001 * g * g
                var x = Double(before[i])
                if p.isMatrix { x *= 1 - Double(lr) * 0.1 }
                x -= Double(lr) * (m / 0.1) / ((v / 0.001).squareRoot() + 1e-8)
                worst = max(worst, abs(Double(store.values[i]) - x))
            }
        }
        #expect(worst < 1e-6)
    }

    @Test func clippingBoundsTheGlobalNorm() throws {
        let t = try makeTrainer("gpt2")
        for i in 0..<t.store.totalCount { t.store.gradients[i] = 1 }
        let before = clipGradientNorm(t.store, maxNorm: 2, pool: t.pool)
        #expect(before > 2)
        #expect(abs(gradientNorm(t.store, pool: t.pool) - 2) < 1e-4)
    }

    /// The model built from a store computes with the store's memory (no copy),
    /// and runs inference exactly like the model loaded from the checkpoint.
    @Test(arguments: ["llama", "gpt2", "bigcode-mha"])
    func modelMatricesPointIntoTheStore(_ fixture: String) throws {
        let dir = TrainingFixtures.root.appendingPathComponent(fixture).path
        let store = try ParameterStore(directory: dir)
        let model = try store.model()
        #expect(UnsafeRawPointer(store.value(model.embeddingName)!) == model.embedding.data)
        for layer in model.layers {
            #expect(UnsafeRawPointer(store.value(layer.output.name)!) == layer.output.weight.data)
        }
        let reference = try LoadedModel.load(directory: dir).model
        let pool = ThreadPool(threads: 2)
        var logits: [[Float]] = []
        for m in [model, reference] {
            let ws = Workspace(config: m.config)
            try m.forward([1, 5, 9, 2, 7], cache: m.makeCache(capacity: 8), workspace: ws, pool: pool)
            var out = [Float](repeating: 0, count: 5 * m.vocabSize)
            m.logits(workspace: ws, firstRow: 0, rows: 5, into: &out, pool: pool)
            logits.append(out)
        }
        let worst = zip(logits[0], logits[1]).map { abs($0 - $1) }.max() ?? 1
        #expect(worst < 1e-4, "\(fixture): store-built model differs from the checkpoint by \(worst)")
    }

    @Test func tokenStreamSourceRestoresItsPosition() throws {
        func source(_ fingerprint: String = "f") throws -> TokenStreamSource {
            TokenStreamSource(stream: try TokenStream(tokens: (0..<100).map(Int32.init), documentCount: 1, fingerprint: fingerprint,
                                                      options: TokenStreamOptions(context: 9, seed: 1)))
        }
        let s = try source()
        _ = try s.next(sequences: 13, length: 10)
        let position = s.position
        let expected = try s.next(sequences: 9, length: 10)
        #expect(s.lastSequences == 13..<22)
        let t = try source()
        try t.restore(position: position)
        #expect(try t.next(sequences: 9, length: 10) == expected)
        #expect(throws: TrainingError.self) { try t.next(sequences: 1, length: 11) }
        #expect(throws: TrainingError.self) { try t.restore(position: "x") }
        #expect(throws: TrainingError.self) { try source("other").restore(position: position) }
    }

    @Test func randomInitialisationCoversTheArchitecture() throws {
        for fixture in ["llama", "gpt2", "bigcode-mha"] {
            let config = try ModelRegistry.config(directory: TrainingFixtures.root.appendingPathComponent(fixture).path)
            let a = try ParameterStore(randomFor: config, seed: 9), b = try ParameterStore(randomFor: config, seed: 9)
            _ = try a.model()
            let allTrainable = a.parameters.allSatisfy { $0.trainable }
            #expect(allTrainable)
            #expect(values(a) == values(b))
            let norms = a.parameters.filter { !$0.isMatrix && !$0.name.hasSuffix(".bias") }
            #expect(!norms.isEmpty && norms.allSatisfy { a.checkpointValues($0.name)!.allSatisfy { $0 == 1 } })
        }
        func values(_ s: ParameterStore) -> [Float] { Array(UnsafeBufferPointer(start: s.values, count: s.totalCount)) }
    }
}
