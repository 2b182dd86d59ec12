/// What a multi-objective search needs from a problem: the size of each gene's domain, a way
/// to make any candidate legal, and the objectives (all minimised — negate what should grow).
public protocol SearchProblem {
    var geneCounts: [Int] { get }
    /// A legal configuration close to `c` (the solver's repair for student spaces), or nil to
    /// reject the candidate. `rng` decides which genes give way first.
    mutating func repair(_ c: Configuration, rng: inout SearchRandom) throws -> Configuration?
    /// Proved legality, used to report how many of a box-sampling search's candidates break
    /// the constraints.
    mutating func isLegal(_ c: Configuration) throws -> Bool
    mutating func objectives(_ c: Configuration) throws -> [Double]
}

/// A configuration with its objective values.
public struct Evaluated: Sendable, Hashable, Codable {
    public var configuration: Configuration
    public var objectives: [Double]

    public init(configuration: Configuration, objectives: [Double]) {
        self.configuration = configuration
        self.objectives = objectives
    }
}

/// The result of a search: the non-dominated set of everything it evaluated (the front), and
/// how much it evaluated.
public struct SearchResult: Sendable {
    public var front: [Evaluated]
    public var evaluations: Int
    /// Candidates that were rejected or found illegal.
    public var illegal: Int
}

/// Objective evaluations cached by configuration, counted once each: the budget two
/// searches are compared on.
struct EvaluationCache<P: SearchProblem> {
    var problem: P
    var values: [Configuration: [Double]] = [:]
    var order: [Configuration] = []
    let limit: Int

    init(problem: P, limit: Int) {
        self.problem = problem
        self.limit = limit
    }

    var exhausted: Bool { values.count >= limit }

    mutating func evaluate(_ c: Configuration) throws -> [Double] {
        if let v = values[c] { return v }
        let v = try problem.objectives(c)
        values[c] = v
        order.append(c)
        return v
    }

    /// The non-dominated set of all evaluated configurations, in evaluation order.
    var front: [Evaluated] {
        let all = order.map { Evaluated(configuration: $0, objectives: values[$0] ?? []) }
        return nonDominatedIndices(all.map(\.objectives)).map { all[$0] }
    }
}
