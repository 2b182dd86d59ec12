import Foundation
import VerdantTensors
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A memory-mapped, validated safetensors file. The instance owns the mapping:
/// every `WeightMatrix` / `TensorView` handed out keeps it as `owner`, so the
/// bytes stay valid as long as any of them is alive.
///
/// Alignment: the mapping is page-aligned and the data section starts at
/// 8 + header length, but a tensor may start at any byte offset; nothing here
/// loads through a typed pointer. `weightMatrix` copies a misaligned tensor into
/// an aligned buffer (files from the Python library are always aligned, so this
/// never costs anything in practice).
public final class SafetensorsFile: @unchecked Sendable {
    /// Header JSON larger than this is not a checkpoint header (the Python
    /// library caps it at 100 MB too).
    public static let maxHeaderBytes = 100_000_000

    public let path: String
    /// Sorted by data offset.
    public let tensors: [TensorInfo]
    public let metadata: [String: String]
    public let fileSize: Int
    /// Absolute file offset where the data section starts.
    public let dataOffset: Int

    private let base: UnsafeMutableRawPointer?
    private let mappedLength: Int
    private let index: [String: Int]

    public convenience init(url: URL) throws(CheckpointError) {
        try self.init(path: url.path)
    }

    public init(path: String) throws(CheckpointError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            throw e == ENOENT ? .fileNotFound(path: path) : .io(path: path, operation: "open", errno: e)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(path: path, operation: "stat", errno: errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .io(path: path, operation: "open (not a regular file)", errno: EISDIR) }
        guard let size = Int(exactly: st.st_size) else { throw .io(path: path, operation: "stat", errno: EFBIG) }
        guard size >= 8 else { throw .fileTooSmall(path: path, size: size) }

        let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapping, mapping != MAP_FAILED else { throw .io(path: path, operation: "mmap", errno: errno) }
        // Unmapped on every failure below; on success `deinit` does it.
        var keep = false
        defer { if !keep { munmap(mapping, size) } }

        let raw = UnsafeRawPointer(mapping)
        let headerLength = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
        guard headerLength >= 2, headerLength <= UInt64(size - 8), headerLength <= UInt64(Self.maxHeaderBytes),
              let headerBytes = Int(exactly: headerLength)
        else { throw .invalidHeaderLength(path: path, length: headerLength, fileSize: size) }

        let header = try SafetensorsHeader.parse(UnsafeRawBufferPointer(start: raw + 8, count: headerBytes),
                                                 dataSize: size - 8 - headerBytes, path: path)
        var index: [String: Int] = [:]
        index.reserveCapacity(header.tensors.count)
        for (i, t) in header.tensors.enumerated() { index[t.name] = i }

        self.tensors = header.tensors
        self.metadata = header.metadata
        self.fileSize = size
        self.dataOffset = 8 + headerBytes
        self.base = mapping
        self.mappedLength = size
        self.index = index
        keep = true
    }

    deinit {
        if let base { munmap(base, mappedLength) }
    }

    public var names: [String] { tensors.map(\.name) }

    public func info(_ name: String) -> TensorInfo? {
        guard let i = index[name] else { return nil }
        return tensors[i]
    }

    /// The tensor's bytes inside the mapping (no copy).
    public func view(_ name: String) throws(CheckpointError) -> TensorView {
        guard let info = info(name), let base else { throw .tensorNotFound(tensor: name, location: path) }
        return TensorView(info: info, data: UnsafeRawPointer(base) + dataOffset + info.byteRange.lowerBound, owner: self)
    }

    /// A 2-D F32/F16/BF16 tensor as a weight matrix sharing the mapping.
    public func weightMatrix(_ name: String) throws(CheckpointError) -> WeightMatrix {
        try view(name).weightMatrix()
    }

    /// Any floating-point tensor widened to Float, flattened (for small tensors: norms, biases).
    public func floats(_ name: String) throws(CheckpointError) -> [Float] {
        try view(name).floats()
    }
}

extension TensorView {
    /// See `SafetensorsFile.weightMatrix`.
    public func weightMatrix() throws(CheckpointError) -> WeightMatrix {
        let format: WeightFormat
        switch info.dtype {
        case .f32: format = .f32
        case .f16: format = .f16
        case .bf16: format = .bf16
        default:
            throw .unsupportedTensor(tensor: info.name, reason: "dtype \(info.dtype.rawValue) cannot be used as a weight matrix (F32, F16 or BF16 needed)")
        }
        guard info.shape.count == 2 else {
            throw .unsupportedTensor(tensor: info.name, reason: "shape \(info.shape) is not a matrix (2 dimensions needed)")
        }
        let rows = info.shape[0], cols = info.shape[1]
        if Int(bitPattern: data) % info.dtype.byteSize == 0 {
            return WeightMatrix(format: format, rows: rows, cols: cols, data: data, owner: owner)
        }
        let copy = OwnedBuffer(byteCount: byteCount)
        copy.pointer.copyMemory(from: data, byteCount: byteCount)
        return WeightMatrix(format: format, rows: rows, cols: cols, data: UnsafeRawPointer(copy.pointer), owner: copy)
    }

    /// See `SafetensorsFile.floats`.
    public func floats() throws(CheckpointError) -> [Float] {
        let n = elementCount
        let p = data
        switch info.dtype {
        case .f32:
            return (0..<n).map { p.loadUnaligned(fromByteOffset: $0 &* 4, as: Float.self) }
        case .f64:
            return (0..<n).map { Float(p.loadUnaligned(fromByteOffset: $0 &* 8, as: Double.self)) }
        case .f16:
            return (0..<n).map { f16ToFloat(p.loadUnaligned(fromByteOffset: $0 &* 2, as: UInt16.self)) }
        case .bf16:
            return (0..<n).map { bf16ToFloat(p.loadUnaligned(fromByteOffset: $0 &* 2, as: UInt16.self)) }
        default:
            throw .unsupportedTensor(tensor: info.name, reason: "dtype \(info.dtype.rawValue) is not floating point")
        }
    }
}
