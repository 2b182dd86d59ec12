import Foundation
import VerdantModels
import VerdantTensors

/// A resumable training checkpoint: a directory that is itself a normal Hugging
/// Face model (config.json, model.safetensors in checkpoint layout and the chosen
/// dtype, tokenizer files) plus
/// - optimizer.safetensors: f32 master weights ("master/NAME"), AdamW moments
///   ("exp_avg/NAME", "exp_avg_sq/NAME"), all in checkpoint layout;
/// - trainer_state.json: step, tokens seen, data position, RNG state, options.
/// Written into a staging directory and renamed into place (ModelDirectoryWriter),
/// so a run killed while saving leaves the previous checkpoint intact.
public enum TrainingCheckpoint {
    public static let stateFile = "trainer_state.json"
    public static let optimizerFile = "optimizer.safetensors"

    struct State: Codable {
        var format = 1
        var step: Int
        var tokensSeen: Int
        var adamStep: Int
        var dataPosition: String
        /// Hex: JSON numbers cannot carry 64 bits exactly.
        var rngState: [String]
        var options: TrainingOptions
        /// LoRA adapters as "base weight: rank r, scale s" (absent for full fine-tuning and in
        /// older checkpoints): a resume must put the same adapters on the same weights.
        var lora: [String]?
        /// Trainer.runSettings (absent when empty and in older checkpoints).
        var settings: [String: String]?
    }

    static func loraSummary(_ store: ParameterStore) -> [String] {
        store.adapters.values.map { "\($0.base): rank \($0.rank), scale \($0.scale)" }.sorted()
    }

    /// The model's tensors in checkpoint layout; each in `dtype`, or its source dtype when nil.
    /// LoRA adapters are merged into their base weights (W + (α/r)·B·A), so the
    /// result is a plain checkpoint every loader reads; the adapters themselves
    /// are kept in optimizer.safetensors (master weights) for resuming.
    public static func modelWriter(_ store: ParameterStore, dtype: DType? = nil) throws -> SafetensorsWriter {
        var w = SafetensorsWriter(metadata: ["format": "pt"])
        for p in store.parameters where !store.isAdapterTensor(p.name) {
            let target = dtype ?? p.sourceDType
            let values = store.mergedCheckpointValues(p.name) ?? []
            switch target {
            case .bf16, .f16:
                try w.add(p.name, dtype: target, shape: p.shape) { out in
                    let o = out.bindMemory(to: UInt16.self)
                    for i in 0..<values.count { o[i] = target == .bf16 ? floatToBF16(values[i]) : floatToF16(values[i]) }
                }
            default:
                try w.add(p.name, floats: values, shape: p.shape)
            }
        }
        return w
    }

    /// Writes `trainer`'s complete state to `directory` (replaced atomically).
    /// source: the model directory whose config.json and tokenizer files are reused.
    public static func write(_ trainer: Trainer, to directory: String, source: String, dtype: DType? = nil) throws {
        let store = trainer.store
        var opt = SafetensorsWriter(metadata: ["format": "verdant-adamw"])
        for p in store.parameters {
            try opt.add("master/" + p.name, floats: store.checkpointValues(p.name) ?? [], shape: p.shape)
            guard p.trainable else { continue }
            for (prefix, base) in [("exp_avg/", trainer.optimizer.m), ("exp_avg_sq/", trainer.optimizer.v)] {
                let values = [Float](unsafeUninitializedCapacity: p.count) { buf, n in
                    p.layout.toCheckpoint(base + p.offset, buf.baseAddress!, shape: p.shape)
                    n = p.count
                }
                try opt.add(prefix + p.name, floats: values, shape: p.shape)
            }
        }
        let state = State(step: trainer.step, tokensSeen: trainer.tokensSeen, adamStep: trainer.optimizer.step,
                          dataPosition: trainer.data.position,
                          rngState: trainer.rng.state.map { String($0, radix: 16) }, options: trainer.options,
                          lora: trainer.store.adapters.isEmpty ? nil : loraSummary(trainer.store),
                          settings: trainer.runSettings.isEmpty ? nil : trainer.runSettings)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let stateData = try encoder.encode(state)
        try ModelDirectoryWriter(destination: directory, force: true).write(
            config: try ModelDirectoryWriter.readConfigObject(directory: source), weights: try modelWriter(store, dtype: dtype),
            files: [stateFile: stateData], extraWeights: [optimizerFile: opt], copyFrom: source)
    }

    /// Restores `trainer` (built on the same model and data with the same options)
    /// to the state saved in `directory`.
    public static func restore(_ trainer: Trainer, from directory: String) throws {
        let statePath = (directory as NSString).appendingPathComponent(stateFile)
        guard let data = FileManager.default.contents(atPath: statePath) else {
            throw TrainingError.checkpoint("\(statePath) not found")
        }
        let state: State
        do { state = try JSONDecoder().decode(State.self, from: data) } catch {
            throw TrainingError.checkpoint("\(statePath) is malformed: \(error)")
        }
        let o = trainer.options, s = state.options
        guard s.context == o.context, s.sequences == o.sequences, s.accumulate == o.accumulate, s.seed == o.seed else {
            throw TrainingError.checkpoint("\(directory) was trained with context \(s.context), \(s.sequences) sequences × "
                + "\(s.accumulate) accumulation, seed \(s.seed); this run asks for context \(o.context), "
                + "\(o.sequences) × \(o.accumulate), seed \(o.seed)")
        }
        let lora = trainer.store.adapters.isEmpty ? nil : loraSummary(trainer.store)
        guard state.lora == lora else {
            throw TrainingError.checkpoint("\(directory) was trained with LoRA adapters \(state.lora ?? ["none"]); "
                + "this run has \(lora ?? ["none"]) (same --full / --lora-rank / --lora-alpha / --targets as the run that saved it)")
        }
        let saved = state.settings ?? [:], asked = trainer.runSettings
        guard saved == asked else {
            let keys = Set(saved.keys).union(asked.keys).filter { saved[$0] != asked[$0] }.sorted()
            let describe = { (d: [String: String]) in keys.map { "\($0) \(d[$0] ?? "unset")" }.joined(separator: ", ") }
            throw TrainingError.checkpoint("\(directory) was saved with \(describe(saved)); this run asks for \(describe(asked)). "
                + "Resume with the settings of the run that saved it, or start afresh into another --out (or without --resume, with --force)")
        }
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: (directory as NSString).appendingPathComponent(optimizerFile)) } catch {
            throw TrainingError.checkpoint("\(directory): \(error)")
        }
        let store = trainer.store
        for p in store.parameters {
            guard file.info("master/" + p.name) != nil else {
                throw TrainingError.checkpoint("\(directory) has no master weights for \(p.name) (another model?)")
            }
            try store.setCheckpointValues(p.name, try file.floats("master/" + p.name))
            guard p.trainable else { continue }
            for (prefix, base) in [("exp_avg/", trainer.optimizer.m), ("exp_avg_sq/", trainer.optimizer.v)] {
                let values = try file.floats(prefix + p.name)
                guard values.count == p.count else { throw TrainingError.checkpoint("\(prefix + p.name) has the wrong size") }
                values.withUnsafeBufferPointer { p.layout.toModel($0.baseAddress!, base + p.offset, shape: p.shape) }
            }
        }
        let rng = state.rngState.compactMap { UInt64($0, radix: 16) }
        guard rng.count == 4 else { throw TrainingError.checkpoint("\(statePath): bad RNG state") }
        try trainer.data.restore(position: state.dataPosition)
        trainer.rng.state = rng
        trainer.step = state.step
        trainer.tokensSeen = state.tokensSeen
        trainer.optimizer.step = state.adamStep
    }

    /// Checkpoint directories are named step-NNNNNNN inside `root`.
    public static func directory(root: String, step: Int) -> String {
        (root as NSString).appendingPathComponent("step-" + String(repeating: "0", count: max(0, 7 - String(step).count)) + String(step))
    }

    /// Steps of the complete checkpoints in `root` (with trainer_state.json), ascending.
    public static func steps(in root: String) -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.compactMap { name -> Int? in
            guard name.hasPrefix("step-"), let s = Int(name.dropFirst(5)) else { return nil }
            let state = ((root as NSString).appendingPathComponent(name) as NSString).appendingPathComponent(stateFile)
            return FileManager.default.fileExists(atPath: state) ? s : nil
        }.sorted()
    }

    /// Saves step `trainer.step` into `root` and deletes all but the newest `keep` checkpoints.
    public static func save(_ trainer: Trainer, root: String, source: String, dtype: DType? = nil, keep: Int = 2) throws {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try write(trainer, to: directory(root: root, step: trainer.step), source: source, dtype: dtype)
        for old in steps(in: root).dropLast(max(1, keep)) {
            try? FileManager.default.removeItem(atPath: directory(root: root, step: old))
        }
    }
}
