// Prefill-time matrix products: y[t,n] = Σ_k x[t,k]·W[n,k] for many tokens.
// Compute-bound; GotoBLAS loop order. A task owns a group of output features.
// For each K block it converts the group's weights once into an f32 scratch laid
// out per 32-row panel, k-major ([panel][k][32], L2-resident), then sweeps all
// tokens: a 6×kc slice of x (L1-resident) is reused against every panel of the
// group with a 6×32 register tile (12 zmm accumulators; per k: 2 vector loads,
// 6 broadcasts, 12 FMAs).

let gemmNR = 32        // weight rows per panel (two SIMD16 columns of the tile)
let gemmMR = 6         // activation rows per register tile
let gemmKC = 256       // K block: a 6-row x slice (6 KiB) stays in L1
let gemmNC = 256       // weight rows per group: packed block 256·256·4 = 256 KiB in L2

/// Rows n0 ..< n0+nr (nr ≤ 32), columns k0 ..< k0+kc of a matrix into
/// wp[k·32 + j] (k < kc, j < 32), rows j ≥ nr zero. k0 is a multiple of 32.
@inline(__always)
func packPanel<D: LaneDecoder>(_: D.Type, w: UnsafeRawPointer, rowBytes: Int, k0: Int, kc: Int,
                               n0: Int, nr: Int, into wp: UnsafeMutablePointer<Float>) {
    for j in 0..<gemmNR {
        if j < nr {
            let row = w + (n0 + j) * rowBytes + k0 * D.elementBytes
            var k = 0
            // Decode 32 at a time in registers, then scatter with scalar stores.
            if D.evenOdd {
                while k + 32 <= kc {
                    let (e, o) = D.decode32(row + k * D.elementBytes)
                    let base = wp + k * gemmNR + j
                    for i in 0..<16 {
                        base[(2 * i) * gemmNR] = e[i]
                        base[(2 * i + 1) * gemmNR] = o[i]
                    }
                    k += 32
                }
            }
            while k < kc { wp[k * gemmNR + j] = D.element(row, k); k += 1 }
        } else {
            for k in 0..<kc { wp[k * gemmNR + j] = 0 }
        }
    }
}

/// c[i, 0..<32] (+)= Σ_{k<kc} x_i[k]·wp[k·32 + 0..<32] for i < 6.
/// x: row 0 of the tile, rows `ldx` floats apart; rows ≥ mr alias row mr-1 (their
/// results are computed and dropped by the caller). c rows `ldc` floats apart.
@inline(__always)
func microKernel6x32(x: UnsafePointer<Float>, ldx: Int, mr: Int, wp: UnsafePointer<Float>, kc: Int,
                     c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
    let x0 = x
    let x1 = x + min(1, mr - 1) * ldx, x2 = x + min(2, mr - 1) * ldx
    let x3 = x + min(3, mr - 1) * ldx, x4 = x + min(4, mr - 1) * ldx
    let x5 = x + min(5, mr - 1) * ldx
    var c00 = SIMD16<Float>(), c01 = SIMD16<Float>()
    var c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
    var c20 = SIMD16<Float>(), c21 = SIMD16<Float>()
    var c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
    var c40 = SIMD16<Float>(), c41 = SIMD16<Float>()
    var c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
    let b = UnsafeRawPointer(wp)
    for k in 0..<kc {
        let w0 = b.loadUnaligned(fromByteOffset: k &* 128, as: SIMD16<Float>.self)
        let w1 = b.loadUnaligned(fromByteOffset: k &* 128 &+ 64, as: SIMD16<Float>.self)
        var a = SIMD16<Float>(repeating: x0[k])
        c00 = c00.addingProduct(a, w0); c01 = c01.addingProduct(a, w1)
        a = SIMD16<Float>(repeating: x1[k])
        c10 = c10.addingProduct(a, w0); c11 = c11.addingProduct(a, w1)
        a = SIMD16<Float>(repeating: x2[k])
        c20 = c20.addingProduct(a, w0); c21 = c21.addingProduct(a, w1)
        a = SIMD16<Float>(repeating: x3[k])
        c30 = c30.addingProduct(a, w0); c31 = c31.addingProduct(a, w1)
        a = SIMD16<Float>(repeating: x4[k])
        c40 = c40.addingProduct(a, w0); c41 = c41.addingProduct(a, w1)
        a = SIMD16<Float>(repeating: x5[k])
        c50 = c50.addingProduct(a, w0); c51 = c51.addingProduct(a, w1)
    }
    @inline(__always) func put(_ row: Int, _ v0: SIMD16<Float>, _ v1: SIMD16<Float>) {
        let p = UnsafeMutableRawPointer(c + row * ldc)
        if accumulate {
            p.storeBytes(of: v0 + p.loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
            p.storeBytes(of: v1 + p.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self),
                         toByteOffset: 64, as: SIMD16<Float>.self)
        } else {
            p.storeBytes(of: v0, as: SIMD16<Float>.self)
            p.storeBytes(of: v1, toByteOffset: 64, as: SIMD16<Float>.self)
        }
    }
    put(0, c00, c01); put(1, c10, c11); put(2, c20, c21)
    put(3, c30, c31); put(4, c40, c41); put(5, c50, c51)
}

/// Tokens t0 ..< t1 against weight rows g0 ..< g0+gn (one group), all of K.
/// x: [rows, cols], y: [rows, n]; wp: gn rounded up to 32 × kc floats; tile: 6·32 floats.
@inline(__always)
func gemmGroup<D: LaneDecoder>(_ d: D.Type, x: UnsafePointer<Float>, cols: Int, t0: Int, t1: Int,
                               w: UnsafeRawPointer, rowBytes: Int, g0: Int, gn: Int,
                               y: UnsafeMutablePointer<Float>, n: Int,
                               wp: UnsafeMutablePointer<Float>, tile: UnsafeMutablePointer<Float>) {
    let panels = (gn + gemmNR - 1) / gemmNR
    var kb = 0
    while kb < cols {
        let kc = min(gemmKC, cols - kb)
        let panelFloats = kc * gemmNR
        for p in 0..<panels {
            packPanel(d, w: w, rowBytes: rowBytes, k0: kb, kc: kc, n0: g0 + p * gemmNR,
                      nr: min(gemmNR, gn - p * gemmNR), into: wp + p * panelFloats)
        }
        var t = t0
        while t < t1 {
            let mr = min(gemmMR, t1 - t)
            let xt = x + t * cols + kb
            for p in 0..<panels {
                let n0 = g0 + p * gemmNR, nr = min(gemmNR, gn - p * gemmNR)
                let wk = UnsafePointer(wp + p * panelFloats)
                if mr == gemmMR && nr == gemmNR {
                    microKernel6x32(x: xt, ldx: cols, mr: mr, wp: wk, kc: kc,
                                    c: y + t * n + n0, ldc: n, accumulate: kb > 0)
                } else {
                    microKernel6x32(x: xt, ldx: cols, mr: mr, wp: wk, kc: kc,
                                    c: tile, ldc: gemmNR, accumulate: false)
                    for i in 0..<mr {
                        let dst = y + (t + i) * n + n0, src = tile + i * gemmNR
                        if kb > 0 {
                            for j in 0..<nr { dst[j] += src[j] }
                        } else {
                            for j in 0..<nr { dst[j] = src[j] }
                        }
                    }
                }
            }
            t += gemmMR
        }
        kb += gemmKC
    }
}

/// x: [rows, w.cols] against the whole matrix, y: [rows, w.rows].
/// Work is split over groups of output features (at least two per thread so a
/// descheduled thread does not stall the call); when there are fewer panels
/// than that, also over blocks of tokens.
@inline(__always)
func gemm<D: LaneDecoder>(_ d: D.Type, _ x: UnsafePointer<Float>, rows: Int, _ w: WeightMatrix,
                          _ y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
    let cols = w.cols, n = w.rows
    let rowBytes = cols * D.elementBytes
    let panels = (n + gemmNR - 1) / gemmNR
    let threads = pool.threads
    let groups = min(panels, max(threads * 2, (panels * gemmNR + gemmNC - 1) / gemmNC))
    let groupPanels = (panels + groups - 1) / groups
    let groupRows = groupPanels * gemmNR
    let groupTasks = (n + groupRows - 1) / groupRows
    var tSplit = 1
    if groupTasks < threads * 2 {
        tSplit = min((rows + gemmMR - 1) / gemmMR, (threads * 2 + groupTasks - 1) / groupTasks)
    }
    var tChunk = (rows + tSplit - 1) / tSplit
    tChunk = (tChunk + gemmMR - 1) / gemmMR * gemmMR
    tSplit = (rows + tChunk - 1) / tChunk
    let wd = w.data
    let packFloats = groupRows * min(gemmKC, cols)
    pool.runWorkers(groupTasks * tSplit) { task, worker in
        let g = task / tSplit, ts = task % tSplit
        let t0 = ts * tChunk, t1 = min(rows, t0 + tChunk)
        let scratch = pool.scratch(worker: worker, bytes: (packFloats + gemmMR * gemmNR) * 4)
            .assumingMemoryBound(to: Float.self)
        let g0 = g * groupRows
        gemmGroup(d, x: x, cols: cols, t0: t0, t1: t1, w: wd, rowBytes: rowBytes, g0: g0,
                  gn: min(groupRows, n - g0), y: y, n: n, wp: scratch, tile: scratch + packFloats)
    }
}
