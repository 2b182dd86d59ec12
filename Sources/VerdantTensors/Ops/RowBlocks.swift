/// Deterministic row-parallel reductions for training: rows are cut into a fixed
/// number of contiguous blocks (independent of the thread count and of which
/// thread runs which block), each block accumulates into its own partial row,
/// and the partials are added into `target` in block order. The result is
/// therefore bit-identical for any scheduling.
///
/// body(rowRange, partial): partial is a zeroed [width] row, or nil when target is nil.
public func forEachRowBlock(rows: Int, width: Int, into target: UnsafeMutablePointer<Float>?, pool: ThreadPool,
                            _ body: (Range<Int>, UnsafeMutablePointer<Float>?) -> Void) {
    if rows <= 0 { return }
    // 8 blocks: enough for the 2-8 threads we run on; fixed so sums never depend on it.
    let blocks = min(rows, 8)
    var partials: UnsafeMutablePointer<Float>? = nil
    if target != nil {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: blocks * width)
        p.initialize(repeating: 0, count: blocks * width)
        partials = p
    }
    defer { partials?.deallocate() }
    pool.run(blocks) { b in
        body((b * rows / blocks)..<((b + 1) * rows / blocks), partials.map { $0 + b * width })
    }
    if let target, let partials {
        for b in 0..<blocks { addInPlace(target, partials + b * width, width) }
    }
}

/// target[c] += Σ_r x[r, c]: the bias gradient of a linear layer. x: [rows, cols].
/// Serial in row order (deterministic); O(rows·cols), small next to the matmuls.
public func addColumnSums(_ x: UnsafePointer<Float>, rows: Int, cols: Int, into target: UnsafeMutablePointer<Float>) {
    for r in 0..<rows { addInPlace(target, x + r * cols, cols) }
}
