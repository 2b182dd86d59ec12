import Foundation
import VerdantTensors
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds a safetensors file. Tensor bytes are produced lazily, one tensor at a
/// time, so a quantized model never has to be held twice in memory.
///
/// Layout matches the Python library: tensors ordered by element size
/// (largest first) then name, so each starts aligned to its element size; the
/// header is padded with spaces so the data section starts at a multiple of 8.
public struct SafetensorsWriter {
    private struct Entry {
        let name: String
        let dtype: DType
        let shape: [Int]
        let byteCount: Int
        let fill: (UnsafeMutableRawBufferPointer) throws -> Void
    }

    public var metadata: [String: String]
    private var entries: [Entry] = []
    private var names = Set<String>()

    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    /// Adds a tensor whose bytes `fill` writes into a buffer of exactly
    /// shape × dtype size bytes (little-endian, row-major) when the file is written.
    public mutating func add(_ name: String, dtype: DType, shape: [Int],
                             fill: @escaping (UnsafeMutableRawBufferPointer) throws -> Void) throws(CheckpointError) {
        guard name != "__metadata__" else { throw .invalidTensorForWriting(tensor: name, reason: "reserved name") }
        guard !names.contains(name) else { throw .invalidTensorForWriting(tensor: name, reason: "added twice") }
        guard let count = checkedElementCount(shape) else {
            throw .invalidTensorForWriting(tensor: name, reason: "shape \(shape) has a negative dimension or overflows")
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw .invalidTensorForWriting(tensor: name, reason: "shape \(shape) is too large") }
        names.insert(name)
        entries.append(Entry(name: name, dtype: dtype, shape: shape, byteCount: bytes, fill: fill))
    }

    /// Adds a tensor from bytes already in memory (copied now).
    public mutating func add(_ name: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer) throws(CheckpointError) {
        let copy = [UInt8](bytes)
        try add(name, dtype: dtype, shape: shape, data: copy)
    }

    public mutating func add(_ name: String, dtype: DType, shape: [Int], data: [UInt8]) throws(CheckpointError) {
        let expected = checkedElementCount(shape).flatMap { n -> Int? in
            let (b, o) = n.multipliedReportingOverflow(by: dtype.byteSize)
            return o ? nil : b
        }
        guard let expected, expected == data.count else {
            throw .invalidTensorForWriting(tensor: name, reason: "\(data.count) bytes given for shape \(shape) of \(dtype.rawValue)")
        }
        try add(name, dtype: dtype, shape: shape) { out in
            data.withUnsafeBytes { out.copyMemory(from: $0) }
        }
    }

    /// Adds an F32 tensor.
    public mutating func add(_ name: String, floats: [Float], shape: [Int]) throws(CheckpointError) {
        try add(name, dtype: .f32, shape: shape, data: floats.withUnsafeBytes { [UInt8]($0) })
    }

    /// Adds a weight matrix in its stored format. The matrix is retained until `write`.
    public mutating func add(_ name: String, matrix: WeightMatrix) throws(CheckpointError) {
        let dtype: DType
        var shape = [matrix.rows, matrix.cols]
        switch matrix.format {
        case .f32: dtype = .f32
        case .f16: dtype = .f16
        case .bf16: dtype = .bf16
        case .q8_0, .q4_0, .int4, .w8a8:
            // Quantized rows are stored as raw bytes; config.json's quantization
            // section records the format and the logical shape.
            dtype = .u8
            shape = [matrix.rows, matrix.format.rowBytes(cols: matrix.cols)]
        case .bf16Sparse1x2, .q8Sparse1x2:
            // Variable bytes per row: one flat U8 run (SparsePairs.swift has the layout).
            dtype = .u8
            shape = [matrix.byteCount]
        }
        let m = matrix
        try add(name, dtype: dtype, shape: shape) { out in
            withExtendedLifetime(m.owner) { out.copyMemory(from: UnsafeRawBufferPointer(start: m.data, count: m.byteCount)) }
        }
    }

    public var tensorCount: Int { entries.count }

    /// Writes the file atomically: a temporary file in the same directory is
    /// written, fsync'ed and renamed over `url`; on any failure it is removed and
    /// `url` is untouched.
    public func write(to url: URL) throws(CheckpointError) {
        let path = url.path
        let ordered = entries.sorted { ($0.dtype.byteSize, $1.name) > ($1.dtype.byteSize, $0.name) }
        var header = "{"
        var first = true
        if !metadata.isEmpty {
            header += "\"__metadata__\":{"
            header += metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0] ?? ""))" }.joined(separator: ",")
            header += "}"
            first = false
        }
        var offset = 0
        for e in ordered {
            if !first { header += "," }
            first = false
            let (end, overflow) = offset.addingReportingOverflow(e.byteCount)
            guard !overflow else { throw .invalidTensorForWriting(tensor: e.name, reason: "total size overflows") }
            header += "\(jsonString(e.name)):{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":[\(e.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        while (8 + headerBytes.count) % 8 != 0 { headerBytes.append(0x20) }

        let directory = url.deletingLastPathComponent().path
        let temp = directory + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .writeFailed(path: path, reason: "cannot create \(temp): \(String(cString: strerror(errno)))") }
        var committed = false
        var closed = false
        defer {
            if !closed { close(fd) }
            if !committed { unlink(temp) }
        }

        let length = UInt64(headerBytes.count)
        let prefix = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) }
        if let e = (prefix + headerBytes).withUnsafeBytes({ writeAll(fd, $0) }) {
            throw .writeFailed(path: path, reason: String(cString: strerror(e)))
        }
        for e in ordered where e.byteCount > 0 {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: e.byteCount, alignment: 64)
            defer { buffer.deallocate() }
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            do { try e.fill(buffer) } catch {
                throw .writeFailed(path: path, reason: "producing tensor '\(e.name)': \(error)")
            }
            if let err = writeAll(fd, UnsafeRawBufferPointer(buffer)) {
                throw .writeFailed(path: path, reason: String(cString: strerror(err)))
            }
        }
        guard fsync(fd) == 0 else { throw .writeFailed(path: path, reason: "fsync: \(String(cString: strerror(errno)))") }
        closed = true
        guard close(fd) == 0 else { throw .writeFailed(path: path, reason: "close: \(String(cString: strerror(errno)))") }
        guard rename(temp, path) == 0 else { throw .writeFailed(path: path, reason: "rename: \(String(cString: strerror(errno)))") }
        committed = true
        // Persist the rename itself; failure here leaves a valid file either way.
        let dfd = open(directory, O_RDONLY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }
}

/// Writes everything, retrying short writes; returns errno on failure.
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32? {
    guard var p = bytes.baseAddress else { return nil }
    var remaining = bytes.count
    while remaining > 0 {
        let n = write(fd, p, remaining)
        if n < 0 {
            if errno == EINTR { continue }
            return errno
        }
        p += n
        remaining -= n
    }
    return nil
}

