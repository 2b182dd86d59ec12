extension RoPETable {
    /// The transpose of `apply` (rotation by −angle): maps the gradient with
    /// respect to rotated vectors to the gradient with respect to the inputs.
    /// x: [heads, headStride], in place.
    @inline(__always)
    public func applyInverse(_ x: UnsafeMutablePointer<Float>, heads: Int, headStride: Int, position: Int) {
        cos.withUnsafeBufferPointer { cb in
            sin.withUnsafeBufferPointer { sb in
                let c = cb.baseAddress! + position * halfDim
                let s = sb.baseAddress! + position * halfDim
                for h in 0..<heads {
                    let v = x + h * headStride
                    for i in 0..<halfDim {
                        let a = v[i], b = v[i + halfDim]
                        v[i] = a * c[i] + b * s[i]
                        v[i + halfDim] = b * c[i] - a * s[i]
                    }
                }
            }
        }
    }
}
