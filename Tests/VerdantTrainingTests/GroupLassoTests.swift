import Testing
@testable import VerdantTraining

@Test func pairShrinkSIMDMatchesScalarFormula() {
    var s: UInt64 = 0x1234_5678
    let n = 70
    let values: [Float] = (0..<n).map { i in
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        // Some pairs below the threshold, some exactly zero.
        return i % 10 < 2 ? 0 : (Float(s >> 40) / Float(1 << 24) * 2 - 1) * (i % 3 == 0 ? 0.01 : 1)
    }
    let tau: Float = 0.05
    var simd = values
    simd.withUnsafeMutableBufferPointer { shrinkPairs($0.baseAddress!, count: n, tau: tau) }
    for p in 0..<(n / 2) {
        let a = values[2 * p], b = values[2 * p + 1]
        let norm = (a * a + b * b).squareRoot()
        let f: Float = norm > tau ? 1 - tau / norm : 0
        #expect(abs(simd[2 * p] - a * f) <= 1e-6 && abs(simd[2 * p + 1] - b * f) <= 1e-6)
        if norm <= tau { #expect(simd[2 * p] == 0 && simd[2 * p + 1] == 0) }
        // The new norm is the old one minus τ (the group soft-threshold).
        let after = (simd[2 * p] * simd[2 * p] + simd[2 * p + 1] * simd[2 * p + 1]).squareRoot()
        #expect(abs(after - max(0, norm - tau)) <= 1e-5)
    }
}
