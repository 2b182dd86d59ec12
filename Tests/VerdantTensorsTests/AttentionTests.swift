import Testing
@testable import VerdantTensors

/// The blocked attention kernel against the one-query-one-key reference, over
/// GQA/MQA shapes, odd head sizes, sliding windows and several prefill/decode splits.
@Test(arguments: [
    (4, 2, 8, nil as Int?), (6, 2, 64, nil), (3, 1, 5, nil), (4, 4, 16, 7), (2, 1, 24, 1),
    (2, 1, 128, 9), (2, 2, 80, nil),
])
func blockedAttentionMatchesReference(_ heads: Int, _ kvHeads: Int, _ d: Int, _ window: Int?) {
    let shape = AttentionShape(numHeads: heads, numKVHeads: kvHeads, headDim: d, window: window)
    let total = 37
    let capacity = 48  // multiple of the key block
    var seed: UInt32 = 12345
    func rand() -> Float { seed = seed &* 1_664_525 &+ 1_013_904_223; return Float(seed >> 8) / Float(1 << 24) - 0.5 }
    let kvDim = kvHeads * d, qDim = heads * d
    let keys = (0..<(total * kvDim)).map { _ in rand() * 3 }
    let values = (0..<(total * kvDim)).map { _ in rand() }
    let queries = (0..<(total * qDim)).map { _ in rand() * 3 }
    // Transposed/head-major copies for the kernel.
    var kT = [Float](repeating: 0, count: kvHeads * d * capacity)
    var vH = [Float](repeating: 0, count: kvHeads * capacity * d)
    for p in 0..<total { for g in 0..<kvHeads { for c in 0..<d {
        kT[(g * d + c) * capacity + p] = keys[p * kvDim + g * d + c]
        vH[(g * capacity + p) * d + c] = values[p * kvDim + g * d + c]
    } } }
    let pool = ThreadPool(threads: 2)
    for (start, tokens) in [(0, total), (0, 5), (30, 7), (36, 1), (13, 9)] {
        var expected = [Float](repeating: 0, count: tokens * qDim)
        var got = [Float](repeating: .nan, count: tokens * qDim)
        var scratch = [Float](repeating: 0, count: heads * attentionQueryBlock * capacity)
        queries.withUnsafeBufferPointer { q in
            let qs = q.baseAddress! + start * qDim
            causalAttentionReference(q: qs, qStride: qDim, keys: keys, values: values, kvStride: kvDim,
                                     tokens: tokens, start: start, shape: shape, out: &expected, outStride: qDim)
            causalAttention(q: qs, qStride: qDim, keysT: kT, values: vH, capacity: capacity, tokens: tokens,
                            start: start, shape: shape, out: &got, outStride: qDim, scratch: &scratch, pool: pool)
        }
        let err = zip(expected, got).map { abs($0 - $1) }.max() ?? .nan
        #expect(err < 1e-5, "start \(start) tokens \(tokens): max error \(err)")
    }
}
