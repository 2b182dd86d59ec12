import Testing
@testable import VerdantTensors

/// A [rows, cols] matrix with a deterministic keep pattern: about `share` of the tiles kept.
private func sparseCase(rows: Int, cols: Int, share: Double, seed: UInt64,
                        as v: SparsePairValues = .bf16) -> (values: [Float], keep: [Bool], bytes: [UInt8]) {
    let values = testValues(rows * cols, seed: seed)
    let coin = testValues(rows * cols / 2, seed: seed + 1, outliers: false)
    let keep = coin.map { Double($0 + 1) / 2 < share }
    let bytes = try! values.withUnsafeBufferPointer { try SparsePairs.encode($0.baseAddress!, rows: rows, cols: cols, keep: keep, as: v) }
    return (values, keep, bytes)
}

private func matrix(_ bytes: [UInt8], rows: Int, cols: Int, as v: SparsePairValues = .bf16) -> WeightMatrix {
    let b = OwnedBuffer(byteCount: bytes.count)
    bytes.withUnsafeBytes { b.pointer.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    return WeightMatrix(format: v == .bf16 ? .bf16Sparse1x2 : .q8Sparse1x2, rows: rows, cols: cols, data: UnsafeRawPointer(b.pointer), owner: b)
}

@Test func sparsePairsRoundTripAndSize() throws {
    let rows = 37, cols = 96
    for share in [0.0, 0.3, 1.0] {
        let c = sparseCase(rows: rows, cols: cols, share: share, seed: 5)
        let kept = c.keep.filter { $0 }.count
        #expect(c.bytes.count == 4 * (rows + 1) + 2 * rows * cols / 32 + 4 * kept)
        try c.bytes.withUnsafeBytes { try SparsePairs.validate($0.baseAddress!, byteCount: c.bytes.count, rows: rows, cols: cols) }
        let m = matrix(c.bytes, rows: rows, cols: cols)
        #expect(m.byteCount == c.bytes.count)
        var row = [Float](repeating: .nan, count: cols)
        for r in 0..<rows {
            row.withUnsafeMutableBufferPointer { m.copyRow(r, into: $0.baseAddress!) }
            for col in 0..<cols {
                let want = c.keep[r * cols / 2 + col / 2] ? bf16ToFloat(floatToBF16(c.values[r * cols + col])) : 0
                #expect(row[col] == want)
                #expect(m.element(r, col) == want)
            }
        }
    }
}

@Test func sparsePairsRejectsBadShapesAndCorruptBytes() throws {
    let v = [Float](repeating: 1, count: 4 * 48)
    #expect(throws: SparseFormatError.self) {
        try v.withUnsafeBufferPointer { try SparsePairs.encode($0.baseAddress!, rows: 4, cols: 48, keep: [Bool](repeating: true, count: 96)) }
    }
    let rows = 8, cols = 64
    let c = sparseCase(rows: rows, cols: cols, share: 0.5, seed: 9)
    func check(_ b: [UInt8], rows: Int = rows, cols: Int = cols) throws {
        try b.withUnsafeBytes { try SparsePairs.validate($0.baseAddress!, byteCount: b.count, rows: rows, cols: cols) }
    }
    try check(c.bytes)
    #expect(throws: SparseFormatError.self) { try check(Array(c.bytes.dropLast(4))) }   // a tile missing
    #expect(throws: SparseFormatError.self) { try check(c.bytes + [0, 0, 0, 0]) }       // a tile too many
    #expect(throws: SparseFormatError.self) { try check(c.bytes, rows: rows + 1) }      // wrong declared shape
    var flipped = c.bytes
    flipped[4 * (rows + 1)] ^= 0x01                                                      // one mask bit flipped
    #expect(throws: SparseFormatError.self) { try check(flipped) }
    var start = c.bytes
    start[4] &+= 1                                                                       // row 1 starts elsewhere
    #expect(throws: SparseFormatError.self) { try check(start) }
}

@Test func sparseQ8PairsRoundTripWithinHalfAStepAndSize() throws {
    let rows = 37, cols = 96
    for share in [0.0, 0.3, 1.0] {
        let c = sparseCase(rows: rows, cols: cols, share: share, seed: 5, as: .q8)
        let kept = c.keep.filter { $0 }.count
        #expect(c.bytes.count == 4 * (rows + 1) + 2 * 2 * rows * cols / 32 + 2 * kept)
        try c.bytes.withUnsafeBytes { try SparsePairs.validate($0.baseAddress!, byteCount: c.bytes.count, rows: rows, cols: cols, .q8) }
        let m = matrix(c.bytes, rows: rows, cols: cols, as: .q8)
        #expect(m.byteCount == c.bytes.count)
        #expect(c.bytes.withUnsafeBytes { SparsePairs.keptMask($0.baseAddress!, rows: rows, cols: cols) } == c.keep)
        var row = [Float](repeating: .nan, count: cols)
        for r in 0..<rows {
            row.withUnsafeMutableBufferPointer { m.copyRow(r, into: $0.baseAddress!) }
            for k in 0..<(cols / 32) {
                // The window's step: absmax of its kept weights / 127, as an f16.
                var amax: Float = 0
                for col in (32 * k)..<(32 * k + 32) where c.keep[r * cols / 2 + col / 2] { amax = max(amax, abs(c.values[r * cols + col])) }
                let d = f16ToFloat(floatToF16(amax / 127))
                for col in (32 * k)..<(32 * k + 32) {
                    #expect(m.element(r, col) == row[col])
                    if c.keep[r * cols / 2 + col / 2] {
                        #expect(abs(row[col] - c.values[r * cols + col]) <= d / 2 + 1e-6 * amax, "(\(r), \(col))")
                    } else {
                        #expect(row[col] == 0)
                    }
                }
            }
        }
    }
}

@Test func sparseQ8PairsRejectCorruptBytes() throws {
    let rows = 8, cols = 64
    let c = sparseCase(rows: rows, cols: cols, share: 0.5, seed: 9, as: .q8)
    func check(_ b: [UInt8]) throws {
        try b.withUnsafeBytes { try SparsePairs.validate($0.baseAddress!, byteCount: b.count, rows: rows, cols: cols, .q8) }
    }
    try check(c.bytes)
    #expect(throws: SparseFormatError.self) { try check(Array(c.bytes.dropLast(2))) }   // a tile missing
    #expect(throws: SparseFormatError.self) { try check(c.bytes + [0, 0]) }              // a tile too many
    var scale = c.bytes
    let sOff = 4 * (rows + 1) + 2 * rows * cols / 32
    scale[sOff] = 0x00; scale[sOff + 1] = 0x7C                                          // f16 +infinity
    #expect(throws: SparseFormatError.self) { try check(scale) }
    // The bf16 layout's bytes are not a valid q8 layout of the same shape.
    let b = sparseCase(rows: rows, cols: cols, share: 0.5, seed: 9)
    #expect(throws: SparseFormatError.self) { try check(b.bytes) }
    let huge = [Float](repeating: 1e7, count: rows * cols)
    #expect(throws: SparseFormatError.self) {
        try huge.withUnsafeBufferPointer {
            try SparsePairs.encode($0.baseAddress!, rows: rows, cols: cols, keep: [Bool](repeating: true, count: rows * cols / 2), as: .q8)
        }
    }
}

@Test(arguments: [SparsePairValues.bf16, .q8], [0.0, 0.4, 1.0])
func sparseMatmulMatchesScalarReference(_ v: SparsePairValues, _ share: Double) {
    let rows = 70, cols = 160
    let c = sparseCase(rows: rows, cols: cols, share: share, seed: 21, as: v)
    let w = matrix(c.bytes, rows: rows, cols: cols, as: v)
    let pool = ThreadPool(threads: 2)
    for tokens in [1, 2, 5] {
        let x = testValues(tokens * cols, seed: 77)
        var y = [Float](repeating: 0, count: tokens * rows), ref = y
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { matmul(xp.baseAddress!, rows: tokens, w, $0.baseAddress!, pool: pool) }
            ref.withUnsafeMutableBufferPointer { matmulReference(xp.baseAddress!, rows: tokens, w, $0.baseAddress!) }
        }
        for i in y.indices {
            // f32 sums of ≤ 160 products of |x| ≤ 8, |w| ≤ 8 in different orders.
            #expect(abs(y[i] - ref[i]) <= 1e-4 * (1 + abs(ref[i])) + 2e-3, "token-row \(i): \(y[i]) vs \(ref[i])")
        }
    }
    // The kernel against its own scalar reference on the same permuted activations.
    let x = testValues(cols, seed: 3)
    var xk = [Float](repeating: 0, count: cols), a = [Float](repeating: 0, count: rows), b = a
    x.withUnsafeBufferPointer { permuteEvenOdd($0.baseAddress!, cols: cols, into: xk.withUnsafeMutableBufferPointer { $0.baseAddress! }) }
    xk.withUnsafeBufferPointer { xp in
        a.withUnsafeMutableBufferPointer {
            if v == .q8 {
                sparseGEMVRowsQ8(xp.baseAddress!, w, $0.baseAddress!, rows: 0, rows)
            } else {
                sparseGEMVRows(xp.baseAddress!, w, $0.baseAddress!, rows: 0, rows)
            }
        }
        b.withUnsafeMutableBufferPointer { sparseGEMVRowsReference(xp.baseAddress!, w, $0.baseAddress!, rows: 0, rows) }
    }
    for i in a.indices { #expect(abs(a[i] - b[i]) <= 1e-4 * (1 + abs(b[i])) + 2e-3) }
}
