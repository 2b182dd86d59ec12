import Testing
@testable import VerdantTensors

/// Operands of one sgemm call in their storage layouts, with padded strides.
struct SGEMMCase {
    var transA: Bool, transB: Bool
    var m: Int, n: Int, k: Int
    var lda: Int, ldb: Int, ldc: Int
    var a: [Float], b: [Float], c: [Float]

    /// `pad` extra floats per stored row of A, B and C; the padding holds values
    /// that must neither be read into the product nor be overwritten.
    init(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, pad: Int, seed: UInt64) {
        self.transA = transA; self.transB = transB
        self.m = m; self.n = n; self.k = k
        var random = TestRandom(seed: seed)
        lda = (transA ? m : k) + pad
        ldb = (transB ? k : n) + pad
        ldc = n + pad
        // A stored [k, m] when transposed, else [m, k]; likewise B.
        a = (0..<((transA ? k : m) * lda)).map { _ in random.float() }
        b = (0..<((transB ? n : k) * ldb)).map { _ in random.float() }
        c = (0..<(m * ldc)).map { _ in random.float() }
    }

    func run(accumulate: Bool, pool: ThreadPool) -> [Float] {
        var out = c
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { cp in
                    sgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: ap.baseAddress!, lda: lda,
                          b: bp.baseAddress!, ldb: ldb, c: cp.baseAddress!, ldc: ldc, accumulate: accumulate, pool: pool)
                }
            }
        }
        return out
    }

    func reference(accumulate: Bool) -> [Float] {
        var out = c
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { cp in
                    sgemmReference(transA: transA, transB: transB, m: m, n: n, k: k, a: ap.baseAddress!, lda: lda,
                                   b: bp.baseAddress!, ldb: ldb, c: cp.baseAddress!, ldc: ldc, accumulate: accumulate)
                }
            }
        }
        return out
    }

    /// Max over C of |got - reference| / (Σ_k |a·b| (+ |c|) + tiny): the summation
    /// order differs from the reference, so the bound scales with the terms. Padding
    /// must be bit-identical to the input (infinite error otherwise).
    func error(_ got: [Float], accumulate: Bool) -> Float {
        let ref = reference(accumulate: accumulate)
        var worst: Float = 0
        for i in 0..<m {
            for j in 0..<ldc {
                let idx = i * ldc + j
                if j >= n {
                    if got[idx].bitPattern != c[idx].bitPattern { return .infinity }
                    continue
                }
                var mag: Float = 1e-6 + (accumulate ? abs(c[idx]) : 0)
                for p in 0..<k {
                    let x = transA ? a[p * lda + i] : a[i * lda + p]
                    let y = transB ? b[j * ldb + p] : b[p * ldb + j]
                    mag += abs(x * y)
                }
                let e = abs(got[idx] - ref[idx]) / mag
                worst = max(worst, e.isNaN ? .infinity : e)
            }
        }
        return worst
    }
}

let transposeCombinations: [(Bool, Bool)] = [(false, false), (false, true), (true, false), (true, true)]

@Test(arguments: transposeCombinations)
func sgemmMatchesReferenceOnAwkwardShapes(transA: Bool, transB: Bool) {
    let pool = ThreadPool(threads: 2)
    var seed: UInt64 = transA ? 100 : 200
    if transB { seed += 1000 }
    for m in [1, 3, 13, 33] {
        for n in [1, 17, 65] {
            for k in [1, 31, 257] {
                // Padded strides on every other shape keeps the debug-mode run short.
                seed += 1
                let pad = seed % 2 == 0 ? 5 : 0
                let t = SGEMMCase(transA: transA, transB: transB, m: m, n: n, k: k, pad: pad, seed: seed)
                for accumulate in [false, true] {
                    let e = t.error(t.run(accumulate: accumulate, pool: pool), accumulate: accumulate)
                    #expect(e < 1e-5, "m \(m) n \(n) k \(k) pad \(pad) accumulate \(accumulate): relative error \(e)")
                }
            }
        }
    }
}

@Test(arguments: transposeCombinations)
func sgemmCrossesEveryBlockBoundary(transA: Bool, transB: Bool) {
    // n > nc (512), m > mc (2304), k > kc (384), tails on every side; all but the
    // third are large enough (≥ 2^18 multiply-adds) to be split over the pool's
    // threads, the second by columns, the others by rows.
    let pool = ThreadPool(threads: 2)
    for (m, n, k) in [(97, 70, 40), (9, 600, 50), (2400, 3, 2), (61, 20, 400)] {
        let t = SGEMMCase(transA: transA, transB: transB, m: m, n: n, k: k, pad: 3, seed: UInt64(m * n + k))
        for accumulate in [false, true] {
            let e = t.error(t.run(accumulate: accumulate, pool: pool), accumulate: accumulate)
            #expect(e < 1e-5, "m \(m) n \(n) k \(k) accumulate \(accumulate): relative error \(e)")
        }
    }
}

@Test func sgemmWithEmptyDimensions() {
    let pool = ThreadPool(threads: 2)
    // k = 0: the product is zero, so overwrite clears C and accumulate leaves it.
    let t = SGEMMCase(transA: false, transB: true, m: 3, n: 4, k: 0, pad: 2, seed: 9)
    let cleared = t.run(accumulate: false, pool: pool)
    let kept = t.run(accumulate: true, pool: pool)
    for i in 0..<3 {
        for j in 0..<6 {
            let idx = i * t.ldc + j
            #expect(cleared[idx] == (j < 4 ? 0 : t.c[idx]))
            #expect(kept[idx].bitPattern == t.c[idx].bitPattern)
        }
    }
    // m = 0 or n = 0: nothing is touched.
    for (m, n) in [(0, 4), (3, 0)] {
        let e = SGEMMCase(transA: true, transB: false, m: m, n: n, k: 5, pad: 1, seed: 10)
        #expect(e.run(accumulate: false, pool: pool).map(\.bitPattern) == e.c.map(\.bitPattern))
    }
}

@Test func sgemmOverwriteIgnoresNaNInC() {
    var t = SGEMMCase(transA: false, transB: false, m: 13, n: 33, k: 7, pad: 0, seed: 11)
    t.c = [Float](repeating: .nan, count: t.c.count)
    #expect(t.error(t.run(accumulate: false, pool: ThreadPool(threads: 2)), accumulate: false) < 1e-5)
}

@Test(arguments: transposeCombinations)
func sgemmIsBitwiseDeterministicAcrossRunsAndThreadCounts(transA: Bool, transB: Bool) {
    // The training engine promises identical results for a given seed; C must not
    // depend on scheduling, and (by construction) not on the thread count either.
    let one = ThreadPool(threads: 1), two = ThreadPool(threads: 2), three = ThreadPool(threads: 3)
    for (m, n, k) in [(97, 70, 40), (9, 600, 50)] {
        let t = SGEMMCase(transA: transA, transB: transB, m: m, n: n, k: k, pad: 1, seed: 12)
        for accumulate in [false, true] {
            let first = t.run(accumulate: accumulate, pool: two).map(\.bitPattern)
            #expect(t.run(accumulate: accumulate, pool: two).map(\.bitPattern) == first)
            #expect(t.run(accumulate: accumulate, pool: one).map(\.bitPattern) == first)
            #expect(t.run(accumulate: accumulate, pool: three).map(\.bitPattern) == first)
        }
    }
}

@Test func sgemmInsidePoolTasksRunsSingleThreaded() {
    // Each task of the outer job runs its own product; scratch must not be shared.
    let pool = ThreadPool(threads: 2)
    var cases: [SGEMMCase] = []
    for (i, (transA, transB)) in transposeCombinations.enumerated() {
        cases.append(SGEMMCase(transA: transA, transB: transB, m: 40, n: 70, k: 300, pad: 0, seed: 20 + UInt64(i)))
    }
    let out = Slots(4 * 40 * 70)
    pool.run(4) { i in
        let got = cases[i].run(accumulate: false, pool: pool)
        for (j, v) in got.enumerated() { out.p[i * 2800 + j] = Int(v.bitPattern) }
    }
    let single = ThreadPool(threads: 1)
    for i in 0..<4 {
        let expected = cases[i].run(accumulate: false, pool: single).map { Int($0.bitPattern) }
        #expect(Array(UnsafeBufferPointer(start: out.p + i * 2800, count: 2800)) == expected)
    }
}
