import Foundation
import Testing
import VerdantModels
import VerdantTensors
@testable import VerdantCompress

/// Students cut out of a teacher to an exact config (`verdant distill --init
/// from-teacher`, `verdant prune --to-config`). That the written checkpoints mean
/// the same to transformers is checked by the golden cases demo-to-student-* and
/// *-hidden-plan (PrunedParityTests).
@Suite struct StudentFromTeacherTests {
    static let teacherDir = Fixtures.model("demo")

    static func student(_ changes: [String: Any]) throws -> ModelConfig {
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: teacherDir + "/config.json"))) as? [String: Any] ?? [:]
        for (k, v) in changes { json[k] = v }
        return try ModelRegistry.config(fromJSON: try JSONSerialization.data(withJSONObject: json))
    }

    @Test func theStudentHasExactlyTheConfigsShapeAndTrainsFromTheWrittenCheckpoint() throws {
        let s = try Self.student(["num_hidden_layers": 1, "hidden_size": 40, "num_attention_heads": 2, "num_key_value_heads": 1,
                                  "head_dim": 16, "intermediate_size": 48])
        let pruner = try Pruner(directory: Self.teacherDir)
        let calibration = CalibrationSet(sequences: [probeIds(32, vocab: 512), probeIds(32, vocab: 512, seed: 9)])
        for choice in StudentLayerChoice.allCases {
            let (plan, report) = try StudentFromTeacher.plan(pruner: pruner, student: s, vocabulary: nil, layers: choice,
                                                             calibration: calibration, pool: ThreadPool(threads: 1))
            #expect(plan.hiddenChannels?.count == 40 && plan.heads?.first?.keptKVHeads.count == 1)
            // Both query heads of the kept group: one group of the teacher's two.
            let group = try #require(plan.heads?.first?.keptKVHeads.first)
            #expect(plan.heads?.first?.keptHeads == [2 * group, 2 * group + 1])
            let dir = try Fixtures.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let written = try pruner.write(plan: plan, report: report, to: dir + "/out", force: false)
            let loaded = try LoadedModel.load(directory: dir + "/out")
            let c = loaded.config
            let shape: [Int] = [c.numLayers, c.hiddenSize, c.numHeads, c.numKVHeads, c.headDim, c.intermediateSize, c.vocabSize]
            #expect(shape == [1, 40, 2, 1, 16, 48, 512])
            let checkpoint = try Checkpoint(path: dir + "/out")
            #expect(written.parametersAfter == checkpoint.parameterCount)
            let store = try ParameterStore(checkpoint: checkpoint, config: s)
            _ = try store.model()
        }
        #expect(StudentFromTeacher.evenlySpaced(4, of: 8) == [0, 2, 5, 7])
        #expect(StudentFromTeacher.evenlySpaced(1, of: 8) == [0])
    }

    @Test func unreachableStudentsAreRefusedWithTheReason() throws {
        let teacher = try ModelRegistry.config(directory: Self.teacherDir)
        let cases: [([String: Any], String)] = [
            (["hidden_size": 128], "hidden_size 128 is larger"),
            (["head_dim": 8, "num_attention_heads": 4], "head_dim 8 differs"),
            (["num_hidden_layers": 3], "num_hidden_layers 3 is larger"),
            (["num_attention_heads": 4, "num_key_value_heads": 1], "query heads per group"),
            (["hidden_act": "relu"], "activation"),
        ]
        for (changes, reason) in cases {
            let s = try Self.student(changes)
            do {
                try StudentFromTeacher.check(student: s, teacher: teacher, vocabulary: 512)
                Issue.record("accepted \(changes)")
            } catch {
                #expect(error.description.contains(reason), "\(changes): \(error.description)")
            }
        }
        #expect(throws: PruningError.self) {
            try StudentFromTeacher.check(student: try Self.student(["vocab_size": 600]), teacher: teacher, vocabulary: 512)
        }
        let gpt2 = try ModelRegistry.config(directory: PruningFixtures.model("gpt2"))
        #expect(throws: PruningError.self) { try StudentFromTeacher.check(student: gpt2, teacher: gpt2, vocabulary: gpt2.vocabSize) }
    }
}
