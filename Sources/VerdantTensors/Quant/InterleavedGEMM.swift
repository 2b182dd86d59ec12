// Prefill GEMM for q8_0 / q4_0 / int4 weights on a row-interleaved panel.
//
// The pair kernels (QuantKernels.swift) give each 32-bit lane of a vpdpbusd four
// elements of ONE row, so every (row, token, 64 elements) needs a float convert,
// a scale multiply and an FMA besides the dot product: 4 vector ops per 64 MACs.
// Here a panel interleaves 16 rows so that lane i of every dot product belongs to
// row i: 8 vpdpbusd (one 4-byte broadcast of the token's codes each) produce the
// whole 32-element block sum of 16 rows, and one convert + one multiply + one FMA
// scale them — 11 ops per 512 MACs. Eight tokens share every weight load.
//
// Panel of one 16-row tile, per 32-element block b (`interleavedBlockBytes`):
//   [0, 512)    codes: for k in 0..<8, for row i in 0..<16, elements 4k..<4k+4 of
//               row i's block b (q4_0/int4: unsigned nibble values; q8_0: signed)
//   [512, 576)  16 f32: each row's weight scale for block b
//   [576, 640)  q8_0: 16 i32: −128 · Σ codes of the row's block (the activations
//               carry +128)
// then, int4 only, per group g: 16 f32 minima.
// Rows past the matrix's end are zero codes with zero scales.
#if arch(x86_64)
import _Builtin_intrinsics.intel

/// Rows per interleaved tile: one 512-bit register of int32 lanes.
let interleavedRows = 16
/// Tokens per kernel pass: each weight register feeds this many dot products.
let interleavedTokens = 8

@inline(__always) func interleavedBlockBytes(_ format: WeightFormat) -> Int {
    if case .q8_0 = format { return 640 }
    return 576
}

/// Bytes of one 16-row tile's panel for a matrix of `format` with `paddedCols` columns.
func interleavedPanelBytes(_ format: WeightFormat, paddedCols: Int) -> Int {
    let nb = paddedCols / 32
    var bytes = nb * interleavedBlockBytes(format)
    if case .int4 = format { bytes += (nb >> groupShift(format)) * 64 }
    return bytes
}

/// True for the formats this kernel serves.
@inline(__always) func usesInterleavedGEMM(_ format: WeightFormat) -> Bool {
    switch format {
    case .q8_0, .q4_0, .int4: return true
    default: return false
    }
}

/// Packs rows r0..<min(r0 + 16, w.rows) into `panel` (64-byte aligned).
func packInterleavedTile(_ w: WeightMatrix, firstRow r0: Int, panel: UnsafeMutableRawPointer) {
    switch w.format {
    case .q8_0: packInterleaved(Q8Pairs.self, w, firstRow: r0, panel: panel)
    case .q4_0: packInterleaved(Q4Pairs.self, w, firstRow: r0, panel: panel)
    case .int4: packInterleaved(Int4Pairs.self, w, firstRow: r0, panel: panel)
    default: break
    }
}

@inline(__always)
func packInterleaved<D: PairDecoder>(_: D.Type, _ w: WeightMatrix, firstRow r0: Int, panel: UnsafeMutableRawPointer) {
    let nb = w.format.paddedColumns(w.cols) / 32
    let pairs = (nb + 1) / 2
    let shift = groupShift(w.format)
    let blockBytes = interleavedBlockBytes(w.format)
    let isQ8: Bool
    if case .q8_0 = w.format { isQ8 = true } else { isQ8 = false }
    let rowBytes = w.format.rowBytes(cols: w.cols)
    let codes = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
    let scales = UnsafeMutablePointer<Float>.allocate(capacity: 16)
    let initial = UnsafeMutablePointer<Int32>.allocate(capacity: 16)
    defer { codes.deallocate(); scales.deallocate(); initial.deallocate() }
    for i in 0..<interleavedRows {
        let n = r0 + i
        guard n < w.rows else {
            for b in 0..<nb {
                let blk = panel + b * blockBytes
                for k in 0..<8 { blk.storeBytes(of: UInt32(0), toByteOffset: k * 64 + i * 4, as: UInt32.self) }
                blk.storeBytes(of: Float(0), toByteOffset: 512 + i * 4, as: Float.self)
                if isQ8 { blk.storeBytes(of: Int32(0), toByteOffset: 576 + i * 4, as: Int32.self) }
            }
            if D.signedActivations && !D.activationCorrection {
                let mins = (panel + nb * blockBytes).assumingMemoryBound(to: Float.self)
                for g in 0..<(nb >> shift) { mins[g * 16 + i] = 0 }
            }
            continue
        }
        let row = w.data + n * rowBytes
        for p in 0..<pairs {
            let v = D.pair(row, p, blocks: nb, shift: shift)
            _mm512_store_si512(codes, v.codes)
            _mm512_storeu_ps(scales, v.scales)
            _mm512_storeu_si512(initial, v.initial)
            for half in 0..<2 where 2 * p + half < nb {
                let b = 2 * p + half
                let blk = panel + b * blockBytes
                for k in 0..<8 {
                    blk.storeBytes(of: codes.load(fromByteOffset: half * 32 + k * 4, as: UInt32.self),
                                   toByteOffset: k * 64 + i * 4, as: UInt32.self)
                }
                blk.storeBytes(of: scales[half * 8], toByteOffset: 512 + i * 4, as: Float.self)
                if isQ8 {
                    var s: Int32 = 0
                    for l in 0..<8 { s &+= initial[half * 8 + l] }
                    blk.storeBytes(of: s, toByteOffset: 576 + i * 4, as: Int32.self)
                }
            }
        }
        if D.signedActivations && !D.activationCorrection {
            let mins = (panel + nb * blockBytes).assumingMemoryBound(to: Float.self)
            let groupBytes = 4 + (16 << shift)
            for g in 0..<(nb >> shift) { mins[g * 16 + i] = half(row + g * groupBytes + 2) }
        }
    }
}

/// y[t, r0 + i] for tokens t0..<t0+count (count ≤ 8) and the tile's valid rows
/// (`validRows` ≤ 16). y: [tokens, ldy].
func interleavedTile(_ acts: QuantizedActivations, firstToken t0: Int, count: Int, _ w: WeightMatrix,
                     panel: UnsafeRawPointer, firstRow r0: Int, validRows: Int,
                     _ y: UnsafeMutablePointer<Float>, ldy: Int) {
    switch w.format {
    case .q8_0: interleavedKernel(Q8Pairs.self, acts, firstToken: t0, count: count, w, panel: panel, firstRow: r0, validRows: validRows, y, ldy: ldy)
    case .q4_0: interleavedKernel(Q4Pairs.self, acts, firstToken: t0, count: count, w, panel: panel, firstRow: r0, validRows: validRows, y, ldy: ldy)
    case .int4: interleavedKernel(Int4Pairs.self, acts, firstToken: t0, count: count, w, panel: panel, firstRow: r0, validRows: validRows, y, ldy: ldy)
    default: break
    }
}

@inline(__always)
func interleavedKernel<D: PairDecoder>(_: D.Type, _ acts: QuantizedActivations, firstToken t0: Int, count: Int,
                                       _ w: WeightMatrix, panel: UnsafeRawPointer, firstRow r0: Int, validRows: Int,
                                       _ y: UnsafeMutablePointer<Float>, ldy: Int) {
    let nb = w.format.paddedColumns(w.cols) / 32
    let shift = groupShift(w.format)
    let blockBytes = interleavedBlockBytes(w.format)
    // Missing tokens of a short pass repeat the first one (computed, not stored).
    @inline(__always) func token(_ j: Int) -> Int { j < count ? t0 + j : t0 }
    let x0 = UnsafeRawPointer(acts.codes(token(0))), x1 = UnsafeRawPointer(acts.codes(token(1)))
    let x2 = UnsafeRawPointer(acts.codes(token(2))), x3 = UnsafeRawPointer(acts.codes(token(3)))
    let x4 = UnsafeRawPointer(acts.codes(token(4))), x5 = UnsafeRawPointer(acts.codes(token(5)))
    let x6 = UnsafeRawPointer(acts.codes(token(6))), x7 = UnsafeRawPointer(acts.codes(token(7)))
    let l0 = acts.lanes(token(0)), l1 = acts.lanes(token(1)), l2 = acts.lanes(token(2)), l3 = acts.lanes(token(3))
    let l4 = acts.lanes(token(4)), l5 = acts.lanes(token(5)), l6 = acts.lanes(token(6)), l7 = acts.lanes(token(7))
    let c0 = acts.blockCorrections(token(0)), c1 = acts.blockCorrections(token(1))
    let c2 = acts.blockCorrections(token(2)), c3 = acts.blockCorrections(token(3))
    let c4 = acts.blockCorrections(token(4)), c5 = acts.blockCorrections(token(5))
    let c6 = acts.blockCorrections(token(6)), c7 = acts.blockCorrections(token(7))
    var f0 = _mm512_setzero_ps(), f1 = _mm512_setzero_ps(), f2 = _mm512_setzero_ps(), f3 = _mm512_setzero_ps()
    var f4 = _mm512_setzero_ps(), f5 = _mm512_setzero_ps(), f6 = _mm512_setzero_ps(), f7 = _mm512_setzero_ps()
    for b in 0..<nb {
        let wb = panel + b * blockBytes
        var i0, i1, i2, i3, i4, i5, i6, i7: __m512i
        if D.activationCorrection {
            // q4_0: codes are stored +8; start from −8·Σx of the token's block.
            i0 = _mm512_set1_epi32(c0[b]); i1 = _mm512_set1_epi32(c1[b])
            i2 = _mm512_set1_epi32(c2[b]); i3 = _mm512_set1_epi32(c3[b])
            i4 = _mm512_set1_epi32(c4[b]); i5 = _mm512_set1_epi32(c5[b])
            i6 = _mm512_set1_epi32(c6[b]); i7 = _mm512_set1_epi32(c7[b])
        } else if D.signedActivations {
            i0 = _mm512_setzero_si512(); i1 = i0; i2 = i0; i3 = i0; i4 = i0; i5 = i0; i6 = i0; i7 = i0
        } else {
            // q8_0: activations carry +128; start from −128·Σw of each row's block.
            i0 = _mm512_load_si512(wb + 576); i1 = i0; i2 = i0; i3 = i0; i4 = i0; i5 = i0; i6 = i0; i7 = i0
        }
        let o = b * 32
        for k in 0..<8 {
            let wv = _mm512_load_si512(wb + k * 64)
            let ok = o + 4 * k
            @inline(__always) func dot(_ acc: __m512i, _ x: UnsafeRawPointer) -> __m512i {
                let xv = _mm512_set1_epi32(x.load(fromByteOffset: ok, as: Int32.self))
                return D.signedActivations ? _mm512_dpbusd_epi32(acc, wv, xv) : _mm512_dpbusd_epi32(acc, xv, wv)
            }
            i0 = dot(i0, x0); i1 = dot(i1, x1); i2 = dot(i2, x2); i3 = dot(i3, x3)
            i4 = dot(i4, x4); i5 = dot(i5, x5); i6 = dot(i6, x6); i7 = dot(i7, x7)
        }
        let rs = _mm512_load_ps(wb + 512)
        let lo = b * 8
        f0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i0), _mm512_mul_ps(rs, _mm512_set1_ps(l0[lo])), f0)
        f1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i1), _mm512_mul_ps(rs, _mm512_set1_ps(l1[lo])), f1)
        f2 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i2), _mm512_mul_ps(rs, _mm512_set1_ps(l2[lo])), f2)
        f3 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i3), _mm512_mul_ps(rs, _mm512_set1_ps(l3[lo])), f3)
        f4 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i4), _mm512_mul_ps(rs, _mm512_set1_ps(l4[lo])), f4)
        f5 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i5), _mm512_mul_ps(rs, _mm512_set1_ps(l5[lo])), f5)
        f6 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i6), _mm512_mul_ps(rs, _mm512_set1_ps(l6[lo])), f6)
        f7 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i7), _mm512_mul_ps(rs, _mm512_set1_ps(l7[lo])), f7)
    }
    if D.signedActivations && !D.activationCorrection {
        // int4: + minimum(g) · Σx over group g (compactGroupSums made the sums per group).
        let mins = (panel + nb * blockBytes).assumingMemoryBound(to: Float.self)
        let s0 = acts.blockSums(token(0)), s1 = acts.blockSums(token(1)), s2 = acts.blockSums(token(2))
        let s3 = acts.blockSums(token(3)), s4 = acts.blockSums(token(4)), s5 = acts.blockSums(token(5))
        let s6 = acts.blockSums(token(6)), s7 = acts.blockSums(token(7))
        for g in 0..<(nb >> shift) {
            let m = _mm512_load_ps(mins + g * 16)
            f0 = _mm512_fmadd_ps(m, _mm512_set1_ps(s0[g]), f0); f1 = _mm512_fmadd_ps(m, _mm512_set1_ps(s1[g]), f1)
            f2 = _mm512_fmadd_ps(m, _mm512_set1_ps(s2[g]), f2); f3 = _mm512_fmadd_ps(m, _mm512_set1_ps(s3[g]), f3)
            f4 = _mm512_fmadd_ps(m, _mm512_set1_ps(s4[g]), f4); f5 = _mm512_fmadd_ps(m, _mm512_set1_ps(s5[g]), f5)
            f6 = _mm512_fmadd_ps(m, _mm512_set1_ps(s6[g]), f6); f7 = _mm512_fmadd_ps(m, _mm512_set1_ps(s7[g]), f7)
        }
    }
    let mask: __mmask16 = validRows >= 16 ? 0xFFFF : __mmask16((1 << validRows) - 1)
    @inline(__always) func store(_ j: Int, _ f: __m512) {
        if j < count { _mm512_mask_storeu_ps(y + (t0 + j) * ldy + r0, mask, f) }
    }
    store(0, f0); store(1, f1); store(2, f2); store(3, f3)
    store(4, f4); store(5, f5); store(6, f6); store(7, f7)
}
#endif
