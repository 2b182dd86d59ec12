import Foundation
import VerdantModels
import VerdantTensors

/// Writes a model whose 1×2-grouped matrices keep only their largest-norm tiles,
/// stored as `bf16_sparse1x2` (listed in config.json's `quantization` section, so
/// the loader validates them like quantized tensors); every other tensor keeps
/// its source dtype.
public enum SparsePairCheckpoint {
    public struct Result: Sendable {
        public var removedFraction: Double
        public var bytes: Int
    }

    /// removed: per grouped matrix (by checkpoint name), true for each tile (row-major
    /// pair order) the cut removes — GroupMask.removed, round(sparsity · tiles) of the
    /// smallest per matrix, so every matrix ends at the same share.
    public static func write(store: ParameterStore, removed cut: [(name: String, removed: [Bool])], sparsity: Double,
                             source: String, out: String, force: Bool, note: [String: Any]) throws -> Result {
        var weights = SafetensorsWriter(metadata: ["format": "pt"])
        var manifest: [String: QuantizedTensorEntry] = [:]
        var removed = 0, total = 0
        let byName = Dictionary(uniqueKeysWithValues: cut.map { ($0.name, $0.removed) })
        for p in store.parameters where !store.isAdapterTensor(p.name) {
            guard let values = store.checkpointValues(p.name) else { continue }
            if let r = byName[p.name] {
                let rows = p.shape[0], cols = p.shape[1]
                guard r.count == rows * cols / 2 else {
                    throw PruningError.invalidOption("\(p.name): a cut of \(r.count) tiles for a \(rows) × \(cols) matrix")
                }
                let keep = r.map { !$0 }
                let drop = r.count - keep.reduce(0) { $0 + ($1 ? 1 : 0) }
                let bytes = try values.withUnsafeBufferPointer { try SparsePairs.encode($0.baseAddress!, rows: rows, cols: cols, keep: keep) }
                let owner = ByteBox(bytes)
                let m = WeightMatrix(format: .bf16Sparse1x2, rows: rows, cols: cols, data: UnsafeRawPointer(owner.bytes.baseAddress!), owner: owner)
                try weights.add(p.name, matrix: m)
                manifest[p.name] = QuantizedTensorEntry(format: .bf16Sparse1x2, rows: rows, cols: cols)
                removed += 2 * drop
                total += rows * cols
            } else {
                let dtype = p.sourceDType
                switch dtype {
                case .bf16, .f16:
                    try weights.add(p.name, dtype: dtype, shape: p.shape) { o in
                        let u = o.bindMemory(to: UInt16.self)
                        for i in 0..<values.count { u[i] = dtype == .bf16 ? floatToBF16(values[i]) : floatToF16(values[i]) }
                    }
                default:
                    try weights.add(p.name, floats: values, shape: p.shape)
                }
            }
        }
        var config = try ModelDirectoryWriter.readConfigObject(directory: source)
        var section: [String: Any] = ["tensors": QuantizationManifest(tensors: manifest).tensorsJSON,
                                      "scheme": "group_lasso_1x2", "sparsity": sparsity]
        section["group_lasso"] = note
        config["quantization"] = section
        let writer = ModelDirectoryWriter(destination: out, force: force)
        try writer.write(config: config, weights: weights, copyFrom: source)
        let attributes = try? FileManager.default.attributesOfItem(atPath: (out as NSString).appendingPathComponent("model.safetensors"))
        return Result(removedFraction: total > 0 ? Double(removed) / Double(total) : 0, bytes: (attributes?[.size] as? Int) ?? 0)
    }
}

/// Keeps encoded bytes alive (and at a fixed address) while a WeightMatrix views them.
final class ByteBox {
    let bytes: UnsafeMutableRawBufferPointer
    init(_ b: [UInt8]) {
        bytes = .allocate(byteCount: max(1, b.count), alignment: 64)
        b.withUnsafeBytes { bytes.copyMemory(from: $0) }
    }
    deinit { bytes.deallocate() }
}
