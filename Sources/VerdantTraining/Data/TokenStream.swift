import Foundation
import VerdantTokenizer

/// How a corpus becomes training sequences.
public struct TokenStreamOptions: Sendable, Equatable, Codable {
    /// Input tokens per sequence; a sequence holds context + 1 tokens (inputs and the
    /// targets shifted by one).
    public var context: Int
    /// Orders the sequences (a fresh order every epoch).
    public var seed: UInt64
    public var split: DataSplit

    public init(context: Int, seed: UInt64 = 0, split: DataSplit = .all) {
        self.context = context
        self.seed = seed
        self.split = split
    }
}

/// The training token stream: documents tokenized without special tokens, each
/// followed by EOS (the perplexity protocol), concatenated, and cut into windows
/// of context + 1 tokens that overlap by one token, so that every token after the
/// first is a target exactly once per epoch (a last partial window is dropped).
/// Sequence g of the run is window perm_e(g mod n) of epoch e = g / n, with a
/// seeded permutation per epoch: the order does not depend on the token budget, so
/// a shorter run sees a prefix of a longer one (what lets one teacher cache serve
/// every budget up to its own).
public final class TokenStream: Sendable {
    public let options: TokenStreamOptions
    public let tokens: [Int32]
    public let documentCount: Int
    /// Hash of (uncompressed data, tokenizer, EOS, context, seed, split).
    public let fingerprint: String
    /// Windows per epoch.
    public let sequencesPerEpoch: Int

    public var context: Int { options.context }

    /// Tokenizes `documents` (after the split) on `threads` threads; the result does
    /// not depend on the thread count.
    public convenience init(documents: [TrainingDocument], dataHash: UInt64, tokenizer: Tokenizer, tokenizerHash: UInt64,
                eos: Int, options: TokenStreamOptions, threads: Int = 1) throws {
        guard options.context >= 1 else { throw TrainingError.invalidArgument("context must be ≥ 1 token, got \(options.context)") }
        let kept = try options.split.select(documents)
        let encoded = tokenizer.encodeBatch(kept.map(\.text), addSpecialTokens: false, threads: threads)
        var flat: [Int32] = []
        flat.reserveCapacity(encoded.reduce(kept.count) { $0 + $1.count })
        for ids in encoded {
            for id in ids { flat.append(Int32(truncatingIfNeeded: id)) }
            flat.append(Int32(truncatingIfNeeded: eos))
        }
        try self.init(tokens: flat, documentCount: kept.count,
                      fingerprint: TokenStream.fingerprint(dataHash: dataHash, tokenizerHash: tokenizerHash, eos: eos, options: options),
                      options: options)
    }

    /// A stream of already tokenized text (e.g. read back from a cache).
    public init(tokens: [Int32], documentCount: Int, fingerprint: String, options: TokenStreamOptions) throws {
        let windows = tokens.count > 0 ? (tokens.count - 1) / options.context : 0
        guard windows >= 1 else {
            throw TrainingError.data("the data has \(tokens.count) tokens, too few for one sequence of \(options.context) + 1")
        }
        self.options = options
        self.tokens = tokens
        self.documentCount = documentCount
        self.fingerprint = fingerprint
        self.sequencesPerEpoch = windows
    }

    /// Reads the corpus and the tokenizer of `tokenizerDirectory` and tokenizes.
    /// eos: the separator (the model's EOS); nil takes the tokenizer's.
    public static func load(data: String, tokenizerDirectory: String, eos: Int? = nil,
                            options: TokenStreamOptions, threads: Int = 1) throws -> TokenStream {
        let corpus = try TrainingCorpus.read(path: data)
        let tokenizerPath = (tokenizerDirectory as NSString).appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: tokenizerPath) else {
            throw TrainingError.data("\(tokenizerDirectory) has no tokenizer.json")
        }
        let tokenizer = try Tokenizer(contentsOf: tokenizerPath)
        guard let separator = eos ?? tokenizer.eosTokenId else {
            throw TrainingError.data("the tokenizer declares no EOS token to separate documents")
        }
        return try TokenStream(documents: corpus.documents, dataHash: corpus.contentHash, tokenizer: tokenizer,
                               tokenizerHash: try tokenizerFingerprint(directory: tokenizerDirectory),
                               eos: separator, options: options, threads: threads)
    }

    public static func fingerprint(dataHash: UInt64, tokenizerHash: UInt64, eos: Int, options: TokenStreamOptions) -> String {
        var h = ContentHash()
        h.update("verdant-token-stream-1")
        h.update(dataHash)
        h.update(tokenizerHash)
        h.update(eos)
        h.update(options.context)
        h.update(options.seed)
        h.update(options.split.fingerprint)
        return h.hex
    }

    /// Sequences a budget of `tokens` target tokens takes (whole sequences, rounded
    /// up); nil is one epoch.
    public func sequenceCount(tokens budget: Int?) -> Int {
        guard let budget else { return sequencesPerEpoch }
        return max(1, (budget + context - 1) / context)
    }

    /// The window sequence g of the run reads (0..<sequencesPerEpoch).
    public func window(ofSequence g: Int) -> Int {
        let permutation = SequencePermutation(count: sequencesPerEpoch, seed: options.seed, epoch: g / sequencesPerEpoch)
        return permutation(g % sequencesPerEpoch)
    }

    /// Sequence g of the run: context + 1 token ids.
    public func sequence(_ g: Int) -> [Int] {
        let start = window(ofSequence: g) * context
        return tokens[start...(start + context)].map { Int($0) }
    }

    /// Batches of `batchSequences` sequences covering a budget of `tokens` targets.
    public func batches(tokens budget: Int?, batchSequences: Int) throws -> TokenBatches {
        guard batchSequences >= 1 else { throw TrainingError.invalidArgument("a batch needs at least 1 sequence, got \(batchSequences)") }
        if let budget, budget < 1 { throw TrainingError.invalidArgument("token budget must be ≥ 1, got \(budget)") }
        let cursor = TokenStreamCursor(fingerprint: fingerprint, totalSequences: sequenceCount(tokens: budget),
                                       batchSequences: batchSequences, nextBatch: 0)
        return TokenBatches(stream: self, cursor: cursor)
    }

    /// The batches a run saved with `cursor` has not consumed yet.
    public func batches(resuming cursor: TokenStreamCursor) throws -> TokenBatches {
        guard cursor.fingerprint == fingerprint else {
            throw TrainingError.checkpoint("the saved data position belongs to another token stream (fingerprint \(cursor.fingerprint), this data gives \(fingerprint)): different data, tokenizer, context, seed or split")
        }
        guard cursor.batchSequences >= 1, cursor.totalSequences >= 1, cursor.nextBatch >= 0 else {
            throw TrainingError.checkpoint("the saved data position is invalid")
        }
        return TokenBatches(stream: self, cursor: cursor)
    }
}

/// Where a run is in its token stream; saved with checkpoints (Codable) so that a
/// resumed run sees exactly the batches that remain.
public struct TokenStreamCursor: Sendable, Equatable, Codable {
    public var fingerprint: String
    public var totalSequences: Int
    public var batchSequences: Int
    /// Batches already consumed.
    public var nextBatch: Int
}

/// Sequences [firstSequence, firstSequence + sequences.count) of the run, each of
/// context + 1 tokens: inputs are sequence[0..<context], targets sequence[1...context].
public struct TokenBatch: Sendable, Equatable {
    public let index: Int
    public let firstSequence: Int
    public let sequences: [[Int]]
}

public struct TokenBatches: Sendable, Sequence, IteratorProtocol {
    public let stream: TokenStream
    public private(set) var cursor: TokenStreamCursor

    public var batchCount: Int { (cursor.totalSequences + cursor.batchSequences - 1) / cursor.batchSequences }
    public var totalSequences: Int { cursor.totalSequences }
    /// Passes over the data the budget makes (fractional when it ends mid-epoch).
    public var epochs: Double { Double(cursor.totalSequences) / Double(stream.sequencesPerEpoch) }

    /// Batch b, whatever the cursor (the last batch may be short).
    public func batch(_ b: Int) -> TokenBatch {
        let first = b * cursor.batchSequences
        let end = Swift.min(first + cursor.batchSequences, cursor.totalSequences)
        return TokenBatch(index: b, firstSequence: first, sequences: (first..<Swift.max(first, end)).map(stream.sequence))
    }

    public mutating func next() -> TokenBatch? {
        guard cursor.nextBatch < batchCount else { return nil }
        defer { cursor.nextBatch += 1 }
        return batch(cursor.nextBatch)
    }
}

/// Hash of the tokenizer files of a model directory (tokenizer.json, and
/// tokenizer_config.json when present: it can change the special tokens).
public func tokenizerFingerprint(directory: String) throws -> UInt64 {
    var h = ContentHash()
    for name in ["tokenizer.json", "tokenizer_config.json"] {
        let path = (directory as NSString).appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: path) else {
            if name == "tokenizer.json" { throw TrainingError.data("cannot read \(path)") }
            continue
        }
        h.update(name)
        data.withUnsafeBytes { h.update($0) }
    }
    return h.value
}
