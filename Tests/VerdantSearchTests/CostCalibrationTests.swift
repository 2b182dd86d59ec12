import Foundation
import Testing
import VerdantEval
import VerdantModels
@testable import VerdantSearch

@Suite struct CostCalibrationTests {
    static func shape(layers: Int, hidden: Int, tied: Bool = true) -> StudentShape {
        StudentShape(family: .llama, layers: layers, hidden: hidden, heads: hidden / 16, kvHeads: hidden / 32,
                     headDim: 16, intermediate: 2 * hidden, vocab: 256, context: 64, tiedEmbeddings: tied)
    }

    /// A random checkpoint loads, and the loader agrees with the formulas on it.
    @Test func randomCheckpointMatchesFormulas() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-rand-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = Self.shape(layers: 2, hidden: 64, tied: false)
        try RandomCheckpoint.write(s, to: dir)
        let info = try ModelInfo.read(directory: dir)
        #expect(info.parameterCount == s.parameterCount)
        #expect(StudentShape(config: info.config) == s)
        let checkpoint = try Checkpoint(path: dir)
        #expect(checkpoint.tensors.reduce(0) { $0 + $1.byteCount } == s.bytes(StorageFormat(.bf16)))
        let loaded = try LoadedModel.load(directory: dir)
        #expect(loaded.model.weightBytesPerToken == s.weightBytesPerToken(StorageFormat(.bf16)))
    }

    @Test func measuresAndFitsACostModel() throws {
        let shapes = [Self.shape(layers: 1, hidden: 32), Self.shape(layers: 2, hidden: 64), Self.shape(layers: 3, hidden: 32),
                      Self.shape(layers: 1, hidden: 128), Self.shape(layers: 4, hidden: 64)]
        let calibration = CostCalibration(options: MeasureOptions(promptTokens: 8, genTokens: 4, runs: 1), threads: 1)
        let points = try calibration.measure(shapes)
        #expect(points.count == shapes.count)
        for p in points { #expect(p.decodeSecondsPerToken > 0 && p.joulesPerToken >= 0) }
        let (latency, energy) = try calibration.fit(points)
        #expect(latency.coefficients.allSatisfy { $0 >= 0 && $0.isFinite })
        #expect(energy.coefficients.allSatisfy { $0 >= 0 && $0.isFinite })
        #expect(latency.predict(shapes[1], storage: StorageFormat(.bf16)) > 0)
    }
}
