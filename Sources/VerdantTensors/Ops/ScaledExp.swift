#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// out[i] = e^((x[i] − shift)·scale) for n values, shift ≥ every x[i] (the row
/// maximum) and scale > 0, so every exponent is ≤ 0; returns Σ out[i] in f64 (the
/// softmax denominator, accumulated per 256 values so that 150k-wide rows keep
/// their small terms).
@inline(__always)
public func scaledExp(_ x: UnsafePointer<Float>, shift: Float, scale: Float,
                      into out: UnsafeMutablePointer<Float>, _ n: Int) -> Double {
    let sv = SIMD16<Float>(repeating: shift), kv = SIMD16<Float>(repeating: scale)
    var total = 0.0
    var acc = SIMD16<Float>()
    var i = 0
    var inBlock = 0
    while i + 16 <= n {
        let e = expNonPositive((UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self) - sv) * kv)
        UnsafeMutableRawPointer(out + i).storeBytes(of: e, as: SIMD16<Float>.self)
        acc += e
        i += 16
        inBlock += 1
        if inBlock == 16 { total += Double(horizontalSum(acc)); acc = SIMD16<Float>(); inBlock = 0 }
    }
    total += Double(horizontalSum(acc))
    while i < n {
        let e = expf((x[i] - shift) * scale)
        out[i] = e
        total += Double(e)
        i += 1
    }
    return total
}

/// e^x for x ≤ 0 (softmax terms after subtracting the maximum), `vexp` without its
/// special-case lane fix-ups: Swift lowers `replace(with:where:)` on SIMD16 to a
/// per-lane loop that cost 10× the polynomial here. Below −87.3 the result is
/// e^−87.3 ≈ 1e−38 instead of 0, nothing next to the maximum's term of 1.
@inline(__always)
func expNonPositive(_ x: SIMD16<Float>) -> SIMD16<Float> {
    // replace(where:) rather than pointwiseMax: the latter stays an out-of-line
    // generic call here (a function call per 16 values).
    let lower = SIMD16<Float>(repeating: -87.3)
    var clamped = x
    clamped.replace(with: lower, where: x .< lower)
    return expReduced(clamped)
}

/// max over n ≥ 1 values.
@inline(__always)
public func maxF32(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var m = SIMD16<Float>(repeating: -.infinity)
    var i = 0
    while i + 16 <= n {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
        m.replace(with: v, where: v .> m)
        i += 16
    }
    var r = horizontalMax(m)
    while i < n { r = Swift.max(r, x[i]); i += 1 }
    return r
}

/// Σ x[i] in f64, SIMD within blocks of 256 values.
@inline(__always)
public func sumF64(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
    var total = 0.0
    var acc = SIMD16<Float>()
    var i = 0, inBlock = 0
    while i + 16 <= n {
        acc += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
        i += 16
        inBlock += 1
        if inBlock == 16 { total += Double(horizontalSum(acc)); acc = SIMD16<Float>(); inBlock = 0 }
    }
    total += Double(horizontalSum(acc))
    while i < n { total += Double(x[i]); i += 1 }
    return total
}

/// Σ w[i]·(a[i] − b[i]) in f64, SIMD within blocks of 256 values.
@inline(__always)
public func weightedDifferenceSum(_ w: UnsafePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Double {
    var total = 0.0
    var acc = SIMD16<Float>()
    var i = 0, inBlock = 0
    while i + 16 <= n {
        let d = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self) - UnsafeRawPointer(b + i).loadUnaligned(as: SIMD16<Float>.self)
        acc = acc.addingProduct(UnsafeRawPointer(w + i).loadUnaligned(as: SIMD16<Float>.self), d)
        i += 16
        inBlock += 1
        if inBlock == 16 { total += Double(horizontalSum(acc)); acc = SIMD16<Float>(); inBlock = 0 }
    }
    total += Double(horizontalSum(acc))
    while i < n { total += Double(w[i]) * Double(a[i] - b[i]); i += 1 }
    return total
}
