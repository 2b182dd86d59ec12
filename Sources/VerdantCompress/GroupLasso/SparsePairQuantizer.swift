import Foundation
import VerdantModels
import VerdantTensors

/// `verdant quantize` of a `prune --group-lasso --group 1x2` output: the seed's
/// prune-then-quantize pipeline. Each `bf16_sparse1x2` matrix becomes
/// `q8_sparse1x2` with the same kept tiles (int8, an f16 scale per 32 columns), so
/// the pruning's savings survive; the dense matrices the recipe targets (the
/// embedding / output layer) are quantized by round-to-nearest as usual; norms
/// and anything the recipe keeps are copied. Only q8_0 exists for sparse tiles:
/// any other target for a sparse matrix is an error, not a silent dense fallback.
public enum SparsePairQuantizer {
    /// True when MODEL_DIR holds sparse 1×2 tensors (then this, not CheckpointQuantizer, applies).
    public static func applies(directory: String) -> Bool {
        guard let m = try? QuantizationManifest.read(directory: directory) else { return false }
        return m.tensors.values.contains { $0.format.sparsePairs != nil }
    }

    public static func run(directory: String, recipe: QuantizationRecipe, output: String, force: Bool,
                           threads: Int, progress: (String) -> Void = { _ in }) throws -> QuantizationReport {
        let start = monotonicSeconds()
        let writer = ModelDirectoryWriter(destination: output, force: force)
        try writer.checkDestination()
        guard let source = try QuantizationManifest.read(directory: directory) else {
            throw QuantizeError("\(directory) has no sparse 1x2 tensors")
        }
        let loaded = try LoadedModel.load(directory: directory)   // validates every tensor first
        let checkpoint = try Checkpoint(path: directory)
        let linearNames = CheckpointQuantizer.linearNames(of: loaded.model)
        let layerCount = loaded.config.numLayers
        let pool = ThreadPool(threads: threads)
        var report = QuantizationReport(method: .rtn, calibrationTokens: 0)
        report.diskBytesBefore = checkpoint.totalBytes
        var out = SafetensorsWriter(metadata: ["format": "pt"])
        var manifest = QuantizationManifest(tensors: [:])
        let names = checkpoint.tensorNames.sorted()
        for (i, name) in names.enumerated() {
            guard let info = checkpoint.info(name) else { continue }
            var entry = QuantizationReport.Tensor(name: name, format: info.dtype.rawValue.lowercased(), shape: info.shape,
                                                  bytesBefore: info.byteCount, bytesAfter: info.byteCount, note: nil)
            let view = try checkpoint.view(name)
            let isLinear = (linearNames.contains(name) || name.hasSuffix("embed_tokens.weight") || name.hasSuffix("wte.weight"))
                && (info.shape.count == 2 || source.tensors[name] != nil)
            let target: QuantizationRecipe.Target = isLinear ? recipe.target(for: name, layerCount: layerCount) : .keep
            if let e = source.tensors[name] {
                guard e.format == .bf16Sparse1x2 else {
                    throw QuantizeError("\(name) is already \(e.format.name); quantize the bf16_sparse1x2 checkpoint instead")
                }
                entry.format = e.format.name
                entry.shape = [e.rows, e.cols]
                switch target {
                case .keep:
                    try out.add(name, dtype: .u8, shape: info.shape) { dst in
                        withExtendedLifetime(view.owner) { dst.copyMemory(from: view.bytes) }
                    }
                    manifest.tensors[name] = e
                case .format(let f) where f == .q8_0:
                    progress("[\(i + 1)/\(names.count)] \(name) → \(SparsePairs.q8FormatName)")
                    let m = WeightMatrix(format: .bf16Sparse1x2, rows: e.rows, cols: e.cols, data: view.data, owner: view.owner)
                    var values = [Float](repeating: 0, count: e.rows * e.cols)
                    values.withUnsafeMutableBufferPointer { v in
                        for r in 0..<e.rows { m.copyRow(r, into: v.baseAddress! + r * e.cols) }
                    }
                    let keep = SparsePairs.keptMask(view.data, rows: e.rows, cols: e.cols)
                    let bytes: [UInt8]
                    do {
                        bytes = try values.withUnsafeBufferPointer {
                            try SparsePairs.encode($0.baseAddress!, rows: e.rows, cols: e.cols, keep: keep, as: .q8)
                        }
                    } catch { throw QuantizeError("\(name): \(error)") }
                    try out.add(name, dtype: .u8, shape: [bytes.count], data: bytes)
                    manifest.tensors[name] = QuantizedTensorEntry(format: .q8Sparse1x2, rows: e.rows, cols: e.cols)
                    entry.format = SparsePairs.q8FormatName
                    entry.bytesAfter = bytes.count
                case .format(let f):
                    throw QuantizeError("\(name) is bf16_sparse1x2: its tiles can be kept or stored as q8_0 (\(SparsePairs.q8FormatName)), not \(f.name)")
                }
            } else {
                switch target {
                case .keep:
                    try out.add(name, dtype: info.dtype, shape: info.shape) { dst in
                        withExtendedLifetime(view.owner) { dst.copyMemory(from: view.bytes) }
                    }
                case .format(let f) where !f.isQuantized:
                    let dtype: DType = f == .f32 ? .f32 : f == .f16 ? .f16 : .bf16
                    let values = try checkpoint.floats(name)
                    try out.add(name, dtype: dtype, shape: info.shape) { o in
                        switch dtype {
                        case .f32: o.bindMemory(to: Float.self).baseAddress!.update(from: values, count: values.count)
                        default:
                            let u = o.bindMemory(to: UInt16.self)
                            for j in values.indices { u[j] = dtype == .bf16 ? floatToBF16(values[j]) : floatToF16(values[j]) }
                        }
                    }
                    entry.format = f.name
                    entry.bytesAfter = info.elementCount * dtype.byteSize
                case .format(let f):
                    guard info.shape.count == 2 else { throw QuantizeError("\(name) is not a matrix") }
                    progress("[\(i + 1)/\(names.count)] \(name) → \(f.name)")
                    let rows = info.shape[0], cols = info.shape[1]
                    var values = try checkpoint.floats(name)
                    let buffer = OwnedBuffer(byteCount: rows * f.rowBytes(cols: cols))
                    try values.withUnsafeMutableBufferPointer { v in
                        try RoundToNearest().quantize(name: name, weights: v.baseAddress!, rows: rows, cols: cols,
                                                      format: f, into: buffer.pointer, pool: pool)
                    }
                    try out.add(name, matrix: WeightMatrix(format: f, rows: rows, cols: cols, data: UnsafeRawPointer(buffer.pointer), owner: buffer))
                    manifest.tensors[name] = QuantizedTensorEntry(format: f, rows: rows, cols: cols)
                    entry.format = f.name
                    entry.bytesAfter = rows * f.rowBytes(cols: cols)
                }
            }
            report.tensors.append(entry)
        }
        var config = try ModelDirectoryWriter.readConfigObject(directory: directory)
        var section = (config["quantization"] as? [String: Any]) ?? [:]
        section["tool"] = "verdant"
        section["method"] = "rtn"
        section["recipe"] = recipe.jsonObject
        section["source_scheme"] = section["scheme"]
        section["scheme"] = "group_lasso_1x2+\(recipe.defaultFormat.name)"
        section["bits_per_weight"] = report.bitsPerWeight
        section["tensors"] = manifest.tensorsJSON
        config["quantization"] = section
        try report.writeModel(config: config, weights: out, writer: writer, source: directory, output: output,
                              start: start, progress: progress)
        return report
    }
}
