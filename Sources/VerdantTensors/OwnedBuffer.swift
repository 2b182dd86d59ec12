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
        if format.isQuantized {
            // Not a load-time path (quantized checkpoints store [out, in]); exact, not fast.
            var values = [Float](repeating: 0, count: rows * cols)
            values.withUnsafeMutableBufferPointer { v in
                for r in 0..<rows { copyRow(r, into: v.baseAddress! + r * cols) }
            }
            return WeightMatrix.f32(rows: rows, cols: cols, values: values).transposed()
        }
        let size = format.rowBytes(cols: 1)
        let buffer = OwnedBuffer(byteCount: rows * cols * size)
        switch size {
        case 2: transpose(UInt16.self, into: buffer.pointer)
        default: transpose(UInt32.self, into: buffer.pointer)
        }
        return WeightMatrix(format: format, rows: cols, cols: rows, data: buffer.pointer, owner: buffer)
    }

    /// Blocked so that both sides stay in cache: a 124M-parameter GPT-2 loads in well under a second.
    private func transpose<T>(_: T.Type, into destination: UnsafeMutableRawPointer) {
        let src = data.assumingMemoryBound(to: T.self)
        let dst = destination.assumingMemoryBound(to: T.self)
        let block = 64
        for r0 in stride(from: 0, to: rows, by: block) {
            for c0 in stride(from: 0, to: cols, by: block) {
                for r in r0..<min(r0 + block, rows) {
                    for c in c0..<min(c0 + block, cols) { dst[c * rows + r] = src[r * cols + c] }
                }
            }
        }
    }

    /// Rows reordered: row i of the result is row `order[i]` of self.
    public func permutingRows(_ order: [Int]) -> WeightMatrix {
        // Sparse rows have no fixed size: permute the dense bf16 form (same values).
        if format.sparsePairs != nil { return densified().permutingRows(order) }
        let rowBytes = format.rowBytes(cols: cols)
        let buffer = OwnedBuffer(byteCount: order.count * rowBytes)
        for (i, r) in order.enumerated() {
            (buffer.pointer + i * rowBytes).copyMemory(from: data + r * rowBytes, byteCount: rowBytes)
        }
        return WeightMatrix(format: format, rows: order.count, cols: cols, data: buffer.pointer, owner: buffer)
    }

    /// Rows [start, start + count) as a view sharing storage.
    public func rowSlice(_ start: Int, _ count: Int) -> WeightMatrix {
        if format.sparsePairs != nil { return densified().rowSlice(start, count) }
        return WeightMatrix(format: format, rows: count, cols: cols,
                     data: data + start * format.rowBytes(cols: cols), owner: owner)
    }
}

extension WeightMatrix {
    /// A sparse 1×2 matrix with fixed-size rows, removed tiles = 0: `bf16_sparse1x2` as
    /// bf16, `q8_sparse1x2` as f32 (its values d·q are not all bf16-exact). For code
    /// that needs fixed-size rows (slicing, permuting, export). Other formats: self.
    public func densified() -> WeightMatrix {
        switch format {
        case .bf16Sparse1x2:
            let buffer = OwnedBuffer(byteCount: rows * cols * 2)
            withExtendedLifetime(owner) {
                for r in 0..<rows {
                    sparseExpandRowBF16(self, row: r, into: (buffer.pointer + r * cols * 2).assumingMemoryBound(to: UInt16.self))
                }
            }
            return WeightMatrix(format: .bf16, rows: rows, cols: cols, data: buffer.pointer, owner: buffer)
        case .q8Sparse1x2:
            let buffer = OwnedBuffer(byteCount: rows * cols * 4)
            withExtendedLifetime(owner) {
                for r in 0..<rows { copyRow(r, into: (buffer.pointer + r * cols * 4).assumingMemoryBound(to: Float.self)) }
            }
            return WeightMatrix(format: .f32, rows: rows, cols: cols, data: buffer.pointer, owner: buffer)
        default:
            return self
        }
    }
}
