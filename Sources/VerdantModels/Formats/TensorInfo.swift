import VerdantTensors

/// One tensor's entry in a safetensors header, validated.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Byte range inside the file's data section (not the whole file).
    public let byteRange: Range<Int>
    /// Product of `shape` (1 for a scalar).
    public let elementCount: Int

    public init(name: String, dtype: DType, shape: [Int], byteRange: Range<Int>, elementCount: Int) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.byteRange = byteRange
        self.elementCount = elementCount
    }

    public var byteCount: Int { byteRange.count }
}

/// The raw bytes of one tensor. `data` is only guaranteed to be 1-byte aligned
/// (safetensors places tensors at arbitrary offsets), so read elements with
/// `loadUnaligned` or copy; `owner` keeps the bytes alive.
public struct TensorView: @unchecked Sendable {
    public let info: TensorInfo
    public let data: UnsafeRawPointer
    public let owner: AnyObject

    public var byteCount: Int { info.byteCount }
    public var elementCount: Int { info.elementCount }
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: data, count: info.byteCount) }
}

/// Product of a shape, or nil on a negative dimension or overflow.
func checkedElementCount(_ shape: [Int]) -> Int? {
    var n = 1
    for d in shape {
        guard d >= 0 else { return nil }
        let (p, o) = n.multipliedReportingOverflow(by: d)
        guard !o else { return nil }
        n = p
    }
    return n
}
