extension RoPETable {
    /// The transpose of `apply` (rotation by −angle): maps the gradient with
    /// respect to rotated vectors to the gradient with respect to the inputs.
    /// x: [heads, headStride], in place.
    @inline(__always)
    public func applyInverse(_ x: UnsafeMutablePointer<Float>, heads: Int, headStride: Int, position: Int) {
        rotate(x, heads: heads, headStride: headStride, position: position, sign: -1)
    }
}
