// SwiGLU element-wise ops of the training step, 16 lanes at a time on the pool.
//
// The MLP's h = silu(gate)·up runs three times per layer and step (forward, the
// recomputation in backward, and its derivative) over [tokens, intermediate]
// values: 2 M per layer at 2048 tokens. With libm's scalar expf on one thread it
// took ~14% of a pycoder training step while the second core idled; with `vexp`
// (≈ 2 ulp) on both threads it is a few percent. `activationValueAndDerivative`
// stays the scalar reference the tests bound these against.

/// Below this many values the pool's wake-up costs more than the second core saves.
let siluParallelMinimum = 1 << 15

/// (silu(x), sigmoid(x)) per lane. Large negative x: e^−x = +∞, σ = 0, silu = −0;
/// large positive x: e^−x ≈ 1e−38, σ = 1. `vexp`'s semantics, but clamped with
/// `replace(with:where:)`, which compiles to masked vector moves here, where
/// `clamped(lowerBound:upperBound:)` became a branchy per-lane scalar loop.
@inline(__always)
func siluAndSigmoid(_ x: SIMD16<Float>) -> (SIMD16<Float>, SIMD16<Float>) {
    let t = -x
    let low = SIMD16<Float>(repeating: -87.3), high = SIMD16<Float>(repeating: 88.7)
    var clamped = t
    clamped.replace(with: low, where: t .< low)
    clamped.replace(with: high, where: t .> high)
    var e = expReduced(clamped)
    e.replace(with: .infinity, where: t .> high)
    let s = 1 / (1 + e)
    return (x * s, s)
}

/// Calls body(lo, hi) over 0..<count in pieces that are multiples of 16 (except the
/// last), on the pool's threads when the work is large enough and the pool is free.
@inline(__always)
func forEachSIMDRange(count: Int, pool: ThreadPool?, _ body: (Int, Int) -> Void) {
    guard let pool, pool.threads > 1, !pool.isRunning, count >= siluParallelMinimum else {
        body(0, count)
        return
    }
    let tasks = pool.threads
    let vectors = (count + 15) / 16
    pool.run(tasks) { t in
        let lo = min(count, vectors * t / tasks * 16), hi = min(count, vectors * (t + 1) / tasks * 16)
        if lo < hi { body(lo, hi) }
    }
}

/// Lanes [i, i + n) of p as a vector (n < 16: the rest zero).
@inline(__always)
func loadPartial(_ p: UnsafePointer<Float>, _ n: Int) -> SIMD16<Float> {
    var v = SIMD16<Float>()
    for j in 0..<n { v[j] = p[j] }
    return v
}

@inline(__always)
func storePartial(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
    for j in 0..<n { p[j] = v[j] }
}

/// out = silu(gate)·up. gate, up, out: [count] (out may alias either input).
func gatedSiLUForward(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
                      count: Int, pool: ThreadPool?) {
    forEachSIMDRange(count: count, pool: pool) { lo, hi in
        var i = lo
        while i + 16 <= hi {
            let g = UnsafeRawPointer(gate + i).loadUnaligned(as: SIMD16<Float>.self)
            let u = UnsafeRawPointer(up + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(out + i).storeBytes(of: siluAndSigmoid(g).0 * u, as: SIMD16<Float>.self)
            i += 16
        }
        if i < hi {
            let n = hi - i
            storePartial(siluAndSigmoid(loadPartial(gate + i, n)).0 * loadPartial(up + i, n), out + i, n)
        }
    }
}

/// dGate = dh·up·silu'(gate), dUp = dh·silu(gate), silu'(x) = σ(x)·(1 + x·(1 − σ(x))).
/// dGate and dUp may alias dh (not each other).
func gatedSiLUBackward(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, dh: UnsafePointer<Float>,
                       dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>,
                       count: Int, pool: ThreadPool?) {
    @inline(__always) func step(_ g: SIMD16<Float>, _ u: SIMD16<Float>, _ d: SIMD16<Float>)
        -> (SIMD16<Float>, SIMD16<Float>) {
        let (f, s) = siluAndSigmoid(g)
        let df = s * (1 + g * (1 - s))
        return (d * u * df, d * f)
    }
    forEachSIMDRange(count: count, pool: pool) { lo, hi in
        var i = lo
        while i + 16 <= hi {
            let g = UnsafeRawPointer(gate + i).loadUnaligned(as: SIMD16<Float>.self)
            let u = UnsafeRawPointer(up + i).loadUnaligned(as: SIMD16<Float>.self)
            let d = UnsafeRawPointer(dh + i).loadUnaligned(as: SIMD16<Float>.self)
            let (dg, du) = step(g, u, d)
            UnsafeMutableRawPointer(dGate + i).storeBytes(of: dg, as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(dUp + i).storeBytes(of: du, as: SIMD16<Float>.self)
            i += 16
        }
        if i < hi {
            let n = hi - i
            let (dg, du) = step(loadPartial(gate + i, n), loadPartial(up + i, n), loadPartial(dh + i, n))
            storePartial(dg, dGate + i, n)
            storePartial(du, dUp + i, n)
        }
    }
}
