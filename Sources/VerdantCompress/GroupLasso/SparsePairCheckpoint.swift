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

    /// norms: per grouped matrix (by checkpoint name), the norm of each tile in
    /// row-major order. Each matrix loses round(sparsity · tiles) of its smallest
    /// tiles (ties: the lower index goes first), so every matrix ends at the same share.
    public static func write(store: ParameterStore, norms: [(name: String, norms: [Float])], sparsity: Double,
                             source: String, out: String, force: Bool, note: [String: Any]) throws -> Result {
        var weights = SafetensorsWriter(metadata: ["format": "pt"])
        var manifest: [String: QuantizedTensorEntry] = [:]
        var removed = 0, total = 0
        let byName = Dictionary(uniqueKeysWithValues: norms.map { ($0.name, $0.norms) })
        for p in store.parameters where !store.isAdapterTensor(p.name) {
            guard let values = store.checkpointValues(p.name) else { continue }
            if let ns = byName[p.name] {
                let rows = p.shape[0], cols = p.shape[1]
                let drop = Int((sparsity * Double(ns.count)).rounded())
                var keep = [Bool](repeating: true, count: ns.count)
                for i in ns.indices.sorted(by: { ns[$0] != ns[$1] ? ns[$0] < ns[$1] : $0 < $1 }).prefix(drop) { keep[i] = false }
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
