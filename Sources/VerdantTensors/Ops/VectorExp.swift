/// e^x for 16 lanes: range reduction x = n·ln2 + r, |r| ≤ ln2/2, a degree-6
/// polynomial for e^r, and 2^n built in the exponent bits. Relative error
/// ≈ 2 ulp; inputs below −87.3 give exactly 0 (so −∞ masks vanish), above 88.7 give +∞.
@inline(__always)
public func vexp(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let clamped = x.clamped(lowerBound: SIMD16(repeating: -87.3), upperBound: SIMD16(repeating: 88.7))
    var result = expReduced(clamped)
    result.replace(with: 0, where: x .< -87.3)
    result.replace(with: .infinity, where: x .> 88.7)
    return result
}

/// The shared core of `vexp` and `expNonPositive`: e^x for x already clamped to
/// [−87.3, 88.7] (range reduction, polynomial, 2^n in the exponent bits).
@inline(__always)
func expReduced(_ clamped: SIMD16<Float>) -> SIMD16<Float> {
    let log2e = SIMD16<Float>(repeating: 1.44269504088896341)
    let ln2Hi = SIMD16<Float>(repeating: 0.693359375)
    let ln2Lo = SIMD16<Float>(repeating: -2.12194440e-4)
    // Adding 1.5·2^23 rounds to an integer held in the low mantissa bits;
    // Swift's Float→Int SIMD conversions compile to slow generic calls.
    let magic = SIMD16<Float>(repeating: 12582912)
    let t = clamped * log2e + magic
    let n = t - magic
    var r = clamped.addingProduct(n, -ln2Hi)
    r = r.addingProduct(n, -ln2Lo)
    // Taylor/minimax coefficients for e^r on [−ln2/2, ln2/2] (Cephes expf).
    var p = SIMD16<Float>(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    p = (p * r) * r + r + 1
    let bits = (unsafeBitCast(t, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self) &+ 127) &<< 23
    return p * unsafeBitCast(bits, to: SIMD16<Float>.self)
}
