#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rotary position embedding tables in the "rotate half" layout transformers
/// uses for Llama-family checkpoints: dimension i pairs with i + d/2.
public struct RoPETable: Sendable {
    public let halfDim: Int
    public let positions: Int
    /// [positions, halfDim]
    let cos: [Float]
    let sin: [Float]

    /// `inverseFrequencies`: [halfDim], already scaled (linear, llama3, ...).
    public init(inverseFrequencies: [Float], positions: Int) {
        halfDim = inverseFrequencies.count
        self.positions = positions
        var c = [Float](repeating: 0, count: positions * halfDim)
        var s = c
        for p in 0..<positions {
            for i in 0..<halfDim {
                // transformers computes the angle in f32 (position · inv_freq) and
                // then cos/sin of that f32 angle; do the same to match its rounding.
                let angle = Float(p) * inverseFrequencies[i]
                c[p * halfDim + i] = Float(Foundation_cos(Double(angle)))
                s[p * halfDim + i] = Float(Foundation_sin(Double(angle)))
            }
        }
        cos = c
        sin = s
    }

    /// Rotates `heads` consecutive head vectors of size 2·halfDim at `position`.
    /// x: [heads, 2·halfDim], in place.
    @inline(__always)
    public func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, headStride: Int, position: Int) {
        rotate(x, heads: heads, headStride: headStride, position: position, sign: 1)
    }

    /// Rotation by sign·angle: +1 is the forward rotation, −1 its transpose (the backward pass).
    @inline(__always)
    func rotate(_ x: UnsafeMutablePointer<Float>, heads: Int, headStride: Int, position: Int, sign: Float) {
        cos.withUnsafeBufferPointer { cb in
            sin.withUnsafeBufferPointer { sb in
                let c = cb.baseAddress! + position * halfDim
                let s = sb.baseAddress! + position * halfDim
                for h in 0..<heads {
                    let v = x + h * headStride
                    for i in 0..<halfDim {
                        let a = v[i], b = v[i + halfDim], si = sign * s[i]
                        v[i] = a * c[i] - b * si
                        v[i + halfDim] = b * c[i] + a * si
                    }
                }
            }
        }
    }
}

@inline(__always) func Foundation_cos(_ x: Double) -> Double { cos(x) }
@inline(__always) func Foundation_sin(_ x: Double) -> Double { sin(x) }
