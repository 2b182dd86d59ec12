import Foundation
import Testing
import VerdantCompress
import VerdantModels
@testable import VerdantSearch

/// `--init from-teacher` in the search: with `Budget.teacher` every configuration the solver
/// calls legal must be one StudentFromTeacher can cut out of the teacher.
@Suite struct TeacherLimitsTests {
    /// A GQA teacher (4 heads over 2 KV groups of head size 64), smaller than the space in
    /// every direction the space can grow.
    static var teacherJSON: [String: Any] { [
        "model_type": "llama", "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 4,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 64, "vocab_size": 8192,
        "max_position_embeddings": 512, "hidden_act": "silu", "tie_word_embeddings": true, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "bos_token_id": 0, "eos_token_id": 0,
    ] }

    static func teacher() throws -> ModelConfig {
        try ModelRegistry.config(fromJSON: try JSONSerialization.data(withJSONObject: teacherJSON))
    }

    /// ConstraintSolverTests' small space with an activation gene and a vocabulary larger
    /// than the teacher's among the choices.
    static func space() throws -> ConfigurationSpace {
        var genes = try ConstraintSolverTests.smallSpace().genes.filter { $0.name != GeneName.vocabSize }
        genes += [try .choices(GeneName.activation, [.string("silu"), .string("relu")]),
                  try .choices(GeneName.vocabSize, [.int(4096), .int(8192), .int(16384)])]
        return try ConfigurationSpace(genes: genes)
    }

    /// Context and learning rate pinned: they take no part in the limits.
    static func pinned(_ space: ConfigurationSpace) -> [Int: Int] {
        Dictionary(uniqueKeysWithValues: [GeneName.contextLength, GeneName.learningRate].compactMap { space.geneIndex($0).map { ($0, 0) } })
    }

    /// A budget far above every student, so only the teacher's limits bind.
    static func budget(_ limits: TeacherLimits?) -> Budget {
        Budget(sizeBytes: 1_000_000_000, storage: StorageFormat(.bf16), teacher: limits)
    }

    func check(_ space: ConfigurationSpace, _ c: Configuration, teacher: ModelConfig) throws -> Bool {
        let json = try JSONSerialization.data(withJSONObject: try space.studentConfig(c, teacher: Self.teacherJSON))
        let student = try ModelRegistry.config(fromJSON: json)
        do {
            try StudentFromTeacher.check(student: student, teacher: teacher, vocabulary: student.vocabSize)
            return true
        } catch {
            return false
        }
    }

    /// Every legal configuration (all of them, enumerated to exhaustion) passes the check.
    @Test func everyLegalConfigurationCanBeCutFromTheTeacher() throws {
        let space = try Self.space(), teacher = try Self.teacher()
        let limits = TeacherLimits(teacher: teacher)
        let solver = try ConstraintSolver(space: space, budget: Self.budget(limits))
        let legal = try solver.enumerate(limit: 10_000, fixing: Self.pinned(space))
        // heads/kv ∈ {1/1, 2/1, 2/2, 4/2} (hidden = 64·heads) × 4 layers × 4 widths × 2 vocabularies.
        #expect(legal.count == 4 * 4 * 4 * 2)
        for c in legal {
            #expect(try check(space, c, teacher: teacher), "\(space.describe(c))")
            #expect(Self.budget(limits).admits(try StudentShape(space: space, configuration: c)))
        }
        // Without the limits the solver allows students the teacher cannot yield.
        let free = try ConstraintSolver(space: space, budget: Self.budget(nil)).enumerate(limit: 200, fixing: Self.pinned(space))
        #expect(try free.contains { !(try check(space, $0, teacher: teacher)) })
    }

    @Test func refusesWhatCannotBeCut() throws {
        let space = try Self.space(), teacher = try Self.teacher()
        let solver = try ConstraintSolver(space: space, budget: Self.budget(TeacherLimits(teacher: teacher)))
        func configuration(_ values: [String: GeneValue]) throws -> Configuration {
            try Configuration(space.genes.map { g in try #require(g.values.firstIndex(of: values[g.name] ?? g.values[0])) })
        }
        let base: [String: GeneValue] = [GeneName.layers: .int(2), GeneName.hiddenSize: .int(128), GeneName.attentionHeads: .int(2),
                                         GeneName.kvHeads: .int(1), GeneName.headSize: .int(64), GeneName.intermediateSize: .int(256),
                                         GeneName.activation: .string("silu"), GeneName.vocabSize: .int(4096),
                                         GeneName.tiedEmbeddings: .bool(true)]
        #expect(try solver.isLegal(configuration(base)))
        let cuts: [(String, GeneValue)] = [(GeneName.activation, .string("relu")), (GeneName.tiedEmbeddings, .bool(false)),
                                           (GeneName.vocabSize, .int(16384)), (GeneName.layers, .int(5)),
                                           (GeneName.intermediateSize, .int(640))]
        for (gene, value) in cuts {
            var v = base
            v[gene] = value
            #expect(try !solver.isLegal(configuration(v)), "\(gene) = \(value)")
        }
        // 3 query heads per group (the teacher's groups hold 2), and head size 32.
        var v = base
        v[GeneName.hiddenSize] = .int(192); v[GeneName.attentionHeads] = .int(3)
        #expect(try !solver.isLegal(configuration(v)))
        v = base
        v[GeneName.headSize] = .int(32); v[GeneName.hiddenSize] = .int(64)
        #expect(try !solver.isLegal(configuration(v)))
    }

    /// A requirement no value of the space meets is named, not reported as an empty space.
    @Test func namesAnUnmeetableRequirement() throws {
        var json = Self.teacherJSON
        json["head_dim"] = 16
        json["hidden_size"] = 64
        let teacher = try ModelRegistry.config(fromJSON: try JSONSerialization.data(withJSONObject: json))
        #expect {
            _ = try ConstraintSolver(space: try Self.space(), budget: Self.budget(TeacherLimits(teacher: teacher)))
        } throws: { "\($0)".contains("head_size must be the teacher's 16") }
    }
}
