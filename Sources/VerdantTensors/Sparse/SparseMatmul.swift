#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// matmul for `bf16_sparse1x2` weights. One token (decode): the sparse GEMV below,
/// which reads only the masks and kept tiles. Several tokens (prefill): the matrix
/// is expanded once into dense bf16 scratch and multiplied by the dense GEMM, so
/// prefill costs one expansion more than dense bf16, not a weight pass per token.
func sparseMatmul(_ x: UnsafePointer<Float>, rows: Int, _ w: WeightMatrix, _ y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
    if rows < gemmMinRows {
        for t in 0..<rows { sparseGEMV(x + t * w.cols, w, y + t * w.rows, pool: pool) }
        return
    }
    let dense = UnsafeMutableRawPointer.allocate(byteCount: w.rows * w.cols * 2, alignment: 64)
    defer { dense.deallocate() }
    let chunk = 64
    pool.run((w.rows + chunk - 1) / chunk) { t in
        for r in (t * chunk)..<min(w.rows, (t + 1) * chunk) {
            sparseExpandRowBF16(w, row: r, into: (dense + r * w.cols * 2).assumingMemoryBound(to: UInt16.self))
        }
    }
    let d = WeightMatrix(format: .bf16, rows: w.rows, cols: w.cols, data: UnsafeRawPointer(dense), owner: nil)
    matmulDispatch(BF16Lanes.self, x, rows: rows, d, y, pool: pool)
}

/// Row r as dense bf16 bits (removed tiles = +0).
@inline(__always)
func sparseExpandRowBF16(_ w: WeightMatrix, row r: Int, into out: UnsafeMutablePointer<UInt16>) {
    let data = w.data, cols = w.cols
    let mOff = SparsePairs.masksOffset(rows: w.rows), tOff = SparsePairs.tilesOffset(rows: w.rows, cols: cols)
    let mpr = SparsePairs.masksPerRow(cols: cols)
    var n = SparsePairs.rowStart(data, r)
    let o = UnsafeMutableRawPointer(out)
    for k in 0..<mpr {
        var mask = data.loadUnaligned(fromByteOffset: mOff + 2 * (r * mpr + k), as: UInt16.self)
        for b in 0..<16 {
            var t: UInt32 = 0
            if mask & 1 != 0 {
                t = data.loadUnaligned(fromByteOffset: tOff + 4 * n, as: UInt32.self)
                n &+= 1
            }
            o.storeBytes(of: t, toByteOffset: 4 * (16 * k + b), as: UInt32.self)
            mask >>= 1
        }
    }
}

/// y[n] = Σ_k x[k]·W[n,k] for one token.
func sparseGEMV(_ x: UnsafePointer<Float>, _ w: WeightMatrix, _ y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
    let cols = w.cols, n = w.rows
    // The dense bf16 GEMV's activation order: per 32 columns, the 16 even then the 16 odd
    // ones, matching the low / high halves of 16 expanded tiles.
    let xk = pool.sharedScratch(bytes: cols * 4).assumingMemoryBound(to: Float.self)
    permuteEvenOdd(x, cols: cols, into: xk)
    let chunk = max(16, (n + pool.threads * 4 - 1) / (pool.threads * 4))
    let tasks = (n + chunk - 1) / chunk
    pool.run(tasks) { t in
        let r0 = t * chunk
        sparseGEMVRows(UnsafePointer(xk), w, y, rows: r0, min(n, r0 + chunk))
    }
}

@inline(__always)
func sparseGEMVRows(_ xk: UnsafePointer<Float>, _ w: WeightMatrix, _ y: UnsafeMutablePointer<Float>, rows a: Int, _ b: Int) {
    #if arch(x86_64)
    let data = w.data, cols = w.cols
    let mOff = SparsePairs.masksOffset(rows: w.rows), tOff = SparsePairs.tilesOffset(rows: w.rows, cols: cols)
    let mpr = SparsePairs.masksPerRow(cols: cols)
    let xr = UnsafeRawPointer(xk)
    let highMask = _mm512_set1_epi32(Int32(bitPattern: 0xFFFF_0000))
    for r in a..<b {
        var n = SparsePairs.rowStart(data, r)
        var ae = _mm512_setzero_ps(), ao = _mm512_setzero_ps()
        let masks = data + mOff + 2 * r * mpr
        for k in 0..<mpr {
            let mask = masks.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self)
            // vpexpandd: the popcount(mask) packed tiles go to the lanes of the set bits, zeros elsewhere.
            let t = _mm512_maskz_expandloadu_epi32(__mmask16(mask), data + tOff + 4 * n)
            n &+= Int(mask.nonzeroBitCount)
            let even = _mm512_castsi512_ps(_mm512_slli_epi32(t, 16))
            let odd = _mm512_castsi512_ps(_mm512_and_si512(t, highMask))
            let xe = unsafeBitCast(xr.loadUnaligned(fromByteOffset: k &* 128, as: SIMD16<Float>.self), to: __m512.self)
            let xo = unsafeBitCast(xr.loadUnaligned(fromByteOffset: k &* 128 &+ 64, as: SIMD16<Float>.self), to: __m512.self)
            ae = _mm512_fmadd_ps(even, xe, ae)
            ao = _mm512_fmadd_ps(odd, xo, ao)
        }
        y[r] = _mm512_reduce_add_ps(_mm512_add_ps(ae, ao))
    }
    #else
    sparseGEMVRowsReference(xk, w, y, rows: a, b)
    #endif
}

/// Scalar reference of `sparseGEMVRows` (same permuted activations): walks each
/// mask bit by bit. Tests bound the kernel's difference from it.
func sparseGEMVRowsReference(_ xk: UnsafePointer<Float>, _ w: WeightMatrix, _ y: UnsafeMutablePointer<Float>, rows a: Int, _ b: Int) {
    let data = w.data, cols = w.cols
    let mOff = SparsePairs.masksOffset(rows: w.rows), tOff = SparsePairs.tilesOffset(rows: w.rows, cols: cols)
    let mpr = SparsePairs.masksPerRow(cols: cols)
    for r in a..<b {
        var n = SparsePairs.rowStart(data, r)
        var s: Float = 0
        for k in 0..<mpr {
            let mask = data.loadUnaligned(fromByteOffset: mOff + 2 * (r * mpr + k), as: UInt16.self)
            for bit in 0..<16 where mask & (1 << bit) != 0 {
                let t = data.loadUnaligned(fromByteOffset: tOff + 4 * n, as: UInt32.self)
                s += bf16ToFloat(UInt16(truncatingIfNeeded: t)) * xk[32 * k + bit]
                s += bf16ToFloat(UInt16(truncatingIfNeeded: t >> 16)) * xk[32 * k + 16 + bit]
                n += 1
            }
        }
        y[r] = s
    }
}
