import VerdantModels
import VerdantTokenizer

/// Vocabulary pruning for BPE tokenizers: keep the tokens a domain corpus uses
/// (plus special, added and single-character base tokens), renumber them
/// contiguously in the order of their old ids, and keep a merge only when both
/// its parts and its result stay.
///
/// Why the corpus still tokenizes identically: BPE builds each final token from
/// its characters by a fixed sequence of merges (the merges BPE applies to the
/// token's own characters), and that sequence does not depend on the
/// surrounding word. Keeping every symbol of that sequence keeps every merge the
/// corpus needs. The pruned merge list is a rank-ordered subset of the original
/// that still holds the merge the original applies at each step — the
/// lowest-ranked applicable one — so the pruned tokenizer makes the same choice
/// at every step. `verify` re-tokenizes the corpus to make sure.
public enum VocabularyPruner {
    public struct Selection: Sendable {
        /// Old ids kept, ascending.
        public var keptIds: [Int]
        public var stats: Stats
    }

    public struct Stats: Sendable, Codable, Equatable {
        public var tokensBefore: Int
        public var tokensAfter: Int
        public var corpusDocuments: Int
        public var corpusTokens: Int
        /// Distinct ids the corpus tokenization uses.
        public var usedByCorpus: Int
        /// Special, added, configured and single-character base tokens.
        public var keptAlways: Int
        /// Tokens kept only because a kept token is built from them.
        public var addedForMerges: Int
    }

    /// A tokenizer.json's BPE model as strings and ids.
    struct Vocabulary {
        var idByBytes: [[UInt8]: Int] = [:]
        var tokenById: [Int: [UInt8]] = [:]
        /// (left, right, result) ids of each merge in rank order; nil when a part or
        /// the result is not in the vocabulary.
        var merges: [(Int, Int, Int)?] = []
        var prefix: String?
        var suffix: String?
        var unkToken: String?

        init(model: OrderedJSON) throws(PruningError) {
            guard model["type"]?.stringValue ?? "BPE" == "BPE" else {
                throw .unsupported("vocabulary pruning supports BPE tokenizers, this one is '\(model["type"]?.stringValue ?? "?")'")
            }
            guard let vocab = model["vocab"]?.members else { throw .input("tokenizer.json has no model.vocab object") }
            for m in vocab {
                guard let id = m.value.intValue, id >= 0 else { throw .input("tokenizer.json vocab entry '\(m.key)' has no valid id") }
                idByBytes[Array(m.key.utf8)] = id
                tokenById[id] = Array(m.key.utf8)
            }
            prefix = model["continuing_subword_prefix"]?.stringValue
            suffix = model["end_of_word_suffix"]?.stringValue
            unkToken = model["unk_token"]?.stringValue
            let prefixLength = prefix?.utf8.count ?? 0
            for item in model["merges"]?.items ?? [] {
                guard let (a, b) = VocabularyPruner.mergeParts(item) else { throw .input("tokenizer.json has a malformed merge") }
                let ab = Array(a.utf8), bb = Array(b.utf8)
                guard let ia = idByBytes[ab], let ib = idByBytes[bb], bb.count >= prefixLength,
                      let ir = idByBytes[ab + bb.dropFirst(prefixLength)] else {
                    merges.append(nil)
                    continue
                }
                merges.append((ia, ib, ir))
            }
        }
    }

    static func mergeParts(_ item: OrderedJSON) -> (String, String)? {
        if let s = item.stringValue {
            let parts = s.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else { return nil }
            return (String(parts[0]), String(parts[1]))
        }
        if let pair = item.items, pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue { return (a, b) }
        return nil
    }

    /// The tokens to keep for `documents`. `requiredIds`: ids that must survive
    /// (special ids named in config files); `rows`: the embedding rows.
    public static func select(tokenizerJSON: OrderedJSON, tokenizer: Tokenizer, documents: [String], requiredIds: [Int],
                              rows: Int, threads: Int) throws -> Selection {
        guard let model = tokenizerJSON["model"] else { throw PruningError.input("tokenizer.json has no model") }
        let vocab = try Vocabulary(model: model)
        var used = Set<Int>()
        var corpusTokens = 0
        for ids in tokenizer.encodeBatch(documents, addSpecialTokens: false, threads: threads) {
            used.formUnion(ids)
            corpusTokens += ids.count
        }
        let usedByCorpus = used.count
        var always = Set(tokenizer.addedTokens.map(\.id))
        always.formUnion(requiredIds.filter { $0 >= 0 && $0 < rows })
        if let unk = vocab.unkToken, let id = vocab.idByBytes[Array(unk.utf8)] { always.insert(id) }
        // Base symbols: single characters (the 256 byte stand-ins of byte-level BPE)
        // and <0xXX> byte-fallback tokens, so that any text still tokenizes.
        for (bytes, id) in vocab.idByBytes {
            if String(decoding: bytes, as: UTF8.self).unicodeScalars.count == 1 || isByteFallbackToken(bytes) { always.insert(id) }
        }
        var kept = used.union(always)
        let beforeClosure = kept.count
        kept.formUnion(mergeClosure(of: kept, vocab: vocab))
        if let bad = kept.first(where: { $0 >= rows }) {
            throw PruningError.unsupported("token id \(bad) is outside the model's \(rows) embedding rows")
        }
        let keptIds = kept.sorted()
        let allIds = Set(vocab.tokenById.keys).union(tokenizer.addedTokens.map(\.id))
        return Selection(keptIds: keptIds, stats: Stats(
            tokensBefore: allIds.count, tokensAfter: keptIds.count, corpusDocuments: documents.count,
            corpusTokens: corpusTokens, usedByCorpus: usedByCorpus, keptAlways: always.subtracting(used).count,
            addedForMerges: kept.count - beforeClosure))
    }

    static func isByteFallbackToken(_ b: [UInt8]) -> Bool {
        b.count == 6 && b.starts(with: Array("<0x".utf8)) && b.last == UInt8(ascii: ">")
    }

    /// Every symbol that building the tokens of `ids` passes through.
    static func mergeClosure(of ids: Set<Int>, vocab: Vocabulary) -> Set<Int> {
        var rank: [UInt64: (rank: Int, result: Int)] = [:]
        var producers: [Int: [(Int, Int)]] = [:]
        for (r, m) in vocab.merges.enumerated() {
            guard let (a, b, c) = m else { continue }
            let key = UInt64(a) << 32 | UInt64(b)
            if rank[key] == nil { rank[key] = (r, c) }
            producers[c, default: []].append((a, b))
        }
        let simulate = vocab.prefix == nil && vocab.suffix == nil
        var closure = Set<Int>()
        var work = Array(ids)
        while let id = work.popLast() {
            guard let bytes = vocab.tokenById[id] else { continue }
            if simulate, let path = derivation(of: id, bytes: bytes, vocab: vocab, rank: rank) {
                closure.formUnion(path)
                continue
            }
            // Not reachable by replaying BPE on its characters: keep the parts of
            // every merge producing it, recursively (a superset, still exact).
            for (a, b) in producers[id] ?? [] {
                for p in [a, b] where !ids.contains(p) && closure.insert(p).inserted { work.append(p) }
            }
        }
        return closure
    }

    /// The symbols BPE passes through when it builds token `id` from its
    /// characters, or nil when BPE does not end at exactly that token.
    static func derivation(of id: Int, bytes: [UInt8], vocab: Vocabulary, rank: [UInt64: (rank: Int, result: Int)]) -> [Int]? {
        var symbols: [Int] = []
        for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
            guard let s = vocab.idByBytes[Array(String(scalar).utf8)] else { return nil }
            symbols.append(s)
        }
        var path = symbols
        while symbols.count > 1 {
            var best: (rank: Int, at: Int, result: Int)? = nil
            for i in 0..<(symbols.count - 1) {
                if let m = rank[UInt64(symbols[i]) << 32 | UInt64(symbols[i + 1])], m.rank < (best?.rank ?? Int.max) {
                    best = (m.rank, i, m.result)
                }
            }
            guard let b = best else { break }
            symbols.replaceSubrange(b.at...(b.at + 1), with: [b.result])
            path.append(b.result)
        }
        return symbols == [id] ? path : nil
    }

    // MARK: - Rebuilding tokenizer.json

    public struct Rebuilt: Sendable {
        public var json: OrderedJSON
        public var mergesBefore: Int
        public var mergesAfter: Int
    }

    /// tokenizer.json with only `keptIds` (ascending old ids), renumbered 0..<n:
    /// vocab, merges, added tokens, post-processor and padding ids.
    public static func rebuild(_ json: OrderedJSON, keptIds: [Int]) throws -> Rebuilt {
        var map: [Int: Int] = [:]
        for (new, old) in keptIds.enumerated() { map[old] = new }
        guard var model = json["model"] else { throw PruningError.input("tokenizer.json has no model") }
        let vocab = try Vocabulary(model: model)
        var entries: [(Int, String)] = []
        for m in model.members?.first(where: { $0.key == "vocab" })?.value.members ?? [] {
            if let old = m.value.intValue, let new = map[old] { entries.append((new, m.key)) }
        }
        entries.sort { $0.0 < $1.0 }
        model.set("vocab", .object(entries.map { .init($0.1, .integer($0.0)) }))
        let mergeItems = model["merges"]?.items ?? []
        var keptMerges: [OrderedJSON] = []
        for (item, m) in zip(mergeItems, vocab.merges) {
            guard let (a, b, c) = m, map[a] != nil, map[b] != nil, map[c] != nil else { continue }
            keptMerges.append(item)
        }
        if model["merges"] != nil { model.set("merges", .array(keptMerges)) }

        var out = json
        out.set("model", model)
        if let added = json["added_tokens"]?.items {
            var items: [OrderedJSON] = []
            for var t in added {
                guard let old = t["id"]?.intValue, let new = map[old] else {
                    throw PruningError.invalidPlan("the kept ids leave out added token \(t["content"]?.stringValue ?? "?")")
                }
                t.set("id", .integer(new))
                items.append(t)
            }
            out.set("added_tokens", .array(items))
        }
        if let post = json["post_processor"], !post.isNull {
            out.set("post_processor", try remapPostProcessor(post, map))
        }
        if var padding = json["padding"], let old = padding["pad_id"]?.intValue {
            guard let new = map[old] else { throw PruningError.invalidPlan("the kept ids leave out the padding token \(old)") }
            padding.set("pad_id", .integer(new))
            out.set("padding", padding)
        }
        return Rebuilt(json: out, mergesBefore: mergeItems.count, mergesAfter: keptMerges.count)
    }

    static func remapPostProcessor(_ p: OrderedJSON, _ map: [Int: Int]) throws -> OrderedJSON {
        func remap(_ old: Int) throws -> OrderedJSON {
            guard let new = map[old] else { throw PruningError.invalidPlan("the kept ids leave out post-processor token \(old)") }
            return .integer(new)
        }
        var out = p
        switch p["type"]?.stringValue {
        case "Sequence":
            out.set("processors", .array(try (p["processors"]?.items ?? []).map { try remapPostProcessor($0, map) }))
        case "TemplateProcessing":
            guard let specials = p["special_tokens"]?.members else { return p }
            var updated: [OrderedJSON.Member] = []
            for var m in specials {
                if let ids = m.value["ids"]?.items {
                    m.value.set("ids", .array(try ids.map { v in
                        guard let i = v.intValue else { throw PruningError.input("post_processor has a non-integer id") }
                        return try remap(i)
                    }))
                }
                updated.append(m)
            }
            out.set("special_tokens", .object(updated))
        case "RobertaProcessing", "BertProcessing":
            for key in ["sep", "cls"] {
                if let pair = p[key]?.items, pair.count == 2, let old = pair[1].intValue {
                    out.set(key, .array([pair[0], try remap(old)]))
                }
            }
        default:
            break
        }
        return out
    }

    /// Re-tokenizes `documents` with the pruned tokenizer and checks every id
    /// equals the original's under the id map. Returns the first difference.
    public static func verify(original: Tokenizer, pruned: Tokenizer, keptIds: [Int], documents: [String],
                              threads: Int) -> String? {
        var map: [Int: Int] = [:]
        for (new, old) in keptIds.enumerated() { map[old] = new }
        let a = original.encodeBatch(documents, addSpecialTokens: false, threads: threads)
        let b = pruned.encodeBatch(documents, addSpecialTokens: false, threads: threads)
        for (i, (x, y)) in zip(a, b).enumerated() {
            let mapped = x.map { map[$0] ?? -1 }
            if mapped != y {
                let at = (0..<min(mapped.count, y.count)).first { mapped[$0] != y[$0] } ?? min(mapped.count, y.count)
                return "document \(i + 1) tokenizes differently at token \(at)"
            }
        }
        return nil
    }
}
