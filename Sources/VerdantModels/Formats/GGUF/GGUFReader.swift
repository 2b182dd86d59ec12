import Foundation
import VerdantTensors

/// A GGUF file opened read-only (memory-mapped): metadata, tensor infos and
/// tensor bytes. Every count, length and offset is checked against the file
/// size before use, so a truncated or hostile file gives an error, not a crash.
/// Only the tensor types Verdant writes are understood; others are listed with
/// `type == nil` and no data.
public final class GGUFFile: @unchecked Sendable {
    public struct TensorInfo: Sendable, Equatable {
        public let name: String
        /// ggml order: dims[0] is contiguous.
        public let dims: [Int]
        /// Raw ggml_type number.
        public let rawType: UInt32
        public var type: GGMLType? { GGMLType(rawValue: rawType) }
        /// Offset relative to the data section.
        public let offset: Int
        /// PyTorch order (outermost first).
        public var shape: [Int] { dims.reversed() }
        /// Bytes of the tensor (nil for types this reader does not know).
        public var byteCount: Int? {
            guard let t = type, let first = dims.first, let row = t.rowBytes(cols: first) else { return nil }
            return checkedProduct([row] + dims.dropFirst())
        }
    }

    public let path: String
    public let version: UInt32
    public let metadata: [(key: String, value: GGUFValue)]
    public let tensors: [TensorInfo]
    public let alignment: Int
    /// File offset of the data section.
    public let dataOffset: Int
    public let fileSize: Int
    private let data: Data

    public init(path: String) throws(GGUFError) {
        self.path = path
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw .malformed(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
        self.data = data
        fileSize = data.count
        var r = GGUFByteReader(data: data, path: path)
        guard try r.u32() == GGUF.magic else { throw .malformed(path: path, reason: "no GGUF magic") }
        version = try r.u32()
        guard version == 2 || version == 3 else { throw .malformed(path: path, reason: "unsupported version \(version)") }
        let tensorCount = try r.count(try r.u64(), minimumBytesEach: 24)
        let kvCount = try r.count(try r.u64(), minimumBytesEach: 12)
        var kv: [(key: String, value: GGUFValue)] = []
        for _ in 0..<kvCount {
            let key = try r.string()
            let raw = try r.u32()
            guard let type = GGUFValueType(rawValue: raw) else {
                throw .malformed(path: path, reason: "key '\(key)' has unknown value type \(raw)")
            }
            kv.append((key, try r.value(type)))
        }
        metadata = kv
        let align = kv.first(where: { $0.key == "general.alignment" })?.value.intValue ?? GGUF.defaultAlignment
        guard align > 0, align & (align - 1) == 0, align <= 1 << 16 else {
            throw .malformed(path: path, reason: "general.alignment \(align) is not a power of two")
        }
        alignment = align
        var infos: [TensorInfo] = []
        for _ in 0..<tensorCount {
            let name = try r.string()
            let n = try r.u32()
            guard (1...4).contains(n) else { throw .malformed(path: path, reason: "tensor '\(name)' has \(n) dimensions") }
            var dims: [Int] = []
            for _ in 0..<n {
                let d = try r.u64()
                guard d > 0, d < 1 << 40 else { throw .malformed(path: path, reason: "tensor '\(name)' has dimension \(d)") }
                dims.append(Int(d))
            }
            let type = try r.u32()
            let offset = try r.u64()
            guard offset < UInt64(data.count), Int(offset) % align == 0 else {
                throw .malformed(path: path, reason: "tensor '\(name)' offset \(offset) is out of range or not aligned to \(align)")
            }
            infos.append(TensorInfo(name: name, dims: dims, rawType: type, offset: Int(offset)))
        }
        tensors = infos
        dataOffset = (r.position + align - 1) / align * align
        for t in infos {
            guard let n = t.byteCount else {
                // Known type but a size that cannot exist: reject; unknown types are listed only.
                if t.type != nil { throw .malformed(path: path, reason: "tensor '\(t.name)' has an impossible size \(t.dims)") }
                continue
            }
            let (end, o) = (dataOffset + t.offset).addingReportingOverflow(n)
            guard !o, end <= data.count else {
                throw .malformed(path: path, reason: "tensor '\(t.name)' extends past the end of the file (truncated?)")
            }
        }
    }

    public subscript(key: String) -> GGUFValue? { metadata.first(where: { $0.key == key })?.value }

    public func tensor(_ name: String) -> TensorInfo? { tensors.first(where: { $0.name == name }) }

    /// Calls `body` with the bytes of tensor `name` (valid only during the call).
    public func withTensorBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard let t = tensor(name) else { throw GGUFError.malformed(path: path, reason: "no tensor '\(name)'") }
        guard let n = t.byteCount else { throw GGUFError.unsupported("tensor '\(name)' has ggml type \(t.rawType), which Verdant does not read") }
        let start = dataOffset + t.offset
        return try data.withUnsafeBytes { all in try body(UnsafeRawBufferPointer(rebasing: all[start..<(start + n)])) }
    }

    /// Tensor `name` as floats (any type Verdant knows, dequantized), in PyTorch row-major order.
    public func floats(_ name: String) throws -> [Float] {
        guard let t = tensor(name), let type = t.type, let cols = t.dims.first else {
            throw GGUFError.malformed(path: path, reason: "no readable tensor '\(name)'")
        }
        guard let rows = checkedProduct(Array(t.dims.dropFirst())) else {
            throw GGUFError.malformed(path: path, reason: "tensor '\(name)' is too large")
        }
        let format = type.weightFormat
        return try withTensorBytes(name) { bytes in
            guard let base = bytes.baseAddress else { return [] }
            let m = WeightMatrix(format: format, rows: rows, cols: cols, data: base, owner: nil)
            var out = [Float](repeating: 0, count: rows * cols)
            out.withUnsafeMutableBufferPointer { o in
                guard let ob = o.baseAddress else { return }
                for r in 0..<rows { m.copyRow(r, into: ob + r * cols) }
            }
            return out
        }
    }
}

/// Product of `values`, or nil on overflow (dimensions come from the file).
private func checkedProduct(_ values: [Int]) -> Int? {
    var p = 1
    for v in values {
        let (r, o) = p.multipliedReportingOverflow(by: v)
        if o { return nil }
        p = r
    }
    return p
}

/// Bounds-checked little-endian reads over the mapped file.
struct GGUFByteReader {
    let data: Data
    let path: String
    var position = 0

    private mutating func take(_ n: Int) throws(GGUFError) -> Int {
        guard n >= 0, n <= data.count - position else {
            throw .malformed(path: path, reason: "truncated at byte \(position) (needs \(n) more)")
        }
        defer { position += n }
        return position
    }

    mutating func u8() throws(GGUFError) -> UInt8 { let p = try take(1); return data[data.startIndex + p] }
    mutating func u16() throws(GGUFError) -> UInt16 { let p = try take(2); return load(p, UInt16.self) }
    mutating func u32() throws(GGUFError) -> UInt32 { let p = try take(4); return load(p, UInt32.self) }
    mutating func u64() throws(GGUFError) -> UInt64 { let p = try take(8); return load(p, UInt64.self) }

    private func load<T: FixedWidthInteger>(_ p: Int, _: T.Type) -> T {
        data.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: p, as: T.self)) }
    }

    /// A count that must fit in what is left of the file at `minimumBytesEach` per item.
    mutating func count(_ n: UInt64, minimumBytesEach: Int) throws(GGUFError) -> Int {
        guard n <= UInt64((data.count - position) / max(1, minimumBytesEach)) else {
            throw .malformed(path: path, reason: "count \(n) at byte \(position) cannot fit in the file")
        }
        return Int(n)
    }

    mutating func string() throws(GGUFError) -> String {
        let n = try count(try u64(), minimumBytesEach: 1)
        let p = try take(n)
        let bytes = data[(data.startIndex + p)..<(data.startIndex + p + n)]
        return String(decoding: bytes, as: UTF8.self)
    }

    mutating func value(_ type: GGUFValueType) throws(GGUFError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try u8())
        case .int8: return .int8(Int8(bitPattern: try u8()))
        case .uint16: return .uint16(try u16())
        case .int16: return .int16(Int16(bitPattern: try u16()))
        case .uint32: return .uint32(try u32())
        case .int32: return .int32(Int32(bitPattern: try u32()))
        case .float32: return .float32(Float(bitPattern: try u32()))
        case .bool: return .bool(try u8() != 0)
        case .string: return .string(try string())
        case .uint64: return .uint64(try u64())
        case .int64: return .int64(Int64(bitPattern: try u64()))
        case .float64: return .float64(Double(bitPattern: try u64()))
        case .array:
            let raw = try u32()
            guard let element = GGUFValueType(rawValue: raw), element != .array else {
                throw .malformed(path: path, reason: "array of unsupported element type \(raw) at byte \(position)")
            }
            let n = try count(try u64(), minimumBytesEach: element.fixedSize ?? 8)
            var items: [GGUFValue] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try value(element)) }
            return .array(element, items)
        }
    }
}
