import VerdantModels
import VerdantTensors
import VerdantTraining

/// The training loss of `verdant distill`: for each chunk of student logits rows the
/// trainer hands over, the teacher's rows of the same positions come from the
/// `TeacherSource` (online teacher, top-k cache or hidden-state cache) and
/// `DistillationLoss` gives A·T²·KL + (1 − A)·CE and its exact gradient.
///
/// Rows are b·context + t of the current micro-batch; the data source says which run
/// sequences the batch holds, so the teacher (or its cache) sees the same sequence.
/// The trainer must fetch one micro-batch per step (accumulate = 1): with several,
/// `lastSequences` would name the last fetched batch, not the one being evaluated.
///
/// `TokenLoss` cannot throw (the cross-entropy loss never fails), so a teacher error
/// (a corrupt cache record, a cache too short for the run) is kept in `failure` and
/// the chunk returns NaN, which stops the trainer; the caller rethrows `failure`.
public final class DistillationTokenLoss: TokenLoss {
    public let loss: DistillationLoss
    public let teacher: TeacherSource
    public let data: TokenStreamSource
    public private(set) var failure: Error?
    /// Sums since the last `takeTotals` (KL without T², CE, rows), for progress.
    private var totals = DistillationLossValue()
    /// Run sequence the teacher source holds.
    private var prepared: Int?
    /// The student rows of a segment: DistillationLoss reads them while it writes the
    /// gradient into the trainer's logits buffer.
    private var student: [Float] = []
    private var targets: [Int] = []

    public init(loss: DistillationLoss, teacher: TeacherSource, data: TokenStreamSource) throws {
        guard teacher.context == data.stream.context else {
            throw DistillationError("the teacher source has context \(teacher.context), the token stream \(data.stream.context)")
        }
        self.loss = loss
        self.teacher = teacher
        self.data = data
    }

    /// The sums since the previous call, and resets them.
    public func takeTotals() -> DistillationLossValue {
        defer { totals = DistillationLossValue() }
        return totals
    }

    public func lossAndGradient(logits: UnsafeMutablePointer<Float>, rows: Int, vocab: Int, firstRow: Int,
                                targets: UnsafePointer<Int32>, scale: Float, pool: ThreadPool) -> Double {
        guard failure == nil else { return .nan }
        do {
            return try evaluate(logits: logits, rows: rows, vocab: vocab, firstRow: firstRow, targets: targets, scale: scale, pool: pool)
        } catch {
            failure = error
            return .nan
        }
    }

    private func evaluate(logits: UnsafeMutablePointer<Float>, rows: Int, vocab: Int, firstRow: Int,
                          targets rowTargets: UnsafePointer<Int32>, scale: Float, pool: ThreadPool) throws -> Double {
        let C = teacher.context
        var sum = 0.0
        var r = 0
        // A chunk may straddle sequences: evaluate it per sequence segment.
        while r < rows {
            let row = firstRow + r
            let b = row / C, t = row % C
            let n = min(rows - r, C - t)
            let g = data.lastSequences.lowerBound + b
            guard data.lastSequences.contains(g) else {
                throw DistillationError("logits row \(row) is outside the current batch of \(data.lastSequences.count) sequences")
            }
            if prepared != g {
                try teacher.prepare(sequence: g, tokens: data.stream.sequence(g))
                prepared = g
            }
            let z = logits + r * vocab
            if student.count < n * vocab { student = [Float](repeating: 0, count: n * vocab) }
            if targets.count < n { targets = [Int](repeating: 0, count: n) }
            for i in 0..<n {
                let id = rowTargets[r + i]
                targets[i] = id == ignoredTarget ? DistillationLoss.ignoreIndex : Int(id)
            }
            let value: DistillationLossValue = try student.withUnsafeMutableBufferPointer { s in
                s.baseAddress!.update(from: z, count: n * vocab)
                return try targets.withUnsafeBufferPointer { tg in
                    try teacher.withRows(first: t, count: n) { rows in
                        try loss.evaluate(student: s.baseAddress!, teacher: rows, targets: tg.baseAddress!, rows: n, vocab: vocab,
                                          gradient: z, gradientScale: scale, pool: pool)
                    }
                }
            }
            totals.loss += value.loss
            totals.kl += value.kl
            totals.crossEntropy += value.crossEntropy
            totals.rows += value.rows
            sum += value.loss
            r += n
        }
        return sum
    }
}
