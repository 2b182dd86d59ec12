import Foundation

/// Normalizers run once per text segment (not per token), so they work on Swift
/// Strings; Unicode normalization forms come from Foundation.
indirect enum Normalizer: Sendable {
    case nfc, nfd, nfkc, nfkd, lowercase
    case replace(SplitPattern, content: String)
    case prepend(String)
    case strip(left: Bool, right: Bool)
    case sequence([Normalizer])

    func apply(_ s: String) -> String {
        switch self {
        case .nfc: return s.precomposedStringWithCanonicalMapping
        case .nfd: return s.decomposedStringWithCanonicalMapping
        case .nfkc: return s.precomposedStringWithCompatibilityMapping
        case .nfkd: return s.decomposedStringWithCompatibilityMapping
        case .lowercase: return Self.rustLowercase(s)
        case .prepend(let p): return s.isEmpty ? s : p + s
        case let .strip(left, right):
            var scalars = Substring(s).unicodeScalars[...]
            if left { while let f = scalars.first, f.properties.isWhitespace { scalars.removeFirst() } }
            if right { while let l = scalars.last, l.properties.isWhitespace { scalars.removeLast() } }
            return String(String.UnicodeScalarView(scalars))
        case let .replace(pattern, content):
            var bytes = Array(s.utf8)
            if bytes.isEmpty { return s }
            let matches = bytes.withUnsafeBufferPointer { b -> [PreTokenizer.Match] in
                guard let base = b.baseAddress else { return [] }
                return PreTokenizer.findMatches(pattern, base, 0, b.count, invert: false)
            }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            for m in matches {
                if m.isMatch { out.append(contentsOf: content.utf8) }
                else { out.append(contentsOf: bytes[m.start..<m.end]) }
            }
            bytes = out
            return String(decoding: bytes, as: UTF8.self)
        case .sequence(let xs):
            var r = s
            for x in xs { r = x.apply(r) }
            return r
        }
    }

    /// HF lowercases char by char (Rust `char::to_lowercase`), so there is no
    /// final-sigma context rule: "ΟΔΟΣ" becomes "οδοσ".
    static func rustLowercase(_ s: String) -> String {
        if s.utf8.allSatisfy({ $0 < 0x80 }) { return s.lowercased() }
        var out = String.UnicodeScalarView()
        for c in s.unicodeScalars { out.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars) }
        return String(out)
    }
}
