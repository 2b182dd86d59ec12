/// The parameters one quantization block (or group, or w8a8 row) shares.
/// value = scale · code + minimum. For the symmetric formats minimum = 0 and
/// codes are signed (q4_0 codes are stored biased by 8).
public struct BlockParams: Sendable, Equatable {
    /// Scale as stored (f16-rounded where the format stores f16).
    public var scale: Float
    /// Additive offset (int4 only; 0 elsewhere), as stored.
    public var minimum: Float
    /// Multiplier used to map values to codes. GGUF's reference quantizers use
    /// 1/scale before the scale is rounded to f16; keeping it separate makes our
    /// round-to-nearest output bit-identical to theirs.
    public var inverse: Float
    /// Value subtracted before scaling to codes (int4). GGUF's Q4_1 reference
    /// measures codes from the exact block minimum, not the f16-rounded one it
    /// stores; defaults to `minimum`.
    public var origin: Float

    public init(scale: Float, minimum: Float = 0, inverse: Float? = nil, origin: Float? = nil) {
        self.scale = scale
        self.minimum = minimum
        self.inverse = inverse ?? (scale != 0 ? 1 / scale : 0)
        self.origin = origin ?? minimum
    }
}
