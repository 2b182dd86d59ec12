import Testing
import VerdantTensors
@testable import VerdantSearch

@Suite struct ConstraintSolverTests {
    static func budget(_ mb: Double, _ format: WeightFormat = .bf16) -> Budget {
        Budget(sizeBytes: Int(mb * 1e6), storage: StorageFormat(format))
    }

    /// A small space the solver decides quickly.
    static func smallSpace() throws -> ConfigurationSpace {
        try ConfigurationSpace(genes: [
            .range(GeneName.layers, 1, 6),
            .range(GeneName.hiddenSize, 64, 512, step: 64),
            .range(GeneName.attentionHeads, 1, 8),
            .range(GeneName.kvHeads, 1, 8),
            .choices(GeneName.headSize, [.int(32), .int(64)]),
            .range(GeneName.intermediateSize, 128, 1536, step: 128),
            .choices(GeneName.vocabSize, [.int(4096), .int(8192)]),
            .choices(GeneName.contextLength, [.int(256), .int(512)]),
            .choices(GeneName.tiedEmbeddings, [.bool(true), .bool(false)]),
            .choices(GeneName.learningRate, [.double(1e-3), .double(1e-4)]),
        ])
    }

    @Test func enumerationYieldsOnlyLegalDistinctConfigurations() throws {
        let space = try Self.smallSpace()
        let budget = Self.budget(4)
        let solver = try ConstraintSolver(space: space, budget: budget)
        let found = try solver.enumerate(limit: 60)
        #expect(found.count == 60)
        #expect(Set(found).count == found.count)
        for c in found {
            let shape = try StudentShape(space: space, configuration: c)
            #expect(budget.admits(shape), "\(space.describe(c))")
            #expect(try solver.solverBytes(c) == shape.bytes(budget.storage))
        }
    }

    @Test func refusesIllegalCandidates() throws {
        let space = try Self.smallSpace()
        let solver = try ConstraintSolver(space: space, budget: Self.budget(4))
        func config(_ v: [String: GeneValue]) throws -> Configuration {
            var all = space.values(of: Configuration([Int](repeating: 0, count: space.genes.count)))
            for (k, x) in v { all[k] = x }
            return try space.configuration(all)
        }
        // hidden 256 = 4 × 64, 4 heads over 2 kv heads, small: legal.
        let legal = try config([GeneName.hiddenSize: .int(256), GeneName.attentionHeads: .int(4),
                                GeneName.kvHeads: .int(2), GeneName.headSize: .int(64)])
        #expect(try solver.isLegal(legal))
        // hidden ≠ heads × head size.
        #expect(try !solver.isLegal(config([GeneName.hiddenSize: .int(192), GeneName.attentionHeads: .int(4),
                                            GeneName.kvHeads: .int(2), GeneName.headSize: .int(64)])))
        // 4 heads not divisible by 3 kv heads.
        #expect(try !solver.isLegal(config([GeneName.hiddenSize: .int(256), GeneName.attentionHeads: .int(4),
                                            GeneName.kvHeads: .int(3), GeneName.headSize: .int(64)])))
        // Shape rules hold but the size does not: 6 × 512-wide layers with an untied 8k vocabulary.
        let big = try config([GeneName.layers: .int(6), GeneName.hiddenSize: .int(512), GeneName.attentionHeads: .int(8),
                              GeneName.kvHeads: .int(8), GeneName.headSize: .int(64), GeneName.intermediateSize: .int(1536),
                              GeneName.vocabSize: .int(8192), GeneName.tiedEmbeddings: .bool(false)])
        #expect(try StudentShape(space: space, configuration: big).bytes(StorageFormat(.bf16)) > 4_000_000)
        #expect(try !solver.isLegal(big))
        // The repair keeps what it can and returns a legal neighbour.
        let repaired = try #require(try solver.repair(big, releaseOrder: Array(0..<space.genes.count)))
        #expect(try solver.isLegal(repaired))
    }

    @Test func budgetTooSmallIsAClearError() throws {
        let space = try Self.smallSpace()
        do {
            _ = try ConstraintSolver(space: space, budget: Self.budget(0.1))
            Issue.record("a 0.1 MB budget was accepted")
        } catch let e as SpaceError {
            guard case .infeasible(let message) = e else { Issue.record("\(e)"); return }
            #expect(message.contains("smallest configuration"), "\(message)")
            #expect(message.contains("0.100 MB"), "\(message)")
        }
    }

    @Test func optionalLimitsAreEnforced() throws {
        let space = try Self.smallSpace()
        var budget = Self.budget(4, .q8_0)
        budget.maxKVCacheBytes = 2_000_000
        budget.maxFlopsPerToken = 4_000_000
        let solver = try ConstraintSolver(space: space, budget: budget)
        for c in try solver.enumerate(limit: 25) {
            let shape = try StudentShape(space: space, configuration: c)
            #expect(shape.kvCacheBytes <= 2_000_000)
            #expect(shape.flopsPerToken(span: shape.context) <= 4_000_000)
            #expect(budget.admits(shape))
        }
    }

    @Test func contradictoryShapeRulesAreReported() throws {
        var genes = try Self.smallSpace().genes
        genes[1] = try .choices(GeneName.hiddenSize, [.int(100)])
        let space = try ConfigurationSpace(genes: genes)
        #expect(throws: SpaceError.self) { try ConstraintSolver(space: space, budget: Self.budget(100)) }
    }

    /// Z3's default error handler exits the process; ours turns the error into a Swift error.
    @Test func z3ErrorsAreSwiftErrors() throws {
        let z = try Z3Solver()
        let x = try z.intVariable("x")
        let truth = try z.equal(x, x)
        #expect(throws: SMTError.self) { try z.sum([truth, x]) }
        // The context stays usable afterwards.
        try z.assert(z.equal(x, z.int(3)))
        #expect(try z.check())
        #expect(try z.values(of: [x]) == [3])
    }
}
