import VerdantTensors

/// GGUF version 3, little endian: the file format llama.cpp loads.
/// Layout: magic "GGUF", version u32, tensor count u64, metadata count u64,
/// metadata key/values, tensor infos, padding to `general.alignment`, tensor data
/// (each tensor starting at an aligned offset relative to the data section).
public enum GGUF {
    public static let magic: UInt32 = 0x4655_4747  // "GGUF" read as a little-endian u32
    public static let version: UInt32 = 3
    public static let defaultAlignment = 32
}

/// Metadata value types (`gguf_type` in ggml).
public enum GGUFValueType: UInt32, Sendable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Bytes of a fixed-size value (nil for string and array).
    var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }
}

/// One metadata value. Arrays hold values of a single element type; nested
/// arrays are legal GGUF but nothing we write or read needs them.
public indirect enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16)
    case uint32(UInt32), int32(Int32), float32(Float), bool(Bool)
    case string(String)
    case uint64(UInt64), int64(Int64), float64(Double)
    case array(GGUFValueType, [GGUFValue])

    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        case .array: return .array
        }
    }

    public static func strings(_ s: [String]) -> GGUFValue { .array(.string, s.map { .string($0) }) }
    public static func int32s(_ v: [Int32]) -> GGUFValue { .array(.int32, v.map { .int32($0) }) }
    public static func float32s(_ v: [Float]) -> GGUFValue { .array(.float32, v.map { .float32($0) }) }

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    /// Any integer or bool value widened (nil for other types or out of range).
    public var intValue: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(v)
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }
    public var floatValue: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return intValue.map(Double.init)
        }
    }
    public var arrayValue: [GGUFValue]? { if case .array(_, let a) = self { return a }; return nil }
}

/// The tensor element types Verdant writes (`ggml_type` numbering).
public enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q8_0 = 8
    case bf16 = 30

    /// Elements per block (1 for float types).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q4_0, .q4_1, .q8_0: return 32
        }
    }

    /// Bytes per block.
    public var blockBytes: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q4_0: return 18
        case .q4_1: return 20
        case .q8_0: return 34
        }
    }

    public var isQuantized: Bool { blockSize > 1 }

    /// Bytes of a row of `cols` elements; nil when `cols` is not a whole number of blocks.
    public func rowBytes(cols: Int) -> Int? {
        cols % blockSize == 0 ? cols / blockSize * blockBytes : nil
    }

    /// The Verdant format with the same bytes: Q8_0/Q4_0 are ours verbatim and
    /// Q4_1 is int4 with groups of 32 (scale, minimum, then Q4_0-ordered nibbles).
    public var weightFormat: WeightFormat {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        case .q4_0: return .q4_0
        case .q4_1: return .int4(groupSize: 32)
        case .q8_0: return .q8_0
        }
    }

    /// The GGML type storing `format` byte for byte, if there is one.
    public init?(bitCompatibleWith format: WeightFormat) {
        switch format {
        case .f32: self = .f32
        case .f16: self = .f16
        case .bf16: self = .bf16
        case .q8_0: self = .q8_0
        case .q4_0: self = .q4_0
        case .int4(let g) where g == 32: self = .q4_1
        default: return nil
        }
    }

    /// CLI / file-name spelling.
    public var name: String {
        switch self {
        case .f32: return "f32"
        case .f16: return "f16"
        case .bf16: return "bf16"
        case .q4_0: return "q4_0"
        case .q4_1: return "q4_1"
        case .q8_0: return "q8_0"
        }
    }

    public init?(name: String) {
        guard let t = Self.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = t
    }

    /// `general.file_type` (llama_ftype) of a file whose 2-D weights are mostly this type.
    public var fileType: UInt32 {
        switch self {
        case .f32: return 0
        case .f16: return 1
        case .q4_0: return 2
        case .q4_1: return 3
        case .q8_0: return 7
        case .bf16: return 32
        }
    }
}

public enum GGUFError: Error, CustomStringConvertible, Equatable, Sendable {
    case invalidTensor(name: String, reason: String)
    case writeFailed(path: String, reason: String)
    case malformed(path: String, reason: String)
    case unsupported(String)

    public var description: String {
        switch self {
        case .invalidTensor(let n, let r): return "cannot write tensor '\(n)': \(r)"
        case .writeFailed(let p, let r): return "\(p): write failed: \(r)"
        case .malformed(let p, let r): return "\(p): not a valid GGUF file: \(r)"
        case .unsupported(let m): return m
        }
    }
}
