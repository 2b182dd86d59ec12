import Dispatch
import Foundation

public enum TokenizerError: Error, CustomStringConvertible, LocalizedError, Sendable {
    case io(String)
    case json(String)
    case invalid(String)
    case unsupported(String)

    public var description: String {
        switch self {
        case .io(let m): return "cannot read tokenizer: \(m)"
        case .json(let m): return "tokenizer.json is not valid JSON: \(m)"
        case .invalid(let m): return "invalid tokenizer.json: \(m)"
        case .unsupported(let m): return "unsupported tokenizer component: \(m)"
        }
    }

    public var errorDescription: String? { description }
}

/// A Hugging Face `tokenizer.json` BPE tokenizer with the ids of HF `tokenizers`.
/// Immutable after loading and safe to share between threads.
public final class Tokenizer: Sendable {
    public let model: BPEModel
    /// Entries of `added_tokens`, in file order.
    public let addedTokens: [AddedToken]
    public let specialTokenIds: Set<Int>
    /// max id + 1 over the vocab and the added tokens.
    public let vocabSize: Int
    public let bosTokenId: Int?
    public let eosTokenId: Int?

    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer
    let postProcessor: PostProcessor
    let decoder: TokenDecoder?
    let stripsLeft: Bool
    let rawMatcher: AddedTokenMatcher
    let normalizedMatcher: AddedTokenMatcher
    let addedById: [Int: String]
    let addedByContent: [String: Int]
    let specialContents: Set<String>
    private let pool = ScratchPool()

    /// The vocabulary (model tokens only; see `addedTokens`). Built on each call.
    public var vocab: [String: Int] { model.vocab }
    /// Merges in rank order. Built on each call.
    public var merges: [(String, String)] { model.merges }

    /// Loads a tokenizer.json file, or the tokenizer.json inside a model directory.
    public convenience init(contentsOf path: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw TokenizerError.io("\(path) does not exist")
        }
        let file = isDir.boolValue ? (path as NSString).appendingPathComponent("tokenizer.json") : path
        guard let data = FileManager.default.contents(atPath: file) else {
            throw TokenizerError.io(isDir.boolValue ? "\(path) has no readable tokenizer.json" : "cannot read \(file)")
        }
        let dir = (file as NSString).deletingLastPathComponent
        var config: JSONValue? = nil
        if let c = FileManager.default.contents(atPath: (dir as NSString).appendingPathComponent("tokenizer_config.json")) {
            config = try? JSONParser.parse([UInt8](c))
        }
        try self.init(jsonBytes: [UInt8](data), config: config)
    }

    public convenience init(jsonString: String) throws {
        try self.init(jsonBytes: Array(jsonString.utf8), config: nil)
    }

    public init(jsonBytes: [UInt8], config: JSONValue? = nil) throws {
        let root: JSONValue
        // The vocab and merges are scanned straight into compact tables later.
        do {
            root = try JSONParser.parse(jsonBytes) { depth, key in depth == 2 && (key == "vocab" || key == "merges") }
        } catch { throw TokenizerError.json(error.description) }
        guard case .object = root else { throw TokenizerError.invalid("top level is not an object") }
        guard let m = root["model"] else { throw TokenizerError.invalid("missing 'model'") }
        let bpe = try Self.parseModel(m, jsonBytes)
        model = bpe

        var added: [AddedToken] = []
        for t in root["added_tokens"]?.array ?? [] {
            guard let id = t["id"]?.int, let content = t["content"]?.string, id >= 0 else {
                throw TokenizerError.invalid("added token without id/content")
            }
            added.append(AddedToken(id: id, content: content, special: t["special"]?.bool ?? false,
                                    normalized: t["normalized"]?.bool ?? !(t["special"]?.bool ?? false),
                                    lstrip: t["lstrip"]?.bool ?? false, rstrip: t["rstrip"]?.bool ?? false,
                                    singleWord: t["single_word"]?.bool ?? false))
        }
        addedTokens = added
        specialTokenIds = Set(added.filter(\.special).map(\.id))
        specialContents = Set(added.filter(\.special).map(\.content))
        let norm = try root["normalizer"].flatMap { $0.isNull ? nil : try Self.parseNormalizer($0) }
        normalizer = norm
        stripsLeft = norm.map(Self.stripsLeadingWhitespace) ?? false
        // HF keeps normalized added tokens under their normalized content; decode
        // returns that form ("HeLLo" with a Lowercase normalizer decodes as "hello").
        var byId: [Int: String] = [:], byContent: [String: Int] = [:]
        for t in added {
            let shown = t.normalized ? (norm.map { $0.apply(t.content) } ?? t.content) : t.content
            byId[t.id] = shown
            byContent[t.content] = t.id
            byContent[shown] = byContent[shown] ?? t.id
        }
        addedById = byId
        addedByContent = byContent
        vocabSize = max(bpe.tokens.idLimit, (added.map(\.id).max() ?? -1) + 1)
        rawMatcher = AddedTokenMatcher(tokens: added.filter { !$0.normalized }, content: \.content)
        normalizedMatcher = AddedTokenMatcher(tokens: added.filter(\.normalized)) { t in
            norm.map { $0.apply(t.content) } ?? t.content
        }

        var steps: [PreTokenizerStep] = []
        if let p = root["pre_tokenizer"], !p.isNull { try Self.parsePreTokenizer(p, into: &steps) }
        // Let the model do the byte mapping when ByteLevel is the last step: BPE then
        // starts from raw bytes, and the word cache is keyed on them.
        var byteLevelModel = false
        if case let .byteLevel(prefix, splitter, _)? = steps.last, bpe.supportsDirectBytes {
            steps[steps.count - 1] = .byteLevel(addPrefixSpace: prefix, splitter: splitter, byteMap: false)
            byteLevelModel = true
        }
        preTokenizer = PreTokenizer(steps: steps, byteLevelModel: byteLevelModel)

        let post = try root["post_processor"].map { try PostProcessor.parse($0) } ?? PostProcessor.none
        postProcessor = post
        if let d = root["decoder"], !d.isNull { decoder = try Self.parseDecoder(d) } else { decoder = nil }

        let vocab = bpe.tokens
        let configToken = { (key: String) -> Int? in
            guard let v = config?[key] else { return nil }
            let name = v.string ?? v["content"]?.string
            return name.flatMap { byContent[$0] ?? vocab.id($0) }
        }
        let firstKnown = { (names: [String]) -> Int? in
            for n in names { if let id = byContent[n] ?? vocab.id(n) { return id } }
            return nil
        }
        bosTokenId = configToken("bos_token") ?? post.prefixIds.first
            ?? firstKnown(["<|begin_of_text|>", "<s>", "<｜begin▁of▁sentence｜>", "<bos>"])
        eosTokenId = configToken("eos_token") ?? post.suffixIds.last
            ?? firstKnown(["<|endoftext|>", "<|end_of_text|>", "</s>", "<｜end▁of▁sentence｜>", "<eos>", "<|im_end|>"])
    }

    private static func stripsLeadingWhitespace(_ n: Normalizer) -> Bool {
        switch n {
        case .strip(let left, _): return left
        case .sequence(let xs): return xs.contains(where: stripsLeadingWhitespace)
        default: return false
        }
    }

    // MARK: - Lookup

    public func id(of token: String) -> Int? { addedByContent[token] ?? model.tokens.id(token) }

    public func token(of id: Int) -> String? { addedById[id] ?? model.token(id) }

    // MARK: - Encoding

    public func encode(_ text: String, addSpecialTokens: Bool = false) -> [Int] {
        let scratch = pool.take()
        defer { pool.give(scratch) }
        var ids: [Int] = []
        ids.reserveCapacity(text.utf8.count / 3)
        encode(text, scratch: scratch, into: &ids)
        postProcessor.apply(&ids, addSpecialTokens: addSpecialTokens)
        return ids
    }

    /// Encodes the texts on `threads` threads; the result keeps the input order.
    public func encodeBatch(_ texts: [String], addSpecialTokens: Bool = false, threads: Int = 1) -> [[Int]] {
        let workers = max(1, min(threads, texts.count))
        if workers == 1 { return texts.map { encode($0, addSpecialTokens: addSpecialTokens) } }
        // Longest-first greedy assignment balances threads without shared counters.
        let order = texts.indices.sorted { texts[$0].utf8.count > texts[$1].utf8.count }
        var assignment = [[Int]](repeating: [], count: workers)
        var load = [Int](repeating: 0, count: workers)
        for i in order {
            var w = 0
            for k in 1..<workers where load[k] < load[w] { w = k }
            assignment[w].append(i)
            load[w] += texts[i].utf8.count + 1
        }
        let plan = assignment
        var results = [[Int]](repeating: [], count: texts.count)
        results.withUnsafeMutableBufferPointer { out in
            let box = ResultBox(out)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                for i in plan[w] { box.buffer[i] = encode(texts[i], addSpecialTokens: addSpecialTokens) }
            }
        }
        return results
    }

    private func encode(_ text: String, scratch: EncodeScratch, into ids: inout [Int]) {
        var t = text
        t.withUTF8 { raw in
            guard let base = raw.baseAddress, raw.count > 0 else { return }
            var pieces: [AddedTokenMatcher.Piece] = []
            rawMatcher.split(base, raw.count, into: &pieces)
            for piece in pieces {
                switch piece {
                case .token(let id): ids.append(id)
                case let .text(s, e):
                    if let normalizer {
                        let normalized = normalizer.apply(String(decoding: UnsafeBufferPointer(rebasing: raw[s..<e]), as: UTF8.self))
                        // The piece still starts at original offset 0 only if the
                        // normalizer did not strip its leading whitespace.
                        let origin = s == 0 && !(stripsLeft && e > s && UClass.flags(UTF8Scan.decode(base, s, e).0) & UClass.space != 0)
                        var nb = Array(normalized.utf8)
                        nb.withUnsafeMutableBufferPointer { b in
                            guard let nbase = b.baseAddress else { return }
                            encodeNormalized(UnsafePointer(nbase), b.count, atOrigin: origin, scratch, &ids)
                        }
                    } else {
                        encodeNormalized(base + s, e - s, atOrigin: s == 0, scratch, &ids)
                    }
                }
            }
        }
    }

    private func encodeNormalized(_ p: UnsafePointer<UInt8>, _ n: Int, atOrigin: Bool, _ scratch: EncodeScratch,
                                  _ ids: inout [Int]) {
        if n == 0 { return }
        if normalizedMatcher.isEmpty {
            encodeText(p, n, atOrigin: atOrigin, scratch, &ids)
            return
        }
        var pieces: [AddedTokenMatcher.Piece] = []
        normalizedMatcher.split(p, n, into: &pieces)
        for piece in pieces {
            switch piece {
            case .token(let id): ids.append(id)
            case let .text(s, e): encodeText(p + s, e - s, atOrigin: atOrigin && s == 0, scratch, &ids)
            }
        }
    }

    private func encodeText(_ p: UnsafePointer<UInt8>, _ n: Int, atOrigin: Bool, _ scratch: EncodeScratch,
                            _ ids: inout [Int]) {
        scratch.buf.removeAll(keepingCapacity: true)
        scratch.buf.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        scratch.spans.removeAll(keepingCapacity: true)
        scratch.spans.append(Span(start: 0, end: Int32(n), atOrigin: atOrigin))
        preTokenizer.run(&scratch.buf, &scratch.spans, scratch: &scratch.spanScratch, bytes: &scratch.bytes)
        let byteLevel = preTokenizer.byteLevelModel
        scratch.buf.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress else { return }
            for s in scratch.spans {
                model.tokenize(base + Int(s.start), Int(s.end - s.start), byteLevel: byteLevel, scratch: scratch, into: &ids)
            }
        }
    }

    /// Pre-tokenizer output for one text (test hook mirroring HF `pre_tokenize_str`).
    func preTokenize(_ text: String) -> [String] {
        var buf = Array(text.utf8)
        var spans = [Span(start: 0, end: Int32(buf.count), atOrigin: true)]
        var scratch: [Span] = [], bytes: [UInt8] = []
        if !buf.isEmpty { preTokenizer.run(&buf, &spans, scratch: &scratch, bytes: &bytes) } else { spans = [] }
        return spans.map { s in
            let slice = buf[Int(s.start)..<Int(s.end)]
            if preTokenizer.byteLevelModel {
                return slice.map { String(Character(Unicode.Scalar(ByteLevelTable.byteToScalar[Int($0)]) ?? "?")) }.joined()
            }
            return String(decoding: slice, as: UTF8.self)
        }
    }

    // MARK: - Decoding

    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            guard let t = addedById[id] ?? model.token(id) else { continue }
            if skipSpecialTokens && specialContents.contains(t) { continue }
            tokens.append(t)
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decode(tokens)
    }
}

private struct ResultBox: @unchecked Sendable {
    // Each index is written by exactly one worker.
    let buffer: UnsafeMutableBufferPointer<[Int]>
    init(_ b: UnsafeMutableBufferPointer<[Int]>) { buffer = b }
}

/// Reuses encode scratch state (word cache included) across calls and threads.
private final class ScratchPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [EncodeScratch] = []

    func take() -> EncodeScratch {
        lock.lock()
        defer { lock.unlock() }
        return free.popLast() ?? EncodeScratch()
    }

    func give(_ s: EncodeScratch) {
        lock.lock()
        free.append(s)
        lock.unlock()
    }
}
