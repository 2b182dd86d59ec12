/// The token stream as the trainer's data source: run sequence g after g − 1, epoch
/// after epoch in the stream's seeded per-epoch order (`TokenStream.sequence`), so
/// the cursor is one number. The saved position carries the stream's fingerprint,
/// so that resuming on other data, tokenizer, context, seed or split fails clearly
/// instead of silently training on different sequences.
public final class TokenStreamSource: TrainingDataSource {
    public let stream: TokenStream
    /// Run index of the next sequence `next` returns.
    public private(set) var nextSequence = 0
    /// Run indices of the sequences the last `next` returned: a distillation loss
    /// looks up their teacher rows (a teacher cache is indexed by run sequence).
    public private(set) var lastSequences: Range<Int> = 0..<0

    public init(stream: TokenStream) { self.stream = stream }

    public func next(sequences count: Int, length: Int) throws -> [[Int32]] {
        guard length == stream.context + 1 else {
            throw TrainingError.invalidArgument("the token stream has sequences of \(stream.context + 1) ids, asked for \(length)")
        }
        let first = nextSequence
        let out = (first..<(first + count)).map { g in stream.sequence(g).map { Int32(truncatingIfNeeded: $0) } }
        nextSequence = first + count
        lastSequences = first..<nextSequence
        return out
    }

    /// "FINGERPRINT:NEXT_SEQUENCE".
    public var position: String { "\(stream.fingerprint):\(nextSequence)" }

    public func restore(position: String) throws {
        let parts = position.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let g = Int(parts[1]), g >= 0 else {
            throw TrainingError.checkpoint("data position '\(position)' is not a token-stream cursor")
        }
        guard parts[0] == stream.fingerprint else {
            throw TrainingError.checkpoint("the saved data position belongs to another token stream (fingerprint \(parts[0]), this data gives \(stream.fingerprint)): different data, tokenizer, context, seed or split")
        }
        nextSequence = g
        lastSequences = g..<g
    }
}
