import Foundation

/// The whole of Avatar's search minus the training: sample and score ~20 students through a
/// pluggable evaluation function, fit the effectiveness indicator, run NSGA-II over size,
/// predicted effectiveness and predicted cost with every candidate repaired by the solver,
/// re-prove every front member legal with a fresh solver, and compare with Avatar's GA on the
/// same evaluation budget by hypervolume. `verdant search` plugs in distillation + scoring.
public struct StudentSearch {
    public var samples = 20
    public var poolSize = 400
    public var populationSize = 20
    public var maxEvaluations = 1000
    public var seed: UInt64 = 1
    /// Solutions Avatar's box is taken from (its min/max per gene).
    public var boxSolutions = 200

    public init() {}

    public struct Member: Sendable, Codable, Equatable {
        public var genes: [String: String]
        public var configuration: Configuration
        public var parameters: Int
        public var bytes: Int
        public var predictedEffectiveness: Double
        /// One value per cost model, in the order given.
        public var predictedCosts: [Double]
        public var flopsPerToken: Int
    }

    public struct Report: Sendable, Codable {
        public var front: [Member]
        public var surrogate: [LeaveOneOut]
        public var evaluations: Int
        public var hypervolumeNSGA2: Double
        /// Avatar's archive, legal members only (the students it could actually deliver).
        public var hypervolumeAvatar: Double
        /// Avatar's archive as it reports it, illegal members included (same normalisation
        /// as hypervolumeAvatar only when no illegal member widens the objective ranges).
        public var hypervolumeAvatarWithIllegal: Double
        /// Avatar's archive size and how many of its members break the constraints.
        public var avatarArchive: Int
        public var avatarIllegal: Int
        public var solverChecks: Int
    }

    /// `evaluate` scores a configuration by really training it (higher is better); `costs`
    /// predict per-token costs from a shape (the fitted latency / energy models).
    public func run(solver: ConstraintSolver, store: inout SampleStore, save: (SampleStore) throws -> Void = { _ in },
                    costs: [(StudentShape) -> Double],
                    evaluate: (Configuration, StudentShape) throws -> Double) throws -> Report {
        let space = solver.space, budget = solver.budget
        let indicator = try EffectivenessIndicator.train(solver: solver, count: samples, poolSize: poolSize, seed: seed,
                                                         store: &store, save: save, evaluate: evaluate)
        let objectives: (StudentShape, Configuration) throws -> [Double] = { shape, c in
            [Double(shape.bytes(budget.storage)) / 1e6, -indicator.predict(c)] + costs.map { $0(shape) }
        }
        // A solver of its own: repairs depend on the solver's history (its learned clauses and
        // last model), and whether the samples above were planned now or read back from the
        // store must not change the front — a resumed search finds what an uninterrupted one does.
        let searchSolver = try ConstraintSolver(space: space, budget: budget)
        var nsga = NSGA2(populationSize: populationSize, maxEvaluations: maxEvaluations, seed: seed)
        nsga.maxAttemptsPerChild = 20
        let result = try nsga.run(StudentProblem(solver: searchSolver, objectives: objectives))

        // Proof, independent of the search's solver state: a fresh solver and the direct check.
        let verifier = try ConstraintSolver(space: space, budget: budget)
        var members: [Member] = []
        for e in result.front {
            let shape = try StudentShape(space: space, configuration: e.configuration)
            guard try verifier.isLegal(e.configuration), budget.admits(shape) else {
                throw SpaceError.infeasible("search returned an illegal configuration: \(space.describe(e.configuration))")
            }
            members.append(Member(genes: space.values(of: e.configuration).mapValues(\.description),
                                  configuration: e.configuration, parameters: shape.parameterCount,
                                  bytes: shape.bytes(budget.storage), predictedEffectiveness: -e.objectives[1],
                                  predictedCosts: Array(e.objectives.dropFirst(2)),
                                  flopsPerToken: shape.flopsPerToken(span: shape.context)))
        }
        members.sort { $0.bytes < $1.bytes }

        var avatar = AvatarGA(populationSize: populationSize, maxEvaluations: maxEvaluations, seed: seed)
        avatar.box = AvatarGA.box(of: try verifier.enumerate(limit: boxSolutions))
        let baseline = try avatar.run(StudentProblem(solver: verifier, objectives: objectives))
        // Illegal archive members are students that cannot be built within the budget: they
        // count only in the "as Avatar reports it" figure.
        let legalArchive = try baseline.front.filter { try verifier.isLegal($0.configuration) }
        let (hn, ha) = Self.compareHypervolume(result.front.map(\.objectives), legalArchive.map(\.objectives))
        let (_, haAll) = Self.compareHypervolume(result.front.map(\.objectives), baseline.front.map(\.objectives))
        return Report(front: members, surrogate: indicator.leaveOneOut, evaluations: result.evaluations,
                      hypervolumeNSGA2: hn, hypervolumeAvatar: ha, hypervolumeAvatarWithIllegal: haAll,
                      avatarArchive: baseline.front.count, avatarIllegal: baseline.front.count - legalArchive.count,
                      solverChecks: solver.checks + searchSolver.checks + verifier.checks)
    }

    /// Hypervolumes of two point sets after scaling each objective to [0, 1] over both, with
    /// the reference point at 1.1 on every objective.
    public static func compareHypervolume(_ a: [[Double]], _ b: [[Double]]) -> (Double, Double) {
        let all = a + b
        guard let m = all.first?.count else { return (0, 0) }
        let lo = (0..<m).map { k in all.map { $0[k] }.min() ?? 0 }
        let hi = (0..<m).map { k in all.map { $0[k] }.max() ?? 1 }
        func scale(_ p: [Double]) -> [Double] { (0..<m).map { hi[$0] > lo[$0] ? (p[$0] - lo[$0]) / (hi[$0] - lo[$0]) : 0 } }
        let reference = [Double](repeating: 1.1, count: m)
        return (hypervolume(a.map(scale), reference: reference), hypervolume(b.map(scale), reference: reference))
    }
}
