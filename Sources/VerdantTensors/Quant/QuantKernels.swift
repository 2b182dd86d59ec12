// Integer dot-product kernels for the quantized weight formats (AVX-512 VNNI).
//
// Activations are quantized once per matmul call (QuantizedActivations). The
// unit of work is a "pair": 64 elements = two 32-blocks = one 512-bit register.
// vpdpbusd multiplies 64 unsigned × 64 signed bytes and adds groups of four into
// 16 int32 lanes, so lanes 0–7 hold block 0's partial sums and lanes 8–15 block
// 1's; multiplying the converted lanes by a [d0×8 | d1×8] scale vector keeps
// per-block scales exact without a horizontal sum per block.
//   q8_0 / w8a8: activations +128 (unsigned) × weights (signed); the +128·Σw
//                excess is removed by starting from −128·Σw (computed per pair).
//   q4_0 / int4: weight nibbles (unsigned) × activations (signed); q4_0's −8
//                bias starts the sum at −8·Σx (precomputed per activation row),
//                int4's minimum adds m·Σx per group.
#if arch(x86_64)
import _Builtin_intrinsics.intel

@inline(__always) func load128(_ p: UnsafeRawPointer) -> __m128i {
    unsafeBitCast(p.loadUnaligned(as: SIMD16<UInt8>.self), to: __m128i.self)
}
@inline(__always) func load256(_ p: UnsafeRawPointer) -> __m256i {
    unsafeBitCast(p.loadUnaligned(as: SIMD32<UInt8>.self), to: __m256i.self)
}
@inline(__always) func half(_ p: UnsafeRawPointer) -> Float { _cvtsh_ss(p.loadUnaligned(as: UInt16.self)) }

/// [a×8 | b×8]
@inline(__always) func pairScales(_ a: Float, _ b: Float) -> __m512 {
    _mm512_mask_broadcastss_ps(_mm512_set1_ps(a), 0xFF00, _mm_set_ss(b))
}

/// [f16(a)×8 | f16(b)×8]: both halves converted by one vcvtph2ps and spread by one permute.
@inline(__always) func pairScalesF16(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> __m512 {
    let bits = Int32(a.loadUnaligned(as: UInt16.self)) | Int32(b.loadUnaligned(as: UInt16.self)) << 16
    let f = _mm_cvtph_ps(_mm_cvtsi32_si128(bits))
    return _mm512_permutexvar_ps(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0), _mm512_castps128_ps512(f))
}

/// Two 16-byte nibble blocks (Q4_0 order) → 64 unsigned codes in element order.
/// b1 == nil: the second half is zero.
@inline(__always) func nibblePair(_ b0: UnsafeRawPointer, _ b1: UnsafeRawPointer?) -> __m512i {
    var z = _mm512_broadcast_i32x4(load128(b0))
    if let b1 {
        z = _mm512_mask_broadcast_i32x4(z, 0xFF00, load128(b1))
    } else {
        z = _mm512_maskz_mov_epi32(0x00FF, z)
    }
    // 128-bit lanes now hold [b0, b0, b1, b1]: keep low nibbles in lanes 0 and 2, high in 1 and 3.
    z = _mm512_srlv_epi64(z, _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0))
    return _mm512_and_si512(z, _mm512_set1_epi8(0x0F))
}

/// One pair of a weight row as the kernels consume it: the 64 codes, the
/// weight scale of each lane and the initial integer sum.
struct PairView {
    var codes: __m512i
    var scales: __m512
    var initial: __m512i
}

/// A block format's pair decoding, as static code so that each kernel is
/// specialised per format with no format branches in its inner loop.
protocol PairDecoder {
    /// Activations are signed codes (nibble weights: q4_0, int4) rather than +128 ones.
    static var signedActivations: Bool { get }
    /// The activation row's −8·Σx lanes start the sum (q4_0's biased codes).
    static var activationCorrection: Bool { get }
    /// Pair p of `row`; shift = log2(group / 32) (int4). full: both blocks exist
    /// (false only for the last pair of a row with an odd block count; callers
    /// pass a constant so the check disappears from the main loop).
    static func pair(_ row: UnsafeRawPointer, _ p: Int, full: Bool, shift: Int) -> PairView
}

extension PairDecoder {
    @inline(__always)
    static func pair(_ row: UnsafeRawPointer, _ p: Int, blocks nb: Int, shift: Int) -> PairView {
        2 * p + 1 < nb ? pair(row, p, full: true, shift: shift) : pair(row, p, full: false, shift: shift)
    }
}

enum Q8Pairs: PairDecoder {
    static var signedActivations: Bool { false }
    static var activationCorrection: Bool { false }
    @inline(__always)
    static func pair(_ row: UnsafeRawPointer, _ p: Int, full: Bool, shift: Int) -> PairView {
        let b0 = row + 2 * p * 34
        var codes = _mm512_castsi256_si512(load256(b0 + 2))
        if full { codes = _mm512_mask_broadcast_i64x4(codes, 0xF0, load256(b0 + 36)) }
        else { codes = _mm512_maskz_mov_epi32(0x00FF, codes) }
        // Activations carry +128: start from −128·Σw.
        let excess = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(-128), codes)
        return PairView(codes: codes, scales: full ? pairScalesF16(b0, b0 + 34) : pairScales(half(b0), 0),
                        initial: _mm512_sub_epi32(_mm512_setzero_si512(), excess))
    }
}

enum Q4Pairs: PairDecoder {
    static var signedActivations: Bool { true }
    static var activationCorrection: Bool { true }
    @inline(__always)
    static func pair(_ row: UnsafeRawPointer, _ p: Int, full: Bool, shift: Int) -> PairView {
        let b0 = row + 2 * p * 18
        return PairView(codes: nibblePair(b0 + 2, full ? b0 + 20 : nil),
                        scales: full ? pairScalesF16(b0, b0 + 18) : pairScales(half(b0), 0),
                        initial: _mm512_setzero_si512())
    }
}

enum Int4Pairs: PairDecoder {
    static var signedActivations: Bool { true }
    static var activationCorrection: Bool { false }
    @inline(__always)
    static func pair(_ row: UnsafeRawPointer, _ p: Int, full: Bool, shift: Int) -> PairView {
        let has1 = full
        let groupBytes = 4 + (16 << shift)
        let mask = (1 << shift) - 1
        let blk0 = 2 * p, blk1 = 2 * p + 1
        let g0 = row + (blk0 >> shift) * groupBytes, g1 = row + (blk1 >> shift) * groupBytes
        return PairView(codes: nibblePair(g0 + 4 + (blk0 & mask) * 16, has1 ? g1 + 4 + (blk1 & mask) * 16 : nil),
                        scales: has1 ? pairScalesF16(g0, g1) : pairScales(half(g0), 0),
                        initial: _mm512_setzero_si512())
    }
}

enum W8A8Pairs: PairDecoder {
    static var signedActivations: Bool { false }
    static var activationCorrection: Bool { false }
    @inline(__always)
    static func pair(_ row: UnsafeRawPointer, _ p: Int, full: Bool, shift: Int) -> PairView {
        let codes: __m512i
        if full { codes = _mm512_loadu_si512(row + 4 + p * 64) }
        else { codes = _mm512_maskz_loadu_epi8(0xFFFF_FFFF, row + 4 + p * 64) }
        let excess = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(-128), codes)
        return PairView(codes: codes, scales: _mm512_set1_ps(1), initial: _mm512_sub_epi32(_mm512_setzero_si512(), excess))
    }
}

/// log2(group / 32) for int4 (0 otherwise).
@inline(__always) func groupShift(_ format: WeightFormat) -> Int {
    if case .int4(let g) = format { return g == 128 ? 2 : g == 64 ? 1 : 0 }
    return 0
}

/// Σ_g minimum(g) · Σx over group g for an int4 row. groupSums: per group
/// (see `compactGroupSums`).
@inline(__always)
func int4MinimumTerm(_ row: UnsafeRawPointer, shift: Int, blocks nb: Int, groupSums: UnsafePointer<Float>) -> Float {
    let groupBytes = 4 + (16 << shift)
    var t0: Float = 0, t1: Float = 0
    var g = 0, m = row + 2
    let groups = nb >> shift
    while g + 1 < groups {
        t0 += half(m) * groupSums[g]
        t1 += half(m + groupBytes) * groupSums[g + 1]
        g += 2
        m += 2 * groupBytes
    }
    if g < groups { t0 += half(m) * groupSums[g] }
    return t0 + t1
}

/// Turns each activation row's per-32-block sums into per-group sums in place
/// (group g = blocks g·per ..< (g+1)·per), so that the minimum's term costs one
/// multiply-add per group instead of one per block.
func compactGroupSums(_ acts: QuantizedActivations, shift: Int, blocks nb: Int) {
    if shift == 0 { return }
    let per = 1 << shift
    for t in 0..<acts.rows {
        let s = acts.blockSums(t)
        for g in 0..<(nb >> shift) {
            var total: Float = 0
            for k in 0..<per { total += s[g * per + k] }
            s[g] = total
        }
    }
}

/// y[n] for rows n0..<n1 and one activation row t (decode): weights streamed once.
func quantGEMV(_ acts: QuantizedActivations, token t: Int, _ w: WeightMatrix,
               _ y: UnsafeMutablePointer<Float>, rows n0: Int, _ n1: Int) {
    switch w.format {
    case .q8_0: quantGEMVRows(Q8Pairs.self, acts, token: t, w, y, rows: n0, n1)
    case .q4_0: quantGEMVRows(Q4Pairs.self, acts, token: t, w, y, rows: n0, n1)
    case .int4: quantGEMVRows(Int4Pairs.self, acts, token: t, w, y, rows: n0, n1)
    case .w8a8: w8a8GEMVRows(acts, token: t, w, y, rows: n0, n1)
    case .f32, .f16, .bf16, .bf16Sparse1x2, .q8Sparse1x2: break
    }
}

func w8a8GEMVRows(_ acts: QuantizedActivations, token t: Int, _ w: WeightMatrix,
                  _ y: UnsafeMutablePointer<Float>, rows n0: Int, _ n1: Int) {
    let rowBytes = w.format.rowBytes(cols: w.cols)
    let nb = w.format.paddedColumns(w.cols) / 32
    let pairs = (nb + 1) / 2
    let x = UnsafeRawPointer(acts.codes(t))
    let sx = acts.rowScale(t)
    for n in n0..<n1 {
        let row = w.data + n * rowBytes
        var acc = _mm512_setzero_si512(), excess = _mm512_setzero_si512()
        for p in 0..<pairs {
            let v = p < nb / 2 ? W8A8Pairs.pair(row, p, full: true, shift: 0) : W8A8Pairs.pair(row, p, full: false, shift: 0)
            acc = _mm512_dpbusd_epi32(acc, _mm512_load_si512(x + p * 64), v.codes)
            excess = _mm512_add_epi32(excess, v.initial)
        }
        y[n] = Float(_mm512_reduce_add_epi32(_mm512_add_epi32(acc, excess))) * row.loadUnaligned(as: Float.self) * sx
    }
}

@inline(__always)
func quantGEMVRows<D: PairDecoder>(_: D.Type, _ acts: QuantizedActivations, token t: Int, _ w: WeightMatrix,
                                   _ y: UnsafeMutablePointer<Float>, rows n0: Int, _ n1: Int) {
    let rowBytes = w.format.rowBytes(cols: w.cols)
    let nb = w.format.paddedColumns(w.cols) / 32
    let pairs = (nb + 1) / 2
    let shift = groupShift(w.format)
    let x = UnsafeRawPointer(acts.codes(t))
    let lanes = UnsafeRawPointer(acts.lanes(t)), corr = UnsafeRawPointer(acts.corrections(t))
    let sums = UnsafePointer(acts.blockSums(t))
    for n in n0..<n1 {
        let row = w.data + n * rowBytes
        var acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps()
        var p = 0
        @inline(__always) func step(_ p: Int, _ full: Bool, _ acc: __m512) -> __m512 {
            let v = D.pair(row, p, full: full, shift: shift)
            let xv = _mm512_load_si512(x + p * 64)
            let dp: __m512i
            if D.signedActivations {
                dp = _mm512_dpbusd_epi32(D.activationCorrection ? _mm512_load_si512(corr + p * 64) : v.initial, v.codes, xv)
            } else {
                dp = _mm512_dpbusd_epi32(v.initial, xv, v.codes)
            }
            return _mm512_fmadd_ps(_mm512_cvtepi32_ps(dp), _mm512_mul_ps(v.scales, _mm512_load_ps(lanes + p * 64)), acc)
        }
        let fullPairs = nb / 2
        while p + 1 < fullPairs {
            acc0 = step(p, true, acc0)
            acc1 = step(p + 1, true, acc1)
            p += 2
        }
        if p < fullPairs { acc0 = step(p, true, acc0); p += 1 }
        if p < pairs { acc1 = step(p, false, acc1) }
        var r = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1))
        if D.signedActivations && !D.activationCorrection { r += int4MinimumTerm(row, shift: shift, blocks: nb, groupSums: sums) }
        y[n] = r
    }
}

/// Bytes of scratch one unpacked weight row (`packQuantRow`) occupies: per
/// pair 192 bytes, then (int4) the minimum of each 32-block as f32.
/// cols: the padded row length.
func quantPanelBytes(cols: Int) -> Int { ((cols + 63) / 64) * 192 + ((cols / 32 * 4 + 63) / 64) * 64 }

/// Unpacks weight row n into `panel` (64-byte aligned): per pair the codes,
/// lane scales and initial sums, so that every token reuses them. Returns the
/// row's total initial sum (w8a8 applies it once per dot product).
func packQuantRow(_ w: WeightMatrix, row n: Int, panel: UnsafeMutableRawPointer) -> Int32 {
    switch w.format {
    case .q8_0: return packRow(Q8Pairs.self, w, row: n, panel: panel)
    case .q4_0: return packRow(Q4Pairs.self, w, row: n, panel: panel)
    case .int4: return packRow(Int4Pairs.self, w, row: n, panel: panel)
    case .w8a8: return packRow(W8A8Pairs.self, w, row: n, panel: panel)
    case .f32, .f16, .bf16, .bf16Sparse1x2, .q8Sparse1x2: return 0
    }
}

@inline(__always)
func packRow<D: PairDecoder>(_: D.Type, _ w: WeightMatrix, row n: Int, panel: UnsafeMutableRawPointer) -> Int32 {
    let nb = w.format.paddedColumns(w.cols) / 32
    let pairs = (nb + 1) / 2
    let shift = groupShift(w.format)
    let row = w.data + n * w.format.rowBytes(cols: w.cols)
    var excess = _mm512_setzero_si512()
    for p in 0..<pairs {
        let v = D.pair(row, p, blocks: nb, shift: shift)
        _mm512_store_si512(panel + p * 192, v.codes)
        _mm512_store_ps(panel + p * 192 + 64, v.scales)
        _mm512_store_si512(panel + p * 192 + 128, v.initial)
        excess = _mm512_add_epi32(excess, v.initial)
    }
    if D.signedActivations && !D.activationCorrection {
        let mins = (panel + pairs * 192).assumingMemoryBound(to: Float.self)
        let groupBytes = 4 + (16 << shift)
        for g in 0..<(nb >> shift) { mins[g] = half(row + g * groupBytes + 2) }
    }
    return _mm512_reduce_add_epi32(excess)
}

/// Σ_g mins[g] · sums[g]: the int4 minimum's share of a dot product.
@inline(__always)
func minimumDot(_ mins: UnsafePointer<Float>, _ sums: UnsafePointer<Float>, _ nb: Int) -> Float {
    var acc = SIMD16<Float>()
    var b = 0
    while b + 16 <= nb {
        acc = acc.addingProduct(UnsafeRawPointer(mins + b).loadUnaligned(as: SIMD16<Float>.self),
                                UnsafeRawPointer(sums + b).loadUnaligned(as: SIMD16<Float>.self))
        b += 16
    }
    var r = acc.sum()
    while b < nb { r += mins[b] * sums[b]; b += 1 }
    return r
}

/// y[t, n] for tokens t..<t+count (count ≤ 4) and the packed row n (prefill).
/// y: [tokens, ldy]
func quantGEMMTile(_ acts: QuantizedActivations, token t: Int, count: Int, _ w: WeightMatrix, row n: Int,
                   panel: UnsafeRawPointer, excess: Int32, _ y: UnsafeMutablePointer<Float>, ldy: Int) {
    switch w.format {
    case .q8_0: gemmTile(Q8Pairs.self, acts, token: t, count: count, w, row: n, panel: panel, y, ldy: ldy)
    case .q4_0: gemmTile(Q4Pairs.self, acts, token: t, count: count, w, row: n, panel: panel, y, ldy: ldy)
    case .int4: gemmTile(Int4Pairs.self, acts, token: t, count: count, w, row: n, panel: panel, y, ldy: ldy)
    case .w8a8: w8a8Tile(acts, token: t, count: count, w, row: n, panel: panel, excess: excess, y, ldy: ldy)
    case .f32, .f16, .bf16, .bf16Sparse1x2, .q8Sparse1x2: break
    }
}

func w8a8Tile(_ acts: QuantizedActivations, token t: Int, count: Int, _ w: WeightMatrix, row n: Int,
              panel: UnsafeRawPointer, excess: Int32, _ y: UnsafeMutablePointer<Float>, ldy: Int) {
    let pairs = (w.format.paddedColumns(w.cols) / 32 + 1) / 2
    let i1 = count > 1 ? t + 1 : t, i2 = count > 2 ? t + 2 : t, i3 = count > 3 ? t + 3 : t
    let x0 = UnsafeRawPointer(acts.codes(t)), x1 = UnsafeRawPointer(acts.codes(i1))
    let x2 = UnsafeRawPointer(acts.codes(i2)), x3 = UnsafeRawPointer(acts.codes(i3))
    var a0 = _mm512_setzero_si512(), a1 = _mm512_setzero_si512(), a2 = _mm512_setzero_si512(), a3 = _mm512_setzero_si512()
    for p in 0..<pairs {
        let o = p * 64
        let wc = _mm512_load_si512(panel + p * 192)
        a0 = _mm512_dpbusd_epi32(a0, _mm512_load_si512(x0 + o), wc)
        a1 = _mm512_dpbusd_epi32(a1, _mm512_load_si512(x1 + o), wc)
        a2 = _mm512_dpbusd_epi32(a2, _mm512_load_si512(x2 + o), wc)
        a3 = _mm512_dpbusd_epi32(a3, _mm512_load_si512(x3 + o), wc)
    }
    let sw = (w.data + n * w.format.rowBytes(cols: w.cols)).loadUnaligned(as: Float.self)
    y[t * ldy + n] = Float(_mm512_reduce_add_epi32(a0) &+ excess) * sw * acts.rowScale(t)
    if count > 1 { y[i1 * ldy + n] = Float(_mm512_reduce_add_epi32(a1) &+ excess) * sw * acts.rowScale(i1) }
    if count > 2 { y[i2 * ldy + n] = Float(_mm512_reduce_add_epi32(a2) &+ excess) * sw * acts.rowScale(i2) }
    if count > 3 { y[i3 * ldy + n] = Float(_mm512_reduce_add_epi32(a3) &+ excess) * sw * acts.rowScale(i3) }
}

@inline(__always)
func gemmTile<D: PairDecoder>(_: D.Type, _ acts: QuantizedActivations, token t: Int, count: Int, _ w: WeightMatrix,
                              row n: Int, panel: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, ldy: Int) {
    let nb = w.format.paddedColumns(w.cols) / 32
    let pairs = (nb + 1) / 2
    let i1 = count > 1 ? t + 1 : t, i2 = count > 2 ? t + 2 : t, i3 = count > 3 ? t + 3 : t
    let x0 = UnsafeRawPointer(acts.codes(t)), x1 = UnsafeRawPointer(acts.codes(i1))
    let x2 = UnsafeRawPointer(acts.codes(i2)), x3 = UnsafeRawPointer(acts.codes(i3))
    let l0 = UnsafeRawPointer(acts.lanes(t)), l1 = UnsafeRawPointer(acts.lanes(i1))
    let l2 = UnsafeRawPointer(acts.lanes(i2)), l3 = UnsafeRawPointer(acts.lanes(i3))
    let c0 = UnsafeRawPointer(acts.corrections(t)), c1 = UnsafeRawPointer(acts.corrections(i1))
    let c2 = UnsafeRawPointer(acts.corrections(i2)), c3 = UnsafeRawPointer(acts.corrections(i3))
    var a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps()
    for p in 0..<pairs {
        let o = p * 64
        let wc = _mm512_load_si512(panel + p * 192), wsc = _mm512_load_ps(panel + p * 192 + 64)
        let wi = _mm512_load_si512(panel + p * 192 + 128)
        @inline(__always) func step(_ x: UnsafeRawPointer, _ l: UnsafeRawPointer, _ c: UnsafeRawPointer, _ a: __m512) -> __m512 {
            let xv = _mm512_load_si512(x + o)
            let dp: __m512i
            if D.signedActivations {
                dp = _mm512_dpbusd_epi32(D.activationCorrection ? _mm512_load_si512(c + o) : wi, wc, xv)
            } else {
                dp = _mm512_dpbusd_epi32(wi, xv, wc)
            }
            return _mm512_fmadd_ps(_mm512_cvtepi32_ps(dp), _mm512_mul_ps(wsc, _mm512_load_ps(l + o)), a)
        }
        a0 = step(x0, l0, c0, a0)
        a1 = step(x1, l1, c1, a1)
        a2 = step(x2, l2, c2, a2)
        a3 = step(x3, l3, c3, a3)
    }
    var r0 = _mm512_reduce_add_ps(a0), r1 = _mm512_reduce_add_ps(a1)
    var r2 = _mm512_reduce_add_ps(a2), r3 = _mm512_reduce_add_ps(a3)
    if D.signedActivations && !D.activationCorrection {
        let mins = (panel + pairs * 192).assumingMemoryBound(to: Float.self)
        let groups = nb >> groupShift(w.format)
        r0 += minimumDot(mins, acts.blockSums(t), groups)
        r1 += minimumDot(mins, acts.blockSums(i1), groups)
        r2 += minimumDot(mins, acts.blockSums(i2), groups)
        r3 += minimumDot(mins, acts.blockSums(i3), groups)
    }
    y[t * ldy + n] = r0
    if count > 1 { y[i1 * ldy + n] = r1 }
    if count > 2 { y[i2 * ldy + n] = r2 }
    if count > 3 { y[i3 * ldy + n] = r3 }
}
#endif
