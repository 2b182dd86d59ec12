import VerdantModels
import VerdantTensors
import VerdantTraining

/// Where a distillation run gets the teacher's rows from: the teacher itself run
/// alongside the student (online), or a teacher cache (top-k rows, or hidden
/// states turned into full logits by the teacher's output layer). The training
/// loop calls `prepare` once per sequence, then `withRows` per chunk of positions
/// and hands the `DistillationTeacher` to `DistillationLoss.evaluate`.
/// With a `StudentVocabulary` the token stream holds student ids: the teacher reads
/// them mapped to its ids, and its rows cover the student's ids only (the kept
/// rows of its output layer), so the loss's softmax renormalises the teacher over
/// the student's support.
/// Not thread-safe: one per training loop.
public final class TeacherSource {
    public enum Mode: String, Sendable { case online, cachedTopK = "cached-top-k", cachedHiddenStates = "cached-hidden-states" }

    public let mode: Mode
    public let context: Int
    /// Width of the rows handed to the loss: the student's vocabulary.
    public let vocabSize: Int
    public let vocabulary: StudentVocabulary?
    private let teacher: DecoderModel?
    /// The teacher's output layer, restricted to the student's ids when mapped.
    private let head: Linear?
    private let cache: TeacherCache?
    private let pool: ThreadPool
    private let kv: KVCache?
    private let workspace: Workspace?
    private var hidden: [Float] = []
    private var topK: TeacherRows?
    private var logits: [Float] = []

    /// Runs `teacher` on every sequence (exact, costs a teacher forward per step).
    public init(online teacher: DecoderModel, context: Int, pool: ThreadPool, vocabulary: StudentVocabulary? = nil) throws {
        guard context <= teacher.config.maxPositions else {
            throw DistillationError("context \(context) exceeds the teacher's \(teacher.config.maxPositions) positions")
        }
        mode = .online
        self.vocabulary = vocabulary
        head = try vocabulary?.restrictedHead(of: teacher) ?? teacher.lmHead
        vocabSize = vocabulary?.count ?? teacher.vocabSize
        self.context = context
        self.teacher = teacher
        cache = nil
        self.pool = pool
        kv = teacher.makeCache(capacity: context)
        workspace = Workspace(config: teacher.config)
    }

    /// Reads `cache` (validated by the caller with `TeacherCache.open`); a hidden-state
    /// cache also needs the teacher, for its output layer.
    public init(cache: TeacherCache, teacher: DecoderModel?, pool: ThreadPool, vocabulary: StudentVocabulary? = nil) throws {
        guard cache.layout.vocabularyFingerprint == vocabulary?.fingerprint else {
            throw DistillationError("\(cache.path) was made for \(cache.layout.vocabularyFingerprint.map { "student vocabulary \($0)" } ?? "the teacher's own vocabulary"), this run uses \(vocabulary.map { "student vocabulary \($0.fingerprint) (\($0.directory))" } ?? "the teacher's vocabulary")")
        }
        self.vocabulary = vocabulary
        vocabSize = vocabulary?.count ?? (cache.layout.content == .hiddenStates ? teacher?.vocabSize : nil) ?? cache.layout.vocabSize
        switch cache.layout.content {
        case .topK:
            mode = .cachedTopK
            head = nil
            guard cache.layout.vocabSize == vocabSize else {
                throw DistillationError("\(cache.path) holds ids of a \(cache.layout.vocabSize)-token vocabulary, this run's is \(vocabSize)")
            }
        case .hiddenStates:
            guard let teacher else { throw DistillationError("a hidden-state teacher cache needs the teacher's output layer: pass the teacher") }
            // The layout names the vocabulary the rows cover: the student's when mapped.
            guard teacher.hiddenSize == cache.layout.hiddenSize, vocabSize == cache.layout.vocabSize else {
                throw DistillationError("the teacher's hidden size / vocabulary do not match the cache")
            }
            mode = .cachedHiddenStates
            head = try vocabulary?.restrictedHead(of: teacher) ?? teacher.lmHead
        }
        context = cache.layout.context
        self.teacher = teacher
        self.cache = cache
        self.pool = pool
        kv = nil
        workspace = nil
    }

    /// Makes sequence `g` of the token stream (its context + 1 `tokens`) current.
    public func prepare(sequence g: Int, tokens: [Int]) throws {
        switch mode {
        case .online:
            guard let teacher, let kv, let workspace else { return }
            kv.reset()
            let inputs = Array(tokens.prefix(context))
            try teacher.forward(vocabulary?.teacherSequence(inputs) ?? inputs, cache: kv, workspace: workspace, pool: pool)
        case .cachedTopK:
            topK = try cache?.rows(sequences: g..<(g + 1))
        case .cachedHiddenStates:
            hidden = try cache?.hiddenStates(sequences: g..<(g + 1)) ?? []
        }
    }

    /// The teacher of rows first..<first + count of the current sequence, valid
    /// inside `body` only.
    public func withRows<R>(first: Int, count: Int, _ body: (DistillationTeacher) throws -> R) throws -> R {
        guard first >= 0, count >= 0, first + count <= context else {
            throw DistillationError("rows \(first)..<\(first + count) outside the sequence's \(context) positions")
        }
        switch mode {
        case .online, .cachedHiddenStates:
            guard let teacher, let head else { throw DistillationError("no teacher") }
            let V = vocabSize, H = teacher.hiddenSize
            if logits.count < count * V { logits = [Float](repeating: 0, count: count * V) }
            if mode == .online, let workspace {
                logits.withUnsafeMutableBufferPointer { head(workspace.hiddenStates + first * H, rows: count, $0.baseAddress!, pool: pool) }
            } else {
                guard hidden.count >= (first + count) * H else { throw DistillationError("prepare a sequence first") }
                hidden.withUnsafeBufferPointer { h in
                    logits.withUnsafeMutableBufferPointer { out in head(h.baseAddress! + first * H, rows: count, out.baseAddress!, pool: pool) }
                }
            }
            return try logits.withUnsafeBufferPointer { try body(.logits($0.baseAddress!)) }
        case .cachedTopK:
            guard let rows = topK else { throw DistillationError("prepare a sequence first") }
            let k = rows.k
            return try rows.ids.withUnsafeBufferPointer { ids in
                try rows.probabilities.withUnsafeBufferPointer { p in
                    try rows.tailMass.withUnsafeBufferPointer { m in
                        try body(.topK(ids: ids.baseAddress! + first * k, probabilities: p.baseAddress! + first * k,
                                       tailMass: m.baseAddress! + first, k: k))
                    }
                }
            }
        }
    }
}
