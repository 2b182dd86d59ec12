import Testing
@testable import VerdantTensors

/// Finite-difference checks of every training op's backward: for a random
/// linear functional L = Σ c·y of the op's output, the analytic gradient must
/// match central differences (h = 1e-2 in f32; tolerance 2e-3 of the largest
/// gradient, which the O(h²) truncation and f32 rounding stay well inside).
struct FiniteDifference {
    var rng = SplitMix(seed: 7)

    mutating func values(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in rng.uniform() * 2 * scale - scale } }

    /// Checks d loss / d x against `analytic` for every element of x.
    /// stride: check every stride-th element only (big inputs: keeps the test fast).
    static func check(_ x: [Float], analytic: [Float], h: Float = 1e-2, tolerance: Double = 2e-3, stride: Int = 1,
                      _ what: String, loss: ([Float]) -> Double) {
        var worst = 0.0
        let scale = Double(analytic.map { abs($0) }.max() ?? 0) + 1e-6
        var probe = x
        for i in Swift.stride(from: 0, to: x.count, by: stride) {
            probe[i] = x[i] + h
            let up = loss(probe)
            probe[i] = x[i] - h
            let down = loss(probe)
            probe[i] = x[i]
            let numeric = (up - down) / (2 * Double(h))
            worst = max(worst, abs(numeric - Double(analytic[i])) / scale)
        }
        #expect(worst <= tolerance, "\(what): worst relative error \(worst)")
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) }
}

func weightedSum(_ y: [Float], _ c: [Float]) -> Double { zip(y, c).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }

@Suite struct TrainingOpsGradientTests {
    let pool = ThreadPool(threads: 2)

    @Test func rmsNormGradients() {
        var fd = FiniteDifference()
        let rows = 3, n = 8, eps: Float = 1e-5
        let x = fd.values(rows * n), w = fd.values(n), c = fd.values(rows * n)
        func forward(_ x: [Float], _ w: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: rows * n)
            rmsNorm(x, &y, rows: rows, n: n, weight: w, eps: eps)
            return y
        }
        var dx = [Float](repeating: 0, count: rows * n), dw = [Float](repeating: 0, count: n)
        rmsNormBackward(x: x, dy: c, dx: &dx, rows: rows, n: n, weight: w, eps: eps, dWeight: &dw, pool: pool)
        FiniteDifference.check(x, analytic: dx, "rmsNorm dx") { weightedSum(forward($0, w), c) }
        FiniteDifference.check(w, analytic: dw, "rmsNorm dw") { weightedSum(forward(x, $0), c) }
    }

    @Test func layerNormGradients() {
        var fd = FiniteDifference()
        let rows = 3, n = 8, eps: Float = 1e-5
        let x = fd.values(rows * n), w = fd.values(n), b = fd.values(n), c = fd.values(rows * n)
        func forward(_ x: [Float], _ w: [Float], _ b: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: rows * n)
            layerNorm(x, &y, rows: rows, n: n, weight: w, bias: b, eps: eps)
            return y
        }
        var dx = [Float](repeating: 0, count: rows * n), dw = [Float](repeating: 0, count: n), db = dw
        layerNormBackward(x: x, dy: c, dx: &dx, rows: rows, n: n, weight: w, eps: eps, dWeight: &dw, dBias: &db, pool: pool)
        FiniteDifference.check(x, analytic: dx, "layerNorm dx") { weightedSum(forward($0, w, b), c) }
        FiniteDifference.check(w, analytic: dw, "layerNorm dw") { weightedSum(forward(x, $0, b), c) }
        FiniteDifference.check(b, analytic: db, "layerNorm db") { weightedSum(forward(x, w, $0), c) }
    }

    @Test(arguments: [ActivationKind.silu, .gelu, .geluTanh, .relu])
    func activationGradients(_ kind: ActivationKind) {
        var fd = FiniteDifference()
        // Keep ReLU's inputs away from its kink at 0.
        let x = fd.values(32, scale: 3).map { kind == .relu && abs($0) < 0.05 ? $0 + 0.1 : $0 }
        let u = fd.values(32), c = fd.values(32)
        var dx = [Float](repeating: 0, count: 32)
        activationBackward(kind, pre: x, dy: c, dPre: &dx, count: 32)
        FiniteDifference.check(x, analytic: dx, "\(kind)") { v in
            var y = v
            applyActivation(kind, &y, count: y.count)
            return weightedSum(y, c)
        }
        var dg = dx, du = dx
        gatedActivationBackward(kind, gate: x, up: u, dh: c, dGate: &dg, dUp: &du, count: 32)
        func gated(_ g: [Float], _ u: [Float]) -> Double {
            var h = [Float](repeating: 0, count: 32)
            gatedActivationForward(kind, gate: g, up: u, out: &h, count: 32)
            return weightedSum(h, c)
        }
        FiniteDifference.check(x, analytic: dg, "gated \(kind) d gate") { gated($0, u) }
        FiniteDifference.check(u, analytic: du, "gated \(kind) d up") { gated(x, $0) }
    }

    @Test func ropeInverseIsTheTranspose() {
        var fd = FiniteDifference()
        let inv: [Float] = [1, 0.3, 0.05, 0.01]
        let rope = RoPETable(inverseFrequencies: inv, positions: 16)
        let heads = 3, d = 8
        let x = fd.values(heads * d), c = fd.values(heads * d)
        var g = c
        rope.applyInverse(&g, heads: heads, headStride: d, position: 11)
        FiniteDifference.check(x, analytic: g, "rope") { v in
            var y = v
            rope.apply(&y, heads: heads, headStride: d, position: 11)
            return weightedSum(y, c)
        }
    }

    @Test func crossEntropyGradient() {
        var fd = FiniteDifference()
        let logits = fd.values(20, scale: 4)
        var g = logits
        let loss = softmaxCrossEntropyRow(&g, vocab: 20, target: 7, scale: 1)
        var check = logits
        #expect(abs(Double(loss) - Double(softmaxCrossEntropyRow(&check, vocab: 20, target: 7, scale: 1))) == 0)
        FiniteDifference.check(logits, analytic: g, "cross-entropy") { v in
            var z = v
            return Double(softmaxCrossEntropyRow(&z, vocab: 20, target: 7, scale: 1))
        }
        var ignored = logits
        #expect(softmaxCrossEntropyRow(&ignored, vocab: 20, target: ignoredTarget, scale: 1) == 0)
        #expect(ignored.allSatisfy { $0 == 0 })
    }

    /// GQA (4 query heads on 2 kv heads), two sequences, with and without a
    /// sliding window; T = 37 spans two query tiles.
    @Test(arguments: [nil, 5] as [Int?])
    func attentionGradients(window: Int?) {
        var fd = FiniteDifference()
        let B = 2, T = 37, heads = 4, kvHeads = 2, d = 4
        let shape = AttentionShape(numHeads: heads, numKVHeads: kvHeads, headDim: d, window: window)
        let qDim = heads * d, kvDim = kvHeads * d, N = B * T
        let q = fd.values(N * qDim, scale: 2), k = fd.values(N * kvDim, scale: 2), v = fd.values(N * kvDim)
        let c = fd.values(N * qDim)
        func forward(_ q: [Float], _ k: [Float], _ v: [Float]) -> ([Float], [Float]) {
            var out = [Float](repeating: 0, count: N * qDim), lse = [Float](repeating: 0, count: B * heads * T)
            causalAttentionTrainingForward(q: q, qStride: qDim, k: k, kStride: kvDim, v: v, vStride: kvDim, batch: B, tokens: T,
                                           shape: shape, out: &out, outStride: qDim, lse: &lse, pool: pool)
            return (out, lse)
        }
        // The forward agrees with the inference reference on each sequence.
        let (out, lse) = forward(q, k, v)
        for b in 0..<B {
            var ref = [Float](repeating: 0, count: T * qDim)
            let qb = Array(q[(b * T * qDim)..<((b + 1) * T * qDim)])
            let kb = Array(k[(b * T * kvDim)..<((b + 1) * T * kvDim)]), vb = Array(v[(b * T * kvDim)..<((b + 1) * T * kvDim)])
            causalAttentionReference(q: qb, qStride: qDim, keys: kb, values: vb, kvStride: kvDim, tokens: T, start: 0,
                                     shape: shape, out: &ref, outStride: qDim)
            let worst = zip(ref, out[(b * T * qDim)..<((b + 1) * T * qDim)]).map { abs($0 - $1) }.max() ?? 0
            #expect(worst < 1e-5, "forward differs from the reference by \(worst)")
        }
        var dq = [Float](repeating: 0, count: N * qDim), dk = [Float](repeating: 0, count: N * kvDim), dv = dk
        causalAttentionTrainingBackward(q: q, qStride: qDim, k: k, kStride: kvDim, v: v, vStride: kvDim, out: out, outStride: qDim,
                                        lse: lse, dOut: c, dOutStride: qDim, dq: &dq, dqStride: qDim, dk: &dk, dkStride: kvDim,
                                        dv: &dv, dvStride: kvDim, batch: B, tokens: T, shape: shape, pool: pool)
        FiniteDifference.check(q, analytic: dq, stride: 7, "attention dq") { weightedSum(forward($0, k, v).0, c) }
        FiniteDifference.check(k, analytic: dk, stride: 3, "attention dk") { weightedSum(forward(q, $0, v).0, c) }
        FiniteDifference.check(v, analytic: dv, stride: 3, "attention dv") { weightedSum(forward(q, k, $0).0, c) }
    }
}
