import Foundation
import Testing
import VerdantCompress
import VerdantModels
import VerdantTensors

/// Logits [ids.count, vocab] of a full forward pass.
func logits(_ model: DecoderModel, _ ids: [Int], threads: Int = 1) throws -> [Float] {
    let pool = ThreadPool(threads: threads)
    let cache = model.makeCache(capacity: ids.count)
    let workspace = Workspace(config: model.config)
    try model.forward(ids, cache: cache, workspace: workspace, pool: pool)
    var out = [Float](repeating: 0, count: ids.count * model.vocabSize)
    model.logits(workspace: workspace, firstRow: 0, rows: ids.count, into: &out, pool: pool)
    return out
}

/// max |a − b| / max(1, |b|).
func worstDifference(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var worst = 0.0
    for (x, y) in zip(a, b) { worst = max(worst, Double(abs(x - y)) / max(1, Double(abs(y)))) }
    return worst
}

/// A checkpoint with some rows / columns of some stored tensors zeroed (in the
/// stored layout, e.g. Conv1D [in, out]): the functional reference a structural
/// pruning must equal, built independently of the pruning code.
final class MaskedWeights: WeightSource {
    let checkpoint: Checkpoint
    var zeroRows: [String: Set<Int>] = [:]
    var zeroCols: [String: Set<Int>] = [:]

    init(_ checkpoint: Checkpoint) { self.checkpoint = checkpoint }

    func shape(of name: String) -> [Int]? { checkpoint.info(name)?.shape }

    func matrix(_ name: String) throws -> WeightMatrix {
        let m = try checkpoint.weightMatrix(name)
        let rows = zeroRows[name] ?? [], cols = zeroCols[name] ?? []
        if rows.isEmpty && cols.isEmpty { return m }
        var values = [Float](repeating: 0, count: m.rows * m.cols)
        for r in 0..<m.rows where !rows.contains(r) {
            for c in 0..<m.cols where !cols.contains(c) { values[r * m.cols + c] = m.element(r, c) }
        }
        return .f32(rows: m.rows, cols: m.cols, values: values)
    }

    func vector(_ name: String) throws -> [Float] {
        var v = try checkpoint.floats(name)
        for c in zeroCols[name] ?? [] { v[c] = 0 }
        return v
    }
}

/// Ids spread over the vocabulary, deterministic.
func probeIds(_ count: Int, vocab: Int, seed: UInt64 = 7) -> [Int] {
    var rng = RandomSource(seed: seed)
    return (0..<count).map { _ in Int(rng.next() % UInt64(vocab)) }
}

enum PruningFixtures {
    /// Tests/VerdantCompressTests/Fixtures (pruning cases, extra models, corpora).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func model(_ name: String) -> String {
        let local = root.appendingPathComponent("models/\(name)").path
        return FileManager.default.fileExists(atPath: local) ? local : Fixtures.model(name)
    }

    static func load(_ name: String) throws -> (ModelConfig, Checkpoint, DecoderModel) {
        let dir = model(name)
        let config = try ModelRegistry.config(directory: dir)
        let checkpoint = try Checkpoint(path: dir)
        return (config, checkpoint, try DecoderModel.build(config: config, weights: checkpoint))
    }

    static let corpus = root.appendingPathComponent("corpus.txt").path
}
