// Training-time f32 GEMM: GotoBLAS/BLIS structure with the operand roles chosen
// for a row-major broadcast×vector register tile.
//
// Register tile: 12 rows of C × 32 columns (two SIMD16) = 24 zmm accumulators.
// Per k step the kernel loads 2 vectors of packed op(B), broadcasts 12 scalars of
// packed op(A) and issues 24 FMAs: 12 cycles on Cascade Lake's two FMA ports
// against 14 loads on its two load ports, so FMA issue, not loads, is the limit;
// 24 independent chains also cover the 4-cycle FMA latency on both ports (8 needed).
// 24 + 2 operands + 2 broadcast registers stay below the 32 zmm registers, so
// nothing spills (checked in the disassembly); 14×32 would leave no slack for the
// compiler's scheduling of broadcasts.
//
// Cache blocking (Cascade Lake per core: 32 KiB L1d, 1 MiB L2; ~36 MiB shared L3):
// - kc = 384: the kernel's op(A) micro-panel is 12·384·4 = 18 KiB and stays in L1
//   while it meets every op(B) micro-panel of the current block. 384 is the hidden
//   size of the models trained here, so their forward products (k = hidden) run in
//   one k block and write C once; at kc = 256 the second block read C back and
//   wrote it again (lm_head's forward C is 128 MiB). Measured against 256 by CPU
//   time, interleaved, single thread: +2% geometric mean, +4–7% on forward products.
// - nc = 512: the packed op(B) block is 384·512·4 = 768 KiB, three quarters of L2,
//   so the 32-wide micro-panels (48 KiB each) stream from L2 at 128 B per 24 FMAs,
//   well below L2 bandwidth.
// - mc ≤ 2304: the packed op(A) block is at most 2304·384·4 = 3.4 MiB, L3-resident
//   (two threads use < 8 MiB of the 36 MiB), packed once per kc step. Each packed
//   op(B) block is reused by up to 192 row tiles, so a 2048-token batch packs
//   op(B) once per task: that matters for lm_head (W is 25 MiB, DRAM-resident).
//
// Transposes live entirely in packing: op(B) micro-panels are k-major [kc][32]
// whatever the storage. The kernel only broadcasts scalars of op(A), so it takes
// op(A) either k-major [kc][12] (A stored [k, m]: a contiguous 12-float copy per k)
// or row-major [12][kc] (A stored [m, k]: 12 contiguous row copies) through
// compile-time strides; no scalar transpose of A is needed, which for narrow
// outputs (n = 128) would otherwise cost a quarter of the FMA time. One kernel
// source serves all four combinations.
//
// Determinism: every element of C is produced by exactly one task, summing over k
// in kc blocks in increasing order with the same kernel, independent of which
// thread runs the task or how C is partitioned. Results are therefore bitwise
// identical across runs and across thread counts.

let sgemmMR = 12
let sgemmNR = 32
let sgemmKC = 384
let sgemmNC = 512    // multiple of sgemmNR
let sgemmMC = 2304   // multiple of sgemmMR

/// Row-major single-precision GEMM for training (forward x·Wᵀ, backward dY·W and dYᵀ·X):
///
///     C[m, n] = op(A)[m, k] · op(B)[k, n]   (+ C[m, n] when `accumulate`)
///
/// op(A) = A stored [m, k] at row stride lda, or Aᵀ when `transA` (A stored [k, m]).
/// op(B) = B stored [k, n] at row stride ldb, or Bᵀ when `transB` (B stored [n, k]).
/// C is [m, n] at row stride ldc and must not overlap A or B.
///
/// Called from inside a task of `pool` it runs single-threaded.
public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                  c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, pool: ThreadPool) {
    if m <= 0 || n <= 0 { return }
    if k <= 0 {
        if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        return
    }
    let rowTiles = (m + sgemmMR - 1) / sgemmMR
    let colTiles = (n + sgemmNR - 1) / sgemmNR

    // Tasks own disjoint blocks of C. Splitting the rows makes every task pack all
    // of op(B); splitting the columns makes every task pack all of op(A); split the
    // longer side so the duplicated packing is the smaller operand. Twice as many
    // tasks as threads lets the dynamic claiming absorb a descheduled thread on a
    // shared machine; tiny products are not worth waking the workers for.
    let nested = pool.isRunning
    let flops = Double(m) * Double(n) * Double(k)   // multiply-adds
    var tasks = 1
    var splitRows = true
    if !nested && pool.threads > 1 && flops >= 262_144 {
        splitRows = rowTiles * sgemmMR >= colTiles * sgemmNR
        let units = splitRows ? rowTiles : colTiles
        // Each extra task repacks the other operand; only worth it when a task
        // still reuses that packing over ≥ 256 rows (or columns).
        let tile = splitRows ? sgemmMR : sgemmNR
        tasks = min(units, units / (pool.threads * 2) * tile >= 256 ? pool.threads * 2 : pool.threads)
    }
    // Packed op(B) is shared between tasks up to this size (see below); beyond
    // it each task packs its own, so use only one task per thread.
    let nPad = colTiles * sgemmNR
    let shareB = splitRows && k * nPad * 4 <= (32 << 20)
    if tasks > 1 && splitRows && !shareB { tasks = min(tasks, pool.threads) }
    let unitsPerTask = ((splitRows ? rowTiles : colTiles) + tasks - 1) / tasks
    tasks = ((splitRows ? rowTiles : colTiles) + unitsPerTask - 1) / unitsPerTask

    // Scratch per task: A block [mcMax][kcMax] as 12-row micro-panels (rows padded
    // to sgemmKC in the row-major layout), B block [kcMax][ncMax] as 32-column
    // micro-panels, one 12×32 edge tile.
    let taskRows = splitRows ? min(m, unitsPerTask * sgemmMR) : m
    let taskCols = splitRows ? n : min(n, unitsPerTask * sgemmNR)
    let kcMax = min(sgemmKC, k)
    let mcMax = min(sgemmMC, (taskRows + sgemmMR - 1) / sgemmMR * sgemmMR)
    let ncMax = min(sgemmNC, (taskCols + sgemmNR - 1) / sgemmNR * sgemmNR)
    let aFloats = mcMax * (transA ? kcMax : sgemmKC), bFloats = kcMax * ncMax
    let scratchBytes = (aFloats + bFloats + sgemmMR * sgemmNR) * 4

    // When the tasks split the rows, every task needs all of op(B): pack it once,
    // in parallel, into the pool's shared scratch instead of once per task.
    // Layout [k blocks][column panels][kc][32]: the panel of k block p0 and
    // column j0 starts at p0·nPad + j0·kc. Up to 32 MiB, which covers lm_head's
    // W (16384 × 384, 24 MiB) in dX = dY·W: packed per task it would be read
    // from DRAM and repacked once per task. Beyond the cap, only one task per
    // thread, so op(B) is packed as few times as possible.
    var sharedB: UnsafeMutablePointer<Float>? = nil
    if tasks > 1 && shareB {
        let shared = pool.sharedScratch(bytes: k * nPad * 4).assumingMemoryBound(to: Float.self)
        // Units of 8 panels (256 columns, 1 KiB per source row) per k block.
        let kBlocks = (k + sgemmKC - 1) / sgemmKC
        let groups = (colTiles + 7) / 8
        let units = kBlocks * groups
        let packTasks = min(units, pool.threads * 4)
        pool.run(packTasks) { t in
            for u in (t * units / packTasks)..<((t + 1) * units / packTasks) {
                let p0 = (u / groups) * sgemmKC, j0 = (u % groups) * 8 * sgemmNR
                let kc = min(sgemmKC, k - p0)
                sgemmPackBBlock(transB: transB, b: b, ldb: ldb, j0: j0, cols: min(8 * sgemmNR, n - j0), p0: p0,
                                kc: kc, into: shared + p0 * nPad + j0 * kc)
            }
        }
        sharedB = shared
    }
    let prepacked = sharedB.map { UnsafePointer($0) }

    let body = { (task: Int, scratch: UnsafeMutablePointer<Float>) in
        var r0 = 0, r1 = m, c0 = 0, c1 = n
        if splitRows {
            r0 = task * unitsPerTask * sgemmMR; r1 = min(m, r0 + unitsPerTask * sgemmMR)
        } else {
            c0 = task * unitsPerTask * sgemmNR; c1 = min(n, c0 + unitsPerTask * sgemmNR)
        }
        sgemmBlock(transA: transA, transB: transB, r0: r0, r1: r1, c0: c0, c1: c1, k: k,
                   a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate,
                   ap: scratch, bp: scratch + aFloats, tile: scratch + aFloats + bFloats,
                   prepackedB: prepacked, nPad: nPad)
    }
    if nested {
        // The pool's scratch belongs to the outer job.
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchBytes, alignment: 64)
        defer { scratch.deallocate() }
        body(0, scratch.assumingMemoryBound(to: Float.self))
    } else if tasks == 1 {
        body(0, pool.scratch(worker: 0, bytes: scratchBytes).assumingMemoryBound(to: Float.self))
    } else {
        pool.runWorkers(tasks) { task, worker in
            body(task, pool.scratch(worker: worker, bytes: scratchBytes).assumingMemoryBound(to: Float.self))
        }
    }
}

/// C[r0..<r1, c0..<c1] of the product, all of k. ap: [sgemmMC][sgemmKC] at most,
/// bp: [sgemmKC][sgemmNC] at most, tile: [12][32].
@inline(__always)
func sgemmBlock(transA: Bool, transB: Bool, r0: Int, r1: Int, c0: Int, c1: Int, k: Int,
                a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
                ap: UnsafeMutablePointer<Float>, bp bpPrivate: UnsafeMutablePointer<Float>,
                tile: UnsafeMutablePointer<Float>, prepackedB: UnsafePointer<Float>?, nPad: Int) {
    // Equal row blocks of at most sgemmMC rows: 2048 rows make one block rather
    // than a full one plus a sliver that would repack op(B) for little work.
    let blocks = (r1 - r0 + sgemmMC - 1) / sgemmMC
    let mcStep = ((r1 - r0 + blocks - 1) / blocks + sgemmMR - 1) / sgemmMR * sgemmMR
    var ic = r0
    while ic < r1 {
        let mc = min(mcStep, r1 - ic)
        let rowPanels = (mc + sgemmMR - 1) / sgemmMR
        var pc = 0
        while pc < k {
            let kc = min(sgemmKC, k - pc)
            // Later k blocks add to what the first one wrote.
            let add = accumulate || pc > 0
            let aPanel = sgemmMR * (transA ? kc : sgemmKC)
            sgemmPackABlock(transA: transA, a: a, lda: lda, i0: ic, rows: mc, p0: pc, kc: kc, into: ap)
            var jc = c0
            while jc < c1 {
                let nc = min(sgemmNC, c1 - jc)
                let colPanels = (nc + sgemmNR - 1) / sgemmNR
                let bp: UnsafePointer<Float>
                if let shared = prepackedB {
                    bp = shared + pc * nPad + jc * kc
                } else {
                    sgemmPackBBlock(transB: transB, b: b, ldb: ldb, j0: jc, cols: nc, p0: pc, kc: kc, into: bpPrivate)
                    bp = UnsafePointer(bpPrivate)
                }
                for r in 0..<rowPanels {
                    let i0 = ic + r * sgemmMR
                    let mr = min(sgemmMR, r1 - i0)
                    let apr = UnsafePointer(ap + r * aPanel)
                    for q in 0..<colPanels {
                        let j0 = jc + q * sgemmNR
                        let nr = min(sgemmNR, c1 - j0)
                        let bpq = bp + q * sgemmNR * kc
                        if mr == sgemmMR && nr == sgemmNR {
                            if transA {
                                sgemmKernel12x32(ap: apr, rowStride: 1, kStride: sgemmMR, bp: bpq, kc: kc,
                                                 c: c + i0 * ldc + j0, ldc: ldc, add: add)
                            } else {
                                sgemmKernel12x32(ap: apr, rowStride: sgemmKC, kStride: 1, bp: bpq, kc: kc,
                                                 c: c + i0 * ldc + j0, ldc: ldc, add: add)
                            }
                        } else {
                            // Padded rows/columns of the packed panels are zero; only
                            // the mr×nr corner is written back.
                            if transA {
                                sgemmKernel12x32(ap: apr, rowStride: 1, kStride: sgemmMR, bp: bpq, kc: kc,
                                                 c: tile, ldc: sgemmNR, add: false)
                            } else {
                                sgemmKernel12x32(ap: apr, rowStride: sgemmKC, kStride: 1, bp: bpq, kc: kc,
                                                 c: tile, ldc: sgemmNR, add: false)
                            }
                            for i in 0..<mr {
                                let dst = c + (i0 + i) * ldc + j0, src = tile + i * sgemmNR
                                if add {
                                    for j in 0..<nr { dst[j] += src[j] }
                                } else {
                                    for j in 0..<nr { dst[j] = src[j] }
                                }
                            }
                        }
                    }
                }
                jc += sgemmNC
            }
            pc += sgemmKC
        }
        ic += mcStep
    }
}

/// op(A)[i0 ..< i0+rows, p0 ..< p0+kc] as consecutive 12-row micro-panels (layouts
/// of `sgemmPackA`; panels 12·kc floats apart when transA, else 12·384).
@inline(__always)
func sgemmPackABlock(transA: Bool, a: UnsafePointer<Float>, lda: Int, i0: Int, rows: Int, p0: Int, kc: Int,
                     into ap: UnsafeMutablePointer<Float>) {
    let panels = (rows + sgemmMR - 1) / sgemmMR
    if transA {
        // Storage is [k, m]: walk each source row once, front to back, so the
        // hardware prefetcher streams it; per panel the rows would be touched
        // 48 bytes at a time, 1–2 KiB apart, a latency-bound pattern.
        let full = rows / sgemmMR
        for p in 0..<kc {
            let src = a + (p0 + p) * lda + i0
            for r in 0..<full {
                let s = UnsafeRawPointer(src + r * sgemmMR)
                let d = UnsafeMutableRawPointer(ap + r * sgemmMR * kc + p * sgemmMR)
                d.storeBytes(of: s.loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
                d.storeBytes(of: s.loadUnaligned(fromByteOffset: 32, as: SIMD4<Float>.self), toByteOffset: 32,
                             as: SIMD4<Float>.self)
            }
            if full < panels {
                let mr = rows - full * sgemmMR
                let d = ap + full * sgemmMR * kc + p * sgemmMR, s = src + full * sgemmMR
                for i in 0..<sgemmMR { d[i] = i < mr ? s[i] : 0 }
            }
        }
    } else {
        for r in 0..<panels {
            sgemmPackA(transA: false, a: a, lda: lda, i0: i0 + r * sgemmMR, mr: min(sgemmMR, rows - r * sgemmMR),
                       p0: p0, kc: kc, into: ap + r * sgemmMR * sgemmKC)
        }
    }
}

/// op(B)[p0 ..< p0+kc, j0 ..< j0+cols] as consecutive 32-column micro-panels
/// (layout of `sgemmPackB`, panels 32·kc floats apart).
@inline(__always)
func sgemmPackBBlock(transB: Bool, b: UnsafePointer<Float>, ldb: Int, j0: Int, cols: Int, p0: Int, kc: Int,
                     into bp: UnsafeMutablePointer<Float>) {
    let panels = (cols + sgemmNR - 1) / sgemmNR
    if !transB {
        // Storage is [k, n]: each source row is read once, front to back (see above).
        let full = cols / sgemmNR
        for p in 0..<kc {
            let src = b + (p0 + p) * ldb + j0
            for q in 0..<full {
                let s = UnsafeRawPointer(src + q * sgemmNR)
                let d = UnsafeMutableRawPointer(bp + q * sgemmNR * kc + p * sgemmNR)
                d.storeBytes(of: s.loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
                d.storeBytes(of: s.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self), toByteOffset: 64,
                             as: SIMD16<Float>.self)
            }
            if full < panels {
                let nr = cols - full * sgemmNR
                let d = bp + full * sgemmNR * kc + p * sgemmNR, s = src + full * sgemmNR
                for j in 0..<sgemmNR { d[j] = j < nr ? s[j] : 0 }
            }
        }
    } else {
        for q in 0..<panels {
            sgemmPackB(transB: true, b: b, ldb: ldb, j0: j0 + q * sgemmNR, nr: min(sgemmNR, cols - q * sgemmNR),
                       p0: p0, kc: kc, into: bp + q * sgemmNR * kc)
        }
    }
}

/// op(A)[i0 ..< i0+mr, p0 ..< p0+kc] into ap: k-major ap[p·12 + i] ([kc][12]) when
/// transA, else row-major ap[i·384 + p] ([12][384], first kc of each row used).
/// Rows i ≥ mr are zero.
@inline(__always)
func sgemmPackA(transA: Bool, a: UnsafePointer<Float>, lda: Int, i0: Int, mr: Int, p0: Int, kc: Int,
                into ap: UnsafeMutablePointer<Float>) {
    if transA {
        // Storage is [k, m]: each k step is a contiguous run of the 12 rows.
        var src = a + p0 * lda + i0
        var dst = ap
        if mr == sgemmMR {
            for _ in 0..<kc {
                UnsafeMutableRawPointer(dst).storeBytes(of: UnsafeRawPointer(src).loadUnaligned(as: SIMD8<Float>.self),
                                                        as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(dst + 8).storeBytes(of: UnsafeRawPointer(src + 8).loadUnaligned(as: SIMD4<Float>.self),
                                                            as: SIMD4<Float>.self)
                src += lda; dst += sgemmMR
            }
        } else {
            for _ in 0..<kc {
                for i in 0..<sgemmMR { dst[i] = i < mr ? src[i] : 0 }
                src += lda; dst += sgemmMR
            }
        }
    } else {
        // Storage is [m, k]: rows are copied as they are.
        for i in 0..<sgemmMR {
            if i < mr {
                (ap + i * sgemmKC).update(from: a + (i0 + i) * lda + p0, count: kc)
            } else {
                (ap + i * sgemmKC).update(repeating: 0, count: kc)
            }
        }
    }
}

/// op(B)[p0 ..< p0+kc, j0 ..< j0+nr] into bp[p·32 + j] ([kc][32]); columns j ≥ nr zero.
@inline(__always)
func sgemmPackB(transB: Bool, b: UnsafePointer<Float>, ldb: Int, j0: Int, nr: Int, p0: Int, kc: Int,
                into bp: UnsafeMutablePointer<Float>) {
    if !transB {
        // Storage is [k, n]: each k step is a contiguous run of the 32 columns.
        var src = b + p0 * ldb + j0
        var dst = UnsafeMutableRawPointer(bp)
        if nr == sgemmNR {
            for _ in 0..<kc {
                let s = UnsafeRawPointer(src)
                dst.storeBytes(of: s.loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
                dst.storeBytes(of: s.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self),
                               toByteOffset: 64, as: SIMD16<Float>.self)
                src += ldb; dst += sgemmNR * 4
            }
        } else {
            for _ in 0..<kc {
                let d = dst.assumingMemoryBound(to: Float.self)
                for j in 0..<sgemmNR { d[j] = j < nr ? src[j] : 0 }
                src += ldb; dst += sgemmNR * 4
            }
        }
    } else {
        // Storage is [n, k]: a scalar transpose. Going 16 k at a time keeps the
        // destination lines written (16 × 128 B) in L1; sweeping a whole column
        // of the 32 KiB panel at once would evict them between columns.
        var pb = 0
        while pb < kc {
            let pn = min(16, kc - pb)
            let dst = bp + pb * sgemmNR
            for j in 0..<sgemmNR {
                if j < nr {
                    let src = b + (j0 + j) * ldb + p0 + pb
                    if pn == 16 {
                        let v = UnsafeRawPointer(src).loadUnaligned(as: SIMD16<Float>.self)
                        for t in 0..<16 { dst[t &* sgemmNR &+ j] = v[t] }
                    } else {
                        for t in 0..<pn { dst[t &* sgemmNR &+ j] = src[t] }
                    }
                } else {
                    for t in 0..<pn { dst[t &* sgemmNR &+ j] = 0 }
                }
            }
            pb += 16
        }
    }
}

/// c[i, 0..<32] = Σ_{p<kc} ap[i·rowStride + p·kStride]·bp[p·32 + 0..<32]  (+ c[i, 0..<32] when add),
/// i < 12. bp: [kc][32] (64-byte aligned rows), c rows ldc floats apart. The strides
/// are literals at every call site, so the 12 broadcasts use constant offsets.
@inline(__always)
func sgemmKernel12x32(ap: UnsafePointer<Float>, rowStride: Int, kStride: Int, bp: UnsafePointer<Float>, kc: Int,
                      c: UnsafeMutablePointer<Float>, ldc: Int, add: Bool) {
    var c00 = SIMD16<Float>(), c01 = SIMD16<Float>()
    var c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
    var c20 = SIMD16<Float>(), c21 = SIMD16<Float>()
    var c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
    var c40 = SIMD16<Float>(), c41 = SIMD16<Float>()
    var c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
    var c60 = SIMD16<Float>(), c61 = SIMD16<Float>()
    var c70 = SIMD16<Float>(), c71 = SIMD16<Float>()
    var c80 = SIMD16<Float>(), c81 = SIMD16<Float>()
    var c90 = SIMD16<Float>(), c91 = SIMD16<Float>()
    var ca0 = SIMD16<Float>(), ca1 = SIMD16<Float>()
    var cb0 = SIMD16<Float>(), cb1 = SIMD16<Float>()
    var pa = ap
    var pb = UnsafeRawPointer(bp)
    // C's tile is touched only after the k loop: request its 24 lines now so that
    // they arrive (from L3 or DRAM for large C) during the ≥ 12·kc cycles of FMAs
    // instead of stalling the stores. op(B)'s micro-panel streams from L2 at two
    // lines per k step; fetching 4 steps (512 B) ahead hides that latency, which
    // the L1 prefetchers alone did not (the loop stalled on its B loads in `perf`).
    // Both measured +7% single-threaded geometric mean over the pycoder shapes.
    for row in 0..<sgemmMR {
        prefetchWrite(UnsafeRawPointer(c + row * ldc))
        prefetchWrite(UnsafeRawPointer(c + row * ldc + 16))
    }
    for _ in 0..<kc {
        prefetchRead(pb + 512)
        prefetchRead(pb + 576)
        let w0 = pb.loadUnaligned(as: SIMD16<Float>.self)
        let w1 = pb.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
        var x = SIMD16<Float>(repeating: pa[0 * rowStride])
        c00 = c00.addingProduct(x, w0); c01 = c01.addingProduct(x, w1)
        x = SIMD16<Float>(repeating: pa[1 * rowStride])
        c10 = c10.addingProduct(x, w0); c11 = c11.addingProduct(x, w1)
        x = SIMD16<Float>(repeating: pa[2 * rowStride])
        c20 = c20.addingProduct(x, w0); c21 = c21.addingProduct(x, w1)
        x = SIMD16<Float>(repeating: pa[3 * rowStride])
        c30 = c30.addingProduct(x, w0); c31 = c31.addingProduct(x, w1)
        x = SIMD16<Float>(repeating: pa[4 * rowStride])
        c40 = c40.addingProduct(x, w0); c41 = c41.addingProduct(x, w1)
        x = SIMD16<Float>(repeating: pa[5 * rowStride])
        c50 = c50.addingProduct(x, w0); c51 = c51.addingProduct(x, w1)
        x = SIMD16<Float>(repeating: pa[6 * rowStride])
        c60 = c60.addingProduct(x, w0); c61 = c61.addingProduct(x, w1)
        x = SIMD16<Float>(repeating: pa[7 * rowStride])
        c70 = c70.addingProduct(x, w0); c71 = c71.addingProduct(x, w1)
        x = SIMD16<Float>(repeating: pa[8 * rowStride])
        c80 = c80.addingProduct(x, w0); c81 = c81.addingProduct(x, w1)
        x = SIMD16<Float>(repeating: pa[9 * rowStride])
        c90 = c90.addingProduct(x, w0); c91 = c91.addingProduct(x, w1)
        x = SIMD16<Float>(repeating: pa[10 * rowStride])
        ca0 = ca0.addingProduct(x, w0); ca1 = ca1.addingProduct(x, w1)
        x = SIMD16<Float>(repeating: pa[11 * rowStride])
        cb0 = cb0.addingProduct(x, w0); cb1 = cb1.addingProduct(x, w1)
        pa += kStride
        pb += sgemmNR * 4
    }
    @inline(__always) func put(_ row: Int, _ v0: SIMD16<Float>, _ v1: SIMD16<Float>) {
        let p = UnsafeMutableRawPointer(c + row * ldc)
        if add {
            p.storeBytes(of: p.loadUnaligned(as: SIMD16<Float>.self) + v0, as: SIMD16<Float>.self)
            p.storeBytes(of: p.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self) + v1,
                         toByteOffset: 64, as: SIMD16<Float>.self)
        } else {
            p.storeBytes(of: v0, as: SIMD16<Float>.self)
            p.storeBytes(of: v1, toByteOffset: 64, as: SIMD16<Float>.self)
        }
    }
    put(0, c00, c01); put(1, c10, c11); put(2, c20, c21); put(3, c30, c31)
    put(4, c40, c41); put(5, c50, c51); put(6, c60, c61); put(7, c70, c71)
    put(8, c80, c81); put(9, c90, c91); put(10, ca0, ca1); put(11, cb0, cb1)
}

/// Plain scalar reference for `sgemm` (double accumulation): what kernels are tested against.
public func sgemmReference(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                           c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k {
                let x = transA ? a[p * lda + i] : a[i * lda + p]
                let y = transB ? b[j * ldb + p] : b[p * ldb + j]
                s += Double(x) * Double(y)
            }
            c[i * ldc + j] = Float(s) + (accumulate ? c[i * ldc + j] : 0)
        }
    }
}
