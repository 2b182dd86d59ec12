/// The student search as a `SearchProblem`: candidates are repaired by the solver (so every
/// member of a population is proved legal), and objectives come from pluggable functions —
/// the exact stored size, the surrogate's predicted effectiveness (negated: maximised), and
/// the cost model's predicted latency or energy.
public struct StudentProblem: SearchProblem {
    public let solver: ConstraintSolver
    /// Objectives of a legal configuration, all minimised.
    public var objectiveFunction: (StudentShape, Configuration) throws -> [Double]

    public init(solver: ConstraintSolver, objectives: @escaping (StudentShape, Configuration) throws -> [Double]) {
        self.solver = solver
        self.objectiveFunction = objectives
    }

    /// Size in MB, −predicted effectiveness, predicted cost: the three objectives of issue 9.
    public init(solver: ConstraintSolver, effectiveness: @escaping (Configuration) throws -> Double,
                cost: @escaping (StudentShape) throws -> Double) {
        let storage = solver.budget.storage
        self.init(solver: solver) { shape, c in
            [Double(shape.bytes(storage)) / 1e6, -(try effectiveness(c)), try cost(shape)]
        }
    }

    public var geneCounts: [Int] { solver.space.geneCounts }

    public mutating func repair(_ c: Configuration, rng: inout SearchRandom) throws -> Configuration? {
        // Random release order: which genes give way should not favour any objective.
        var order = Array(0..<c.indices.count)
        order.shuffle(using: &rng)
        return try solver.repair(c, releaseOrder: order)
    }

    public mutating func isLegal(_ c: Configuration) throws -> Bool { try solver.isLegal(c) }

    public mutating func objectives(_ c: Configuration) throws -> [Double] {
        let shape = try StudentShape(space: solver.space, configuration: c)
        return try objectiveFunction(shape, c)
    }
}
