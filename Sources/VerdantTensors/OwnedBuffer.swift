/// Heap bytes owned by a class, so a `WeightMatrix` made at load time (a
/// transposed GPT-2 Conv1D weight, a quantized tensor) keeps them alive the same
/// way a memory-mapped checkpoint does.
public final class OwnedBuffer: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let byteCount: Int

    public init(byteCount: Int, alignment: Int = 64) {
        self.byteCount = byteCount
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: alignment)
    }

    deinit { pointer.deallocate() }
}

extension WeightMatrix {
    /// A float32 matrix holding `values` ([rows, cols] row-major).
    public static func f32(rows: Int, cols: Int, values: [Float]) -> WeightMatrix {
        let buffer = OwnedBuffer(byteCount: rows * cols * 4)
        values.withUnsafeBytes { buffer.pointer.copyMemory(from: $0.baseAddress!, byteCount: min($0.count, buffer.byteCount)) }
        return WeightMatrix(format: .f32, rows: rows, cols: cols, data: buffer.pointer, owner: buffer)
    }

    /// The transpose, in the same element format (no widening).
    /// Needed for GPT-2's Conv1D weights, stored [in, out].
    public func transposed() -> WeightMatrix {
        let size = format.rowBytes(cols: 1)
        let buffer = OwnedBuffer(byteCount: rows * cols * size)
        let dst = buffer.pointer
        for r in 0..<rows {
            for c in 0..<cols {
                (dst + (c * rows + r) * size).copyMemory(from: data + (r * cols + c) * size, byteCount: size)
            }
        }
        return WeightMatrix(format: format, rows: cols, cols: rows, data: buffer.pointer, owner: buffer)
    }

    /// Rows reordered: row i of the result is row `order[i]` of self.
    public func permutingRows(_ order: [Int]) -> WeightMatrix {
        let rowBytes = format.rowBytes(cols: cols)
        let buffer = OwnedBuffer(byteCount: order.count * rowBytes)
        for (i, r) in order.enumerated() {
            (buffer.pointer + i * rowBytes).copyMemory(from: data + r * rowBytes, byteCount: rowBytes)
        }
        return WeightMatrix(format: format, rows: order.count, cols: cols, data: buffer.pointer, owner: buffer)
    }

    /// Rows [start, start + count) as a view sharing storage.
    public func rowSlice(_ start: Int, _ count: Int) -> WeightMatrix {
        WeightMatrix(format: format, rows: count, cols: cols,
                     data: data + start * format.rowBytes(cols: cols), owner: owner)
    }
}
