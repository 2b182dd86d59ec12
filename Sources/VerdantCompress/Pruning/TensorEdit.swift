/// How one stored tensor changes: which rows and columns survive (in the order
/// given) and which source rows and columns are zeroed. A 1-D tensor is one row.
/// Edits move element bytes only, so the dtype — and every bit of the values
/// kept — is unchanged.
public struct TensorEdit: Sendable, Equatable {
    /// Source rows kept, in output order; nil keeps all.
    public var rows: [Int]?
    /// Source columns kept, in output order; nil keeps all.
    public var cols: [Int]?
    /// Source rows whose kept elements become zero.
    public var zeroRows: Set<Int> = []
    /// Source columns whose kept elements become zero.
    public var zeroCols: Set<Int> = []

    public init(rows: [Int]? = nil, cols: [Int]? = nil, zeroRows: Set<Int> = [], zeroCols: Set<Int> = []) {
        self.rows = rows
        self.cols = cols
        self.zeroRows = zeroRows
        self.zeroCols = zeroCols
    }

    public static let identity = TensorEdit()

    public var isIdentity: Bool { rows == nil && cols == nil && zeroRows.isEmpty && zeroCols.isEmpty }

    /// Output shape for a source `shape` (1-D or 2-D).
    public func outputShape(_ shape: [Int]) -> [Int] {
        switch shape.count {
        case 1: return [cols?.count ?? shape[0]]
        case 2: return [rows?.count ?? shape[0], cols?.count ?? shape[1]]
        default: return shape
        }
    }

    /// Elements of the output that the edit zeroes (for a source `shape`).
    public func zeroedElements(_ shape: [Int]) -> Int {
        if zeroRows.isEmpty && zeroCols.isEmpty { return 0 }
        let (r, c) = shape.count == 1 ? (1, shape[0]) : (shape[0], shape.count == 2 ? shape[1] : 1)
        let rowOrder = rows ?? Array(0..<r), colOrder = cols ?? Array(0..<c)
        let zr = rowOrder.filter { zeroRows.contains($0) }.count
        let zc = colOrder.filter { zeroCols.contains($0) }.count
        return zr * colOrder.count + zc * rowOrder.count - zr * zc
    }

    /// Checks that the edit fits a tensor of `shape`; returns a reason when not.
    func problem(for shape: [Int]) -> String? {
        if isIdentity { return nil }
        guard shape.count == 1 || shape.count == 2 else { return "only 1-D and 2-D tensors can be pruned, shape is \(shape)" }
        let (r, c) = shape.count == 1 ? (1, shape[0]) : (shape[0], shape[1])
        if shape.count == 1 && (rows != nil || !zeroRows.isEmpty) { return "a 1-D tensor has no rows to select" }
        if let rows, rows.contains(where: { $0 < 0 || $0 >= r }) { return "row index outside 0..<\(r)" }
        if let cols, cols.contains(where: { $0 < 0 || $0 >= c }) { return "column index outside 0..<\(c)" }
        if zeroRows.contains(where: { $0 < 0 || $0 >= r }) { return "zeroed row outside 0..<\(r)" }
        if zeroCols.contains(where: { $0 < 0 || $0 >= c }) { return "zeroed column outside 0..<\(c)" }
        return nil
    }

    /// Applies the edit to `source` (a [rows, cols] tensor of `elementSize`-byte
    /// elements, any alignment) writing the output tensor into `destination`.
    func apply(source: UnsafeRawPointer, shape: [Int], elementSize e: Int, into destination: UnsafeMutableRawPointer) {
        let (r, c) = shape.count == 1 ? (1, shape[0]) : (shape[0], shape.count == 2 ? shape[1] : shape.dropFirst().reduce(1, *))
        let rowOrder = rows ?? Array(0..<r)
        let colOrder = cols
        let outCols = colOrder?.count ?? c
        let rowBytes = outCols * e
        for (i, sr) in rowOrder.enumerated() {
            let dst = destination + i * rowBytes
            if zeroRows.contains(sr) {
                dst.initializeMemory(as: UInt8.self, repeating: 0, count: rowBytes)
                continue
            }
            let src = source + sr * c * e
            if let colOrder {
                // Copy runs of consecutive source columns at once.
                var j = 0
                while j < colOrder.count {
                    var end = j + 1
                    while end < colOrder.count && colOrder[end] == colOrder[end - 1] + 1 { end += 1 }
                    (dst + j * e).copyMemory(from: src + colOrder[j] * e, byteCount: (end - j) * e)
                    j = end
                }
            } else {
                dst.copyMemory(from: src, byteCount: rowBytes)
            }
            if !zeroCols.isEmpty {
                for (j, sc) in (colOrder ?? Array(0..<c)).enumerated() where zeroCols.contains(sc) {
                    (dst + j * e).initializeMemory(as: UInt8.self, repeating: 0, count: e)
                }
            }
        }
    }
}

/// Indices [start, start + count) for each of `blocks` (e.g. the rows of heads).
func expand(_ blocks: [Int], width: Int, offset: Int = 0) -> [Int] {
    blocks.flatMap { b in (offset + b * width)..<(offset + (b + 1) * width) }
}
