import Foundation
import VerdantModels

/// What `verdant quantize` did to each tensor, and the totals.
public struct QuantizationReport: Sendable {
    public struct Tensor: Sendable {
        public var name: String
        /// The stored format: a WeightFormat name, or the source dtype when kept.
        public var format: String
        public var shape: [Int]
        public var bytesBefore: Int
        public var bytesAfter: Int
        /// Anything not plain: padding, kept as float, importance unavailable, ...
        public var note: String?
    }

    public var tensors: [Tensor] = []
    public var method: QuantizationMethod
    public var calibrationTokens: Int
    public var seconds: Double = 0
    /// Wall seconds per stage: calibration (the forward passes, incl. observers), hessians
    /// (GPTQ's Σxxᵀ, part of calibration), prepare (AWQ's search, sequential GPTQ),
    /// quantize (every matrix), gptq (the GPTQ-quantized matrices, part of quantize).
    public var stageSeconds: [String: Double] = [:]
    public var diskBytesBefore: Int = 0
    public var diskBytesAfter: Int = 0

    public var weightBytesBefore: Int { tensors.reduce(0) { $0 + $1.bytesBefore } }
    public var weightBytesAfter: Int { tensors.reduce(0) { $0 + $1.bytesAfter } }
    public var parameters: Int { tensors.reduce(0) { $0 + $1.shape.reduce(1, *) } }
    /// Storage bits per parameter over all tensors (norms and biases included).
    public var bitsPerWeight: Double { parameters > 0 ? Double(weightBytesAfter * 8) / Double(parameters) : 0 }

    public var jsonObject: [String: Any] {
        [
            "method": method.rawValue,
            "calibration_tokens": calibrationTokens,
            "seconds": seconds,
            "stage_seconds": stageSeconds,
            "bytes_before": weightBytesBefore,
            "bytes_after": weightBytesAfter,
            "disk_bytes_before": diskBytesBefore,
            "disk_bytes_after": diskBytesAfter,
            "bits_per_weight": bitsPerWeight,
            "tensors": tensors.map { t -> [String: Any] in
                var d: [String: Any] = ["name": t.name, "format": t.format, "shape": t.shape,
                                        "bytes_before": t.bytesBefore, "bytes_after": t.bytesAfter]
                if let n = t.note { d["note"] = n }
                return d
            },
        ]
    }
}

extension QuantizationReport {
    /// The last step of every `verdant quantize` path: the model directory (config.json,
    /// weights, this report as quantization_report.json) written atomically, then the
    /// on-disk size and the total time filled in.
    mutating func writeModel(config: [String: Any], weights: SafetensorsWriter, writer: ModelDirectoryWriter,
                             source: String, output: String, start: Double, progress: (String) -> Void) throws {
        seconds = monotonicSeconds() - start
        let reportJSON = try JSONSerialization.data(withJSONObject: jsonObject, options: [.prettyPrinted, .sortedKeys])
        progress("writing \(output)")
        try writer.write(config: config, weights: weights, files: ["quantization_report.json": reportJSON], copyFrom: source)
        diskBytesAfter = (try? Checkpoint(path: output).totalBytes) ?? 0
        seconds = monotonicSeconds() - start
    }
}
