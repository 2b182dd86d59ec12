// Decode-time matrix-vector products: y[n] = Σ_k x[k]·W[n,k] for one token.
// Memory-bound: every weight byte is read exactly once, converted in registers,
// and four rows are processed together so each load of x feeds four rows.

/// y[n0 ..< n0+count] for one activation row.
/// xk: the activation row in the order `D.decode32` produces (even/odd permuted
/// per 32-block for 16-bit formats, natural for f32); tail elements unpermuted.
/// w: start of row 0 of the matrix; rowBytes = cols · elementBytes.
@inline(__always)
func gemvRows<D: LaneDecoder>(_: D.Type, xk: UnsafePointer<Float>, cols: Int,
                              w: UnsafeRawPointer, rowBytes: Int,
                              y: UnsafeMutablePointer<Float>, n0: Int, count: Int) {
    let blocks = cols / 32
    let blockBytes = 32 * D.elementBytes
    let tail = blocks * 32
    let xr = UnsafeRawPointer(xk)
    var n = n0
    let end = n0 + count
    // Four rows per pass: 8 independent FMA chains cover the FMA latency and
    // amortize the two x loads.
    while n + 4 <= end {
        let r0 = w + n * rowBytes, r1 = r0 + rowBytes, r2 = r1 + rowBytes, r3 = r2 + rowBytes
        var a0 = SIMD16<Float>(), b0 = SIMD16<Float>()
        var a1 = SIMD16<Float>(), b1 = SIMD16<Float>()
        var a2 = SIMD16<Float>(), b2 = SIMD16<Float>()
        var a3 = SIMD16<Float>(), b3 = SIMD16<Float>()
        var off = 0
        for b in 0..<blocks {
            let xe = xr.loadUnaligned(fromByteOffset: b &* 128, as: SIMD16<Float>.self)
            let xo = xr.loadUnaligned(fromByteOffset: b &* 128 &+ 64, as: SIMD16<Float>.self)
            let (e0, o0) = D.decode32(r0 + off)
            a0 = a0.addingProduct(e0, xe); b0 = b0.addingProduct(o0, xo)
            let (e1, o1) = D.decode32(r1 + off)
            a1 = a1.addingProduct(e1, xe); b1 = b1.addingProduct(o1, xo)
            let (e2, o2) = D.decode32(r2 + off)
            a2 = a2.addingProduct(e2, xe); b2 = b2.addingProduct(o2, xo)
            let (e3, o3) = D.decode32(r3 + off)
            a3 = a3.addingProduct(e3, xe); b3 = b3.addingProduct(o3, xo)
            off &+= blockBytes
        }
        var s0 = laneSum(a0 + b0), s1 = laneSum(a1 + b1)
        var s2 = laneSum(a2 + b2), s3 = laneSum(a3 + b3)
        for c in tail..<cols {
            let xv = xk[c]
            s0 += xv * D.element(r0, c); s1 += xv * D.element(r1, c)
            s2 += xv * D.element(r2, c); s3 += xv * D.element(r3, c)
        }
        y[n] = s0; y[n + 1] = s1; y[n + 2] = s2; y[n + 3] = s3
        n += 4
    }
    while n < end {
        let r0 = w + n * rowBytes
        var a0 = SIMD16<Float>(), b0 = SIMD16<Float>()
        var off = 0
        for b in 0..<blocks {
            let xe = xr.loadUnaligned(fromByteOffset: b &* 128, as: SIMD16<Float>.self)
            let xo = xr.loadUnaligned(fromByteOffset: b &* 128 &+ 64, as: SIMD16<Float>.self)
            let (e0, o0) = D.decode32(r0 + off)
            a0 = a0.addingProduct(e0, xe); b0 = b0.addingProduct(o0, xo)
            off &+= blockBytes
        }
        var s0 = laneSum(a0 + b0)
        for c in tail..<cols { s0 += xk[c] * D.element(r0, c) }
        y[n] = s0
        n += 1
    }
}

/// One activation row against the whole matrix, split over the pool by output rows.
/// x: [cols], y: [w.rows].
@inline(__always)
func gemv<D: LaneDecoder>(_ d: D.Type, _ x: UnsafePointer<Float>, _ w: WeightMatrix,
                          _ y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
    let cols = w.cols, n = w.rows
    let rowBytes = cols * D.elementBytes
    let xk: UnsafePointer<Float>
    if D.evenOdd && cols >= 32 {
        let buf = pool.sharedScratch(bytes: cols * 4).assumingMemoryBound(to: Float.self)
        permuteEvenOdd(x, cols: cols, into: buf)
        xk = UnsafePointer(buf)
    } else {
        xk = x
    }
    // Chunks of ≥ 64 KiB of weights (≈ 10 µs of bandwidth) so dispatch stays
    // negligible, ~4 per thread so a descheduled thread does not stall the call.
    let minRows = max(4, (65536 / max(rowBytes, 1) + 3) & ~3)
    var chunk = (n + pool.threads * 4 - 1) / (pool.threads * 4)
    chunk = max(minRows, (chunk + 3) & ~3)
    let tasks = (n + chunk - 1) / chunk
    let wd = w.data
    pool.run(tasks) { t in
        let n0 = t * chunk
        gemvRows(d, xk: xk, cols: cols, w: wd, rowBytes: rowBytes, y: y, n0: n0, count: min(chunk, n - n0))
    }
}
