import Foundation
import VerdantEval
import VerdantModels
import VerdantTensors

/// Calibrates the cost model on this machine: each shape is written as a random-weight
/// checkpoint, loaded like any model and run through `verdant measure`'s method (warm-up,
/// then timed and metered prefill + greedy decode runs; medians).
public struct CostCalibration {
    public struct Point: Sendable, Codable, Equatable {
        public var shape: StudentShape
        public var decodeSecondsPerToken: Double
        public var joulesPerToken: Double
        public var flopsPerToken: Double
        public var weightBytesPerToken: Int
        public var energyMethod: String
    }

    public var options: MeasureOptions
    public var threads: Int

    public init(options: MeasureOptions = MeasureOptions(promptTokens: 64, genTokens: 32, runs: 3),
                threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.options = options
        self.threads = threads
    }

    /// Measures every shape (bf16 weights: the format random checkpoints are written in).
    public func measure(_ shapes: [StudentShape], seed: UInt64 = 1,
                        progress: ((Int, Point) -> Void)? = nil) throws -> [Point] {
        let pool = ThreadPool(threads: threads)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-cost-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        var points: [Point] = []
        for (i, shape) in shapes.enumerated() {
            let dir = (root as NSString).appendingPathComponent("student-\(i)")
            try RandomCheckpoint.write(shape, to: dir, seed: seed &+ UInt64(i) &* 1000)
            let loaded = try LoadedModel.load(directory: dir)
            let info = try ModelInfo.read(directory: dir)
            var o = options
            // Short-context students cannot hold the default prompt.
            let total = o.promptTokens + o.genTokens
            if total > shape.context {
                o.promptTokens = max(1, shape.context * o.promptTokens / total)
                o.genTokens = max(1, shape.context - o.promptTokens)
            }
            let m = try VerdantEval.measure(model: loaded.model, info: info, options: o, pool: pool)
            let point = Point(shape: shape, decodeSecondsPerToken: m.decodeSecondsPerToken.median,
                              joulesPerToken: m.energyJoulesPerToken.median, flopsPerToken: m.flopsPerToken,
                              weightBytesPerToken: m.weightBytesPerToken, energyMethod: m.energyDescription)
            points.append(point)
            progress?(i, point)
            try? FileManager.default.removeItem(atPath: dir)
        }
        return points
    }

    /// Latency and energy models fitted on measured points; `span` is the mean decode context.
    public func fit(_ points: [Point]) throws -> (latency: CostModel, energy: CostModel) {
        let span = options.promptTokens + options.genTokens / 2
        let storage = StorageFormat(.bf16)
        return (try CostModel.fit(points.map { ($0.shape, $0.decodeSecondsPerToken) }, storage: storage, span: span,
                                  target: "decode_seconds_per_token"),
                try CostModel.fit(points.map { ($0.shape, $0.joulesPerToken) }, storage: storage, span: span,
                                  target: "joules_per_token"))
    }
}
