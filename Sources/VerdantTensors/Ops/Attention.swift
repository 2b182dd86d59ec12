#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Head layout of a (grouped-query) attention layer.
public struct AttentionShape: Sendable {
    public var numHeads: Int
    public var numKVHeads: Int
    public var headDim: Int
    /// Keys further back than `window − 1` positions are masked (Mistral); nil = full causal.
    public var window: Int?

    public init(numHeads: Int, numKVHeads: Int, headDim: Int, window: Int? = nil) {
        self.numHeads = numHeads
        self.numKVHeads = numKVHeads
        self.headDim = headDim
        self.window = window
    }
}

/// Queries processed together: each key column loaded once serves this many queries.
public let attentionQueryBlock = 4
/// Keys scored per SIMD step; cache capacities are padded to a multiple of it.
public let attentionKeyBlock = 16

/// Causal scaled-dot-product attention of T new queries against a KV cache that
/// already holds their own keys and values.
///
/// q:       [T, qStride]                      head h at offset h·headDim; positions start..<start+T
/// keysT:   [numKVHeads, headDim, capacity]   keys transposed, so 16 keys are scored per FMA
/// values:  [numKVHeads, capacity, headDim]
/// out:     [T, outStride]                    head h written at h·headDim
/// scratch: numHeads · attentionQueryBlock · capacity floats
/// Query head h reads kv head h / (numHeads / numKVHeads) (GQA; MQA when numKVHeads = 1).
/// `capacity` must be a multiple of `attentionKeyBlock` (reads run to the end of a key block;
/// the scores of keys past the causal limit are masked before the softmax).
public func causalAttention(q: UnsafePointer<Float>, qStride: Int,
                            keysT: UnsafePointer<Float>, values: UnsafePointer<Float>, capacity: Int,
                            tokens: Int, start: Int, shape: AttentionShape,
                            out: UnsafeMutablePointer<Float>, outStride: Int,
                            scratch: UnsafeMutablePointer<Float>, pool: ThreadPool) {
    let d = shape.headDim
    let group = shape.numHeads / shape.numKVHeads
    let scale = 1 / Float(d).squareRoot()
    pool.run(shape.numHeads) { h in
        let g = h / group
        let kT = keysT + g * d * capacity
        let v = values + g * capacity * d
        let scores = scratch + h * attentionQueryBlock * capacity
        var tb = 0
        while tb < tokens {
            let nq = min(attentionQueryBlock, tokens - tb)
            let firstPos = start + tb
            let lastPos = firstPos + nq - 1
            let firstKey = shape.window.map { max(0, firstPos - $0 + 1) } ?? 0
            let blockStart = firstKey - firstKey % attentionKeyBlock
            scoreBlock(q: q + tb * qStride + h * d, qStride: qStride, nq: nq, kT: kT, capacity: capacity, d: d,
                       from: blockStart, through: lastPos, scale: scale, scores: scores)
            let blockEnd = (lastPos + attentionKeyBlock) / attentionKeyBlock * attentionKeyBlock
            var inverseSums = SIMD4<Float>()
            for i in 0..<attentionQueryBlock {
                let row = scores + i * capacity
                if i >= nq {
                    // Padding queries of a short block weigh nothing.
                    (row + blockStart).update(repeating: 0, count: blockEnd - blockStart)
                    continue
                }
                let pos = firstPos + i
                let lo = shape.window.map { max(0, pos - $0 + 1) } ?? 0
                inverseSums[i] = 1 / softmaxMasked(row, from: blockStart, to: blockEnd, lo: lo, hi: pos)
            }
            // out_i = (Σ_j e_ij · v_j) / Σ_j e_ij, each value row loaded once per block.
            var c0 = 0
            while c0 + 64 <= d {
                accumulateValues64(scores: scores, capacity: capacity, v: v + c0, d: d, from: blockStart,
                                   through: lastPos, inverseSums: inverseSums, nq: nq,
                                   out: out + tb * outStride + h * d + c0, outStride: outStride)
                c0 += 64
            }
            if c0 < d {
                for i in 0..<nq {
                    let o = out + (tb + i) * outStride + h * d + c0
                    o.initialize(repeating: 0, count: d - c0)
                    let row = scores + i * capacity
                    for j in blockStart...lastPos where row[j] != 0 {
                        axpyF32(row[j] * inverseSums[i], v + j * d + c0, o, d - c0)
                    }
                }
            }
            tb += nq
        }
    }
}

/// scores[i][j] = scale · q_i · k_j for j in [from, through] rounded up to a key block.
/// q: nq rows of d at stride qStride; kT: [d, capacity]; scores: [nq, capacity].
@inline(__always)
private func scoreBlock(q: UnsafePointer<Float>, qStride: Int, nq: Int, kT: UnsafePointer<Float>, capacity: Int,
                        d: Int, from: Int, through: Int, scale: Float, scores: UnsafeMutablePointer<Float>) {
    var j = from
    while j <= through {
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
        let col = kT + j
        switch nq {
        case 4:
            let q1 = q + qStride, q2 = q + 2 * qStride, q3 = q + 3 * qStride
            for c in 0..<d {
                let k = UnsafeRawPointer(col + c * capacity).loadUnaligned(as: SIMD16<Float>.self)
                a0 = a0.addingProduct(SIMD16(repeating: q[c]), k)
                a1 = a1.addingProduct(SIMD16(repeating: q1[c]), k)
                a2 = a2.addingProduct(SIMD16(repeating: q2[c]), k)
                a3 = a3.addingProduct(SIMD16(repeating: q3[c]), k)
            }
        default:
            for c in 0..<d {
                let k = UnsafeRawPointer(col + c * capacity).loadUnaligned(as: SIMD16<Float>.self)
                a0 = a0.addingProduct(SIMD16(repeating: q[c]), k)
                if nq > 1 { a1 = a1.addingProduct(SIMD16(repeating: q[qStride + c]), k) }
                if nq > 2 { a2 = a2.addingProduct(SIMD16(repeating: q[2 * qStride + c]), k) }
            }
        }
        let s = SIMD16<Float>(repeating: scale)
        UnsafeMutableRawPointer(scores + j).storeBytes(of: a0 * s, as: SIMD16<Float>.self)
        if nq > 1 { UnsafeMutableRawPointer(scores + capacity + j).storeBytes(of: a1 * s, as: SIMD16<Float>.self) }
        if nq > 2 { UnsafeMutableRawPointer(scores + 2 * capacity + j).storeBytes(of: a2 * s, as: SIMD16<Float>.self) }
        if nq > 3 { UnsafeMutableRawPointer(scores + 3 * capacity + j).storeBytes(of: a3 * s, as: SIMD16<Float>.self) }
        j += attentionKeyBlock
    }
}

/// Exponentiates row[from..<to] relative to its maximum over [lo, hi] and zeroes
/// everything outside [lo, hi]; returns the sum. `from`/`to` are key-block aligned.
@inline(__always)
private func softmaxMasked(_ row: UnsafeMutablePointer<Float>, from: Int, to: Int, lo: Int, hi: Int) -> Float {
    var m = -Float.infinity
    for j in lo...hi where row[j] > m { m = row[j] }
    for j in from..<lo { row[j] = -.infinity }
    var j = hi + 1
    while j < to { row[j] = -.infinity; j += 1 }
    let mv = SIMD16<Float>(repeating: m)
    var sum = SIMD16<Float>()
    j = from
    while j < to {
        let e = vexp(UnsafeRawPointer(row + j).loadUnaligned(as: SIMD16<Float>.self) - mv)
        UnsafeMutableRawPointer(row + j).storeBytes(of: e, as: SIMD16<Float>.self)
        sum += e
        j += attentionKeyBlock
    }
    return horizontalSum(sum)
}

/// 64 output dimensions of up to 4 queries, accumulated in registers:
/// out_i[0..<64] = inverseSums[i] · Σ_j p_ij · v_j[0..<64]  (v rows at stride d).
@inline(__always)
private func accumulateValues64(scores: UnsafePointer<Float>, capacity: Int, v: UnsafePointer<Float>, d: Int,
                                from: Int, through: Int, inverseSums: SIMD4<Float>, nq: Int,
                                out: UnsafeMutablePointer<Float>, outStride: Int) {
    typealias V = SIMD16<Float>
    @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    var a00 = V(), a01 = V(), a02 = V(), a03 = V()
    var a10 = V(), a11 = V(), a12 = V(), a13 = V()
    var a20 = V(), a21 = V(), a22 = V(), a23 = V()
    var a30 = V(), a31 = V(), a32 = V(), a33 = V()
    let r1 = scores + capacity, r2 = scores + 2 * capacity, r3 = scores + 3 * capacity
    if nq == 1 {
        for j in from...through {
            let vj = v + j * d
            let p0 = V(repeating: scores[j])
            a00 = a00.addingProduct(p0, load(vj)); a01 = a01.addingProduct(p0, load(vj + 16))
            a02 = a02.addingProduct(p0, load(vj + 32)); a03 = a03.addingProduct(p0, load(vj + 48))
        }
    } else {
        for j in from...through {
            let vj = v + j * d
            let v0 = load(vj), v1 = load(vj + 16), v2 = load(vj + 32), v3 = load(vj + 48)
            let p0 = V(repeating: scores[j]), p1 = V(repeating: r1[j])
            let p2 = V(repeating: r2[j]), p3 = V(repeating: r3[j])
            a00 = a00.addingProduct(p0, v0); a01 = a01.addingProduct(p0, v1)
            a02 = a02.addingProduct(p0, v2); a03 = a03.addingProduct(p0, v3)
            a10 = a10.addingProduct(p1, v0); a11 = a11.addingProduct(p1, v1)
            a12 = a12.addingProduct(p1, v2); a13 = a13.addingProduct(p1, v3)
            a20 = a20.addingProduct(p2, v0); a21 = a21.addingProduct(p2, v1)
            a22 = a22.addingProduct(p2, v2); a23 = a23.addingProduct(p2, v3)
            a30 = a30.addingProduct(p3, v0); a31 = a31.addingProduct(p3, v1)
            a32 = a32.addingProduct(p3, v2); a33 = a33.addingProduct(p3, v3)
        }
    }
    @inline(__always) func store(_ i: Int, _ x0: V, _ x1: V, _ x2: V, _ x3: V) {
        let s = V(repeating: inverseSums[i])
        let o = UnsafeMutableRawPointer(out + i * outStride)
        o.storeBytes(of: x0 * s, as: V.self)
        o.storeBytes(of: x1 * s, toByteOffset: 64, as: V.self)
        o.storeBytes(of: x2 * s, toByteOffset: 128, as: V.self)
        o.storeBytes(of: x3 * s, toByteOffset: 192, as: V.self)
    }
    store(0, a00, a01, a02, a03)
    if nq > 1 { store(1, a10, a11, a12, a13) }
    if nq > 2 { store(2, a20, a21, a22, a23) }
    if nq > 3 { store(3, a30, a31, a32, a33) }
}

/// Plain reference: the same attention over a row-major cache ([S, kvDim]),
/// one query and one key at a time. For tests.
public func causalAttentionReference(q: UnsafePointer<Float>, qStride: Int,
                                     keys: UnsafePointer<Float>, values: UnsafePointer<Float>, kvStride: Int,
                                     tokens: Int, start: Int, shape: AttentionShape,
                                     out: UnsafeMutablePointer<Float>, outStride: Int) {
    let d = shape.headDim
    let group = shape.numHeads / shape.numKVHeads
    let scale = 1 / Float(d).squareRoot()
    for h in 0..<shape.numHeads {
        let off = (h / group) * d
        for t in 0..<tokens {
            let pos = start + t
            let lo = shape.window.map { max(0, pos - $0 + 1) } ?? 0
            var s = [Float](repeating: 0, count: pos + 1)
            for j in lo...pos {
                var acc: Float = 0
                for c in 0..<d { acc += q[t * qStride + h * d + c] * keys[j * kvStride + off + c] }
                s[j] = acc * scale
            }
            let m = s[lo...pos].max() ?? 0
            var sum: Float = 0
            for j in lo...pos { s[j] = expf(s[j] - m); sum += s[j] }
            for c in 0..<d {
                var acc: Float = 0
                for j in lo...pos { acc += s[j] / sum * values[j * kvStride + off + c] }
                out[t * outStride + h * d + c] = acc
            }
        }
    }
}

/// log Σ exp(x[i]) over n values, stable.
public func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var m = -Float.infinity
    for i in 0..<n where x[i] > m { m = x[i] }
    if m == -Float.infinity { return m }
    var s: Double = 0
    for i in 0..<n { s += Double(expf(x[i] - m)) }
    return m + Float(log(s))
}
