import Testing
@testable import VerdantTensors

/// xorshift64*: deterministic, no Foundation.
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed | 1 }
    mutating func next() -> UInt64 {
        state ^= state >> 12; state ^= state << 25; state ^= state >> 27
        return state &* 2685821657736338717
    }
    /// Uniform in [-1, 1).
    mutating func float() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
}

func makeWeights(_ format: WeightFormat, rows: Int, cols: Int, random: inout TestRandom) -> WeightMatrix {
    let count = rows * cols
    let buffer = OwnedBuffer(byteCount: format.rowBytes(cols: count))
    for i in 0..<count {
        let v = random.float()
        switch format {
        case .f32: buffer.pointer.storeBytes(of: v, toByteOffset: i * 4, as: Float.self)
        case .bf16: buffer.pointer.storeBytes(of: floatToBF16(v), toByteOffset: i * 2, as: UInt16.self)
        case .f16: buffer.pointer.storeBytes(of: floatToF16(v), toByteOffset: i * 2, as: UInt16.self)
        default: break   // quantized formats: QuantFormatTests
        }
    }
    return WeightMatrix(format: format, rows: rows, cols: cols, data: buffer.pointer, owner: buffer)
}

/// Max over outputs of |kernel - reference| / (Σ_k |x·w| + tiny): summation order
/// differs, so the bound scales with the magnitude of the terms.
func matmulError(format: WeightFormat, rows: Int, cols: Int, outs: Int, pool: ThreadPool, seed: UInt64) -> Float {
    var random = TestRandom(seed: seed)
    let w = makeWeights(format, rows: outs, cols: cols, random: &random)
    let x = (0..<(rows * cols)).map { _ in random.float() }
    var y = [Float](repeating: .nan, count: rows * outs)
    var ref = [Float](repeating: 0, count: rows * outs)
    x.withUnsafeBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { matmul(xp.baseAddress!, rows: rows, w, $0.baseAddress!, pool: pool) }
        ref.withUnsafeMutableBufferPointer { matmulReference(xp.baseAddress!, rows: rows, w, $0.baseAddress!) }
    }
    var worst: Float = 0
    for t in 0..<rows {
        for n in 0..<outs {
            var mag: Float = 1e-6
            for k in 0..<cols { mag += abs(x[t * cols + k] * w.element(n, k)) }
            let e = abs(y[t * outs + n] - ref[t * outs + n]) / mag
            worst = max(worst, e.isNaN ? .infinity : e)
        }
    }
    return worst
}

@Test(arguments: [WeightFormat.f32, .bf16, .f16], [1, 2])
func matmulMatchesReferenceOnOddShapes(format: WeightFormat, threads: Int) {
    let pool = ThreadPool(threads: threads)
    var seed: UInt64 = 1
    for rows in [1, 2, 3, 5, 17, 64] {
        for cols in [1, 7, 16, 31, 32, 33, 100, 896] {
            for outs in [1, 3, 16, 33, 70] {
                // Keep the debug-mode scalar reference cheap.
                if rows * cols * outs > 40_000 { continue }
                seed += 1
                let e = matmulError(format: format, rows: rows, cols: cols, outs: outs, pool: pool, seed: seed)
                #expect(e < 1e-5, "rows \(rows) cols \(cols) outs \(outs): relative error \(e)")
            }
        }
    }
}

@Test(arguments: [WeightFormat.f32, .bf16, .f16])
func matmulLargerShapesCrossBlockBoundaries(format: WeightFormat) {
    // More than one K block (128), token block edges, several 32-row panels plus a tail.
    let pool = ThreadPool(threads: 2)
    for (rows, cols, outs) in [(1, 896, 200), (13, 300, 97), (7, 1000, 40)] {
        let e = matmulError(format: format, rows: rows, cols: cols, outs: outs, pool: pool, seed: UInt64(rows * cols))
        #expect(e < 1e-5, "rows \(rows) cols \(cols) outs \(outs): relative error \(e)")
    }
}

@Test func matmulWithZeroColumnsWritesZeros() {
    let pool = ThreadPool(threads: 2)
    let w = WeightMatrix.f32(rows: 3, cols: 0, values: [])
    var y = [Float](repeating: .nan, count: 6)
    let x: [Float] = [0]
    x.withUnsafeBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { matmul(xp.baseAddress!, rows: 2, w, $0.baseAddress!, pool: pool) }
    }
    #expect(y == [0, 0, 0, 0, 0, 0])
}

@Test func f16LaneConversionIsExactForEveryBitPattern() {
    var mismatches: [Int] = []
    for base in stride(from: 0, to: 65536, by: 16) {
        var v = SIMD16<UInt32>()
        for i in 0..<16 { v[i] = UInt32(base + i) }
        let f = f16ToF32(v)
        for i in 0..<16 {
            let expected = f16ToFloat(UInt16(base + i))
            let same = expected.isNaN ? f[i].isNaN : f[i].bitPattern == expected.bitPattern
            if !same { mismatches.append(base + i) }
        }
    }
    #expect(mismatches.isEmpty, "first mismatching bit patterns: \(mismatches.prefix(8))")
}

@Test func evenOddPermutationMatchesBF16Decoding() {
    // Lane i of the decoded (evens, odds) must meet element 2i / 2i+1 of x.
    let x = (0..<70).map { Float($0) }
    var out = [Float](repeating: 0, count: 70)
    x.withUnsafeBufferPointer { xp in
        out.withUnsafeMutableBufferPointer { permuteEvenOdd(xp.baseAddress!, cols: 70, into: $0.baseAddress!) }
    }
    let evens: [Float] = (0..<16).map { i in Float(2 * i) }
    let odds: [Float] = (0..<16).map { i in Float(2 * i + 1) }
    let evens2: [Float] = (0..<16).map { i in Float(32 + 2 * i) }
    #expect(Array(out[0..<16]) == evens)
    #expect(Array(out[16..<32]) == odds)
    #expect(Array(out[32..<48]) == evens2)
    let tail: [Float] = [64, 65, 66, 67, 68, 69]
    #expect(Array(out[64..<70]) == tail)
}

@Test func matmulInsidePoolTasksUsesPrivateScratch() {
    // Each task of the outer job runs its own matmul; they must not share scratch.
    let pool = ThreadPool(threads: 2)
    var random = TestRandom(seed: 5)
    let w = makeWeights(.bf16, rows: 40, cols: 70, random: &random)
    let xs = (0..<4).map { _ in (0..<(5 * 70)).map { _ in random.float() } }
    var expected = [[Float]](repeating: [Float](repeating: 0, count: 5 * 40), count: 4)
    for i in 0..<4 {
        xs[i].withUnsafeBufferPointer { xp in
            expected[i].withUnsafeMutableBufferPointer { matmulReference(xp.baseAddress!, rows: 5, w, $0.baseAddress!) }
        }
    }
    let out = Slots(4 * 5 * 40)
    pool.run(4) { i in
        xs[i].withUnsafeBufferPointer { xp in
            matmul(xp.baseAddress!, rows: 5, w, (out.p + i * 200).withMemoryRebound(to: Float.self, capacity: 200) { $0 }, pool: pool)
        }
    }
    var worst: Float = 0
    for i in 0..<4 {
        let got = (out.p + i * 200).withMemoryRebound(to: Float.self, capacity: 200) { Array(UnsafeBufferPointer(start: $0, count: 200)) }
        for j in 0..<200 { worst = max(worst, abs(got[j] - expected[i][j])) }
    }
    #expect(worst < 1e-3)
}
