/// Element types a checkpoint tensor can be stored in (safetensors names).
public enum DType: String, Sendable, CaseIterable, Codable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case f64 = "F64"
    case i8 = "I8"
    case u8 = "U8"
    case i16 = "I16"
    case i32 = "I32"
    case i64 = "I64"
    case bool = "BOOL"

    public var byteSize: Int {
        switch self {
        case .i8, .u8, .bool: return 1
        case .f16, .bf16, .i16: return 2
        case .f32, .i32: return 4
        case .f64, .i64: return 8
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .f32, .f16, .bf16, .f64: return true
        default: return false
        }
    }
}
