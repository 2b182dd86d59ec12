/// A minimal JSON value tree. tokenizer.json files reach 150k vocab entries and as
/// many merges; a byte scanner building this tree is several times faster than
/// Foundation's JSONSerialization and keeps object key order (vocab order matters
/// for nothing, but merges order is the rank).
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])
    /// A value left unparsed (its byte range), produced only when the caller asks
    /// the parser to skip a key; used for the vocab and merges of big tokenizers.
    case raw(Range<Int>)

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.raw(x), .raw(y)): return x == y
        default: return false
        }
    }

    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        for (k, v) in members where k == key { return v }
        return nil
    }

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var object: [(String, JSONValue)]? { if case .object(let o) = self { return o }; return nil }
    public var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var isNull: Bool { if case .null = self { return true }; return false }
    public var int: Int? {
        guard case .number(let d) = self, d.rounded() == d, abs(d) < 9e15 else { return nil }
        return Int(d)
    }
    public var double: Double? { if case .number(let d) = self { return d }; return nil }
}

public struct JSONParseError: Error, CustomStringConvertible {
    public let offset: Int
    public let reason: String
    public var description: String { "malformed JSON at byte \(offset): \(reason)" }
}

public enum JSONParser {
    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        try parse(bytes, skip: { _, _ in false })
    }

    /// `skip(depth, key)`: leave that member's value unparsed as `.raw(range)`.
    public static func parse(_ bytes: [UInt8], skip: @escaping (Int, String) -> Bool) throws(JSONParseError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buf) throws(JSONParseError) -> JSONValue in
            var p = Scanner(buf: buf)
            p.skip = skip
            let v = try p.value(depth: 0)
            p.skipSpace()
            if p.pos != buf.count { throw p.error("trailing characters") }
            return v
        }
    }

    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    /// Calls `body(token bytes, id)` for each member of a vocab object.
    static func scanVocab(_ bytes: [UInt8], _ range: Range<Int>,
                          _ body: (UnsafeBufferPointer<UInt8>, Int) throws(JSONParseError) -> Void) throws(JSONParseError) {
        try bytes.withUnsafeBufferPointer { (buf) throws(JSONParseError) in
            var p = Scanner(buf: buf)
            p.pos = range.lowerBound
            p.skipSpace()
            guard p.pos < buf.count, buf[p.pos] == UInt8(ascii: "{") else { throw p.error("vocab is not an object") }
            p.pos += 1
            p.skipSpace()
            if p.pos < buf.count, buf[p.pos] == UInt8(ascii: "}") { return }
            var key: [UInt8] = []
            while true {
                p.skipSpace()
                guard p.pos < buf.count, buf[p.pos] == UInt8(ascii: "\"") else { throw p.error("expected vocab key") }
                try p.rawString(into: &key)
                p.skipSpace()
                guard p.pos < buf.count, buf[p.pos] == UInt8(ascii: ":") else { throw p.error("expected ':'") }
                p.pos += 1
                p.skipSpace()
                let v = try p.number()
                guard v >= 0, v < 1e9, v.rounded() == v else { throw p.error("vocab id \(v) is not a valid id") }
                try key.withUnsafeBufferPointer { (k) throws(JSONParseError) in try body(k, Int(v)) }
                p.skipSpace()
                guard p.pos < buf.count else { throw p.error("unterminated vocab") }
                if buf[p.pos] == UInt8(ascii: ",") { p.pos += 1; continue }
                if buf[p.pos] == UInt8(ascii: "}") { return }
                throw p.error("expected ',' or '}'")
            }
        }
    }

    /// Where each merge's two strings are: (start, length) pairs into the JSON bytes,
    /// or into `side` (start | 1 << 31) when the string had escapes. Collecting
    /// locations lets merges be scanned while the vocab is still being loaded.
    struct MergeLocations: Sendable {
        var spans: [UInt32] = []   // aStart, aLen, bStart, bLen per merge
        var side: [UInt8] = []
    }

    static func locateMerges(_ bytes: [UInt8], _ range: Range<Int>) throws(JSONParseError) -> MergeLocations {
        var loc = MergeLocations()
        var a: [UInt8] = [], b: [UInt8] = []
        try bytes.withUnsafeBufferPointer { (buf) throws(JSONParseError) in
            var p = Scanner(buf: buf)
            p.pos = range.lowerBound
            func str(_ tmp: inout [UInt8]) throws(JSONParseError) -> (UInt32, UInt32) {
                let start = p.pos + 1
                try p.rawString(into: &tmp)
                if p.pos - start - 1 == tmp.count { return (UInt32(start), UInt32(tmp.count)) }
                let s = loc.side.count
                loc.side.append(contentsOf: tmp)
                return (UInt32(s) | 1 << 31, UInt32(tmp.count))
            }
            p.skipSpace()
            guard p.pos < buf.count, buf[p.pos] == UInt8(ascii: "[") else { throw p.error("merges is not an array") }
            p.pos += 1
            p.skipSpace()
            if p.pos < buf.count, buf[p.pos] == UInt8(ascii: "]") { return }
            while true {
                p.skipSpace()
                guard p.pos < buf.count else { throw p.error("unterminated merges") }
                if buf[p.pos] == UInt8(ascii: "\"") {
                    let (s, n) = try str(&a)
                    guard let sp = a.firstIndex(of: 0x20) else { throw p.error("merge is not \"a b\"") }
                    let base = s & ~(1 << 31), flag = s & (1 << 31)
                    loc.spans.append(contentsOf: [s, UInt32(sp), (base + UInt32(sp) + 1) | flag, n - UInt32(sp) - 1])
                } else if buf[p.pos] == UInt8(ascii: "[") {
                    p.pos += 1; p.skipSpace()
                    guard p.pos < buf.count, buf[p.pos] == UInt8(ascii: "\"") else { throw p.error("merge pair must hold strings") }
                    let (s1, n1) = try str(&a)
                    p.skipSpace()
                    guard p.pos < buf.count, buf[p.pos] == UInt8(ascii: ",") else { throw p.error("merge pair needs two strings") }
                    p.pos += 1; p.skipSpace()
                    guard p.pos < buf.count, buf[p.pos] == UInt8(ascii: "\"") else { throw p.error("merge pair must hold strings") }
                    let (s2, n2) = try str(&b)
                    p.skipSpace()
                    guard p.pos < buf.count, buf[p.pos] == UInt8(ascii: "]") else { throw p.error("merge pair needs exactly two strings") }
                    p.pos += 1
                    loc.spans.append(contentsOf: [s1, n1, s2, n2])
                } else {
                    throw p.error("merge entry is neither \"a b\" nor [a, b]")
                }
                p.skipSpace()
                guard p.pos < buf.count else { throw p.error("unterminated merges") }
                if buf[p.pos] == UInt8(ascii: ",") { p.pos += 1; continue }
                if buf[p.pos] == UInt8(ascii: "]") { return }
                throw p.error("expected ',' or ']'")
            }
        }
        return loc
    }

    /// Calls `body(left bytes, right bytes)` for each merge, given as "a b" or ["a", "b"].
    static func scanMerges(_ bytes: [UInt8], _ range: Range<Int>,
                           _ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> Void)
        throws(JSONParseError) {
        try bytes.withUnsafeBufferPointer { (buf) throws(JSONParseError) in
            var p = Scanner(buf: buf)
            p.pos = range.lowerBound
            p.skipSpace()
            guard p.pos < buf.count, buf[p.pos] == UInt8(ascii: "[") else { throw p.error("merges is not an array") }
            p.pos += 1
            p.skipSpace()
            if p.pos < buf.count, buf[p.pos] == UInt8(ascii: "]") { return }
            var a: [UInt8] = [], b: [UInt8] = []
            while true {
                p.skipSpace()
                guard p.pos < buf.count else { throw p.error("unterminated merges") }
                if buf[p.pos] == UInt8(ascii: "\"") {
                    try p.rawString(into: &a)
                    guard let sp = a.firstIndex(of: 0x20) else { throw p.error("merge is not \"a b\"") }
                    b.removeAll(keepingCapacity: true)
                    b.append(contentsOf: a[(sp + 1)...])
                    a.removeSubrange(sp...)
                } else if buf[p.pos] == UInt8(ascii: "[") {
                    p.pos += 1; p.skipSpace()
                    guard p.pos < buf.count, buf[p.pos] == UInt8(ascii: "\"") else { throw p.error("merge pair must hold strings") }
                    try p.rawString(into: &a)
                    p.skipSpace()
                    guard p.pos < buf.count, buf[p.pos] == UInt8(ascii: ",") else { throw p.error("merge pair needs two strings") }
                    p.pos += 1; p.skipSpace()
                    guard p.pos < buf.count, buf[p.pos] == UInt8(ascii: "\"") else { throw p.error("merge pair must hold strings") }
                    try p.rawString(into: &b)
                    p.skipSpace()
                    guard p.pos < buf.count, buf[p.pos] == UInt8(ascii: "]") else { throw p.error("merge pair needs exactly two strings") }
                    p.pos += 1
                } else {
                    throw p.error("merge entry is neither \"a b\" nor [a, b]")
                }
                try a.withUnsafeBufferPointer { (x) throws(JSONParseError) in
                    try b.withUnsafeBufferPointer { (y) throws(JSONParseError) in try body(x, y) }
                }
                p.skipSpace()
                guard p.pos < buf.count else { throw p.error("unterminated merges") }
                if buf[p.pos] == UInt8(ascii: ",") { p.pos += 1; continue }
                if buf[p.pos] == UInt8(ascii: "]") { return }
                throw p.error("expected ',' or ']'")
            }
        }
    }

    private struct Scanner {
        let buf: UnsafeBufferPointer<UInt8>
        var pos = 0
        var scratch: [UInt8] = []
        var skip: (Int, String) -> Bool = { _, _ in false }

        /// Skips one value without building it.
        mutating func skipValue() throws(JSONParseError) {
            skipSpace()
            guard pos < buf.count else { throw error("unexpected end of input") }
            var depth = 0
            repeat {
                guard pos < buf.count else { throw error("unterminated value") }
                let c = buf[pos]
                if c == UInt8(ascii: "\"") {
                    pos += 1
                    while pos < buf.count, buf[pos] != UInt8(ascii: "\"") { pos += buf[pos] == UInt8(ascii: "\\") ? 2 : 1 }
                    guard pos < buf.count else { throw error("unterminated string") }
                    pos += 1
                } else if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                    depth += 1; pos += 1
                } else if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") {
                    depth -= 1; pos += 1
                    if depth < 0 { throw error("unbalanced brackets") }
                } else if depth == 0 {
                    // Scalar at top level: consume until a delimiter.
                    while pos < buf.count {
                        let d = buf[pos]
                        if d == UInt8(ascii: ",") || d == UInt8(ascii: "}") || d == UInt8(ascii: "]") || d == 0x20
                            || d == 0x0A || d == 0x0D || d == 0x09 { break }
                        pos += 1
                    }
                } else {
                    pos += 1
                }
            } while depth > 0
        }

        /// Decodes the string at `pos` into `out` (replacing its contents).
        mutating func rawString(into out: inout [UInt8]) throws(JSONParseError) {
            pos += 1
            let start = pos
            out.removeAll(keepingCapacity: true)
            while pos < buf.count {
                let c = buf[pos]
                if c == UInt8(ascii: "\"") {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[start..<pos]))
                    pos += 1
                    return
                }
                if c == UInt8(ascii: "\\") { break }
                pos += 1
            }
            pos = start - 1
            let s = try string()
            out.append(contentsOf: s.utf8)
        }

        init(buf: UnsafeBufferPointer<UInt8>) { self.buf = buf }

        func error(_ reason: String) -> JSONParseError { JSONParseError(offset: pos, reason: reason) }

        mutating func skipSpace() {
            while pos < buf.count {
                let c = buf[pos]
                if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { pos += 1 } else { break }
            }
        }

        mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
            if depth > 512 { throw error("nesting too deep") }
            skipSpace()
            guard pos < buf.count else { throw error("unexpected end of input") }
            switch buf[pos] {
            case UInt8(ascii: "{"):
                pos += 1
                var members: [(String, JSONValue)] = []
                skipSpace()
                if pos < buf.count, buf[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard pos < buf.count, buf[pos] == UInt8(ascii: "\"") else { throw error("expected object key") }
                    let key = try string()
                    skipSpace()
                    guard pos < buf.count, buf[pos] == UInt8(ascii: ":") else { throw error("expected ':'") }
                    pos += 1
                    if skip(depth + 1, key) {
                        skipSpace()
                        let start = pos
                        try skipValue()
                        members.append((key, .raw(start..<pos)))
                    } else {
                        members.append((key, try value(depth: depth + 1)))
                    }
                    skipSpace()
                    guard pos < buf.count else { throw error("unterminated object") }
                    if buf[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if buf[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
                    throw error("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                pos += 1
                var items: [JSONValue] = []
                skipSpace()
                if pos < buf.count, buf[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                while true {
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard pos < buf.count else { throw error("unterminated array") }
                    if buf[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if buf[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                    throw error("expected ',' or ']'")
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"):
                try literal("true"); return .bool(true)
            case UInt8(ascii: "f"):
                try literal("false"); return .bool(false)
            case UInt8(ascii: "n"):
                try literal("null"); return .null
            default:
                return .number(try number())
            }
        }

        mutating func literal(_ word: StaticString) throws(JSONParseError) {
            let n = word.utf8CodeUnitCount
            guard pos + n <= buf.count else { throw error("invalid literal") }
            let w = word.utf8Start
            for i in 0..<n where buf[pos + i] != w[i] { throw error("invalid literal") }
            pos += n
        }

        mutating func number() throws(JSONParseError) -> Double {
            let start = pos
            var intPart: Int64 = 0
            var negative = false
            var simple = true
            if pos < buf.count, buf[pos] == UInt8(ascii: "-") { negative = true; pos += 1 }
            var digits = 0
            while pos < buf.count, buf[pos] >= 0x30, buf[pos] <= 0x39 {
                if digits < 17 { intPart = intPart * 10 + Int64(buf[pos] - 0x30) } else { simple = false }
                digits += 1; pos += 1
            }
            if digits == 0 { throw error("invalid value") }
            while pos < buf.count {
                let c = buf[pos]
                if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E")
                    || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") || (c >= 0x30 && c <= 0x39) {
                    simple = false; pos += 1
                } else { break }
            }
            if simple { return Double(negative ? -intPart : intPart) }
            let text = String(decoding: UnsafeBufferPointer(rebasing: buf[start..<pos]), as: UTF8.self)
            guard let d = Double(text) else { throw JSONParseError(offset: start, reason: "invalid number") }
            return d
        }

        mutating func hex4() throws(JSONParseError) -> UInt32 {
            guard pos + 4 <= buf.count else { throw error("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = buf[pos]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: throw error("invalid \\u escape")
                }
                v = v << 4 | d
                pos += 1
            }
            return v
        }

        mutating func string() throws(JSONParseError) -> String {
            pos += 1  // opening quote
            let start = pos
            // Fast path: no escapes, build the String straight from the bytes.
            while pos < buf.count {
                let c = buf[pos]
                if c == UInt8(ascii: "\"") {
                    let s = String(decoding: UnsafeBufferPointer(rebasing: buf[start..<pos]), as: UTF8.self)
                    pos += 1
                    return s
                }
                if c == UInt8(ascii: "\\") { break }
                pos += 1
            }
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: UnsafeBufferPointer(rebasing: buf[start..<pos]))
            while pos < buf.count {
                let c = buf[pos]
                if c == UInt8(ascii: "\"") {
                    pos += 1
                    return String(decoding: scratch, as: UTF8.self)
                }
                if c != UInt8(ascii: "\\") { scratch.append(c); pos += 1; continue }
                pos += 1
                guard pos < buf.count else { break }
                let e = buf[pos]
                pos += 1
                switch e {
                case UInt8(ascii: "\""): scratch.append(0x22)
                case UInt8(ascii: "\\"): scratch.append(0x5C)
                case UInt8(ascii: "/"): scratch.append(0x2F)
                case UInt8(ascii: "b"): scratch.append(0x08)
                case UInt8(ascii: "f"): scratch.append(0x0C)
                case UInt8(ascii: "n"): scratch.append(0x0A)
                case UInt8(ascii: "r"): scratch.append(0x0D)
                case UInt8(ascii: "t"): scratch.append(0x09)
                case UInt8(ascii: "u"):
                    var cp = try hex4()
                    if cp >= 0xD800, cp < 0xDC00 {
                        // A lone high surrogate becomes U+FFFD, like serde_json's lossy path.
                        if pos + 6 <= buf.count, buf[pos] == UInt8(ascii: "\\"), buf[pos + 1] == UInt8(ascii: "u") {
                            let save = pos
                            pos += 2
                            let lo = try hex4()
                            if lo >= 0xDC00, lo < 0xE000 {
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                            } else { pos = save; cp = 0xFFFD }
                        } else { cp = 0xFFFD }
                    } else if cp >= 0xDC00, cp < 0xE000 { cp = 0xFFFD }
                    let scalar = Unicode.Scalar(cp) ?? "\u{FFFD}"
                    scratch.append(contentsOf: String(Character(scalar)).utf8)
                default: throw error("invalid escape")
                }
            }
            throw JSONParseError(offset: start, reason: "unterminated string")
        }
    }
}
