import VerdantEval
import VerdantModels
import VerdantTensors
import VerdantTokenizer

/// Token sequences that calibration-driven methods (GPTQ, AWQ, importance
/// scales, pruning scores) run the model on. Built deterministically: the
/// documents are tokenized in file order, joined by the end-of-sequence token,
/// and cut into windows of `sequenceLength` tokens until `tokens` are collected.
public struct CalibrationSet: Sendable {
    public let sequences: [[Int]]
    public var tokenCount: Int { sequences.reduce(0) { $0 + $1.count } }

    public init(sequences: [[Int]]) {
        self.sequences = sequences.filter { !$0.isEmpty }
    }

    public static func load(path: String, tokenizer: Tokenizer, tokens: Int, sequenceLength: Int,
                            threads: Int = 1) throws -> CalibrationSet {
        guard tokens > 0 else { throw DataError("--calibration-tokens must be positive (got \(tokens))") }
        guard sequenceLength > 1 else { throw DataError("calibration sequence length must be at least 2 (got \(sequenceLength))") }
        let documents = try readDocuments(path: path)
        var stream: [Int] = []
        stream.reserveCapacity(tokens)
        let separator = tokenizer.eosTokenId
        // Tokenize in slices so a huge file is not tokenized past what is needed.
        var next = 0
        while stream.count < tokens && next < documents.count {
            let slice = Array(documents[next..<min(documents.count, next + 64)])
            next += slice.count
            for ids in tokenizer.encodeBatch(slice, addSpecialTokens: false, threads: threads) {
                stream.append(contentsOf: ids)
                if let separator { stream.append(separator) }
                if stream.count >= tokens { break }
            }
        }
        if stream.count < 2 { throw DataError("\(path) yields \(stream.count) calibration tokens; at least 2 are needed") }
        stream = Array(stream.prefix(tokens))
        var sequences: [[Int]] = []
        var i = 0
        while i < stream.count {
            sequences.append(Array(stream[i..<min(stream.count, i + sequenceLength)]))
            i += sequenceLength
        }
        return CalibrationSet(sequences: sequences)
    }

    /// Runs every sequence through `model` from an empty cache with `observer`
    /// attached. progress(done, total) after each sequence.
    public func run(model: DecoderModel, observer: ForwardObserver, pool: ThreadPool,
                    progress: ((Int, Int) -> Void)? = nil) throws {
        let longest = sequences.map(\.count).max() ?? 1
        let cache = model.makeCache(capacity: longest)
        let workspace = Workspace(config: model.config)
        for (n, sequence) in sequences.enumerated() {
            cache.reset()
            let clipped = sequence.count > cache.capacity ? Array(sequence.prefix(cache.capacity)) : sequence
            try model.forward(clipped, cache: cache, workspace: workspace, pool: pool, observer: observer)
            progress?(n + 1, sequences.count)
        }
    }
}
