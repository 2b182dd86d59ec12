import VerdantModels
import VerdantTensors

/// Hidden (residual stream) channel importance: the RMS over calibration tokens of
/// each channel of the residual stream, pooled over every block's input and the
/// last block's output (Minitron-style embedding-channel importance). The stream
/// is what every block reads (through its norm) and writes back, so a channel that
/// stays small everywhere carries little; slicing it removes an embedding column,
/// a norm gain, an input column of q/k/v/gate/up and an output row of o/down.
public enum HiddenChannelPruner {
    public static func activationScores(model: DecoderModel, calibration: CalibrationSet, pool: ThreadPool,
                                        progress: ((Int, Int) -> Void)? = nil) throws -> [Float] {
        let observer = ResidualStreamObserver(hidden: model.config.hiddenSize, lastLayer: model.layers.count - 1)
        try calibration.run(model: model, observer: observer, pool: pool, progress: progress)
        let n = Double(max(observer.count, 1))
        return observer.sums.map { Float(($0 / n).squareRoot()) }
    }

    /// The `keep` highest-scoring channels, ascending (ties: the lower index stays).
    public static func plan(scores: [Float], keep: Int) -> [Int] {
        let order = scores.indices.sorted { (scores[$0], -$0) > (scores[$1], -$1) }
        return Array(order.prefix(keep)).sorted()
    }
}

/// Σ x² per channel over the residual stream at every block input and the final block output.
final class ResidualStreamObserver: ForwardObserver {
    private(set) var sums: [Double]
    private(set) var count = 0
    private let lastLayer: Int

    init(hidden: Int, lastLayer: Int) {
        sums = [Double](repeating: 0, count: hidden)
        self.lastLayer = lastLayer
    }

    private func add(_ x: UnsafePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let row = x + r * cols
            for c in 0..<cols { sums[c] += Double(row[c]) * Double(row[c]) }
        }
        count += rows
    }

    func blockInput(layer: Int, x: UnsafePointer<Float>, rows: Int, cols: Int) { add(x, rows: rows, cols: cols) }

    func blockOutput(layer: Int, x: UnsafePointer<Float>, rows: Int, cols: Int) {
        if layer == lastLayer { add(x, rows: rows, cols: cols) }
    }
}
