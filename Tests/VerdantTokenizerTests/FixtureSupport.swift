import Foundation
@testable import VerdantTokenizer

enum Fixtures {
    static let directory: String = {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)?.path ?? "Fixtures"
    }()

    static let styles = ["qwen2", "gpt2", "gpt2prefix", "llama3", "starcoder", "deepseek", "llama2", "metaspace",
                         "whitespace"]

    static func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    static func json(_ name: String) throws -> JSONValue {
        guard let data = FileManager.default.contents(atPath: path(name)) else {
            throw TokenizerError.io("missing fixture \(name)")
        }
        return try JSONParser.parse([UInt8](data))
    }

    static func ints(_ v: JSONValue?) -> [Int] { (v?.array ?? []).compactMap(\.int) }

    /// JSON text of a value (for building one-component tokenizers in tests).
    static func serialize(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let d): return d.rounded() == d ? String(Int(d)) : String(d)
        case .string(let s):
            var out = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default:
                    if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
                }
            }
            return out + "\""
        case .array(let a): return "[" + a.map(serialize).joined(separator: ",") + "]"
        case .object(let o): return "{" + o.map { serialize(.string($0.0)) + ":" + serialize($0.1) }.joined(separator: ",") + "}"
        case .raw: return "null"
        }
    }

    static func componentTokenizer(_ key: String, _ component: JSONValue) throws -> Tokenizer {
        try Tokenizer(jsonString: #"{"version":"1.0","model":{"type":"BPE","vocab":{},"merges":[]},"\#(key)":"#
                      + serialize(component) + "}")
    }
}
