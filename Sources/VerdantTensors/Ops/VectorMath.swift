// Small SIMD helpers over f32 vectors used by norms and attention.

/// Σ a[i]·b[i], n ≥ 0.
@inline(__always)
public func dotF32(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
    var i = 0
    while i + 32 <= n {
        acc0 = acc0.addingProduct(UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self),
                                  UnsafeRawPointer(b + i).loadUnaligned(as: SIMD16<Float>.self))
        acc1 = acc1.addingProduct(UnsafeRawPointer(a + i + 16).loadUnaligned(as: SIMD16<Float>.self),
                                  UnsafeRawPointer(b + i + 16).loadUnaligned(as: SIMD16<Float>.self))
        i += 32
    }
    if i + 16 <= n {
        acc0 = acc0.addingProduct(UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self),
                                  UnsafeRawPointer(b + i).loadUnaligned(as: SIMD16<Float>.self))
        i += 16
    }
    var tail: Float = 0
    while i < n { tail += a[i] * b[i]; i += 1 }
    return horizontalSum(acc0 + acc1) + tail
}

/// y[i] += s · x[i]
@inline(__always)
public func axpyF32(_ s: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    let sv = SIMD16<Float>(repeating: s)
    var i = 0
    while i + 16 <= n {
        let yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
        let r = yv.addingProduct(sv, UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self))
        UnsafeMutableRawPointer(y + i).storeBytes(of: r, as: SIMD16<Float>.self)
        i += 16
    }
    while i < n { y[i] += s * x[i]; i += 1 }
}

/// Pairwise tree reduction: `.sum()` on SIMD types is a sequential scalar chain.
@inline(__always)
public func horizontalSum(_ v: SIMD16<Float>) -> Float {
    let a = v.lowHalf + v.highHalf
    let b = a.lowHalf + a.highHalf
    let c = b.lowHalf + b.highHalf
    return c[0] + c[1]
}

@inline(__always)
public func horizontalMax(_ v: SIMD16<Float>) -> Float {
    let a = pointwiseMax(v.lowHalf, v.highHalf)
    let b = pointwiseMax(a.lowHalf, a.highHalf)
    let c = pointwiseMax(b.lowHalf, b.highHalf)
    return max(c[0], c[1])
}

/// y[i] += x[i]
@inline(__always)
public func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    while i + 16 <= n {
        let r = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
            + UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(y + i).storeBytes(of: r, as: SIMD16<Float>.self)
        i += 16
    }
    while i < n { y[i] += x[i]; i += 1 }
}

/// x[i] *= s
@inline(__always)
public func scaleInPlace(_ x: UnsafeMutablePointer<Float>, _ s: Float, _ n: Int) {
    let sv = SIMD16<Float>(repeating: s)
    var i = 0
    while i + 16 <= n {
        let r = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self) * sv
        UnsafeMutableRawPointer(x + i).storeBytes(of: r, as: SIMD16<Float>.self)
        i += 16
    }
    while i < n { x[i] *= s; i += 1 }
}

/// Softmax backward through a scaled score: dp[i] = p[i]·(dp[i] − dot)·scale, where
/// dot = Σ dOut·out of the row (= Σ p·dp).
@inline(__always)
public func softmaxBackwardInPlace(p: UnsafePointer<Float>, dp: UnsafeMutablePointer<Float>, dot: Float, scale: Float,
                                   _ n: Int) {
    let dv = SIMD16<Float>(repeating: dot), sv = SIMD16<Float>(repeating: scale)
    var i = 0
    while i + 16 <= n {
        let pv = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
        let r = pv * (UnsafeRawPointer(dp + i).loadUnaligned(as: SIMD16<Float>.self) - dv) * sv
        UnsafeMutableRawPointer(dp + i).storeBytes(of: r, as: SIMD16<Float>.self)
        i += 16
    }
    while i < n { dp[i] = p[i] * (dp[i] - dot) * scale; i += 1 }
}
