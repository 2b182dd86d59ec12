import Foundation
import Testing
import VerdantCompress
import VerdantModels
import VerdantTensors
import VerdantTokenizer

/// Records what a forward pass shows an observer.
final class RecordingObserver: ForwardObserver {
    var linearInputs: [(layer: Int, names: [String], rows: Int, cols: Int, sum: Double)] = []
    var blocks = 0
    func linearInput(layer: Int, linears: [Linear], x: UnsafePointer<Float>, rows: Int) {
        let cols = linears[0].inFeatures
        var s = 0.0
        for i in 0..<(rows * cols) { s += Double(x[i]) }
        linearInputs.append((layer, linears.map(\.name), rows, cols, s))
    }
    func blockOutput(layer: Int, x: UnsafePointer<Float>, rows: Int, cols: Int) { blocks += 1 }
}

@Suite struct CalibrationTests {
    @Test func observerSeesEveryLinearInputByName() throws {
        let loaded = try LoadedModel.load(directory: Fixtures.model("demo"))
        let tokenizer = try Tokenizer(contentsOf: Fixtures.model("demo") + "/tokenizer.json")
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/calib.jsonl"
        try "{\"text\": \"def f(x):\\n    return x + 1\\n\"}\n{\"text\": \"import os\\nprint(os.getcwd())\\n\"}\n"
            .write(toFile: data, atomically: true, encoding: .utf8)
        let set = try CalibrationSet.load(path: data, tokenizer: tokenizer, tokens: 20, sequenceLength: 8)
        #expect(set.tokenCount == 20)
        #expect(set.sequences.map(\.count) == [8, 8, 4])

        let observer = RecordingObserver()
        try set.run(model: loaded.model, observer: observer, pool: ThreadPool(threads: 1))
        let layers = loaded.config.numLayers
        // Llama family: q|k|v, o, gate|up, down per layer, per sequence.
        #expect(observer.linearInputs.count == 3 * 4 * layers)
        #expect(observer.blocks == 3 * layers)
        let first = observer.linearInputs[0]
        #expect(first.names == ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
                                "model.layers.0.self_attn.v_proj.weight"])
        #expect(first.rows == 8 && first.cols == loaded.config.hiddenSize)
        let down = observer.linearInputs[3]
        #expect(down.names == ["model.layers.0.mlp.down_proj.weight"] && down.cols == loaded.config.intermediateSize)
        #expect(observer.linearInputs.allSatisfy { $0.sum.isFinite })
    }

    @Test func rejectsUselessCalibrationRequests() throws {
        let tokenizer = try Tokenizer(contentsOf: Fixtures.model("demo") + "/tokenizer.json")
        #expect(throws: (any Error).self) {
            try CalibrationSet.load(path: "/nonexistent/calib.txt", tokenizer: tokenizer, tokens: 10, sequenceLength: 8)
        }
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "x = 1\n".write(toFile: dir + "/a.txt", atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) {
            try CalibrationSet.load(path: dir + "/a.txt", tokenizer: tokenizer, tokens: 0, sequenceLength: 8)
        }
    }
}
