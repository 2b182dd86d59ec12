#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Causal self-attention for training: a batch of B independent sequences of T
// tokens each (row b·T + t is token t of sequence b, at position t), no KV cache,
// GQA/MQA (query head h reads kv head h / (numHeads / numKVHeads)), optional
// sliding window (key j visible from query i when i − window < j ≤ i).
//
// Flash-attention style memory: the forward keeps only the output O and the
// per-row logsumexp (lse: [B, heads, T]); the backward recomputes the
// probabilities block by block from q, k and lse. Activation memory per layer is
// therefore O(B·T·d·heads) (q, k, v, O, lse), never O(T²): the only T-long
// buffers are three [attentionTrainingBlock, T] scratch tiles per running task.
// All products go through `sgemm` (single-threaded inside the pool's tasks).

/// Query rows per tile.
public let attentionTrainingBlock = 32

/// Rows of keys visible from query i: [lo, i].
@inline(__always) func visibleFrom(_ i: Int, window: Int?) -> Int {
    window.map { max(0, i - $0 + 1) } ?? 0
}

/// q: [B·T, qStride] (head h at columns h·d), k: [B·T, kStride], v: [B·T, vStride]
/// (kv head g at columns g·d) → out: [B·T, outStride], lse: [B, numHeads, T].
/// One task per (sequence, head); fixed partition, so the result is deterministic.
public func causalAttentionTrainingForward(
    q: UnsafePointer<Float>, qStride: Int, k: UnsafePointer<Float>, kStride: Int,
    v: UnsafePointer<Float>, vStride: Int, batch: Int, tokens T: Int, shape: AttentionShape,
    out: UnsafeMutablePointer<Float>, outStride: Int, lse: UnsafeMutablePointer<Float>, pool: ThreadPool
) {
    let heads = shape.numHeads, d = shape.headDim, group = shape.numHeads / shape.numKVHeads
    let scale = 1 / Float(d).squareRoot()
    let Bq = attentionTrainingBlock
    pool.run(batch * heads) { task in
        let b = task / heads, h = task % heads, g = h / group
        // s: [Bq, T] scores, then probabilities of one query tile.
        let s = UnsafeMutablePointer<Float>.allocate(capacity: Bq * T)
        defer { s.deallocate() }
        var i0 = 0
        while i0 < T {
            let i1 = min(T, i0 + Bq), rows = i1 - i0
            let j0 = visibleFrom(i0, window: shape.window), n = i1 - j0
            let qb = q + (b * T + i0) * qStride + h * d
            let kb = k + (b * T + j0) * kStride + g * d
            let vb = v + (b * T + j0) * vStride + g * d
            sgemm(transA: false, transB: true, m: rows, n: n, k: d, a: qb, lda: qStride, b: kb, ldb: kStride,
                  c: s, ldc: n, accumulate: false, pool: pool)
            for r in 0..<rows {
                let i = i0 + r, row = s + r * n
                let c0 = visibleFrom(i, window: shape.window) - j0, c1 = i - j0 + 1
                // 16 lanes with the polynomial exp: libm's expf here and in the
                // backward was ~3% of a training step's time.
                let m = maxF32(row + c0, c1 - c0)
                let sum = Float(scaledExp(row + c0, shift: m, scale: scale, into: row + c0, c1 - c0))
                for c in 0..<c0 { row[c] = 0 }
                scaleInPlace(row + c0, 1 / sum, c1 - c0)
                for c in c1..<n { row[c] = 0 }
                lse[(b * heads + h) * T + i] = m * scale + logf(sum)
            }
            sgemm(transA: false, transB: false, m: rows, n: d, k: n, a: s, lda: n, b: vb, ldb: vStride,
                  c: out + (b * T + i0) * outStride + h * d, ldc: outStride, accumulate: false, pool: pool)
            i0 = i1
        }
    }
}

/// Gradients of `causalAttentionTrainingForward`: from dOut ([B·T, dOutStride]) and
/// the saved q, k, v, out, lse, writes dq ([B·T, dqStride]), dk ([B·T, dkStride])
/// and dv ([B·T, dvStride]) (overwritten, not accumulated).
///     P = exp(q·kᵀ·scale − lse),  D_i = dO_i·O_i,  dS = P∘(dO·vᵀ − D)·scale,
///     dq = dS·k,  dk = dSᵀ·q,  dv = Pᵀ·dO.
/// One task per (sequence, kv head): it owns that head's dk/dv rows, so the
/// query heads sharing it accumulate in a fixed order (deterministic).
public func causalAttentionTrainingBackward(
    q: UnsafePointer<Float>, qStride: Int, k: UnsafePointer<Float>, kStride: Int,
    v: UnsafePointer<Float>, vStride: Int, out: UnsafePointer<Float>, outStride: Int,
    lse: UnsafePointer<Float>, dOut: UnsafePointer<Float>, dOutStride: Int,
    dq: UnsafeMutablePointer<Float>, dqStride: Int, dk: UnsafeMutablePointer<Float>, dkStride: Int,
    dv: UnsafeMutablePointer<Float>, dvStride: Int,
    batch: Int, tokens T: Int, shape: AttentionShape, pool: ThreadPool
) {
    let heads = shape.numHeads, kvHeads = shape.numKVHeads, d = shape.headDim, group = heads / kvHeads
    let scale = 1 / Float(d).squareRoot()
    let Bq = attentionTrainingBlock
    pool.run(batch * kvHeads) { task in
        let b = task / kvHeads, g = task % kvHeads
        for t in 0..<T {
            (dk + (b * T + t) * dkStride + g * d).update(repeating: 0, count: d)
            (dv + (b * T + t) * dvStride + g * d).update(repeating: 0, count: d)
        }
        // p: [Bq, T] probabilities; ds: [Bq, T] dP then dS.
        let p = UnsafeMutablePointer<Float>.allocate(capacity: Bq * T)
        let ds = UnsafeMutablePointer<Float>.allocate(capacity: Bq * T)
        defer { p.deallocate(); ds.deallocate() }
        for h in (g * group)..<((g + 1) * group) {
            var i0 = 0
            while i0 < T {
                let i1 = min(T, i0 + Bq), rows = i1 - i0
                let j0 = visibleFrom(i0, window: shape.window), n = i1 - j0
                let qb = q + (b * T + i0) * qStride + h * d
                let kb = k + (b * T + j0) * kStride + g * d
                let vb = v + (b * T + j0) * vStride + g * d
                let ob = out + (b * T + i0) * outStride + h * d
                let dob = dOut + (b * T + i0) * dOutStride + h * d
                sgemm(transA: false, transB: true, m: rows, n: n, k: d, a: qb, lda: qStride, b: kb, ldb: kStride,
                      c: p, ldc: n, accumulate: false, pool: pool)
                sgemm(transA: false, transB: true, m: rows, n: n, k: d, a: dob, lda: dOutStride, b: vb, ldb: vStride,
                      c: ds, ldc: n, accumulate: false, pool: pool)
                for r in 0..<rows {
                    let i = i0 + r, pr = p + r * n, sr = ds + r * n
                    let c0 = visibleFrom(i, window: shape.window) - j0, c1 = i - j0 + 1
                    let l = lse[(b * heads + h) * T + i]
                    let D = dotF32(dob + r * dOutStride, ob + r * outStride, d)
                    for c in 0..<c0 { pr[c] = 0; sr[c] = 0 }
                    // P = e^((s − lse/scale)·scale): every exponent ≤ 0 since lse ≥ the row's max score.
                    _ = scaledExp(pr + c0, shift: l / scale, scale: scale, into: pr + c0, c1 - c0)
                    softmaxBackwardInPlace(p: pr + c0, dp: sr + c0, dot: D, scale: scale, c1 - c0)
                    for c in c1..<n { pr[c] = 0; sr[c] = 0 }
                }
                sgemm(transA: false, transB: false, m: rows, n: d, k: n, a: ds, lda: n, b: kb, ldb: kStride,
                      c: dq + (b * T + i0) * dqStride + h * d, ldc: dqStride, accumulate: false, pool: pool)
                sgemm(transA: true, transB: false, m: n, n: d, k: rows, a: ds, lda: n, b: qb, ldb: qStride,
                      c: dk + (b * T + j0) * dkStride + g * d, ldc: dkStride, accumulate: true, pool: pool)
                sgemm(transA: true, transB: false, m: n, n: d, k: rows, a: p, lda: n, b: dob, ldb: dOutStride,
                      c: dv + (b * T + j0) * dvStride + g * d, ldc: dvStride, accumulate: true, pool: pool)
                i0 = i1
            }
        }
    }
}
