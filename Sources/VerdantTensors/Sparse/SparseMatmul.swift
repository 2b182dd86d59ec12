#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// matmul for the sparse 1×2 formats. One token (decode): the sparse GEMV below,
/// which reads only the masks, scales and kept tiles. Several tokens (prefill): the
/// matrix is expanded once into dense scratch (bf16, or f32 for the int8 tiles) and
/// multiplied by the dense GEMM, so prefill costs one expansion more than dense,
/// not a weight pass per token.
func sparseMatmul(_ x: UnsafePointer<Float>, rows: Int, _ w: WeightMatrix, _ y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
    if rows < gemmMinRows {
        for t in 0..<rows { sparseGEMV(x + t * w.cols, w, y + t * w.rows, pool: pool) }
        return
    }
    if w.format == .q8Sparse1x2 {
        let dense = UnsafeMutableRawPointer.allocate(byteCount: w.rows * w.cols * 4, alignment: 64)
        defer { dense.deallocate() }
        let chunk = 64
        pool.run((w.rows + chunk - 1) / chunk) { t in
            for r in (t * chunk)..<min(w.rows, (t + 1) * chunk) {
                w.copyRow(r, into: (dense + r * w.cols * 4).assumingMemoryBound(to: Float.self))
            }
        }
        let d = WeightMatrix(format: .f32, rows: w.rows, cols: w.cols, data: UnsafeRawPointer(dense), owner: nil)
        matmulDispatch(F32Lanes.self, x, rows: rows, d, y, pool: pool)
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
    let q8 = w.format == .q8Sparse1x2
    pool.run(tasks) { t in
        let r0 = t * chunk
        if q8 {
            sparseGEMVRowsQ8(UnsafePointer(xk), w, y, rows: r0, min(n, r0 + chunk))
        } else {
            sparseGEMVRows(UnsafePointer(xk), w, y, rows: r0, min(n, r0 + chunk))
        }
    }
}

@inline(__always)
func sparseGEMVRowsQ8(_ xk: UnsafePointer<Float>, _ w: WeightMatrix, _ y: UnsafeMutablePointer<Float>, rows a: Int, _ b: Int) {
    #if arch(x86_64)
    let data = w.data, cols = w.cols
    let mOff = SparsePairs.masksOffset(rows: w.rows), sOff = SparsePairs.scalesOffset(rows: w.rows, cols: cols)
    let tOff = SparsePairs.tilesOffset(rows: w.rows, cols: cols, .q8)
    let mpr = SparsePairs.masksPerRow(cols: cols)
    let xr = UnsafeRawPointer(xk)
    for r in a..<b {
        var n = SparsePairs.rowStart(data, r)
        var acc = _mm512_setzero_ps()
        let masks = data + mOff + 2 * r * mpr, scales = data + sOff + 2 * r * mpr
        for k in 0..<mpr {
            let mask = masks.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self)
            let count = mask.nonzeroBitCount
            // The window's packed int8 pairs (a masked load: never past the last tile),
            // one per 32-bit lane, then vpexpandd puts them at their tiles' lanes:
            // 16-bit vpexpandw would need AVX512-VBMI2, which Cascade Lake lacks.
            let packed = _mm256_maskz_loadu_epi16(__mmask16(truncatingIfNeeded: (1 << count) &- 1), data + tOff + 2 * n)
            let t = _mm512_maskz_expand_epi32(__mmask16(mask), _mm512_cvtepu16_epi32(packed))
            n &+= count
            let even = _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(t, 24), 24))
            let odd = _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(t, 16), 24))
            let xe = unsafeBitCast(xr.loadUnaligned(fromByteOffset: k &* 128, as: SIMD16<Float>.self), to: __m512.self)
            let xo = unsafeBitCast(xr.loadUnaligned(fromByteOffset: k &* 128 &+ 64, as: SIMD16<Float>.self), to: __m512.self)
            let window = _mm512_fmadd_ps(odd, xo, _mm512_mul_ps(even, xe))
            let d = f16ToFloat(scales.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self))
            acc = _mm512_fmadd_ps(window, _mm512_set1_ps(d), acc)
        }
        y[r] = _mm512_reduce_add_ps(acc)
    }
    #else
    sparseGEMVRowsReference(xk, w, y, rows: a, b)
    #endif
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
    guard let v = w.format.sparsePairs else { return }
    let data = w.data, cols = w.cols
    let mOff = SparsePairs.masksOffset(rows: w.rows)
    let mpr = SparsePairs.masksPerRow(cols: cols)
    for r in a..<b {
        var n = SparsePairs.rowStart(data, r)
        var s: Float = 0
        for k in 0..<mpr {
            let mask = data.loadUnaligned(fromByteOffset: mOff + 2 * (r * mpr + k), as: UInt16.self)
            for bit in 0..<16 where mask & (1 << bit) != 0 {
                let (x0, x1) = SparsePairs.tile(data, rows: w.rows, cols: cols, row: r, window: k, index: n, v)
                s += x0 * xk[32 * k + bit]
                s += x1 * xk[32 * k + 16 + bit]
                n += 1
            }
        }
        y[r] = s
    }
}
