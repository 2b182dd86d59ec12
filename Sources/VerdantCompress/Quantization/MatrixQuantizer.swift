import VerdantTensors

/// Turns one float matrix into quantized rows. Round-to-nearest is the
/// default; GPTQ plugs in here.
public protocol MatrixQuantizer {
    /// weights: [rows, cols] f32 (may be modified in place);
    /// dst: rows × format.rowBytes(cols:) bytes.
    func quantize(name: String, weights: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
                  format: WeightFormat, into dst: UnsafeMutableRawPointer, pool: ThreadPool) throws
    /// Anything the report should say about how `name` was quantized (after `quantize`).
    func note(for name: String) -> String?
    /// Seconds spent in method-specific stages, for the report.
    var stageSeconds: [String: Double] { get }
}

extension MatrixQuantizer {
    public func note(for name: String) -> String? { nil }
    public var stageSeconds: [String: Double] { [:] }
}

/// Round to nearest, row by row in parallel. With `importance` (per input
/// channel, e.g. calibration E[x²]) each block's scale is searched to minimise
/// the importance-weighted squared error instead of GGUF's fixed rule.
public struct RoundToNearest: MatrixQuantizer {
    public var importance: (String) -> [Float]?

    public init(importance: @escaping (String) -> [Float]? = { _ in nil }) {
        self.importance = importance
    }

    public func quantize(name: String, weights: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
                         format: WeightFormat, into dst: UnsafeMutableRawPointer, pool: ThreadPool) throws {
        let codec = format.codec
        let rowBytes = format.rowBytes(cols: cols)
        let imp = importance(name).flatMap { $0.count == cols ? $0 : nil }
        let chunk = max(1, (rows + pool.threads * 8 - 1) / (pool.threads * 8))
        let tasks = (rows + chunk - 1) / chunk
        let w = UncheckedSendable(weights), d = UncheckedSendable(dst)
        if let imp {
            imp.withUnsafeBufferPointer { ip in
                let ipp = UncheckedSendable(ip.baseAddress!)
                pool.run(tasks) { t in
                    for r in (t * chunk)..<min(rows, (t + 1) * chunk) {
                        codec.quantizeRow(w.value + r * cols, cols: cols, into: d.value + r * rowBytes, importance: ipp.value)
                    }
                }
            }
        } else {
            pool.run(tasks) { t in
                for r in (t * chunk)..<min(rows, (t + 1) * chunk) {
                    codec.quantizeRow(w.value + r * cols, cols: cols, into: d.value + r * rowBytes)
                }
            }
        }
    }
}

struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
