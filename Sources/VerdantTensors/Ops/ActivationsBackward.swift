#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// f(x) and f'(x) of the MLP activations, matching the forms in Activations.swift.
@inline(__always)
public func activationValueAndDerivative(_ kind: ActivationKind, _ x: Float) -> (Float, Float) {
    switch kind {
    case .silu:
        let s = 1 / (1 + expf(-x))
        return (x * s, s * (1 + x * (1 - s)))
    case .gelu:
        // Φ(x) + x·φ(x)
        let cdf = 0.5 * (1 + erff(x * 0.70710678118654752))
        let pdf = expf(-0.5 * x * x) * 0.3989422804014327
        return (x * cdf, cdf + x * pdf)
    case .geluTanh:
        let k: Float = 0.7978845608028654
        let u = k * (x + 0.044715 * x * x * x)
        let t = tanhf(u)
        return (0.5 * x * (1 + t), 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x))
    case .relu:
        return x > 0 ? (x, 1) : (0, 0)
    }
}

/// Plain MLP: y = f(pre). dPre = dy·f'(pre). pre, dy, dPre: [count] (dPre may alias dy).
public func activationBackward(_ kind: ActivationKind, pre: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                               dPre: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { dPre[i] = dy[i] * activationValueAndDerivative(kind, pre[i]).1 }
}

/// Gated MLP: h = f(gate)·up. dGate = dh·up·f'(gate), dUp = dh·f(gate).
/// gate, up, dh, dGate, dUp: [count]; dGate and dUp may alias dh (not each other).
/// SiLU runs vectorized (GatedSiLU.swift), on `pool`'s threads for large counts.
public func gatedActivationBackward(_ kind: ActivationKind, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                                    dh: UnsafePointer<Float>, dGate: UnsafeMutablePointer<Float>,
                                    dUp: UnsafeMutablePointer<Float>, count: Int, pool: ThreadPool? = nil) {
    if kind == .silu {
        gatedSiLUBackward(gate: gate, up: up, dh: dh, dGate: dGate, dUp: dUp, count: count, pool: pool)
        return
    }
    gatedActivationBackwardReference(kind, gate: gate, up: up, dh: dh, dGate: dGate, dUp: dUp, count: count)
}

/// Scalar reference of `gatedActivationBackward` (libm expf, one thread).
public func gatedActivationBackwardReference(_ kind: ActivationKind, gate: UnsafePointer<Float>,
                                             up: UnsafePointer<Float>, dh: UnsafePointer<Float>,
                                             dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>,
                                             count: Int) {
    for i in 0..<count {
        let (f, df) = activationValueAndDerivative(kind, gate[i])
        let g = dh[i]
        dGate[i] = g * up[i] * df
        dUp[i] = g * f
    }
}

/// h = f(gate)·up (gated) into out; the recomputation backward needs for down_proj's weight gradient.
/// SiLU runs vectorized (GatedSiLU.swift), on `pool`'s threads for large counts.
public func gatedActivationForward(_ kind: ActivationKind, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                                   out: UnsafeMutablePointer<Float>, count: Int, pool: ThreadPool? = nil) {
    if kind == .silu {
        gatedSiLUForward(gate: gate, up: up, out: out, count: count, pool: pool)
        return
    }
    gatedActivationForwardReference(kind, gate: gate, up: up, out: out, count: count)
}

/// Scalar reference of `gatedActivationForward` (libm expf, one thread).
public func gatedActivationForwardReference(_ kind: ActivationKind, gate: UnsafePointer<Float>,
                                            up: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { out[i] = activationValueAndDerivative(kind, gate[i]).0 * up[i] }
}
