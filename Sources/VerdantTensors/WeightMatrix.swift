/// A read-only [rows, cols] weight matrix in row-major order, rows = output
/// features and cols = input features (PyTorch `nn.Linear` layout).
/// The bytes belong to `owner` (a memory-mapped checkpoint or a heap buffer);
/// holding the matrix keeps them alive.
public struct WeightMatrix: @unchecked Sendable {
    public let format: WeightFormat
    public let rows: Int
    public let cols: Int
    public let data: UnsafeRawPointer
    public let owner: AnyObject?

    public init(format: WeightFormat, rows: Int, cols: Int, data: UnsafeRawPointer, owner: AnyObject?) {
        self.format = format
        self.rows = rows
        self.cols = cols
        self.data = data
        self.owner = owner
    }

    public var byteCount: Int {
        format.sparsePairs.map { SparsePairs.byteCount(rows: rows, cols: cols, keptTiles: SparsePairs.keptTiles(data, rows: rows), $0) }
            ?? rows * format.rowBytes(cols: cols)
    }

    /// Element (r, c) widened to Float. Slow path: tests, embeddings lookups.
    @inline(__always)
    public func element(_ r: Int, _ c: Int) -> Float {
        let i = r * cols + c
        switch format {
        case .f32: return data.load(fromByteOffset: i * 4, as: Float.self)
        case .bf16: return bf16ToFloat(data.load(fromByteOffset: i * 2, as: UInt16.self))
        case .f16: return f16ToFloat(data.load(fromByteOffset: i * 2, as: UInt16.self))
        case .q8_0, .q4_0, .int4, .w8a8:
            return format.codec.dequantize(row: data + r * format.rowBytes(cols: cols), element: c)
        case .bf16Sparse1x2: return SparsePairs.element(data, rows: rows, cols: cols, r, c, .bf16)
        case .q8Sparse1x2: return SparsePairs.element(data, rows: rows, cols: cols, r, c, .q8)
        }
    }

    /// Row `r` widened into `out[0..<cols]`.
    public func copyRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        switch format {
        case .f32:
            out.update(from: (data + r * cols * 4).assumingMemoryBound(to: Float.self), count: cols)
        case .bf16:
            let p = (data + r * cols * 2).assumingMemoryBound(to: UInt16.self)
            for c in 0..<cols { out[c] = bf16ToFloat(p[c]) }
        case .f16:
            let p = (data + r * cols * 2).assumingMemoryBound(to: UInt16.self)
            for c in 0..<cols { out[c] = f16ToFloat(p[c]) }
        case .q8_0, .q4_0, .int4, .w8a8:
            format.codec.dequantizeRow(data + r * format.rowBytes(cols: cols), cols: cols, into: out)
        case .bf16Sparse1x2: SparsePairs.copyRow(data, rows: rows, cols: cols, row: r, into: out, .bf16)
        case .q8Sparse1x2: SparsePairs.copyRow(data, rows: rows, cols: cols, row: r, into: out, .q8)
        }
    }
}
