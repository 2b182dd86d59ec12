import Testing
@testable import VerdantTensors

/// The vectorized SwiGLU ops against their scalar references (libm expf).
struct GatedSiLUTests {
    /// 40,003 values: above the pool threshold (two threads split the work) and
    /// not a multiple of 16 (a partial last vector); the first few are extremes.
    static func inputs() -> (gate: [Float], up: [Float], dh: [Float]) {
        var random = TestRandom(seed: 11)
        let count = 40_003
        var gate = (0..<count).map { _ in random.float() * 20 }
        let extremes: [Float] = [-200, -100, -88, -87, 0, 88, 100, 200, -1.2785, 1e-30]
        for (i, x) in extremes.enumerated() { gate[i] = x }
        let up = (0..<count).map { _ in random.float() * 2 }
        let dh = (0..<count).map { _ in random.float() }
        return (gate, up, dh)
    }

    /// |got − ref| ≤ 4e-6·(|ref| + |dh·up|): relative to the value, or to the
    /// scale of the term where silu' ≈ 0 cancels (x ≈ −1.28).
    static func close(_ got: [Float], _ ref: [Float], scale: [Float]) -> Bool {
        zip(zip(got, ref), scale).allSatisfy { pair, s in abs(pair.0 - pair.1) <= 4e-6 * (abs(pair.1) + s) }
    }

    @Test func forwardMatchesReference() {
        let (gate, up, _) = Self.inputs()
        let pool = ThreadPool(threads: 2)
        var got = [Float](repeating: .nan, count: gate.count), ref = got
        gatedActivationForward(.silu, gate: gate, up: up, out: &got, count: gate.count, pool: pool)
        gatedActivationForwardReference(.silu, gate: gate, up: up, out: &ref, count: gate.count)
        #expect(Self.close(got, ref, scale: up.map { abs($0) * 1e-30 }))
    }

    @Test func backwardMatchesReference() {
        let (gate, up, dh) = Self.inputs()
        let pool = ThreadPool(threads: 2)
        var dg = [Float](repeating: .nan, count: gate.count), du = dg, rg = dg, ru = dg
        gatedActivationBackward(.silu, gate: gate, up: up, dh: dh, dGate: &dg, dUp: &du, count: gate.count, pool: pool)
        gatedActivationBackwardReference(.silu, gate: gate, up: up, dh: dh, dGate: &rg, dUp: &ru, count: gate.count)
        let scale = zip(up, dh).map { abs($0 * $1) }
        #expect(Self.close(dg, rg, scale: scale))
        #expect(Self.close(du, ru, scale: dh.map { abs($0) * 1e-30 }))
    }

    /// dGate and dUp may alias dh, as the trainer calls it.
    @Test func backwardInPlace() {
        let (gate, up, dh) = Self.inputs()
        var dg = [Float](repeating: 0, count: gate.count), du = dg
        gatedActivationBackward(.silu, gate: gate, up: up, dh: dh, dGate: &dg, dUp: &du, count: gate.count)
        var inPlace = dh, dg2 = [Float](repeating: 0, count: gate.count)
        inPlace.withUnsafeMutableBufferPointer { p in
            gatedActivationBackward(.silu, gate: gate, up: up, dh: p.baseAddress!, dGate: &dg2,
                                    dUp: p.baseAddress!, count: gate.count)
        }
        #expect(dg2 == dg && inPlace == du)
    }
}
