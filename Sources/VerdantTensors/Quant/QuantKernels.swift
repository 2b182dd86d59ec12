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

/// One weight row re-laid for the kernels: per pair the 64 codes, the weight
/// scale of each lane and the initial integer sum.
struct PairView {
    var codes: __m512i
    var scales: __m512
    var initial: __m512i
}

/// Pair p of a weight row (nb = 32-blocks in the padded row). For int4 the
/// minimum's term is not included (see `int4MinimumTerm`).
@inline(__always)
func weightPair(_ format: WeightFormat, _ row: UnsafeRawPointer, pair p: Int, blocks nb: Int) -> PairView {
    let has1 = 2 * p + 1 < nb
    switch format {
    case .q8_0:
        let b0 = row + 2 * p * 34
        var codes = _mm512_castsi256_si512(load256(b0 + 2))
        if has1 { codes = _mm512_mask_broadcast_i64x4(codes, 0xF0, load256(b0 + 36)) }
        else { codes = _mm512_maskz_mov_epi32(0x00FF, codes) }
        let excess = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(-128), codes)
        return PairView(codes: codes, scales: pairScales(half(b0), has1 ? half(b0 + 34) : 0),
                        initial: _mm512_sub_epi32(_mm512_setzero_si512(), excess))
    case .q4_0:
        let b0 = row + 2 * p * 18
        return PairView(codes: nibblePair(b0 + 2, has1 ? b0 + 20 : nil),
                        scales: pairScales(half(b0), has1 ? half(b0 + 18) : 0),
                        initial: _mm512_setzero_si512())
    case .int4(let g):
        let per = g / 32, gb = 4 + g / 2
        let blk0 = 2 * p, blk1 = 2 * p + 1
        let g0 = row + (blk0 / per) * gb, g1 = row + (blk1 / per) * gb
        return PairView(codes: nibblePair(g0 + 4 + (blk0 % per) * 16, has1 ? g1 + 4 + (blk1 % per) * 16 : nil),
                        scales: pairScales(half(g0), has1 ? half(g1) : 0),
                        initial: _mm512_setzero_si512())
    case .w8a8:
        let codes: __m512i
        if has1 { codes = _mm512_loadu_si512(row + 4 + p * 64) }
        else { codes = _mm512_maskz_loadu_epi8(0xFFFF_FFFF, row + 4 + p * 64) }
        let excess = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(-128), codes)
        return PairView(codes: codes, scales: _mm512_set1_ps(1), initial: _mm512_sub_epi32(_mm512_setzero_si512(), excess))
    case .f32, .f16, .bf16:
        return PairView(codes: _mm512_setzero_si512(), scales: _mm512_setzero_ps(), initial: _mm512_setzero_si512())
    }
}

/// Σ_b minimum(group of b) · d(b)·Σcodes(b) for an int4 row.
@inline(__always)
func int4MinimumTerm(_ row: UnsafeRawPointer, groupSize g: Int, blocks nb: Int, sums: UnsafePointer<Float>) -> Float {
    let per = g / 32, gb = 4 + g / 2
    var total: Float = 0
    var b = 0
    var grp = 0
    while b < nb {
        var s: Float = 0
        for k in 0..<per { s += sums[b + k] }
        total += half(row + grp * gb + 2) * s
        b += per
        grp += 1
    }
    return total
}

/// y[n] for rows n0..<n1 and one activation row t (decode): weights streamed once.
func quantGEMV(_ acts: QuantizedActivations, token t: Int, _ w: WeightMatrix,
               _ y: UnsafeMutablePointer<Float>, rows n0: Int, _ n1: Int) {
    let format = w.format
    let rowBytes = format.rowBytes(cols: w.cols)
    let nb = format.paddedColumns(w.cols) / 32
    let pairs = (nb + 1) / 2
    let x = UnsafeRawPointer(acts.codes(t))
    let lanes = UnsafeRawPointer(acts.lanes(t)), corr = UnsafeRawPointer(acts.corrections(t))
    let sums = UnsafePointer(acts.blockSums(t))
    for n in n0..<n1 {
        let row = w.data + n * rowBytes
        if format == .w8a8 {
            var acc = _mm512_setzero_si512()
            for p in 0..<pairs {
                let v = weightPair(format, row, pair: p, blocks: nb)
                acc = _mm512_add_epi32(_mm512_dpbusd_epi32(acc, _mm512_load_si512(x + p * 64), v.codes), v.initial)
            }
            y[n] = Float(_mm512_reduce_add_epi32(acc)) * row.loadUnaligned(as: Float.self) * acts.rowScale(t)
            continue
        }
        var acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps()
        var p = 0
        let signedActs = format != .q8_0
        while p < pairs {
            let v = weightPair(format, row, pair: p, blocks: nb)
            let start = signedActs && format == .q4_0 ? _mm512_load_si512(corr + p * 64) : v.initial
            let dp = _mm512_dpbusd_epi32(start, signedActs ? v.codes : _mm512_load_si512(x + p * 64),
                                         signedActs ? _mm512_load_si512(x + p * 64) : v.codes)
            let s = _mm512_mul_ps(v.scales, _mm512_load_ps(lanes + p * 64))
            if p & 1 == 0 { acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dp), s, acc0) }
            else { acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dp), s, acc1) }
            p += 1
        }
        var r = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1))
        if case .int4(let g) = format { r += int4MinimumTerm(row, groupSize: g, blocks: nb, sums: sums) }
        y[n] = r
    }
}

/// Bytes of scratch one unpacked weight row (`packQuantRow`) occupies.
func quantPanelBytes(cols: Int) -> Int { ((cols + 63) / 64) * 192 }

/// Unpacks weight row n into `panel` (64-byte aligned): per pair the codes,
/// lane scales and initial sums, so that every token reuses them. Returns the
/// row's total initial sum (w8a8 applies it once per dot product).
@inline(__always)
func packQuantRow(_ w: WeightMatrix, row n: Int, panel: UnsafeMutableRawPointer) -> Int32 {
    let format = w.format
    let nb = format.paddedColumns(w.cols) / 32
    let pairs = (nb + 1) / 2
    let row = w.data + n * format.rowBytes(cols: w.cols)
    var excess = _mm512_setzero_si512()
    for p in 0..<pairs {
        let v = weightPair(format, row, pair: p, blocks: nb)
        _mm512_store_si512(panel + p * 192, v.codes)
        _mm512_store_ps(panel + p * 192 + 64, v.scales)
        _mm512_store_si512(panel + p * 192 + 128, v.initial)
        excess = _mm512_add_epi32(excess, v.initial)
    }
    return _mm512_reduce_add_epi32(excess)
}

/// y[t, n] for tokens t..<t+count (count ≤ 4) and the packed row n (prefill).
/// y: [tokens, ldy]
@inline(__always)
func quantGEMMTile(_ acts: QuantizedActivations, token t: Int, count: Int, _ w: WeightMatrix, row n: Int,
                   panel: UnsafeRawPointer, excess: Int32, _ y: UnsafeMutablePointer<Float>, ldy: Int) {
    let format = w.format
    let nb = format.paddedColumns(w.cols) / 32
    let pairs = (nb + 1) / 2
    let i1 = count > 1 ? t + 1 : t, i2 = count > 2 ? t + 2 : t, i3 = count > 3 ? t + 3 : t
    let x0 = UnsafeRawPointer(acts.codes(t)), x1 = UnsafeRawPointer(acts.codes(i1))
    let x2 = UnsafeRawPointer(acts.codes(i2)), x3 = UnsafeRawPointer(acts.codes(i3))
    if format == .w8a8 {
        var a0 = _mm512_setzero_si512(), a1 = _mm512_setzero_si512(), a2 = _mm512_setzero_si512(), a3 = _mm512_setzero_si512()
        for p in 0..<pairs {
            let o = p * 64
            let wc = _mm512_load_si512(panel + p * 192)
            a0 = _mm512_dpbusd_epi32(a0, _mm512_load_si512(x0 + o), wc)
            a1 = _mm512_dpbusd_epi32(a1, _mm512_load_si512(x1 + o), wc)
            a2 = _mm512_dpbusd_epi32(a2, _mm512_load_si512(x2 + o), wc)
            a3 = _mm512_dpbusd_epi32(a3, _mm512_load_si512(x3 + o), wc)
        }
        let sw = (w.data + n * format.rowBytes(cols: w.cols)).loadUnaligned(as: Float.self)
        y[t * ldy + n] = Float(_mm512_reduce_add_epi32(a0) &+ excess) * sw * acts.rowScale(t)
        if count > 1 { y[i1 * ldy + n] = Float(_mm512_reduce_add_epi32(a1) &+ excess) * sw * acts.rowScale(i1) }
        if count > 2 { y[i2 * ldy + n] = Float(_mm512_reduce_add_epi32(a2) &+ excess) * sw * acts.rowScale(i2) }
        if count > 3 { y[i3 * ldy + n] = Float(_mm512_reduce_add_epi32(a3) &+ excess) * sw * acts.rowScale(i3) }
        return
    }
    let q4 = format == .q4_0, signedActs = format != .q8_0
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
            let dp = signedActs
                ? _mm512_dpbusd_epi32(q4 ? _mm512_load_si512(c + o) : wi, wc, xv)
                : _mm512_dpbusd_epi32(wi, xv, wc)
            return _mm512_fmadd_ps(_mm512_cvtepi32_ps(dp), _mm512_mul_ps(wsc, _mm512_load_ps(l + o)), a)
        }
        a0 = step(x0, l0, c0, a0)
        a1 = step(x1, l1, c1, a1)
        a2 = step(x2, l2, c2, a2)
        a3 = step(x3, l3, c3, a3)
    }
    var r0 = _mm512_reduce_add_ps(a0), r1 = _mm512_reduce_add_ps(a1)
    var r2 = _mm512_reduce_add_ps(a2), r3 = _mm512_reduce_add_ps(a3)
    if case .int4(let g) = format {
        let row = w.data + n * format.rowBytes(cols: w.cols)
        r0 += int4MinimumTerm(row, groupSize: g, blocks: nb, sums: acts.blockSums(t))
        if count > 1 { r1 += int4MinimumTerm(row, groupSize: g, blocks: nb, sums: acts.blockSums(i1)) }
        if count > 2 { r2 += int4MinimumTerm(row, groupSize: g, blocks: nb, sums: acts.blockSums(i2)) }
        if count > 3 { r3 += int4MinimumTerm(row, groupSize: g, blocks: nb, sums: acts.blockSums(i3)) }
    }
    y[t * ldy + n] = r0
    if count > 1 { y[i1 * ldy + n] = r1 }
    if count > 2 { y[i2 * ldy + n] = r2 }
    if count > 3 { y[i3 * ldy + n] = r3 }
}
#endif
