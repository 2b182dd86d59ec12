/// How a float matrix becomes quantized rows.
public enum QuantizationMethod: String, Sendable, CaseIterable {
    /// Round to nearest with GGUF's reference scales, or with the
    /// importance-weighted scale search when calibration statistics exist.
    case rtn
    /// GPTQ: column-by-column error compensation with the calibration Hessian.
    case gptq
    /// AWQ-style: activation-aware per-channel scaling searched on calibration data.
    case awq

    public var needsCalibration: Bool { self != .rtn }
}
