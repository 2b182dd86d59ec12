/// tokenizer.json decoders. Each maps a token list to a token list (HF
/// `decode_chain`); the final text is their concatenation.
indirect enum TokenDecoder: Sendable {
    case byteLevel
    case byteFallback
    case fuse
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    case replace(pattern: String, content: String)
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme)
    case sequence([TokenDecoder])

    func decodeChain(_ tokens: [String]) -> [String] {
        switch self {
        case .byteLevel:
            var bytes: [UInt8] = []
            for t in tokens {
                let start = bytes.count
                var ok = true
                for u in t.unicodeScalars {
                    if let b = ByteLevelTable.scalarToByte[u.value] { bytes.append(b) } else { ok = false; break }
                }
                // A token with a character outside the byte alphabet is kept as its UTF-8.
                if !ok { bytes.removeSubrange(start...); bytes.append(contentsOf: t.utf8) }
            }
            return [String(decoding: bytes, as: UTF8.self)]
        case .byteFallback:
            var out: [String] = []
            var pending: [UInt8] = []
            func flush() {
                if pending.isEmpty { return }
                if let s = String(validating: pending, as: UTF8.self) { out.append(s) }
                else { out.append(contentsOf: repeatElement("\u{FFFD}", count: pending.count)) }
                pending.removeAll()
            }
            for t in tokens {
                if let b = Self.byteToken(t) { pending.append(b) } else { flush(); out.append(t) }
            }
            flush()
            return out
        case .fuse:
            return [tokens.joined()]
        case let .strip(content, start, stop):
            return tokens.map { t in
                let chars = Array(t.unicodeScalars)
                var startCut = 0
                for (i, c) in chars.prefix(start).enumerated() {
                    if c == content { startCut = i + 1 } else { break }
                }
                var stopCut = chars.count
                if stop > 0 {
                    for i in 0..<min(stop, chars.count) {
                        let index = chars.count - i - 1
                        if chars[index] == content { stopCut = index } else { break }
                    }
                }
                // HF panics when the cuts cross; an empty token is the sane reading.
                return startCut < stopCut ? String(String.UnicodeScalarView(chars[startCut..<stopCut])) : ""
            }
        case let .replace(pattern, content):
            return tokens.map { Self.replaceAll($0, pattern, content) }
        case let .metaspace(replacement, scheme):
            return tokens.enumerated().map { i, t in
                var s = String.UnicodeScalarView()
                for c in t.unicodeScalars {
                    if c == replacement {
                        if i == 0 && scheme != .never { continue }
                        s.append(" ")
                    } else { s.append(c) }
                }
                return String(s)
            }
        case .sequence(let ds):
            var t = tokens
            for d in ds { t = d.decodeChain(t) }
            return t
        }
    }

    func decode(_ tokens: [String]) -> String { decodeChain(tokens).joined() }

    static func byteToken(_ t: String) -> UInt8? {
        let u = Array(t.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }

    static func replaceAll(_ s: String, _ pattern: String, _ content: String) -> String {
        let src = Array(s.utf8), pat = Array(pattern.utf8)
        if pat.isEmpty || src.count < pat.count { return s }
        var out: [UInt8] = []
        var i = 0
        while i < src.count {
            if i + pat.count <= src.count, src[i] == pat[0], Array(src[i..<(i + pat.count)]) == pat {
                out.append(contentsOf: content.utf8); i += pat.count
            } else { out.append(src[i]); i += 1 }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
