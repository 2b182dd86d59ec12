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
            // Softmax of each query over its own causal (and window) range.
            for i in 0..<nq {
                let pos = firstPos + i
                let lo = shape.window.map { max(0, pos - $0 + 1) } ?? 0
                let row = scores + i * capacity
                var m = -Float.infinity
                for j in lo...pos where row[j] > m { m = row[j] }
                var sum: Float = 0
                for j in lo...pos {
                    let e = expf(row[j] - m)
                    row[j] = e
                    sum += e
                }
                let inv = 1 / sum
                for j in lo...pos { row[j] *= inv }
                for j in blockStart..<lo { row[j] = 0 }
                var j = pos + 1
                while j <= lastPos { row[j] = 0; j += 1 }
                let o = out + (tb + i) * outStride + h * d
                o.initialize(repeating: 0, count: d)
            }
            // out_i = Σ_j p_ij · v_j, each value row loaded once for the block.
            for j in blockStart...lastPos {
                let vj = v + j * d
                for i in 0..<nq {
                    let p = scores[i * capacity + j]
                    if p != 0 { axpyF32(p, vj, out + (tb + i) * outStride + h * d, d) }
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
