/// Incremental decoding for generation: feed ids one at a time, get back only the
/// newly completed text. Mirrors HF `DecodeStream`: a window of recent ids is
/// re-decoded so decoders that depend on context (Metaspace's leading space,
/// byte fallback, multi-byte UTF-8 split across tokens) produce the same text as
/// a full decode, and nothing is emitted while the text ends in U+FFFD.
public struct StreamingDecoder: Sendable {
    public let tokenizer: Tokenizer
    public let skipSpecialTokens: Bool
    private var ids: [Int] = []
    private var prefix = ""
    private var prefixIndex = 0

    public init(tokenizer: Tokenizer, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Adds one id; returns the text it completes ("" when none yet).
    public mutating func push(_ id: Int) -> String {
        ids.append(id)
        let text = tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
        guard text.utf8.count > prefix.utf8.count, !text.hasSuffix("\u{FFFD}") else { return "" }
        let newText = Self.suffix(of: text, after: prefix)
        let newPrefixIndex = ids.count - prefixIndex
        ids.removeFirst(prefixIndex)
        prefix = tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
        prefixIndex = newPrefixIndex
        return newText
    }

    /// Flushes whatever is pending, including incomplete UTF-8 as U+FFFD.
    public mutating func finish() -> String {
        let text = tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
        let out = text.utf8.count > prefix.utf8.count ? Self.suffix(of: text, after: prefix) : ""
        ids.removeAll()
        prefix = ""
        prefixIndex = 0
        return out
    }

    private static func suffix(of text: String, after prefix: String) -> String {
        let t = Array(text.utf8), p = Array(prefix.utf8)
        var k = 0
        // HF errors when the window no longer starts with the prefix; emitting the
        // differing tail is the useful behaviour for a console stream.
        while k < p.count, k < t.count, t[k] == p[k] { k += 1 }
        return String(decoding: t[k...], as: UTF8.self)
    }
}
