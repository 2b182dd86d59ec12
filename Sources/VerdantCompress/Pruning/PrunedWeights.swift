import VerdantModels
import VerdantTensors

/// A checkpoint as a plan leaves it, without writing anything: the tensors the
/// pruned model has, under their new names, produced on demand by slicing the
/// original's bytes. Verdant builds a model from it (to score the next pruning
/// stage, or to test), and `PrunedCheckpointWriter` writes it out.
public final class PrunedWeights: WeightSource, @unchecked Sendable {
    public struct Entry: Sendable {
        public let name: String
        public let source: TensorInfo
        public let shape: [Int]
        public let edit: TensorEdit
        public var elementCount: Int { shape.reduce(1, *) }
    }

    public let checkpoint: Checkpoint
    public let plan: PruningPlan
    /// The config the pruned model has.
    public let config: ModelConfig
    /// Output tensors, sorted by name.
    public let entries: [Entry]
    private let index: [String: Int]

    public init(checkpoint: Checkpoint, config original: ModelConfig, plan: PruningPlan) throws {
        let names = Set(checkpoint.tensorNames)
        let layout = PruningLayout(config: original, tensorNames: names)
        guard let embedding = checkpoint.info(layout.embeddingName), embedding.shape.count == 2 else {
            throw PruningError.unsupported("the checkpoint has no 2-D embedding '\(layout.embeddingName)'")
        }
        try plan.validate(config: original, embeddingRows: embedding.shape[0])
        var layerMap: [Int: Int] = [:]
        for (new, old) in plan.layers(of: original).enumerated() { layerMap[old] = new }
        var entries: [Entry] = []
        for info in checkpoint.tensors {
            guard let (name, edit) = layout.output(for: info.name, shape: info.shape, plan: plan, layerMap: layerMap) else { continue }
            if !edit.isIdentity {
                guard [DType.f32, .f16, .bf16].contains(info.dtype) else {
                    throw PruningError.unsupported("tensor '\(info.name)' is \(info.dtype.rawValue); pruning needs F32, F16 or BF16 weights (prune before quantizing)")
                }
                if let problem = edit.problem(for: info.shape) {
                    throw PruningError.unsupported("tensor '\(info.name)' \(info.shape): \(problem)")
                }
            }
            entries.append(Entry(name: name, source: info, shape: edit.outputShape(info.shape), edit: edit))
        }
        self.checkpoint = checkpoint
        self.plan = plan
        self.config = plan.apply(to: original, embeddingRows: embedding.shape[0])
        self.entries = entries.sorted { $0.name < $1.name }
        var index: [String: Int] = [:]
        for (i, e) in self.entries.enumerated() { index[e.name] = i }
        self.index = index
    }

    public func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    public var parameterCount: Int { entries.reduce(0) { $0 + $1.elementCount } }

    /// Writes the bytes of `entry` (shape × dtype size) into `destination`.
    public func fill(_ entry: Entry, into destination: UnsafeMutableRawBufferPointer) throws {
        let view = try checkpoint.view(entry.source.name)
        guard let base = destination.baseAddress else { return }
        if entry.edit.isIdentity {
            base.copyMemory(from: view.data, byteCount: min(view.byteCount, destination.count))
        } else {
            withExtendedLifetime(view.owner) {
                entry.edit.apply(source: view.data, shape: entry.source.shape, elementSize: entry.source.dtype.byteSize, into: base)
            }
        }
    }

    private func materialize(_ e: Entry) throws -> OwnedBuffer {
        let buffer = OwnedBuffer(byteCount: e.elementCount * e.source.dtype.byteSize)
        try fill(e, into: UnsafeMutableRawBufferPointer(start: buffer.pointer, count: buffer.byteCount))
        return buffer
    }

    // MARK: WeightSource

    public func shape(of name: String) -> [Int]? { entry(name)?.shape }

    public func matrix(_ name: String) throws -> WeightMatrix {
        guard let e = entry(name) else { throw ModelError.missingTensor(name) }
        if e.edit.isIdentity { return try checkpoint.weightMatrix(e.source.name) }
        guard e.shape.count == 2 else { throw ModelError.shapeMismatch(name, expected: [-1, -1], found: e.shape) }
        let format: WeightFormat
        switch e.source.dtype {
        case .f32: format = .f32
        case .f16: format = .f16
        case .bf16: format = .bf16
        default: throw ModelError.unsupportedDType(name, e.source.dtype.rawValue)
        }
        let buffer = try materialize(e)
        return WeightMatrix(format: format, rows: e.shape[0], cols: e.shape[1], data: buffer.pointer, owner: buffer)
    }

    public func vector(_ name: String) throws -> [Float] {
        guard let e = entry(name) else { throw ModelError.missingTensor(name) }
        if e.edit.isIdentity { return try checkpoint.floats(e.source.name) }
        let buffer = try materialize(e)
        let n = e.elementCount
        let p = buffer.pointer
        switch e.source.dtype {
        case .f32: return (0..<n).map { p.load(fromByteOffset: $0 * 4, as: Float.self) }
        case .f16: return (0..<n).map { f16ToFloat(p.load(fromByteOffset: $0 * 2, as: UInt16.self)) }
        case .bf16: return (0..<n).map { bf16ToFloat(p.load(fromByteOffset: $0 * 2, as: UInt16.self)) }
        default: throw ModelError.unsupportedDType(name, e.source.dtype.rawValue)
        }
    }

    /// The pruned model, built in memory.
    public func buildModel() throws -> DecoderModel {
        try DecoderModel.build(config: config, weights: self)
    }
}
