import Foundation
import Testing
import VerdantTensors
@testable import VerdantSearch

/// ZDT1 over integer genes: f1 = x₀, g = 1 + 9·mean(x₁…), f2 = g·(1 − √(f1/g)), xᵢ = index / 20.
/// The true front is x₁… = 0, f2 = 1 − √f1, known exactly on the grid.
struct ZDT1: SearchProblem {
    var genes = 5
    var geneCounts: [Int] { [Int](repeating: 21, count: genes) }
    func repair(_ c: Configuration, rng: inout SearchRandom) throws -> Configuration? { c }
    func isLegal(_ c: Configuration) throws -> Bool { true }
    func objectives(_ c: Configuration) throws -> [Double] {
        let x = c.indices.map { Double($0) / 20 }
        let g = 1 + 9 * x.dropFirst().reduce(0, +) / Double(x.count - 1)
        return [x[0], g * (1 - (x[0] / g).squareRoot())]
    }
    var trueFront: [[Double]] { (0...20).map { [Double($0) / 20, 1 - (Double($0) / 20).squareRoot()] } }
}

/// A convex problem with a constraint the repair enforces: minimise (a, b) spread and a
/// budget a + b ≥ 10 pushed by the second objective (distance to (10, 10)).
struct ConstrainedConvex: SearchProblem {
    var geneCounts: [Int] { [16, 16, 4] }
    func repair(_ c: Configuration, rng: inout SearchRandom) throws -> Configuration? {
        var v = c.indices
        while v[0] + v[1] > 20 { if v[0] > v[1] { v[0] -= 1 } else { v[1] -= 1 } }
        return Configuration(v)
    }
    func isLegal(_ c: Configuration) throws -> Bool { c.indices[0] + c.indices[1] <= 20 }
    func objectives(_ c: Configuration) throws -> [Double] {
        let a = Double(c.indices[0]), b = Double(c.indices[1]), k = Double(c.indices[2])
        return [a * a + b * b + k, (a - 10) * (a - 10) + (b - 10) * (b - 10) + k]
    }
}

@Suite struct SearchTests {
    @Test func nsga2BeatsAvatarOnZDT1AtEqualBudget() throws {
        let p = ZDT1()
        let reference = [1.1, 11.0]
        let truth = hypervolume(p.trueFront, reference: reference)
        var wins = 0
        for seed in UInt64(1)...3 {
            let nsga = try NSGA2(populationSize: 20, maxEvaluations: 600, seed: seed).run(p)
            let avatar = try AvatarGA(populationSize: 20, maxEvaluations: 600, seed: seed).run(p)
            #expect(nsga.evaluations == 600)
            #expect(avatar.evaluations <= 600)
            let hn = hypervolume(nsga.front.map(\.objectives), reference: reference)
            let ha = hypervolume(avatar.front.map(\.objectives), reference: reference)
            #expect(hn >= ha, "seed \(seed): NSGA-II \(hn) < Avatar \(ha)")
            #expect(hn >= 0.9 * truth, "seed \(seed): NSGA-II \(hn) vs true \(truth)")
            if hn > ha { wins += 1 }
            // The front is non-dominated; Avatar's archive need not be.
            let objs = nsga.front.map(\.objectives)
            for a in objs { #expect(!objs.contains { dominates($0, a) }) }
        }
        #expect(wins == 3)
    }

    @Test func nsga2IsDeterministicForASeed() throws {
        let a = try NSGA2(populationSize: 12, maxEvaluations: 200, seed: 42).run(ZDT1())
        let b = try NSGA2(populationSize: 12, maxEvaluations: 200, seed: 42).run(ZDT1())
        #expect(a.front == b.front)
        let c = try NSGA2(populationSize: 12, maxEvaluations: 200, seed: 43).run(ZDT1())
        #expect(a.front != c.front)
    }

    @Test func repairedSearchStaysLegalAndDominatesBaseline() throws {
        let p = ConstrainedConvex()
        let nsga = try NSGA2(populationSize: 16, maxEvaluations: 300, seed: 3).run(p)
        let avatar = try AvatarGA(populationSize: 16, maxEvaluations: 300, seed: 3).run(p)
        for e in nsga.front { #expect(try p.isLegal(e.configuration)) }
        let reference = [900.0, 300.0]
        #expect(hypervolume(nsga.front.map(\.objectives), reference: reference)
                >= hypervolume(avatar.front.map(\.objectives), reference: reference))
        // The box search proposes illegal points (a + b > 20) and never checks them.
        #expect(avatar.illegal > 0)
    }

    /// The student problem end to end with synthetic objectives: every front member is proved
    /// legal by the solver and within the budget.
    @Test func studentFrontIsSolverLegal() throws {
        let space = try ConstraintSolverTests.smallSpace()
        let budget = Budget(sizeBytes: 3_000_000, storage: StorageFormat(.q8_0))
        let solver = try ConstraintSolver(space: space, budget: budget)
        let problem = StudentProblem(
            solver: solver,
            effectiveness: { c in
                let s = try StudentShape(space: space, configuration: c)
                return log(Double(s.parameterCount)) + 0.1 * Double(s.layers)
            },
            cost: { s in Double(s.weightBytesPerToken(budget.storage)) / 1e6 + 0.05 * Double(s.layers) })
        let result = try NSGA2(populationSize: 10, maxEvaluations: 60, seed: 5).run(problem)
        #expect(!result.front.isEmpty)
        let check = try ConstraintSolver(space: space, budget: budget)
        for e in result.front {
            #expect(try check.isLegal(e.configuration))
            #expect(budget.admits(try StudentShape(space: space, configuration: e.configuration)))
        }
    }
}

@Suite struct StudentSearchTests {
    /// End to end with a synthetic "distillation": legal verified front, surrogate errors,
    /// NSGA-II at least as good as Avatar's GA by hypervolume, and Avatar's box proposing
    /// illegal students.
    @Test func searchWiresSurrogateCostAndSolver() throws {
        let space = try ConstraintSolverTests.smallSpace()
        let budget = Budget(sizeBytes: 3_000_000, storage: StorageFormat(.q8_0))
        let solver = try ConstraintSolver(space: space, budget: budget)
        var search = StudentSearch()
        search.samples = 10
        search.poolSize = 40
        search.populationSize = 10
        search.maxEvaluations = 80
        search.boxSolutions = 40
        var store = SampleStore()
        let report = try search.run(solver: solver, store: &store,
                                    costs: [{ s in Double(s.weightBytesPerToken(budget.storage)) / 1e9 + 1e-4 * Double(s.layers) }]) { _, s in
            log(Double(s.parameterCount)) - 0.05 * abs(Double(s.layers) - 4)
        }
        #expect(!report.front.isEmpty)
        #expect(report.front.allSatisfy { $0.bytes <= 3_000_000 })
        #expect(report.surrogate.count == 2)
        #expect(report.hypervolumeNSGA2 >= report.hypervolumeAvatar)
        #expect(store.samples.count == 10)
    }
}
