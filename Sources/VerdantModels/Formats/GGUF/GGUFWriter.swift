import Foundation
import VerdantTensors
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds a GGUF v3 file. Metadata keeps insertion order (llama.cpp does not care,
/// but a stable order makes files reproducible and diffable). Tensor bytes are
/// produced lazily, one tensor at a time, so a model is never held twice in memory.
public struct GGUFWriter {
    struct Entry {
        let name: String
        /// ggml order: dims[0] is the innermost (contiguous) dimension.
        let dims: [Int]
        let type: GGMLType
        let byteCount: Int
        let fill: (UnsafeMutableRawBufferPointer) throws -> Void
    }

    public let alignment: Int
    private(set) var metadata: [(key: String, value: GGUFValue)] = []
    private(set) var entries: [Entry] = []
    private var names = Set<String>()

    public init(alignment: Int = GGUF.defaultAlignment) {
        self.alignment = alignment
        set("general.alignment", .uint32(UInt32(alignment)))
    }

    /// Sets a metadata key (a later call replaces the value in place).
    public mutating func set(_ key: String, _ value: GGUFValue) {
        if let i = metadata.firstIndex(where: { $0.key == key }) {
            metadata[i].value = value
        } else {
            metadata.append((key, value))
        }
    }

    public var tensorNames: [String] { entries.map(\.name) }

    /// Adds a tensor of PyTorch-order `shape` (outermost first; the last dimension
    /// is contiguous and is the one blocks run along). `fill` writes exactly the
    /// tensor's bytes when the file is written.
    public mutating func addTensor(_ name: String, shape: [Int], type: GGMLType,
                                   fill: @escaping (UnsafeMutableRawBufferPointer) throws -> Void) throws(GGUFError) {
        guard !name.isEmpty, name.utf8.count < 64 else {
            // ggml keeps tensor names in a 64-byte buffer.
            throw .invalidTensor(name: name, reason: "name must be 1...63 bytes")
        }
        guard names.insert(name).inserted else { throw .invalidTensor(name: name, reason: "added twice") }
        guard (1...4).contains(shape.count), shape.allSatisfy({ $0 > 0 }) else {
            throw .invalidTensor(name: name, reason: "shape \(shape) must have 1 to 4 positive dimensions")
        }
        guard let cols = shape.last, let rowBytes = type.rowBytes(cols: cols) else {
            throw .invalidTensor(name: name, reason: "row length \(shape.last ?? 0) is not a multiple of \(type.name)'s block of \(type.blockSize)")
        }
        var bytes = rowBytes
        for d in shape.dropLast() {
            let (p, o) = bytes.multipliedReportingOverflow(by: d)
            guard !o else { throw .invalidTensor(name: name, reason: "shape \(shape) is too large") }
            bytes = p
        }
        entries.append(Entry(name: name, dims: shape.reversed(), type: type, byteCount: bytes, fill: fill))
    }

    /// Adds an F32 tensor from values in memory.
    public mutating func addTensor(_ name: String, floats: [Float], shape: [Int]? = nil) throws(GGUFError) {
        let s = shape ?? [floats.count]
        guard s.reduce(1, *) == floats.count else {
            throw .invalidTensor(name: name, reason: "\(floats.count) values for shape \(s)")
        }
        try addTensor(name, shape: s, type: .f32) { out in
            floats.withUnsafeBytes { out.copyMemory(from: $0) }
        }
    }

    private func padding(_ n: Int) -> Int { (alignment - n % alignment) % alignment }

    /// Header, metadata and tensor infos: everything before the aligned data section.
    func headerBytes() -> [UInt8] {
        var out = GGUFByteSink()
        out.u32(GGUF.magic)
        out.u32(GGUF.version)
        out.u64(UInt64(entries.count))
        out.u64(UInt64(metadata.count))
        for (key, value) in metadata {
            out.string(key)
            out.u32(value.type.rawValue)
            out.value(value)
        }
        var offset = 0
        for e in entries {
            out.string(e.name)
            out.u32(UInt32(e.dims.count))
            for d in e.dims { out.u64(UInt64(d)) }
            out.u32(e.type.rawValue)
            out.u64(UInt64(offset))
            offset += e.byteCount + padding(e.byteCount)
        }
        out.bytes.append(contentsOf: repeatElement(0, count: padding(out.bytes.count)))
        return out.bytes
    }

    /// Writes the file atomically: a temporary file in the same directory is
    /// written, fsync'ed and renamed over `url`; on failure `url` is untouched.
    public func write(to url: URL) throws(GGUFError) {
        let header = headerBytes()
        let ordered = entries
        let align = alignment
        do {
            try writeFileAtomically(url) { emit in
                try header.withUnsafeBytes { try emit($0) }
                let zeros = [UInt8](repeating: 0, count: align)
                for e in ordered {
                    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(e.byteCount, 1), alignment: 64)
                    defer { buffer.deallocate() }
                    let body = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<e.byteCount])
                    body.initializeMemory(as: UInt8.self, repeating: 0)
                    do { try e.fill(body) } catch let error as GGUFError {
                        throw error
                    } catch {
                        throw GGUFError.invalidTensor(name: e.name, reason: "\(error)")
                    }
                    try emit(UnsafeRawBufferPointer(body))
                    let pad = (align - e.byteCount % align) % align
                    try zeros.withUnsafeBytes { try emit(UnsafeRawBufferPointer(rebasing: $0[0..<pad])) }
                }
            }
        } catch let e as GGUFError {
            throw e
        } catch {
            throw .writeFailed(path: url.path, reason: "\(error)")
        }
    }
}

/// Little-endian encoder for headers and metadata.
struct GGUFByteSink {
    var bytes: [UInt8] = []

    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    /// gguf_string: u64 byte length, then UTF-8 without a terminator.
    mutating func string(_ s: String) {
        u64(UInt64(s.utf8.count))
        bytes.append(contentsOf: s.utf8)
    }

    mutating func value(_ v: GGUFValue) {
        switch v {
        case .uint8(let x): bytes.append(x)
        case .int8(let x): bytes.append(UInt8(bitPattern: x))
        case .uint16(let x): withUnsafeBytes(of: x.littleEndian) { bytes.append(contentsOf: $0) }
        case .int16(let x): withUnsafeBytes(of: x.littleEndian) { bytes.append(contentsOf: $0) }
        case .uint32(let x): u32(x)
        case .int32(let x): u32(UInt32(bitPattern: x))
        case .float32(let x): u32(x.bitPattern)
        case .bool(let x): bytes.append(x ? 1 : 0)
        case .string(let s): string(s)
        case .uint64(let x): u64(x)
        case .int64(let x): u64(UInt64(bitPattern: x))
        case .float64(let x): u64(x.bitPattern)
        case .array(let type, let items):
            u32(type.rawValue)
            u64(UInt64(items.count))
            // Elements of another type would make the file unreadable; skip them
            // rather than write garbage (the builders never mix types).
            for item in items where item.type == type { value(item) }
        }
    }
}

/// Creates `url` atomically: `produce` streams the bytes through `emit` into a
/// temporary file beside it (same file system, so rename is atomic), which is
/// fsync'ed and renamed over `url`; on any failure the temporary file is removed.
func writeFileAtomically(_ url: URL, _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
    let path = url.path
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
        throw GGUFError.writeFailed(path: path, reason: "is a directory")
    }
    let directory = url.deletingLastPathComponent().path
    let temp = directory + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
        throw GGUFError.writeFailed(path: path, reason: "cannot create a file in \(directory): \(String(cString: strerror(errno)))")
    }
    var committed = false
    var closed = false
    defer {
        if !closed { close(fd) }
        if !committed { unlink(temp) }
    }
    // Small pieces (padding, headers) are gathered so the kernel sees large writes.
    var pending: [UInt8] = []
    pending.reserveCapacity(1 << 20)
    func flush() throws {
        let e: Int32? = pending.withUnsafeBytes { writeAll(fd, $0) }
        if let e { throw GGUFError.writeFailed(path: path, reason: String(cString: strerror(e))) }
        pending.removeAll(keepingCapacity: true)
    }
    try produce { chunk in
        if chunk.count >= 1 << 16 {
            try flush()
            if let e = writeAll(fd, chunk) { throw GGUFError.writeFailed(path: path, reason: String(cString: strerror(e))) }
        } else {
            pending.append(contentsOf: chunk)
            if pending.count >= 1 << 20 { try flush() }
        }
    }
    try flush()
    guard fsync(fd) == 0 else { throw GGUFError.writeFailed(path: path, reason: "fsync: \(String(cString: strerror(errno)))") }
    closed = true
    guard close(fd) == 0 else { throw GGUFError.writeFailed(path: path, reason: "close: \(String(cString: strerror(errno)))") }
    guard rename(temp, path) == 0 else { throw GGUFError.writeFailed(path: path, reason: "rename: \(String(cString: strerror(errno)))") }
    committed = true
    // Persist the rename itself; failure here leaves a valid file either way.
    let dfd = open(directory, O_RDONLY | O_CLOEXEC)
    if dfd >= 0 { _ = fsync(dfd); close(dfd) }
}
