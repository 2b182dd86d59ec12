import Foundation
import Testing
import VerdantModels
import VerdantTensors

/// Fixtures written by scripts/make_training_fixtures.py: tiny random models of
/// each architecture with PyTorch's loss and every parameter's gradient for one batch.
enum TrainingFixtures {
    static var root: URL { Bundle.module.url(forResource: "Fixtures", withExtension: nil)! }

    static var names: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter { FileManager.default.fileExists(atPath: root.appendingPathComponent("\($0)/reference.json").path) }.sorted()
    }

    static func reference(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent("\(name)/reference.json"))
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    /// The fixture's batch with its ignored targets.
    static func batch(_ ref: [String: Any]) throws -> TrainingBatch {
        let ids = try #require(ref["input_ids"] as? [[Int]])
        var batch = TrainingBatch(sequences: ids.map { $0.map(Int32.init) })
        for i in (ref["ignored"] as? [Int]) ?? [] { batch.targets[i] = ignoredTarget }
        return batch
    }
}

@Test func everyTrainedArchitectureHasAGradientFixture() {
    let names = TrainingFixtures.names
    for required in ["llama", "qwen2", "mistral-window", "gpt2", "bigcode-mqa", "bigcode-mha"] {
        #expect(names.contains(required), "no training fixture \(required)")
    }
}

/// Loss within 2e-6 relative; every gradient tensor within 1e-4 of its largest
/// magnitude (f32 with different summation orders; measured worst ≈ 1e-6).
@Test(arguments: TrainingFixtures.names)
func gradientsMatchPyTorch(_ name: String) throws {
    let dir = TrainingFixtures.root.appendingPathComponent(name)
    let ref = try TrainingFixtures.reference(name)
    let store = try ParameterStore(directory: dir.path)
    let model = try store.model()
    let batch = try TrainingFixtures.batch(ref)
    let tape = TrainingTape(config: store.config, batch: batch.batch, tokens: batch.tokens, lossChunkRows: 5)
    let count = batch.targetCount
    store.zeroGradients()
    let sum = try model.accumulateGradients(batch, loss: CrossEntropyLoss(), scale: 1 / Float(count), tape: tape,
                                            store: store, pool: ThreadPool(threads: 2))
    let loss = sum / Double(count)
    let expectedLoss = try #require(ref["loss"] as? Double)
    #expect(abs(loss - expectedLoss) <= 2e-6 * expectedLoss, "\(name): loss \(loss) vs \(expectedLoss)")

    let grads = try SafetensorsFile(path: dir.appendingPathComponent("gradients.safetensors").path)
    let trainable = Set(store.parameters.filter(\.trainable).map(\.name))
    #expect(trainable == Set(grads.names), "\(name): trainable \(trainable.sorted()) vs PyTorch \(grads.names.sorted())")
    var worst = 0.0
    for tensor in grads.names {
        let expected = try grads.floats(tensor)
        let got = try #require(store.checkpointGradient(tensor), "\(tensor) not in the store")
        let scale = Double(expected.map { abs($0) }.max() ?? 0) + 1e-8
        var err = 0.0
        for (a, b) in zip(got, expected) { err = max(err, Double(abs(a - b))) }
        worst = max(worst, err / scale)
        #expect(err / scale <= 1e-4, "\(name): \(tensor) gradient off by \(err) (largest \(scale))")
    }
    print("\(name): loss \(loss) (PyTorch \(expectedLoss)), worst relative gradient error \(worst)")
}

/// Frozen tensors get no gradient work, and the trainable ones below them still
/// receive exactly the full run's gradients (dX flows through frozen layers): what
/// LoRA adapters on a frozen base need.
@Test(arguments: ["llama", "gpt2"])
func frozenTensorsStillPropagate(_ name: String) throws {
    let dir = TrainingFixtures.root.appendingPathComponent(name)
    let batch = try TrainingFixtures.batch(try TrainingFixtures.reference(name))
    func run(freezing: Bool) throws -> ParameterStore {
        let store = try ParameterStore(directory: dir.path)
        let model = try store.model()
        // Keep the first layer's attention input norm and the embedding trainable: everything
        // above (all linears, the head, later norms) is frozen.
        let keep = store.parameters.map(\.name).filter {
            $0.contains("embed_tokens") || $0.hasSuffix("wte.weight") || $0.contains("layers.0.input_layernorm") || $0.contains("h.0.ln_1")
        }
        if freezing { for p in store.parameters where !keep.contains(p.name) { store.setTrainable(p.name, false) } }
        store.zeroGradients()
        let tape = TrainingTape(config: store.config, batch: batch.batch, tokens: batch.tokens)
        _ = try model.accumulateGradients(batch, loss: CrossEntropyLoss(), scale: 1, tape: tape, store: store,
                                          pool: ThreadPool(threads: 2))
        return store
    }
    let full = try run(freezing: false), frozen = try run(freezing: true)
    for p in frozen.parameters {
        let g = try #require(frozen.checkpointGradient(p.name)), f = try #require(full.checkpointGradient(p.name))
        if p.trainable {
            #expect(g == f, "\(name): \(p.name) differs when the layers above are frozen")
        } else {
            #expect(g.allSatisfy { $0 == 0 }, "\(name): frozen \(p.name) got a gradient")
        }
    }
}
