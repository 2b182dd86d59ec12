/// Character classes as Oniguruma (HF `tokenizers`' regex engine) and Rust's `char`
/// methods see them. Hot paths test a precomputed byte of flags per BMP scalar
/// instead of calling `Unicode.Scalar.Properties`, which costs a table walk each time.
enum UClass {
    static let letter: UInt8 = 1        // \p{L}
    static let number: UInt8 = 2        // \p{N}: Nd Nl No (also Rust char::is_numeric)
    static let space: UInt8 = 4         // \s and Rust char::is_whitespace: White_Space
    static let punct: UInt8 = 8         // \p{P}
    static let word: UInt8 = 16         // \w: Alphabetic, M, Nd, Pc
    static let digit: UInt8 = 32        // \d: Nd
    static let alnum: UInt8 = 64        // Rust char::is_alphanumeric: Alphabetic or Numeric

    /// Flags of every BMP scalar; surrogates stay 0. Global `let` gives thread-safe
    /// one-time initialisation.
    static let bmp: [UInt8] = {
        var t = [UInt8](repeating: 0, count: 0x10000)
        for v in 0..<0x10000 {
            if let s = Unicode.Scalar(UInt32(v)) { t[v] = compute(s) }
        }
        return t
    }()

    @inline(__always)
    static func flags(_ v: UInt32) -> UInt8 {
        if v < 0x10000 { return bmp.withUnsafeBufferPointer { $0[Int(v)] } }
        guard let s = Unicode.Scalar(v) else { return 0 }
        return compute(s)
    }

    static func compute(_ s: Unicode.Scalar) -> UInt8 {
        let p = s.properties
        var f: UInt8 = 0
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            f |= letter
        case .decimalNumber: f |= number | digit | word
        case .letterNumber, .otherNumber: f |= number
        case .connectorPunctuation: f |= punct | word
        case .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation:
            f |= punct
        case .nonspacingMark, .spacingMark, .enclosingMark: f |= word
        default: break
        }
        if p.isAlphabetic { f |= word | alnum }
        if f & number != 0 { f |= alnum }
        if p.isWhitespace { f |= space }
        return f
    }

    /// Simple case folding approximated as lower(upper(c)): maps ſ→s, K (Kelvin)→k,
    /// ς→σ the way Oniguruma's case-insensitive matching treats them.
    static func fold(_ v: UInt32) -> UInt32 {
        if v < 0x80 {
            return (v >= 0x41 && v <= 0x5A) ? v + 0x20 : v
        }
        guard let s = Unicode.Scalar(v) else { return v }
        let up = s.properties.uppercaseMapping.unicodeScalars
        var base = s
        if up.count == 1, let u = up.first { base = u }
        let low = base.properties.lowercaseMapping.unicodeScalars
        if low.count == 1, let l = low.first { return l.value }
        return v
    }
}

/// Decoding helpers over UTF-8 byte buffers known to be valid (they come from
/// Swift Strings).
enum UTF8Scan {
    @inline(__always)
    static func decode(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> (UInt32, Int) {
        let b0 = UInt32(p[i])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0, i + 1 < end { return ((b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F), 2) }
        if b0 < 0xF0, i + 2 < end {
            return ((b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F), 3)
        }
        if i + 3 < end {
            return ((b0 & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12 | UInt32(p[i + 2] & 0x3F) << 6
                    | UInt32(p[i + 3] & 0x3F), 4)
        }
        return (0xFFFD, 1)
    }

    /// Start of the scalar that ends right before byte `i`.
    @inline(__always)
    static func previousStart(_ p: UnsafePointer<UInt8>, _ i: Int) -> Int {
        var j = i - 1
        while j > 0, p[j] & 0xC0 == 0x80 { j -= 1 }
        return j
    }

    static func append(_ v: UInt32, to out: inout [UInt8]) {
        if v < 0x80 { out.append(UInt8(v)) }
        else if v < 0x800 { out.append(UInt8(0xC0 | v >> 6)); out.append(UInt8(0x80 | v & 0x3F)) }
        else if v < 0x10000 {
            out.append(UInt8(0xE0 | v >> 12)); out.append(UInt8(0x80 | (v >> 6) & 0x3F))
            out.append(UInt8(0x80 | v & 0x3F))
        } else {
            out.append(UInt8(0xF0 | v >> 18)); out.append(UInt8(0x80 | (v >> 12) & 0x3F))
            out.append(UInt8(0x80 | (v >> 6) & 0x3F)); out.append(UInt8(0x80 | v & 0x3F))
        }
    }

    static func scalars(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(bytes.count)
        guard let base = bytes.baseAddress else { return out }
        var i = 0
        while i < bytes.count {
            let (v, n) = decode(base, i, bytes.count)
            out.append(v); i += n
        }
        return out
    }
}
