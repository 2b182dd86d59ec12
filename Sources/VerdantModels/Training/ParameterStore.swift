import VerdantTensors

/// The trainable parameters of a model: named f32 master tensors with their
/// gradients and a trainable flag, in one flat 64-byte-aligned buffer each
/// (values, gradients) so that the optimizer and the gradient norm run over
/// fixed contiguous ranges.
///
/// It is a `WeightSource`: `DecoderModel.build(config:weights:)` (the same
/// architecture code that loads checkpoints) builds a model whose f32 matrices
/// point into `values` — no copy, so every optimizer step is immediately what the
/// model computes with. Tensors are held in the *model* layout (GPT-2 Conv1D
/// transposed to [out, in], bigcode's interleaved qkv regrouped); `isPreTransposed`
/// and `isPreRegrouped` tell the architecture so, and checkpoint layout is restored
/// on writing (`checkpointValues`, `checkpointGradient`).
///
/// Norm weights and biases are small `[Float]` copies inside the built model's
/// `Norm` / `Linear` structs (a snapshot at build time). Training never reads
/// those copies: it looks the current values up here by the checkpoint names the
/// model carries (`Linear.name`, `Norm.name`). Call `model()` again to get an
/// inference model with current norms and biases (cheap: matrices are not copied).
public final class ParameterStore: WeightSource, @unchecked Sendable {
    public struct Parameter: Sendable {
        public let name: String
        /// Shape in the checkpoint ([in, out] for a Conv1D weight).
        public let shape: [Int]
        public let layout: ParameterLayout
        /// Offset of the first element in `values` / `gradients`.
        public let offset: Int
        public let count: Int
        /// dtype in the source checkpoint (what a written checkpoint uses by default).
        public let sourceDType: DType
        public internal(set) var trainable: Bool
        /// ≥ 2-D (matrices, embeddings): the tensors AdamW decays.
        public var isMatrix: Bool { shape.count >= 2 }
    }

    public let config: ModelConfig
    public private(set) var parameters: [Parameter]
    private var index: [String: Int]
    /// Flat storage: [totalCount] each, zero in the alignment gaps.
    private let valueStorage: OwnedBuffer
    private let gradientStorage: OwnedBuffer
    public let totalCount: Int
    /// Names the architecture read while building: anything else in the checkpoint
    /// is a buffer (e.g. GPT-2's attn.bias masks) and is not trained.
    private var requested: Set<String> = []
    /// LoRA adapters by base weight name (empty unless built by `init(base:adapters:)`).
    public internal(set) var adapters: [String: LoRAAdapter] = [:]
    /// Store names of the adapters' A and B tensors.
    public internal(set) var adapterTensors: Set<String> = []

    public var values: UnsafeMutablePointer<Float> { valueStorage.pointer.assumingMemoryBound(to: Float.self) }
    public var gradients: UnsafeMutablePointer<Float> { gradientStorage.pointer.assumingMemoryBound(to: Float.self) }

    /// tensors: checkpoint name, checkpoint shape, source dtype, values in checkpoint layout.
    init(config: ModelConfig, tensors: [(name: String, shape: [Int], dtype: DType, values: [Float])]) {
        self.config = config
        var params: [Parameter] = []
        var offset = 0
        for t in tensors {
            let count = t.shape.reduce(1, *)
            params.append(Parameter(name: t.name, shape: t.shape, layout: ParameterLayout.of(t.name, shape: t.shape, config: config),
                                    offset: offset, count: count, sourceDType: t.dtype, trainable: true))
            offset += (count + 15) / 16 * 16
        }
        totalCount = offset
        valueStorage = OwnedBuffer(byteCount: max(1, offset) * 4)
        gradientStorage = OwnedBuffer(byteCount: max(1, offset) * 4)
        parameters = params
        index = Dictionary(uniqueKeysWithValues: params.enumerated().map { ($1.name, $0) })
        let v = valueStorage.pointer.assumingMemoryBound(to: Float.self)
        v.initialize(repeating: 0, count: max(1, offset))
        gradientStorage.pointer.assumingMemoryBound(to: Float.self).initialize(repeating: 0, count: max(1, offset))
        for (p, t) in zip(params, tensors) {
            t.values.withUnsafeBufferPointer { p.layout.toModel($0.baseAddress!, v + p.offset, shape: p.shape) }
        }
    }

    /// Every floating-point tensor of a checkpoint, widened to f32 (bf16/f16 exactly).
    /// A tied checkpoint's `lm_head.weight`, if present, is dropped: the model uses
    /// the embedding (as transformers does).
    public convenience init(checkpoint: Checkpoint, config: ModelConfig) throws {
        var tensors: [(name: String, shape: [Int], dtype: DType, values: [Float])] = []
        for info in checkpoint.tensors where info.dtype.isFloatingPoint {
            if config.tieWordEmbeddings && info.name == "lm_head.weight" { continue }
            tensors.append((info.name, info.shape, info.dtype, try checkpoint.floats(info.name)))
        }
        self.init(config: config, tensors: tensors)
    }

    /// A model directory's config and weights (quantized checkpoints are refused:
    /// training needs the float weights).
    public convenience init(directory: String) throws {
        let config = try ModelRegistry.config(directory: directory)
        if try QuantizationManifest.read(directory: directory) != nil {
            throw ConfigError.unsupported("training a quantized checkpoint (\(directory)); start from the float model")
        }
        try self.init(checkpoint: Checkpoint(path: directory), config: config)
    }

    /// Builds the model from this store (matrices point into `values`). Tensors
    /// the architecture did not read are marked not trainable.
    public func model() throws -> DecoderModel {
        requested = []
        let m = try DecoderModel.build(config: config, weights: self)
        // Adapter tensors are read by the training forward (Linear+LoRA), not the architecture.
        for i in parameters.indices where !requested.contains(parameters[i].name) && !adapterTensors.contains(parameters[i].name) {
            parameters[i].trainable = false
        }
        return m
    }

    public func parameter(_ name: String) -> Parameter? { index[name].map { parameters[$0] } }

    /// Current values of `name` in model layout, or nil when absent.
    public func value(_ name: String) -> UnsafeMutablePointer<Float>? {
        index[name].map { values + parameters[$0].offset }
    }

    /// Gradient accumulator of `name` in model layout; nil when absent or frozen
    /// (callers skip the weight-gradient work then, and still propagate dX).
    public func gradient(_ name: String) -> UnsafeMutablePointer<Float>? {
        guard let i = index[name], parameters[i].trainable else { return nil }
        return gradients + parameters[i].offset
    }

    public func setTrainable(_ name: String, _ trainable: Bool) {
        if let i = index[name] { parameters[i].trainable = trainable }
    }

    public func zeroGradients() { gradients.update(repeating: 0, count: totalCount) }

    /// Values of `name` in checkpoint layout and shape.
    public func checkpointValues(_ name: String) -> [Float]? { toCheckpoint(name, values) }

    /// Gradient of `name` in checkpoint layout and shape.
    public func checkpointGradient(_ name: String) -> [Float]? { toCheckpoint(name, gradients) }

    private func toCheckpoint(_ name: String, _ base: UnsafeMutablePointer<Float>) -> [Float]? {
        guard let p = parameter(name) else { return nil }
        return [Float](unsafeUninitializedCapacity: p.count) { buf, n in
            p.layout.toCheckpoint(base + p.offset, buf.baseAddress!, shape: p.shape)
            n = p.count
        }
    }

    /// Replaces the values of `name` from checkpoint layout (e.g. saved master weights).
    public func setCheckpointValues(_ name: String, _ checkpointValues: [Float]) throws {
        guard let p = parameter(name) else { throw ModelError.missingTensor(name) }
        guard checkpointValues.count == p.count else {
            throw ModelError.shapeMismatch(name, expected: p.shape, found: [checkpointValues.count])
        }
        checkpointValues.withUnsafeBufferPointer { p.layout.toModel($0.baseAddress!, values + p.offset, shape: p.shape) }
    }

    /// Number of trainable scalars.
    public var trainableCount: Int { parameters.filter(\.trainable).reduce(0) { $0 + $1.count } }

    // MARK: WeightSource

    public func shape(of name: String) -> [Int]? { parameter(name)?.shape }

    public func matrix(_ name: String) throws -> WeightMatrix {
        guard let p = parameter(name) else { throw ModelError.missingTensor(name) }
        guard p.shape.count == 2 else { throw ModelError.shapeMismatch(name, expected: [-1, -1], found: p.shape) }
        requested.insert(name)
        let s = p.layout.modelShape(p.shape)
        return WeightMatrix(format: .f32, rows: s[0], cols: s[1], data: UnsafeRawPointer(values + p.offset), owner: valueStorage)
    }

    public func vector(_ name: String) throws -> [Float] {
        guard let p = parameter(name) else { throw ModelError.missingTensor(name) }
        requested.insert(name)
        return Array(UnsafeBufferPointer(start: values + p.offset, count: p.count))
    }

    public func isPreTransposed(_ name: String) -> Bool { parameter(name)?.layout == .conv1D }

    public func isPreRegrouped(_ name: String) -> Bool {
        if case .interleavedQKV = parameter(name)?.layout { return true }
        return false
    }
}
