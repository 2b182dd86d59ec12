/// Avatar's genetic algorithm (soarsmu/Avatar, MOO.py), kept as the baseline NSGA-II is
/// measured against. Faithful in its rules, including the defects:
/// - candidates are drawn from a box (per-gene index bounds, in Avatar the min/max of the
///   solver's solutions) and never checked against the constraints, so they may be illegal;
/// - the archive keeps a candidate unless some archive member is better on *every* objective,
///   and removes only members it beats on every objective — so it holds dominated points;
/// - tournaments of 10 pick a winner by the same strict rule (else the first drawn);
/// - generational replacement without elitism.
/// Initial population by adaptive random sampling (each next member the farthest of a batch of
/// random candidates from those chosen); crossover with probability 0.6 exchanges a segment
/// between two cut points (what Avatar's partially-mapped crossover does on non-permutation
/// vectors when no value repeats); mutation redraws each gene in its box with probability 0.1.
public struct AvatarGA {
    public var populationSize = 20
    public var maxEvaluations = 1000
    public var tournamentSize = 10
    public var crossoverProbability = 0.6
    public var mutationProbability = 0.1
    public var seed: UInt64 = 1
    /// Per gene, inclusive index bounds; nil = the whole domain.
    public var box: [ClosedRange<Int>]?

    public init(populationSize: Int = 20, maxEvaluations: Int = 1000, seed: UInt64 = 1) {
        self.populationSize = populationSize
        self.maxEvaluations = maxEvaluations
        self.seed = seed
    }

    /// Avatar's box: per gene, the smallest and largest index among `solutions`.
    public static func box(of solutions: [Configuration]) -> [ClosedRange<Int>]? {
        guard let first = solutions.first else { return nil }
        return first.indices.indices.map { g in
            let v = solutions.map { $0.indices[g] }
            return (v.min() ?? 0)...(v.max() ?? 0)
        }
    }

    static func squaredDistance(_ a: [Int], _ b: [Int]) -> Double {
        var s = 0
        for (x, y) in zip(a, b) { s += (x - y) * (x - y) }
        return Double(s)
    }

    public func run<P: SearchProblem>(_ problem: P) throws -> SearchResult {
        var rng = SearchRandom(seed: seed)
        var cache = EvaluationCache(problem: problem, limit: maxEvaluations)
        let bounds = box ?? problem.geneCounts.map { 0...($0 - 1) }
        func random() -> [Int] { bounds.map { Int.random(in: $0, using: &rng) } }

        // Adaptive random initial population.
        var population: [[Int]] = [random()]
        while population.count < populationSize {
            var best: [Int] = random(), bestDistance = -1.0
            for _ in 0..<populationSize {
                let c = random()
                let d = population.map { Self.squaredDistance($0, c) }.min() ?? 0
                if d > bestDistance { best = c; bestDistance = d }
            }
            population.append(best)
        }

        var archive: [Evaluated] = []
        var illegal = Set<Configuration>()
        func evaluate(_ pop: [[Int]]) throws -> [Evaluated] {
            try pop.map { v in
                let c = Configuration(v)
                if try !cache.problem.isLegal(c) { illegal.insert(c) }
                return Evaluated(configuration: c, objectives: try cache.evaluate(c))
            }
        }
        func updateArchive(_ pop: [Evaluated]) {
            for e in pop {
                if archive.contains(where: { strictlyDominatesEverywhere($0.objectives, e.objectives) }) { continue }
                archive.removeAll { strictlyDominatesEverywhere(e.objectives, $0.objectives) || $0.configuration == e.configuration }
                archive.append(e)
            }
        }

        var evaluated = try evaluate(population)
        updateArchive(evaluated)
        // Duplicates do not count against the budget, so cap the generations too.
        var generations = 0
        while !cache.exhausted, generations < 100 * maxEvaluations / max(populationSize, 1) {
            generations += 1
            func tournament() -> Int {
                let picks = (0..<tournamentSize).map { _ in Int.random(in: 0..<evaluated.count, using: &rng) }
                var best = picks[0]
                for i in picks { for j in picks where strictlyDominatesEverywhere(evaluated[i].objectives, evaluated[j].objectives) { best = i } }
                return best
            }
            var offspring: [[Int]] = []
            while offspring.count < populationSize {
                let a = tournament()
                var b = tournament()
                for _ in 0..<10 where b == a { b = tournament() }
                var c1 = evaluated[a].configuration.indices, c2 = evaluated[b].configuration.indices
                if rng.unit() <= crossoverProbability, c1.count > 1 {
                    var cuts = [Int.random(in: 0..<c1.count, using: &rng), Int.random(in: 0..<c1.count, using: &rng)].sorted()
                    if cuts[0] == cuts[1] { cuts[1] = min(cuts[1] + 1, c1.count - 1) }
                    for i in cuts[0]...cuts[1] { swap(&c1[i], &c2[i]) }
                }
                for g in c1.indices where rng.unit() < mutationProbability { c1[g] = Int.random(in: bounds[g], using: &rng) }
                for g in c2.indices where rng.unit() < mutationProbability { c2[g] = Int.random(in: bounds[g], using: &rng) }
                offspring += [c1, c2]
            }
            // Evaluate only what the budget allows, so both searches spend the same.
            var kept: [[Int]] = []
            var fresh = Set<Configuration>()
            for o in offspring {
                let c = Configuration(o)
                if cache.values[c] == nil, !fresh.contains(c) {
                    if cache.values.count + fresh.count >= maxEvaluations { break }
                    fresh.insert(c)
                }
                kept.append(o)
            }
            if kept.isEmpty { break }
            evaluated = try evaluate(kept)
            updateArchive(evaluated)
        }
        return SearchResult(front: archive, evaluations: cache.values.count, illegal: illegal.count)
    }
}
