/// Avatar's effectiveness indicator: predicts how good a configuration would be without
/// training it, from a regression fitted on a few configurations that were really trained
/// and scored. The scoring function is pluggable: in the full search it distils the student
/// with the teacher cache and returns held-out effectiveness (higher is better); tests give
/// synthetic functions.
public struct EffectivenessIndicator {
    public let space: ConfigurationSpace
    /// The fitted model used for predictions (the one with the lowest leave-one-out RMSE).
    public private(set) var model: any Regressor
    /// Leave-one-out error of every candidate model, best first.
    public let leaveOneOut: [LeaveOneOut]

    /// Fits Bayesian ridge and a Gaussian process on `samples` and keeps the better by
    /// leave-one-out RMSE.
    public init(space: ConfigurationSpace, samples: [(Configuration, Double)]) throws {
        self.space = space
        let x = samples.map { space.normalised($0.0) }
        let y = samples.map(\.1)
        let ridge = try LeaveOneOut.evaluate({ BayesianRidge() }, x: x, y: y)
        let gp = try LeaveOneOut.evaluate({ GaussianProcess() }, x: x, y: y)
        leaveOneOut = [ridge, gp].sorted { $0.rmse < $1.rmse }
        if gp.rmse < ridge.rmse {
            var m = GaussianProcess()
            try m.fit(x, y)
            model = m
        } else {
            var m = BayesianRidge()
            try m.fit(x, y)
            model = m
        }
    }

    public func predict(_ c: Configuration) -> Double { model.predict(space.normalised(c)) }

    /// Chooses `count` spread-out legal configurations (farthest-point from `start`, or from the
    /// pool's first), scores those `store` does not already hold with `evaluate`, saving the
    /// store after each through `save`, and fits the indicator on them.
    public static func train(solver: ConstraintSolver, count: Int = 20, poolSize: Int = 400, seed: UInt64 = 1,
                             start: Configuration? = nil, store: inout SampleStore,
                             save: (SampleStore) throws -> Void = { _ in },
                             evaluate: (Configuration, StudentShape) throws -> Double) throws -> EffectivenessIndicator {
        if store.planned.count != count {
            let pool = try SampleSelection.legalPool(solver, count: poolSize, seed: seed)
            guard let first = start ?? pool.first else { throw SpaceError.infeasible("the solver found no configuration to sample") }
            if let s = start, try !solver.isLegal(s) {
                throw SpaceError.infeasible("the starting configuration is not legal: \(solver.space.describe(s))")
            }
            store.planned = SampleSelection.farthestPoints(pool, count: count, start: first, space: solver.space)
            try save(store)
        }
        let chosen = store.planned
        var samples: [(Configuration, Double)] = []
        for c in chosen {
            if let s = store.score(of: c) {
                samples.append((c, s))
                continue
            }
            let score = try evaluate(c, StudentShape(space: solver.space, configuration: c))
            guard score.isFinite else { throw RegressionError.badSamples("evaluation of \(solver.space.describe(c)) is not finite") }
            store.samples.append(.init(configuration: c, score: score))
            try save(store)
            samples.append((c, score))
        }
        return try EffectivenessIndicator(space: solver.space, samples: samples)
    }
}
