import Foundation
import VerdantTensors

/// One quantized tensor as recorded in config.json's `quantization.tensors`.
public struct QuantizedTensorEntry: Sendable, Equatable {
    public var format: WeightFormat
    /// Logical matrix [rows = out, cols = in] as stored.
    public var rows: Int
    public var cols: Int
    /// The checkpoint convention is [in, out] (GPT-2 Conv1D) but the stored
    /// matrix is already [out, in]: the loader must not transpose it again.
    public var storedTransposed: Bool

    public init(format: WeightFormat, rows: Int, cols: Int, storedTransposed: Bool = false) {
        self.format = format
        self.rows = rows
        self.cols = cols
        self.storedTransposed = storedTransposed
    }
}

/// The `quantization` section of a Verdant-quantized checkpoint's config.json:
/// which tensors are stored in which format (everything else is a plain float
/// tensor), plus free-form descriptive keys (scheme, method, calibration, ...).
public struct QuantizationManifest: Sendable {
    public var tensors: [String: QuantizedTensorEntry]

    public init(tensors: [String: QuantizedTensorEntry]) { self.tensors = tensors }

    /// The manifest of MODEL_DIR, or nil when config.json has no `quantization` section.
    public static func read(directory: String) throws -> QuantizationManifest? {
        let path = (directory as NSString).appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: path) else { throw ConfigError.missingFile(path) }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ConfigError.malformed("not a JSON object")
        }
        guard let section = root["quantization"] else { return nil }
        return try parse(section)
    }

    static func parse(_ section: Any) throws -> QuantizationManifest {
        guard let dict = section as? [String: Any], let tensors = dict["tensors"] as? [String: Any] else {
            throw ConfigError.malformed("'quantization' must be an object with a 'tensors' object")
        }
        var entries: [String: QuantizedTensorEntry] = [:]
        for (name, value) in tensors {
            guard let e = value as? [String: Any], let formatName = e["format"] as? String,
                  let shape = e["shape"] as? [Int], shape.count == 2 else {
                throw ConfigError.malformed("quantization.tensors['\(name)'] needs 'format' and a 2-D 'shape'")
            }
            guard let format = WeightFormat(name: formatName), format.isQuantized || format.sparsePairs != nil else {
                throw ConfigError.malformed("quantization.tensors['\(name)']: unknown format '\(formatName)'")
            }
            guard shape[0] > 0, shape[1] > 0, shape[0] < 1 << 31, shape[1] < 1 << 31 else {
                throw ConfigError.malformed("quantization.tensors['\(name)']: bad shape \(shape)")
            }
            entries[name] = QuantizedTensorEntry(format: format, rows: shape[0], cols: shape[1],
                                                 storedTransposed: (e["stored_transposed"] as? Bool) ?? false)
        }
        return QuantizationManifest(tensors: entries)
    }

    /// The `tensors` object for config.json.
    public var tensorsJSON: [String: Any] {
        var out: [String: Any] = [:]
        for (name, e) in tensors {
            var d: [String: Any] = ["format": e.format.name, "shape": [e.rows, e.cols]]
            if e.storedTransposed { d["stored_transposed"] = true }
            out[name] = d
        }
        return out
    }
}

/// A checkpoint whose manifest-listed tensors are quantized byte rows.
struct QuantizedCheckpoint: WeightSource {
    let checkpoint: Checkpoint
    let manifest: QuantizationManifest
    var dequantize = false

    func shape(of name: String) -> [Int]? {
        guard let e = manifest.tensors[name] else { return checkpoint.shape(of: name) }
        guard checkpoint.info(name) != nil else { return nil }
        return e.storedTransposed ? [e.cols, e.rows] : [e.rows, e.cols]
    }

    func isPreTransposed(_ name: String) -> Bool { manifest.tensors[name]?.storedTransposed ?? false }

    func matrix(_ name: String) throws -> WeightMatrix {
        guard let e = manifest.tensors[name] else { return try checkpoint.matrix(name) }
        let view = try checkpoint.view(name)
        if let v = e.format.sparsePairs { return try sparseMatrix(name, e, view, v) }
        let rowBytes = e.format.rowBytes(cols: e.cols)
        guard view.info.dtype == .u8, view.info.shape == [e.rows, rowBytes] else {
            throw ModelError.inconsistentQuantizedTensor(
                name, "config.json declares \(e.format.name) [\(e.rows), \(e.cols)], which is stored as U8 [\(e.rows), \(rowBytes)], but the file holds \(view.info.dtype.rawValue) \(view.info.shape)")
        }
        return served(WeightMatrix(format: e.format, rows: e.rows, cols: e.cols, data: view.data, owner: view.owner))
    }

    func vector(_ name: String) throws -> [Float] {
        if manifest.tensors[name] != nil {
            throw ModelError.inconsistentQuantizedTensor(name, "a quantized tensor cannot be used as a vector")
        }
        return try checkpoint.vector(name)
    }
}

extension QuantizedCheckpoint {
    /// The stored matrix as the model gets it: as stored, or widened to f32 when dequantizing.
    func served(_ m: WeightMatrix) -> WeightMatrix {
        if !dequantize { return m }
        var values = [Float](repeating: 0, count: m.rows * m.cols)
        values.withUnsafeMutableBufferPointer { v in
            for r in 0..<m.rows { m.copyRow(r, into: v.baseAddress! + r * m.cols) }
        }
        return WeightMatrix.f32(rows: m.rows, cols: m.cols, values: values)
    }

    /// A sparse 1×2 tensor: one flat U8 run whose masks, row starts (and scales) are
    /// checked against the declared shape before any kernel reads it.
    func sparseMatrix(_ name: String, _ e: QuantizedTensorEntry, _ view: TensorView, _ v: SparsePairValues) throws -> WeightMatrix {
        guard !e.storedTransposed else {
            throw ModelError.inconsistentQuantizedTensor(name, "\(e.format.name) cannot be stored transposed")
        }
        guard view.info.dtype == .u8, view.info.shape.count == 1 else {
            throw ModelError.inconsistentQuantizedTensor(
                name, "config.json declares \(e.format.name) [\(e.rows), \(e.cols)], stored as one U8 run, but the file holds \(view.info.dtype.rawValue) \(view.info.shape)")
        }
        do {
            try SparsePairs.validate(view.data, byteCount: view.info.shape[0], rows: e.rows, cols: e.cols, v)
        } catch {
            throw ModelError.inconsistentQuantizedTensor(name, error.description)
        }
        return served(WeightMatrix(format: e.format, rows: e.rows, cols: e.cols, data: view.data, owner: view.owner))
    }
}
