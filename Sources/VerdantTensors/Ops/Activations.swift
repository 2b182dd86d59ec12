#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SwiGLU gate: gate[i] = silu(gate[i]) · up[i]. gate, up: [count].
public func siluMultiply(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
    for i in 0..<count {
        let g = gate[i]
        gate[i] = g / (1 + expf(-g)) * up[i]
    }
}

/// Activation applied in place to `count` values (non-gated MLPs).
public func applyActivation(_ kind: ActivationKind, _ x: UnsafeMutablePointer<Float>, count: Int) {
    switch kind {
    case .silu:
        for i in 0..<count { let v = x[i]; x[i] = v / (1 + expf(-v)) }
    case .gelu:
        for i in 0..<count { let v = x[i]; x[i] = 0.5 * v * (1 + erff(v * 0.70710678118654752)) }
    case .geluTanh:
        // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) as transformers' NewGELU.
        for i in 0..<count {
            let v = x[i]
            x[i] = 0.5 * v * (1 + tanhf(0.7978845608028654 * (v + 0.044715 * v * v * v)))
        }
    case .relu:
        for i in 0..<count { x[i] = max(0, x[i]) }
    }
}

public enum ActivationKind: Sendable {
    case silu, gelu, geluTanh, relu
}
