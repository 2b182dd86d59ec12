import VerdantTensors

/// A per-token training loss applied to chunks of logits, so that the full
/// [tokens, vocab] logits never exist at once. Cross-entropy is one; the
/// distillation loss A·KL(teacher‖student)·T² + (1 − A)·CE plugs in here too
/// (it knows which rows it is given through `firstRow` and can look up the
/// teacher's distribution for them).
public protocol TokenLoss {
    /// logits: [rows, vocab] for batch rows firstRow..<firstRow+rows (row = b·T + t);
    /// targets: [rows] the next-token ids of those rows (`ignoredTarget` = masked).
    /// Overwrites logits with scale·∂loss_r/∂logits_r and returns Σ_r loss_r (unscaled).
    func lossAndGradient(logits: UnsafeMutablePointer<Float>, rows: Int, vocab: Int, firstRow: Int,
                         targets: UnsafePointer<Int32>, scale: Float, pool: ThreadPool) -> Double
}

/// Softmax cross-entropy with ignore-index; per-row losses are summed in row
/// order (deterministic for any thread count).
public struct CrossEntropyLoss: TokenLoss {
    public init() {}

    public func lossAndGradient(logits: UnsafeMutablePointer<Float>, rows: Int, vocab: Int, firstRow: Int,
                                targets: UnsafePointer<Int32>, scale: Float, pool: ThreadPool) -> Double {
        // perRow: [rows]
        let perRow = UnsafeMutablePointer<Float>.allocate(capacity: rows)
        defer { perRow.deallocate() }
        let tasks = min(rows, pool.threads * 4)
        pool.run(tasks) { t in
            for r in (t * rows / tasks)..<((t + 1) * rows / tasks) {
                perRow[r] = softmaxCrossEntropyRow(logits + r * vocab, vocab: vocab, target: targets[r], scale: scale)
            }
        }
        var sum = 0.0
        for r in 0..<rows { sum += Double(perRow[r]) }
        return sum
    }
}
