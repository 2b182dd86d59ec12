/// tokenizer.json component parsing. Anything not understood is rejected by name
/// rather than silently approximated: a wrong tokenizer yields plausible-looking ids.
import Dispatch

/// Hands the two loader threads their separate outputs (each written by one thread).
private final class LoadBox: @unchecked Sendable {
    let table: UnsafeMutablePointer<TokenTable>
    let located: UnsafeMutablePointer<Result<JSONParser.MergeLocations, JSONParseError>>
    private(set) var vocabError: JSONParseError? = nil
    init(table: UnsafeMutablePointer<TokenTable>,
         located: UnsafeMutablePointer<Result<JSONParser.MergeLocations, JSONParseError>>) {
        self.table = table
        self.located = located
    }
    func setVocabError(_ e: JSONParseError) { vocabError = e }
}

extension Tokenizer {
    static func parseModel(_ m: JSONValue, _ bytes: [UInt8]) throws(TokenizerError) -> BPEModel {
        let type = m["type"]?.string ?? (m["merges"] != nil ? "BPE" : "unknown")
        guard type == "BPE" else { throw .unsupported("model \(type) (only BPE is implemented)") }
        if let d = m["dropout"]?.double, d > 0 { throw .unsupported("BPE dropout \(d)") }
        guard case .raw(let vocabRange)? = m["vocab"] else { throw .invalid("model.vocab is missing") }
        // ~12 JSON bytes per entry in real vocabularies; sizing up front avoids rehashing.
        // The vocab is loaded while a second thread locates the merges; both are
        // the bulk of a big tokenizer.json.
        var table = TokenTable(expected: max(1024, vocabRange.count / 12))
        var vocabError: JSONParseError? = nil
        var located: Result<JSONParser.MergeLocations, JSONParseError> = .success(.init())
        let mergeRange: Range<Int>? = { if case .raw(let r)? = m["merges"] { return r }; return nil }()
        withUnsafeMutablePointer(to: &table) { tp in
            withUnsafeMutablePointer(to: &located) { lp in
                let box = LoadBox(table: tp, located: lp)
                DispatchQueue.concurrentPerform(iterations: 2) { part in
                    if part == 0 {
                        do {
                            try JSONParser.scanVocab(bytes, vocabRange) { (k, id) throws(JSONParseError) in
                                var empty: UInt8 = 0
                                if let base = k.baseAddress { box.table.pointee.insert(base, k.count, id: id) }
                                else { withUnsafePointer(to: &empty) { box.table.pointee.insert($0, 0, id: id) } }
                            }
                        } catch let e as JSONParseError { box.setVocabError(e) } catch {
                            box.setVocabError(JSONParseError(offset: 0, reason: "\(error)"))
                        }
                    } else if let mergeRange {
                        do throws(JSONParseError) {
                            box.located.pointee = .success(try JSONParser.locateMerges(bytes, mergeRange))
                        } catch { box.located.pointee = .failure(error) }
                    }
                }
                vocabError = box.vocabError
            }
        }
        if let vocabError { throw .json(vocabError.description) }
        let loc: JSONParser.MergeLocations
        switch located {
        case .success(let l): loc = l
        case .failure(let e): throw .json(e.description)
        }
        let prefix = m["continuing_subword_prefix"]?.string
        let (mergeIds, pairs) = try BPEModel.pairMap(table, loc, bytes, prefix: prefix)
        return BPEModel(tokens: table, mergeIds: mergeIds, pairs: pairs, unkToken: m["unk_token"]?.string,
                        prefix: prefix, suffix: m["end_of_word_suffix"]?.string,
                        byteFallback: m["byte_fallback"]?.bool ?? false, fuseUnk: m["fuse_unk"]?.bool ?? false,
                        ignoreMerges: m["ignore_merges"]?.bool ?? false)
    }

    static func parsePattern(_ j: JSONValue?, what: String) throws(TokenizerError) -> SplitPattern {
        if let s = j?["String"]?.string { return .literal(Array(s.utf8)) }
        if let r = j?["Regex"]?.string {
            do {
                return .regex(try CompiledRegex(r), fast: FastSplitter.detect(r))
            } catch { throw .unsupported("\(what): \(error.description)") }
        }
        throw .invalid("\(what) pattern must be {\"String\": ...} or {\"Regex\": ...}")
    }

    static func parseNormalizer(_ j: JSONValue) throws(TokenizerError) -> Normalizer {
        guard let type = j["type"]?.string else { throw .invalid("normalizer without a type") }
        switch type {
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        case "Lowercase": return .lowercase
        case "Prepend":
            guard let p = j["prepend"]?.string else { throw .invalid("Prepend normalizer without 'prepend'") }
            return .prepend(p)
        case "Strip":
            return .strip(left: j["strip_left"]?.bool ?? true, right: j["strip_right"]?.bool ?? true)
        case "Replace":
            guard let content = j["content"]?.string else { throw .invalid("Replace normalizer without 'content'") }
            return .replace(try parsePattern(j["pattern"], what: "Replace normalizer"), content: content)
        case "Sequence":
            var xs: [Normalizer] = []
            for n in j["normalizers"]?.array ?? [] { xs.append(try parseNormalizer(n)) }
            return .sequence(xs)
        default:
            throw .unsupported("normalizer \(type)")
        }
    }

    static func parseBehavior(_ j: JSONValue?, default d: SplitBehavior) throws(TokenizerError) -> SplitBehavior {
        guard let s = j?.string else { return d }
        guard let b = SplitBehavior(json: s) else { throw .invalid("unknown split behavior \(s)") }
        return b
    }

    static func parsePreTokenizer(_ j: JSONValue, into steps: inout [PreTokenizerStep]) throws(TokenizerError) {
        guard let type = j["type"]?.string else { throw .invalid("pre_tokenizer without a type") }
        switch type {
        case "Sequence":
            for p in j["pretokenizers"]?.array ?? [] { try parsePreTokenizer(p, into: &steps) }
        case "Split":
            let pattern = try parsePattern(j["pattern"], what: "Split pre-tokenizer")
            steps.append(.split(pattern, try parseBehavior(j["behavior"], default: .isolated),
                                invert: j["invert"]?.bool ?? false))
        case "ByteLevel":
            let useRegex = j["use_regex"]?.bool ?? true
            steps.append(.byteLevel(addPrefixSpace: j["add_prefix_space"]?.bool ?? true,
                                    splitter: useRegex ? FastSplitter(kind: .gpt2) : nil, byteMap: true))
        case "Digits":
            steps.append(.predicate(.numeric, (j["individual_digits"]?.bool ?? false) ? .isolated : .contiguous))
        case "Punctuation":
            steps.append(.predicate(.punctuation, try parseBehavior(j["behavior"], default: .isolated)))
        case "WhitespaceSplit":
            steps.append(.predicate(.whitespace, .removed))
        case "Whitespace":
            steps.append(.wordRuns)
        case "BertPreTokenizer":
            steps.append(.predicate(.whitespace, .removed))
            steps.append(.predicate(.punctuation, .isolated))
        case "Metaspace":
            let rep = j["replacement"]?.string ?? "\u{2581}"
            guard rep.unicodeScalars.count == 1, let r = rep.unicodeScalars.first else {
                throw .invalid("Metaspace replacement must be one character")
            }
            var scheme = PrependScheme.always
            if let s = j["prepend_scheme"]?.string {
                switch s {
                case "always": scheme = .always
                case "first": scheme = .first
                case "never": scheme = .never
                default: throw .invalid("Metaspace prepend_scheme \(s)")
                }
            } else if let a = j["add_prefix_space"]?.bool {
                scheme = a ? .always : .never
            }
            steps.append(.metaspace(replacement: r.value, prepend: scheme, split: j["split"]?.bool ?? true))
        default:
            throw .unsupported("pre_tokenizer \(type)")
        }
    }

    static func parseDecoder(_ j: JSONValue) throws(TokenizerError) -> TokenDecoder {
        guard let type = j["type"]?.string else { throw .invalid("decoder without a type") }
        switch type {
        case "ByteLevel": return .byteLevel
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Strip":
            guard let c = j["content"]?.string, c.unicodeScalars.count == 1, let ch = c.unicodeScalars.first else {
                throw .invalid("Strip decoder content must be one character")
            }
            return .strip(content: ch, start: j["start"]?.int ?? 0, stop: j["stop"]?.int ?? 0)
        case "Replace":
            guard let content = j["content"]?.string else { throw .invalid("Replace decoder without content") }
            guard let pattern = j["pattern"]?["String"]?.string else {
                throw .unsupported("Replace decoder with a Regex pattern")
            }
            return .replace(pattern: pattern, content: content)
        case "Metaspace":
            let rep = j["replacement"]?.string ?? "\u{2581}"
            guard rep.unicodeScalars.count == 1, let ch = rep.unicodeScalars.first else {
                throw .invalid("Metaspace replacement must be one character")
            }
            var scheme = PrependScheme.always
            if let s = j["prepend_scheme"]?.string {
                scheme = s == "never" ? .never : s == "first" ? .first : .always
            } else if let a = j["add_prefix_space"]?.bool {
                scheme = a ? .always : .never
            }
            return .metaspace(replacement: ch, prependScheme: scheme)
        case "Sequence":
            var ds: [TokenDecoder] = []
            for d in j["decoders"]?.array ?? [] { ds.append(try parseDecoder(d)) }
            return .sequence(ds)
        default:
            throw .unsupported("decoder \(type)")
        }
    }
}
