// Register-level decoding of 32 consecutive weights into two SIMD16<Float>.
//
// 16-bit formats decode as (even elements, odd elements): one 64-byte load read
// as SIMD16<UInt32> holds element 2i in the low half of lane i and 2i+1 in the
// high half, so no shuffle is needed as long as the activation vector is
// pre-permuted the same way (see `permuteEvenOdd`). f32 decodes in natural order.
// The GEMM packer only uses the scalar `element`.

/// How one weight format turns 32 stored elements into floats.
/// Used only through concrete types, so every generic kernel is specialized.
protocol LaneDecoder {
    /// Stored bytes per element.
    static var elementBytes: Int { get }
    /// Whether `decode32` returns (evens, odds) and x must be permuted to match.
    static var evenOdd: Bool { get }
    /// 32 elements at `p` (no alignment needed) as two float vectors.
    static func decode32(_ p: UnsafeRawPointer) -> (SIMD16<Float>, SIMD16<Float>)
    /// Element `i` of the row at `p`.
    static func element(_ p: UnsafeRawPointer, _ i: Int) -> Float
}

enum F32Lanes: LaneDecoder {
    static var elementBytes: Int { 4 }
    static var evenOdd: Bool { false }
    @inline(__always)
    static func decode32(_ p: UnsafeRawPointer) -> (SIMD16<Float>, SIMD16<Float>) {
        (p.loadUnaligned(as: SIMD16<Float>.self), p.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self))
    }
    @inline(__always)
    static func element(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        p.loadUnaligned(fromByteOffset: i &* 4, as: Float.self)
    }
}

enum BF16Lanes: LaneDecoder {
    static var elementBytes: Int { 2 }
    static var evenOdd: Bool { true }
    @inline(__always)
    static func decode32(_ p: UnsafeRawPointer) -> (SIMD16<Float>, SIMD16<Float>) {
        // bf16 is the top half of an f32: a shift or a mask is the whole conversion.
        let v = p.loadUnaligned(as: SIMD16<UInt32>.self)
        return (unsafeBitCast(v &<< 16, to: SIMD16<Float>.self),
                unsafeBitCast(v & 0xFFFF_0000, to: SIMD16<Float>.self))
    }
    @inline(__always)
    static func element(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        Float(bitPattern: UInt32(p.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)) &<< 16)
    }
}

enum F16Lanes: LaneDecoder {
    static var elementBytes: Int { 2 }
    static var evenOdd: Bool { true }
    @inline(__always)
    static func decode32(_ p: UnsafeRawPointer) -> (SIMD16<Float>, SIMD16<Float>) {
        let v = p.loadUnaligned(as: SIMD16<UInt32>.self)
        return (f16ToF32(v & 0xFFFF), f16ToF32(v &>> 16))
    }
    @inline(__always)
    static func element(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)))
    }
}

/// IEEE half (in the low 16 bits of each lane) to float, exact for every input.
/// Swift's `SIMD16<Float>(SIMD16<Float16>)` is an out-of-line per-lane loop and
/// there is no way to reach vcvtph2ps zmm from Swift, so this is the integer
/// route: move exponent+mantissa into f32 position and rescale by 2^112, which
/// also normalizes subnormals; inf/NaN (exponent 31) are patched by a mask.
@inline(__always)
func f16ToF32(_ h: SIMD16<UInt32>) -> SIMD16<Float> {
    let em = (h & 0x7FFF) &<< 13
    let sign = (h & 0x8000) &<< 16
    let scaled = unsafeBitCast(em, to: SIMD16<Float>.self) * Float(bitPattern: 0x7780_0000)
    let infNaN = em .>= SIMD16<UInt32>(repeating: 0x0F80_0000)
    let bits = unsafeBitCast(scaled, to: SIMD16<UInt32>.self).replacing(with: em | 0x7F80_0000, where: infNaN)
    return unsafeBitCast(bits | sign, to: SIMD16<Float>.self)
}

/// Sum of the 16 lanes as a tree (the stdlib `.sum()` is a sequential chain).
@inline(__always)
func laneSum(_ v: SIMD16<Float>) -> Float {
    let a = v.lowHalf + v.highHalf
    let b = a.lowHalf + a.highHalf
    let c = b.lowHalf + b.highHalf
    return c[0] + c[1]
}

/// Copies x[0..<cols] into `out` with each full 32-block reordered as
/// [16 even elements | 16 odd elements], matching `decode32` of 16-bit formats.
/// The tail (cols % 32) is copied unchanged.
@inline(__always)
func permuteEvenOdd(_ x: UnsafePointer<Float>, cols: Int, into out: UnsafeMutablePointer<Float>) {
    let blocks = cols / 32
    for b in 0..<blocks {
        let src = x + b * 32, dst = out + b * 32
        let lo = UnsafeRawPointer(src).loadUnaligned(as: SIMD16<Float>.self)
        let hi = UnsafeRawPointer(src + 16).loadUnaligned(as: SIMD16<Float>.self)
        let evens = SIMD16<Float>(lowHalf: lo.evenHalf, highHalf: hi.evenHalf)
        let odds = SIMD16<Float>(lowHalf: lo.oddHalf, highHalf: hi.oddHalf)
        UnsafeMutableRawPointer(dst).storeBytes(of: evens, as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(dst + 16).storeBytes(of: odds, as: SIMD16<Float>.self)
    }
    for c in (blocks * 32)..<cols { out[c] = x[c] }
}
