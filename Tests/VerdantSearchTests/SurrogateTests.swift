import Foundation
import Testing
@testable import VerdantSearch

@Suite struct SurrogateTests {
    static func points(_ n: Int, dims: Int, seed: UInt64) -> [[Double]] {
        var rng = SearchRandom(seed: seed)
        return (0..<n).map { _ in (0..<dims).map { _ in rng.unit() } }
    }

    @Test func bayesianRidgeRecoversALinearFunction() throws {
        let x = Self.points(20, dims: 3, seed: 1)
        var rng = SearchRandom(seed: 2)
        let y = x.map { 1 + 2 * $0[0] - 3 * $0[1] + 0.5 * $0[2] + 0.01 * (rng.unit() - 0.5) }
        var r = BayesianRidge()
        try r.fit(x, y)
        #expect(abs(r.coefficients[0] - 2) < 0.05)
        #expect(abs(r.coefficients[1] + 3) < 0.05)
        #expect(abs(r.coefficients[2] - 0.5) < 0.05)
        #expect(abs(r.intercept - 1) < 0.05)
        #expect(r.alpha > 1e4)  // the noise precision found is about 1 / 0.003²
    }

    @Test func gaussianProcessBeatsRidgeOnANonlinearFunction() throws {
        let x = Self.points(24, dims: 2, seed: 3)
        let y = x.map { sin(6 * $0[0]) + cos(4 * $0[1]) }
        let ridge = try LeaveOneOut.evaluate({ BayesianRidge() }, x: x, y: y)
        let gp = try LeaveOneOut.evaluate({ GaussianProcess() }, x: x, y: y)
        #expect(gp.rmse < 0.5 * ridge.rmse, "GP \(gp.rmse) vs ridge \(ridge.rmse)")
    }

    @Test func gaussianProcessInterpolatesSmoothly() throws {
        let x = (0...10).map { [Double($0) / 10] }
        let y = x.map { $0[0] * $0[0] }
        var gp = GaussianProcess()
        try gp.fit(x, y)
        #expect(abs(gp.predict([0.55]) - 0.3025) < 0.01)
    }

    /// Equal scores (every sample at ES 0 after a tiny budget) are a fit, not an error.
    @Test func bothModelsFitEqualScores() throws {
        let x = Self.points(5, dims: 2, seed: 4)
        let y = [Double](repeating: 0, count: 5)
        var gp = GaussianProcess()
        try gp.fit(x, y)
        #expect(gp.predict([0.3, 0.7]) == 0)
        #expect(try LeaveOneOut.evaluate({ GaussianProcess() }, x: x, y: y).rmse == 0)
        #expect(try LeaveOneOut.evaluate({ BayesianRidge() }, x: x, y: y).rmse.isFinite)
    }

    @Test func farthestPointSelectionSpreads() throws {
        let space = try ConfigurationSpace(genes: [
            .range(GeneName.layers, 0 + 1, 11), .range(GeneName.hiddenSize, 1, 11),
            .choices(GeneName.attentionHeads, [.int(1)]), .choices(GeneName.headSize, [.int(1)]),
            .choices(GeneName.intermediateSize, [.int(1)]), .choices(GeneName.vocabSize, [.int(1)]),
            .choices(GeneName.contextLength, [.int(1)]),
        ])
        var pool: [Configuration] = []
        for a in 0...10 { for b in 0...10 { pool.append(Configuration([a, b, 0, 0, 0, 0, 0])) } }
        let start = Configuration([5, 5, 0, 0, 0, 0, 0])
        let chosen = SampleSelection.farthestPoints(pool, count: 5, start: start, space: space)
        #expect(chosen.count == 5)
        #expect(chosen[0] == start)
        // The four corners are the farthest from the centre and then from each other.
        #expect(Set(chosen.dropFirst().map(\.indices)) == Set([[0, 0, 0, 0, 0, 0, 0], [0, 10, 0, 0, 0, 0, 0],
                                                                [10, 0, 0, 0, 0, 0, 0], [10, 10, 0, 0, 0, 0, 0]]))
    }

    /// The indicator trained through a pluggable evaluation function, resumed from its store.
    @Test func indicatorTrainsOnSpreadSamplesAndResumes() throws {
        let space = try ConstraintSolverTests.smallSpace()
        let solver = try ConstraintSolver(space: space, budget: ConstraintSolverTests.budget(4))
        func score(_ c: Configuration, _ s: StudentShape) -> Double { log(Double(s.parameterCount)) - 0.02 * Double(s.layers) }
        var store = SampleStore()
        var calls = 0
        let first = try EffectivenessIndicator.train(solver: solver, count: 8, poolSize: 30, store: &store) { c, s in
            calls += 1
            return score(c, s)
        }
        #expect(calls == 8)
        #expect(store.samples.count == 8)
        #expect(first.leaveOneOut.count == 2)
        for s in store.samples { #expect(try solver.isLegal(s.configuration)) }
        // Resumed: nothing is evaluated again.
        calls = 0
        _ = try EffectivenessIndicator.train(solver: solver, count: 8, poolSize: 30, store: &store) { c, s in
            calls += 1
            return score(c, s)
        }
        #expect(calls == 0)
    }
}
