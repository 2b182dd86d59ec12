import Foundation
import Testing
import VerdantModels
import VerdantTensors
@testable import VerdantTraining

/// LoRA fixtures (scripts/make_training_fixtures.py): a PEFT adapter directory on a
/// base fixture, PyTorch's loss and the lora_A / lora_B gradients of one batch.
enum LoRAFixtures {
    static let names = ["lora-llama", "lora-gpt2", "lora-bigcode-mha"]

    static func reference(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: TrainingFixtures.root.appendingPathComponent("\(name)/lora_reference.json"))
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    static func store(_ name: String) throws -> ParameterStore {
        let base = try #require(try reference(name)["base"] as? String)
        return try LoRAAdapterDirectory.load(TrainingFixtures.root.appendingPathComponent(name).path,
                                             onto: try ParameterStore(directory: TrainingFixtures.root.appendingPathComponent(base).path))
    }
}

/// Mean loss of `batch` through the training path; gradients left in the store.
func meanLoss(_ store: ParameterStore, _ batch: TrainingBatch, loss: TokenLoss = CrossEntropyLoss()) throws -> Double {
    let model = try store.model()
    let tape = TrainingTape(config: store.config, batch: batch.batch, tokens: batch.tokens, lossChunkRows: 5)
    store.zeroGradients()
    let n = batch.targetCount
    return try model.accumulateGradients(batch, loss: loss, scale: 1 / Float(n), tape: tape, store: store,
                                         pool: ThreadPool(threads: 2)) / Double(n)
}

/// Cross-entropy that also records the logits it is given.
final class LogitsRecorder: TokenLoss {
    var logits: [Float] = []
    func lossAndGradient(logits: UnsafeMutablePointer<Float>, rows: Int, vocab: Int, firstRow: Int,
                         targets: UnsafePointer<Int32>, scale: Float, pool: ThreadPool) -> Double {
        self.logits.append(contentsOf: UnsafeBufferPointer(start: logits, count: rows * vocab))
        return CrossEntropyLoss().lossAndGradient(logits: logits, rows: rows, vocab: vocab, firstRow: firstRow,
                                                  targets: targets, scale: scale, pool: pool)
    }
}

/// A fixture with fresh adapters (B = 0) trained on a random token stream.
func makeLoRATrainer(_ fixture: String, steps: Int = 4, alpha: Float = 4) throws -> Trainer {
    let base = try ParameterStore(directory: TrainingFixtures.root.appendingPathComponent(fixture).path)
    let store = try ParameterStore(base: base, rank: 2, alpha: alpha, targets: [.q, .v, .o, .up], seed: 7)
    var rng = RandomSource(seed: 3)
    let tokens = (0..<600).map { _ in Int32(rng.next() % UInt64(store.config.vocabSize)) }
    let options = try TrainingOptions(
        context: 8, sequences: 3, accumulate: 2,
        schedule: try LearningRateSchedule(peak: 1e-2, warmupSteps: 1, totalSteps: steps, decay: .cosine),
        adamW: try AdamWSettings(weightDecay: 0.1), clip: 0.5, seed: 11, saveEvery: 2)
    return try Trainer(store: store, options: options, data: TokenStreamSource(stream: try TokenStream(tokens: tokens, documentCount: 1, fingerprint: "random",
                                                                         options: TokenStreamOptions(context: 8, seed: 5))),
                       pool: ThreadPool(threads: 2))
}

@Suite struct LoRATests {
    /// Loss within 2e-6 relative and every lora_A / lora_B gradient within 1e-4 of
    /// its largest magnitude of PyTorch's (the adapter loaded from the PEFT files).
    @Test(arguments: LoRAFixtures.names)
    func loraGradientsMatchPyTorch(_ name: String) throws {
        let ref = try LoRAFixtures.reference(name)
        let store = try LoRAFixtures.store(name)
        let loss = try meanLoss(store, try TrainingFixtures.batch(ref))
        let expectedLoss = try #require(ref["loss"] as? Double)
        #expect(abs(loss - expectedLoss) <= 2e-6 * expectedLoss, "\(name): loss \(loss) vs \(expectedLoss)")
        #expect(Set(store.parameters.filter(\.trainable).map(\.name)) == store.adapterTensors, "the base must be frozen")
        let grads = try SafetensorsFile(path: TrainingFixtures.root.appendingPathComponent("\(name)/lora_gradients.safetensors").path)
        #expect(grads.names.count == store.adapterTensors.count)
        var worst = 0.0
        for tensor in store.adapterTensors.sorted() {
            let expected = try grads.floats(LoRAAdapterDirectory.peftName(tensor, config: store.config))
            let got = try #require(store.checkpointGradient(tensor))
            let scale = Double(expected.map { abs($0) }.max() ?? 0) + 1e-8
            var err = 0.0
            for (a, b) in zip(got, expected) { err = max(err, Double(abs(a - b))) }
            worst = max(worst, err / scale)
            #expect(err / scale <= 1e-4, "\(name): \(tensor) gradient off by \(err) (largest \(scale))")
        }
        print("\(name): loss \(loss) (PyTorch \(expectedLoss)), worst relative LoRA gradient error \(worst)")
    }

    /// Central differences on the largest-gradient elements of every adapter tensor
    /// (f32 loss: h = 1e-2, tolerance 3% of the gradient + 2e-4).
    @Test(arguments: ["lora-llama", "lora-gpt2"])
    func adapterGradientsMatchFiniteDifferences(_ name: String) throws {
        let store = try LoRAFixtures.store(name)
        let batch = try TrainingFixtures.batch(try LoRAFixtures.reference(name))
        _ = try meanLoss(store, batch)
        var checks: [(String, Int, Float)] = []
        for tensor in store.adapterTensors.sorted() {
            let p = try #require(store.parameter(tensor)), g = store.gradients + p.offset
            let i = (0..<p.count).max { abs(g[$0]) < abs(g[$1]) } ?? 0
            checks.append((tensor, i, g[i]))
        }
        let h: Float = 1e-2
        for (tensor, i, analytic) in checks {
            let v = try #require(store.value(tensor))
            let saved = v[i]
            v[i] = saved + h
            let up = try meanLoss(store, batch)
            v[i] = saved - h
            let down = try meanLoss(store, batch)
            v[i] = saved
            let numeric = Float((up - down) / Double(2 * h))
            #expect(abs(numeric - analytic) <= 0.03 * abs(analytic) + 2e-4, "\(name): \(tensor)[\(i)] analytic \(analytic) vs numeric \(numeric)")
        }
    }

    /// The merged checkpoint (W + (α/r)·B·A, adapters dropped) computes the adapter model's logits.
    @Test(arguments: LoRAFixtures.names)
    func mergedModelMatchesTheAdapters(_ name: String) throws {
        let ref = try LoRAFixtures.reference(name)
        let baseDir = TrainingFixtures.root.appendingPathComponent(try #require(ref["base"] as? String)).path
        let store = try LoRAFixtures.store(name)
        let batch = try TrainingFixtures.batch(ref)
        let adapted = LogitsRecorder()
        _ = try meanLoss(store, batch, loss: adapted)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-merge-\(name)-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        try ModelDirectoryWriter(destination: out).write(config: try ModelDirectoryWriter.readConfigObject(directory: baseDir),
                                                        weights: try TrainingCheckpoint.modelWriter(store), copyFrom: baseDir)
        let merged = try ParameterStore(directory: out)
        #expect(!merged.parameters.contains { $0.name.contains("lora_") })
        let recorded = LogitsRecorder()
        _ = try meanLoss(merged, batch, loss: recorded)
        let scale = adapted.logits.map { abs($0) }.max() ?? 1
        var err: Float = 0
        for (a, b) in zip(adapted.logits, recorded.logits) { err = max(err, abs(a - b)) }
        #expect(adapted.logits.count == recorded.logits.count && err <= 1e-5 * scale, "\(name): merged logits off by \(err)")
        _ = try LoadedModel.load(directory: out)
    }

    /// Training moves only the adapters; 2 steps + checkpoint + 2 steps equal 4 steps bit for bit.
    @Test(arguments: ["llama", "gpt2", "bigcode-mha"])
    func frozenBaseAndBitIdenticalResume(_ fixture: String) throws {
        let straight = try makeLoRATrainer(fixture)
        let base = try ParameterStore(directory: TrainingFixtures.root.appendingPathComponent(fixture).path)
        var losses: [Double] = []
        for _ in 0..<4 { losses.append(try straight.trainStep().loss) }
        for p in straight.store.parameters where !straight.store.isAdapterTensor(p.name) {
            #expect(straight.store.checkpointValues(p.name) == base.checkpointValues(p.name), "\(fixture): frozen \(p.name) changed")
        }
        for ad in straight.store.adapters.values {
            #expect(straight.store.checkpointValues(ad.b)?.contains { $0 != 0 } == true, "\(fixture): \(ad.b) did not train")
        }

        let root = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-lora-resume-\(fixture)-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let first = try makeLoRATrainer(fixture)
        for _ in 0..<2 { _ = try first.trainStep() }
        let source = TrainingFixtures.root.appendingPathComponent(fixture).path
        try TrainingCheckpoint.save(first, root: root, source: source)
        let resumed = try makeLoRATrainer(fixture)
        try TrainingCheckpoint.restore(resumed, from: TrainingCheckpoint.directory(root: root, step: 2))
        var resumedLosses: [Double] = []
        for _ in 0..<2 { resumedLosses.append(try resumed.trainStep().loss) }
        #expect(resumedLosses == Array(losses[2...]))
        #expect(values(resumed) == values(straight), "resumed LoRA parameters differ from the uninterrupted run")
        // Another α, or no adapters at all, cannot resume from it.
        #expect(throws: TrainingError.self) {
            try TrainingCheckpoint.restore(try makeLoRATrainer(fixture, alpha: 8), from: TrainingCheckpoint.directory(root: root, step: 2))
        }
        #expect(throws: TrainingError.self) {
            try TrainingCheckpoint.restore(try makeTrainer(fixture), from: TrainingCheckpoint.directory(root: root, step: 2))
        }
        // The checkpoint's model is the merged one.
        let saved = try ParameterStore(directory: TrainingCheckpoint.directory(root: root, step: 2))
        #expect(saved.parameters.count == base.parameters.count)
    }

    /// A PEFT directory written by Verdant loads back to the same adapters.
    @Test func adapterDirectoryRoundTrips() throws {
        let store = try LoRAFixtures.store("lora-bigcode-mha")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-adapter-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        try LoRAAdapterDirectory.write(store, alpha: 6, baseModel: "bigcode-mha", to: out, force: false)
        let again = try LoRAAdapterDirectory.load(out, onto: try ParameterStore(directory: TrainingFixtures.root.appendingPathComponent("bigcode-mha").path))
        #expect(again.adapters == store.adapters)
        for t in store.adapterTensors { #expect(again.checkpointValues(t) == store.checkpointValues(t), "\(t)") }
    }

    @Test func badLoRASettingsAreClearErrors() throws {
        let llama = try ParameterStore(directory: TrainingFixtures.root.appendingPathComponent("llama").path)
        let gpt2 = try ParameterStore(directory: TrainingFixtures.root.appendingPathComponent("gpt2").path)
        #expect(throws: LoRAError.self) { try ParameterStore(base: llama, rank: 17, alpha: 1, targets: [.q], seed: 0) }
        #expect(throws: LoRAError.self) { try ParameterStore(base: llama, rank: 0, alpha: 1, targets: [.q], seed: 0) }
        #expect(throws: LoRAError.self) { try LoRATarget.parse("q,qq") }
        #expect(throws: LoRAError.self) { try ParameterStore(base: gpt2, rank: 2, alpha: 1, targets: [.gate], seed: 0) }
        // An adapter made for another model, and one whose shapes do not fit.
        #expect(throws: LoRAError.self) {
            try LoRAAdapterDirectory.load(TrainingFixtures.root.appendingPathComponent("lora-llama").path, onto: gpt2)
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-bad-adapter-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let src = TrainingFixtures.root.appendingPathComponent("lora-llama")
        try FileManager.default.copyItem(at: src.appendingPathComponent("adapter_model.safetensors"),
                                         to: dir.appendingPathComponent("adapter_model.safetensors"))
        try Data(#"{"peft_type": "LORA", "r": 3, "lora_alpha": 4}"#.utf8).write(to: dir.appendingPathComponent("adapter_config.json"))
        #expect(throws: LoRAError.self) { try LoRAAdapterDirectory.load(dir.path, onto: llama) }
    }
}
