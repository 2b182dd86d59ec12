import VerdantModels
import VerdantTensors
import VerdantTraining

/// Where a distillation run gets the teacher's rows from: the teacher itself run
/// alongside the student (online), or a teacher cache (top-k rows, or hidden
/// states turned into full logits by the teacher's output layer). The training
/// loop calls `prepare` once per sequence, then `withRows` per chunk of positions
/// and hands the `DistillationTeacher` to `DistillationLoss.evaluate`.
/// Not thread-safe: one per training loop.
public final class TeacherSource {
    public enum Mode: String, Sendable { case online, cachedTopK = "cached-top-k", cachedHiddenStates = "cached-hidden-states" }

    public let mode: Mode
    public let context: Int
    private let teacher: DecoderModel?
    private let cache: TeacherCache?
    private let pool: ThreadPool
    private let kv: KVCache?
    private let workspace: Workspace?
    private var hidden: [Float] = []
    private var topK: TeacherRows?
    private var logits: [Float] = []

    /// Runs `teacher` on every sequence (exact, costs a teacher forward per step).
    public init(online teacher: DecoderModel, context: Int, pool: ThreadPool) throws {
        guard context <= teacher.config.maxPositions else {
            throw DistillationError("context \(context) exceeds the teacher's \(teacher.config.maxPositions) positions")
        }
        mode = .online
        self.context = context
        self.teacher = teacher
        cache = nil
        self.pool = pool
        kv = teacher.makeCache(capacity: context)
        workspace = Workspace(config: teacher.config)
    }

    /// Reads `cache` (validated by the caller with `TeacherCache.open`); a hidden-state
    /// cache also needs the teacher, for its output layer.
    public init(cache: TeacherCache, teacher: DecoderModel?, pool: ThreadPool) throws {
        switch cache.layout.content {
        case .topK: mode = .cachedTopK
        case .hiddenStates:
            guard let teacher else { throw DistillationError("a hidden-state teacher cache needs the teacher's output layer: pass the teacher") }
            guard teacher.hiddenSize == cache.layout.hiddenSize, teacher.vocabSize == cache.layout.vocabSize else {
                throw DistillationError("the teacher's hidden size / vocabulary do not match the cache")
            }
            mode = .cachedHiddenStates
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
            try teacher.forward(Array(tokens.prefix(context)), cache: kv, workspace: workspace, pool: pool)
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
            guard let teacher else { throw DistillationError("no teacher") }
            let V = teacher.vocabSize, H = teacher.hiddenSize
            if logits.count < count * V { logits = [Float](repeating: 0, count: count * V) }
            if mode == .online, let workspace {
                logits.withUnsafeMutableBufferPointer { teacher.logits(workspace: workspace, firstRow: first, rows: count, into: $0.baseAddress!, pool: pool) }
            } else {
                guard hidden.count >= (first + count) * H else { throw DistillationError("prepare a sequence first") }
                hidden.withUnsafeBufferPointer { h in
                    logits.withUnsafeMutableBufferPointer { out in
                        TeacherCache.logits(hidden: h.baseAddress! + first * H, rows: count, teacher: teacher, into: out.baseAddress!, pool: pool)
                    }
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
