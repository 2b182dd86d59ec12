/// A JSON document edited in place and written back: object members keep their
/// order and numbers keep their literal text, so rewriting a few keys of a
/// config.json leaves `10000.0` a float and `1e-05` as written (transformers
/// validates some config fields by type).
public indirect enum OrderedJSON: Sendable, Equatable {
    case object([Member])
    case array([OrderedJSON])
    case string(String)
    /// The literal as it appeared (or as produced by `integer(_:)`).
    case number(String)
    case bool(Bool)
    case null

    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: OrderedJSON
        public init(_ key: String, _ value: OrderedJSON) {
            self.key = key
            self.value = value
        }
    }

    public static func integer(_ i: Int) -> OrderedJSON { .number(String(i)) }

    public subscript(key: String) -> OrderedJSON? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    public var members: [Member]? { if case .object(let m) = self { return m }; return nil }
    public var items: [OrderedJSON]? { if case .array(let a) = self { return a }; return nil }
    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var isNull: Bool { if case .null = self { return true }; return false }

    /// The JSON type, for error messages.
    public var kindName: String {
        switch self {
        case .object: return "object"
        case .array: return "array"
        case .string: return "string"
        case .number: return "number"
        case .bool: return "boolean"
        case .null: return "null"
        }
    }

    /// An integer literal's value (no fraction or exponent).
    public var intValue: Int? {
        guard case .number(let text) = self else { return nil }
        return Int(text)
    }

    /// Replaces the value of `key`, or inserts it: before the first key that sorts
    /// after it (config files written by transformers have sorted keys).
    public mutating func set(_ key: String, _ value: OrderedJSON) {
        guard case .object(var m) = self else { return }
        if let i = m.firstIndex(where: { $0.key == key }) {
            m[i].value = value
        } else {
            let at = m.firstIndex { $0.key > key } ?? m.count
            m.insert(Member(key, value), at: at)
        }
        self = .object(m)
    }

    public mutating func remove(_ key: String) {
        guard case .object(var m) = self else { return }
        m.removeAll { $0.key == key }
        self = .object(m)
    }

    // MARK: - Parsing

    public struct SyntaxError: Error, CustomStringConvertible {
        public let message: String
        public let offset: Int
        public var description: String { "\(message) at byte \(offset)" }
    }

    /// Parses a complete document (RFC 8259; surrounding whitespace allowed). Object
    /// members keep their order and duplicates: Foundation's parser silently keeps the
    /// last of two equal keys, which would hide a duplicate tensor name in a
    /// safetensors header or shard index.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(SyntaxError) -> OrderedJSON {
        var p = OrderedJSONParser(bytes: bytes)
        p.skipWhitespace()
        let value = try p.value(depth: 0)
        p.skipWhitespace()
        guard p.pos == bytes.count else { throw SyntaxError(message: "trailing characters", offset: p.pos) }
        return value
    }

    public static func parse(_ bytes: [UInt8]) throws(SyntaxError) -> OrderedJSON {
        let result = bytes.withUnsafeBytes { b in Result { () throws(SyntaxError) -> OrderedJSON in try parse(b) } }
        return try result.get()
    }

    // MARK: - Writing

    /// Pretty-printed with two-space indentation; arrays of scalars stay on one line.
    public func serialized() -> String {
        var out = ""
        write(into: &out, indent: 0)
        out += "\n"
        return out
    }

    private var isScalar: Bool {
        switch self {
        case .object(let m): return m.isEmpty
        case .array(let a): return a.isEmpty
        default: return true
        }
    }

    private func write(into out: inout String, indent: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let t): out += t
        case .string(let s): out += jsonString(s)
        case .array(let a):
            if a.isEmpty { out += "[]"; return }
            if a.allSatisfy(\.isScalar) {
                out += "["
                for (i, v) in a.enumerated() {
                    if i > 0 { out += ", " }
                    v.write(into: &out, indent: indent)
                }
                out += "]"
                return
            }
            let pad = String(repeating: " ", count: indent + 2)
            out += "[\n"
            for (i, v) in a.enumerated() {
                out += pad
                v.write(into: &out, indent: indent + 2)
                out += i + 1 < a.count ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "]"
        case .object(let m):
            if m.isEmpty { out += "{}"; return }
            let pad = String(repeating: " ", count: indent + 2)
            out += "{\n"
            for (i, member) in m.enumerated() {
                out += pad + jsonString(member.key) + ": "
                member.value.write(into: &out, indent: indent + 2)
                out += i + 1 < m.count ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "}"
        }
    }
}

/// A JSON string literal (RFC 8259 escaping; DEL escaped too). Non-ASCII characters
/// are written as UTF-8, as the Rust `tokenizers` library writes tokenizer.json.
public func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 || u.value == 0x7F {
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}

private struct OrderedJSONParser {
    let bytes: UnsafeRawBufferPointer
    var pos = 0
    // Headers nest three levels, tokenizer.json five; the limit only stops hostile input from exhausting the stack.
    static let maxDepth = 128

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    func fail(_ message: String) -> OrderedJSON.SyntaxError { .init(message: message, offset: pos) }

    var atEnd: Bool { pos >= bytes.count }
    var current: UInt8 { bytes[pos] }

    mutating func skipWhitespace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1
            default: return
            }
        }
    }

    mutating func expect(_ literal: StaticString) throws(OrderedJSON.SyntaxError) {
        let n = literal.utf8CodeUnitCount
        guard bytes.count - pos >= n else { throw fail("unexpected end of input") }
        let lit = UnsafeRawBufferPointer(start: literal.utf8Start, count: n)
        for i in 0..<n where bytes[pos + i] != lit[i] { throw fail("invalid literal") }
        pos += n
    }

    mutating func value(depth: Int) throws(OrderedJSON.SyntaxError) -> OrderedJSON {
        guard depth < OrderedJSONParser.maxDepth else { throw fail("nesting deeper than \(OrderedJSONParser.maxDepth)") }
        guard !atEnd else { throw fail("unexpected end of input") }
        switch current {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw fail("unexpected character")
        }
    }

    mutating func object(depth: Int) throws(OrderedJSON.SyntaxError) -> OrderedJSON {
        pos += 1
        var members: [OrderedJSON.Member] = []
        skipWhitespace()
        if !atEnd && current == UInt8(ascii: "}") { pos += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard !atEnd, current == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let key = try string()
            skipWhitespace()
            guard !atEnd, current == UInt8(ascii: ":") else { throw fail("expected ':'") }
            pos += 1
            skipWhitespace()
            members.append(OrderedJSON.Member(key, try value(depth: depth + 1)))
            skipWhitespace()
            guard !atEnd else { throw fail("unterminated object") }
            if current == UInt8(ascii: ",") { pos += 1; continue }
            if current == UInt8(ascii: "}") { pos += 1; return .object(members) }
            throw fail("expected ',' or '}'")
        }
    }

    mutating func array(depth: Int) throws(OrderedJSON.SyntaxError) -> OrderedJSON {
        pos += 1
        var items: [OrderedJSON] = []
        skipWhitespace()
        if !atEnd && current == UInt8(ascii: "]") { pos += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try value(depth: depth + 1))
            skipWhitespace()
            guard !atEnd else { throw fail("unterminated array") }
            if current == UInt8(ascii: ",") { pos += 1; continue }
            if current == UInt8(ascii: "]") { pos += 1; return .array(items) }
            throw fail("expected ',' or ']'")
        }
    }

    mutating func hex4() throws(OrderedJSON.SyntaxError) -> UInt32 {
        guard bytes.count - pos >= 4 else { throw fail("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail("invalid hex digit in \\u escape")
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    mutating func string() throws(OrderedJSON.SyntaxError) -> String {
        pos += 1
        let start = pos
        // Fast path: no escapes, the common case for tensor names.
        while pos < bytes.count {
            let c = bytes[pos]
            if c == UInt8(ascii: "\"") {
                let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<pos])
                pos += 1
                guard let s = String(validating: raw, as: UTF8.self) else { throw fail("invalid UTF-8 in string") }
                return s
            }
            if c == UInt8(ascii: "\\") || c < 0x20 { break }
            pos += 1
        }
        var out = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[start..<pos]))
        while true {
            guard !atEnd else { throw fail("unterminated string") }
            let c = current
            if c == UInt8(ascii: "\"") { pos += 1; break }
            if c < 0x20 { throw fail("control character in string") }
            if c != UInt8(ascii: "\\") { out.append(c); pos += 1; continue }
            pos += 1
            guard !atEnd else { throw fail("unterminated escape") }
            let e = current
            pos += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard bytes.count - pos >= 6, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u")
                    else { throw fail("unpaired surrogate") }
                    pos += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let u = Unicode.Scalar(scalar) else { throw fail("unpaired surrogate") }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default: throw fail("invalid escape")
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8 in string") }
        return s
    }

    mutating func number() throws(OrderedJSON.SyntaxError) -> OrderedJSON {
        let start = pos
        if current == UInt8(ascii: "-") { pos += 1 }
        guard !atEnd else { throw fail("truncated number") }
        if current == UInt8(ascii: "0") {
            pos += 1
        } else if (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(current) {
            while !atEnd && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(current) { pos += 1 }
        } else {
            throw fail("invalid number")
        }
        if !atEnd && current == UInt8(ascii: ".") {
            pos += 1
            let digits = pos
            while !atEnd && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(current) { pos += 1 }
            guard pos > digits else { throw fail("invalid number") }
        }
        if !atEnd && (current == UInt8(ascii: "e") || current == UInt8(ascii: "E")) {
            pos += 1
            if !atEnd && (current == UInt8(ascii: "+") || current == UInt8(ascii: "-")) { pos += 1 }
            let digits = pos
            while !atEnd && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(current) { pos += 1 }
            guard pos > digits else { throw fail("invalid number") }
        }
        // The literal is ASCII by construction; kept as written (see `number`).
        return .number(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self))
    }
}
