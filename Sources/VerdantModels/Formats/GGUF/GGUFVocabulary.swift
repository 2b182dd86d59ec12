import Foundation
import VerdantTokenizer

/// `tokenizer.ggml.*` metadata for a byte-level BPE tokenizer (llama.cpp's
/// "gpt2" tokenizer model), built the way llama.cpp's converter builds it.
enum GGUFVocabulary {
    /// llama_token_type values.
    enum TokenType: Int32 { case normal = 1, control = 3, userDefined = 4, unused = 5 }

    struct Result {
        var metadata: [(String, GGUFValue)]
        var notes: [String]
    }

    /// - Parameters:
    ///   - directory: model directory (tokenizer.json, optional tokenizer_config.json).
    ///   - vocabSize: config.json's vocab_size: the embedding rows; ids the
    ///     tokenizer lacks become "[PADn]" tokens of type UNUSED, as in the converter.
    static func metadata(directory: String, tokenizer: Tokenizer, config: ModelConfig) throws -> Result {
        var notes: [String] = []
        let tokenizerJSON = readJSONObject(directory, "tokenizer.json")
        let tokenizerConfig = readJSONObject(directory, "tokenizer_config.json")
        let modelConfig = readJSONObject(directory, "config.json")

        guard isByteLevel(tokenizerJSON) else {
            throw GGUFError.unsupported("\(directory)/tokenizer.json is not a byte-level BPE tokenizer (no ByteLevel pre-tokenizer or decoder); only those can be exported as llama.cpp's \"gpt2\" tokenizer model (use --no-vocab to export the weights alone)")
        }
        let vocabSize = config.vocabSize
        guard tokenizer.vocabSize <= vocabSize else {
            throw GGUFError.unsupported("the tokenizer has ids up to \(tokenizer.vocabSize - 1) but config.json's vocab_size is \(vocabSize)")
        }

        var added: [Int: AddedToken] = [:]
        for t in tokenizer.addedTokens { added[t.id] = t }
        var tokens: [String] = []
        var types: [Int32] = []
        tokens.reserveCapacity(vocabSize)
        types.reserveCapacity(vocabSize)
        var padded = 0
        for id in 0..<vocabSize {
            guard let text = tokenizer.token(of: id) else {
                tokens.append("[PAD\(id)]")
                types.append(TokenType.unused.rawValue)
                padded += 1
                continue
            }
            tokens.append(text)
            if let a = added[id] {
                types.append((a.special || looksSpecial(text) ? TokenType.control : .userDefined).rawValue)
            } else {
                types.append(TokenType.normal.rawValue)
            }
        }
        if padded > 0 { notes.append("\(padded) ids without a token are written as [PADn] (unused)") }

        let (pre, recognized) = preTokenizerName(tokenizerJSON?["pre_tokenizer"])
        if !recognized {
            notes.append("warning: the pre-tokenizer is not one Verdant recognizes; tokenizer.ggml.pre = \"\(pre)\" (GPT-2's split rule), so llama.cpp may split text differently from transformers")
        }

        var kv: [(String, GGUFValue)] = [
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string(pre)),
            ("tokenizer.ggml.tokens", .strings(tokens)),
            ("tokenizer.ggml.token_type", .int32s(types)),
            ("tokenizer.ggml.merges", .strings(tokenizer.merges.map { "\($0.0) \($0.1)" })),
        ]
        let bos = specialId("bos_token", tokenizer, tokenizerConfig) ?? tokenizer.bosTokenId ?? config.bosTokenIds.first
        let eos = specialId("eos_token", tokenizer, tokenizerConfig) ?? tokenizer.eosTokenId ?? config.eosTokenIds.first
        let pad = specialId("pad_token", tokenizer, tokenizerConfig) ?? (modelConfig?["pad_token_id"] as? Int)
        let unk = specialId("unk_token", tokenizer, tokenizerConfig)
        for (key, id) in [("bos", bos), ("eos", eos), ("unknown", unk), ("padding", pad)] {
            if let id, id >= 0, id < vocabSize { kv.append(("tokenizer.ggml.\(key)_token_id", .uint32(UInt32(id)))) }
        }
        // What the post-processor adds around a text is what transformers' encode
        // (and `verdant generate`) does; tokenizer_config.json's flags override it.
        let plain = tokenizer.encode("a", addSpecialTokens: false)
        let framed = tokenizer.encode("a", addSpecialTokens: true)
        var addsBOS = false, addsEOS = false
        if framed.count > plain.count, let start = firstIndex(of: plain, in: framed) {
            addsBOS = start > 0 && bos != nil && framed.first == bos
            addsEOS = start + plain.count < framed.count && eos != nil && framed.last == eos
        }
        if let b = tokenizerConfig?["add_bos_token"] as? Bool { addsBOS = b }
        if let e = tokenizerConfig?["add_eos_token"] as? Bool { addsEOS = e }
        kv.append(("tokenizer.ggml.add_bos_token", .bool(addsBOS)))
        kv.append(("tokenizer.ggml.add_eos_token", .bool(addsEOS)))
        if let template = tokenizerConfig?["chat_template"] as? String {
            kv.append(("tokenizer.chat_template", .string(template)))
        }
        return Result(metadata: kv, notes: notes)
    }

    /// Metadata for `--no-vocab`: llama.cpp loads such a file (tokenizer model
    /// "none") with `vocab_size` placeholder tokens and runs it from token ids.
    static func placeholder() -> [(String, GGUFValue)] {
        [("tokenizer.ggml.model", .string("none"))]
    }

    /// The name llama.cpp's converter would pick for `tokenizer.ggml.pre`. The
    /// converter identifies known tokenizers by hashing their output on a test
    /// text; we identify the pre-tokenizer itself, which also covers tokenizers
    /// trained with a known model's split rule (llama.cpp implements the rule,
    /// not the vocabulary). Unknown rules get "gpt-2" (recognized = false).
    static func preTokenizerName(_ pre: Any?) -> (name: String, recognized: Bool) {
        let steps: [[String: Any]]
        if let p = pre as? [String: Any] {
            steps = (p["type"] as? String) == "Sequence" ? (p["pretokenizers"] as? [[String: Any]] ?? []) : [p]
        } else {
            steps = []
        }
        let kinds = steps.map { $0["type"] as? String ?? "" }
        let split = steps.first { ($0["type"] as? String) == "Split" }
        let regex = (split?["pattern"] as? [String: Any])?["Regex"] as? String
        let byteLevelRegex = steps.contains { ($0["type"] as? String) == "ByteLevel" && ($0["use_regex"] as? Bool ?? true) }
        if let regex, kinds == ["Split", "ByteLevel"], !byteLevelRegex {
            if regex == qwen2Regex { return ("qwen2", true) }
            if regex == llama3Regex { return ("llama-bpe", true) }
            return ("gpt-2", false)
        }
        if kinds == ["ByteLevel"], byteLevelRegex { return ("gpt-2", true) }
        if kinds == ["Digits", "ByteLevel"], byteLevelRegex, steps[0]["individual_digits"] as? Bool == true {
            return ("starcoder", true)
        }
        return ("gpt-2", false)
    }

    /// Qwen2 / Qwen2.5(-Coder): single digits, letters with one leading non-letter.
    static let qwen2Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// Llama 3: as Qwen2 but digits in runs of up to three.
    static let llama3Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    static func isByteLevel(_ json: [String: Any]?) -> Bool {
        func has(_ node: Any?) -> Bool {
            guard let d = node as? [String: Any] else { return false }
            if (d["type"] as? String) == "ByteLevel" { return true }
            let children = (d["pretokenizers"] as? [Any] ?? []) + (d["decoders"] as? [Any] ?? [])
            return children.contains(where: has)
        }
        return has(json?["pre_tokenizer"]) || has(json?["decoder"])
    }

    /// Added tokens some models forget to mark special (same test as the converter).
    static func looksSpecial(_ t: String) -> Bool {
        ["<pad>", "<mask>"].contains(t)
            || (t.hasPrefix("<|") && t.hasSuffix("|>"))
            || (t.hasPrefix("<｜") && t.hasSuffix("｜>"))
            || (t.hasPrefix("<unused") && t.hasSuffix(">"))
    }

    /// tokenizer_config.json's `key` ("<s>" or {"content": "<s>"}) as an id.
    static func specialId(_ key: String, _ tokenizer: Tokenizer, _ config: [String: Any]?) -> Int? {
        let v = config?[key]
        let content = (v as? String) ?? ((v as? [String: Any])?["content"] as? String)
        return content.flatMap { tokenizer.id(of: $0) }
    }

    static func readJSONObject(_ directory: String, _ file: String) -> [String: Any]? {
        let path = (directory as NSString).appendingPathComponent(file)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    private static func firstIndex(of needle: [Int], in haystack: [Int]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        for s in 0...(haystack.count - needle.count) where Array(haystack[s..<(s + needle.count)]) == needle { return s }
        return nil
    }
}
