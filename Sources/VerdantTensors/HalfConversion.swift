// Scalar conversions between the 16-bit float formats and Float.
// SIMD kernels convert in registers; these are the reference and the slow path.

@inline(__always)
public func bf16ToFloat(_ bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
}

/// Round-to-nearest-even, NaN kept quiet (as torch does).
@inline(__always)
public func floatToBF16(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x40) }
    let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
}

@inline(__always)
public func f16ToFloat(_ bits: UInt16) -> Float {
    Float(Float16(bitPattern: bits))
}

@inline(__always)
public func floatToF16(_ value: Float) -> UInt16 {
    Float16(value).bitPattern
}
