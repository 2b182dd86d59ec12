/// A JSON value that keeps object members in order and duplicates intact:
/// Foundation's parser silently keeps the last of two equal keys, which would
/// hide a duplicate tensor name in a safetensors header or shard index.
enum StrictJSON {
    case object([JSONMember])
    case array([StrictJSON])
    case string(String)
    /// An integer literal that fits Int exactly.
    case integer(Int)
    /// Any other number (fraction, exponent, or an integer too large for Int).
    case number(Double)
    case bool(Bool)
    case null

    var kindName: String {
        switch self {
        case .object: return "object"
        case .array: return "array"
        case .string: return "string"
        case .integer, .number: return "number"
        case .bool: return "boolean"
        case .null: return "null"
        }
    }

    /// Parses a complete document (RFC 8259; surrounding whitespace allowed).
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONSyntaxError) -> StrictJSON {
        var p = Parser(bytes: bytes)
        p.skipWhitespace()
        let value = try p.value(depth: 0)
        p.skipWhitespace()
        guard p.pos == bytes.count else { throw JSONSyntaxError(message: "trailing characters", offset: p.pos) }
        return value
    }

    static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> StrictJSON {
        let result = bytes.withUnsafeBytes { b in Result { () throws(JSONSyntaxError) -> StrictJSON in try parse(b) } }
        return try result.get()
    }
}

struct JSONMember {
    let key: String
    let value: StrictJSON
}

struct JSONSyntaxError: Error {
    let message: String
    let offset: Int
    var description: String { "\(message) at byte \(offset)" }
}

private struct Parser {
    let bytes: UnsafeRawBufferPointer
    var pos = 0
    // Headers nest three levels; the limit only stops hostile input from exhausting the stack.
    static let maxDepth = 64

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    func fail(_ message: String) -> JSONSyntaxError { .init(message: message, offset: pos) }

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

    mutating func expect(_ literal: StaticString) throws(JSONSyntaxError) {
        let n = literal.utf8CodeUnitCount
        guard bytes.count - pos >= n else { throw fail("unexpected end of input") }
        let lit = UnsafeRawBufferPointer(start: literal.utf8Start, count: n)
        for i in 0..<n where bytes[pos + i] != lit[i] { throw fail("invalid literal") }
        pos += n
    }

    mutating func value(depth: Int) throws(JSONSyntaxError) -> StrictJSON {
        guard depth < Parser.maxDepth else { throw fail("nesting deeper than \(Parser.maxDepth)") }
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

    mutating func object(depth: Int) throws(JSONSyntaxError) -> StrictJSON {
        pos += 1
        var members: [JSONMember] = []
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
            members.append(JSONMember(key: key, value: try value(depth: depth + 1)))
            skipWhitespace()
            guard !atEnd else { throw fail("unterminated object") }
            if current == UInt8(ascii: ",") { pos += 1; continue }
            if current == UInt8(ascii: "}") { pos += 1; return .object(members) }
            throw fail("expected ',' or '}'")
        }
    }

    mutating func array(depth: Int) throws(JSONSyntaxError) -> StrictJSON {
        pos += 1
        var items: [StrictJSON] = []
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

    mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
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

    mutating func string() throws(JSONSyntaxError) -> String {
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

    mutating func number() throws(JSONSyntaxError) -> StrictJSON {
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
        var isInteger = true
        if !atEnd && current == UInt8(ascii: ".") {
            isInteger = false
            pos += 1
            let digits = pos
            while !atEnd && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(current) { pos += 1 }
            guard pos > digits else { throw fail("invalid number") }
        }
        if !atEnd && (current == UInt8(ascii: "e") || current == UInt8(ascii: "E")) {
            isInteger = false
            pos += 1
            if !atEnd && (current == UInt8(ascii: "+") || current == UInt8(ascii: "-")) { pos += 1 }
            let digits = pos
            while !atEnd && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(current) { pos += 1 }
            guard pos > digits else { throw fail("invalid number") }
        }
        // The literal is ASCII by construction.
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
        if isInteger, let i = Int(text) { return .integer(i) }
        guard let d = Double(text) else { throw fail("invalid number") }
        return .number(d)
    }
}
