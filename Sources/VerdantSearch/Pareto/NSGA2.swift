/// NSGA-II (Deb et al. 2002) over gene indices: binary tournament on (rank, crowding),
/// uniform crossover, per-gene mutation (a small step or a fresh value), every child made
/// legal by the problem's repair, elitist (μ + λ) survival by non-dominated rank and
/// crowding distance. The result is the true non-dominated set of everything evaluated.
public struct NSGA2 {
    public var populationSize = 20
    /// Distinct configurations evaluated before the search stops.
    public var maxEvaluations = 1000
    public var crossoverProbability = 0.9
    /// Per-gene mutation probability; nil = 1 / number of genes.
    public var mutationProbability: Double?
    public var seed: UInt64 = 1
    /// Tries per child before giving up on a generation (repairs can land on known points).
    public var maxAttemptsPerChild = 20

    public init(populationSize: Int = 20, maxEvaluations: Int = 1000, seed: UInt64 = 1) {
        self.populationSize = populationSize
        self.maxEvaluations = maxEvaluations
        self.seed = seed
    }

    public func run<P: SearchProblem>(_ problem: P, initial: [Configuration] = []) throws -> SearchResult {
        var rng = SearchRandom(seed: seed)
        var cache = EvaluationCache(problem: problem, limit: maxEvaluations)
        let counts = problem.geneCounts
        var illegal = 0
        let pm = mutationProbability ?? 1 / Double(max(counts.count, 1))

        func legal(_ c: Configuration) throws -> Configuration? {
            let r = try cache.problem.repair(c, rng: &rng)
            if r == nil { illegal += 1 }
            return r
        }

        var population: [Configuration] = []
        var seen = Set<Configuration>()
        for c in initial where population.count < populationSize {
            if let r = try legal(c), seen.insert(r).inserted { population.append(r) }
        }
        var attempts = 0
        while population.count < populationSize, attempts < populationSize * maxAttemptsPerChild {
            attempts += 1
            let c = Configuration(counts.map { Int.random(in: 0..<$0, using: &rng) })
            if let r = try legal(c), seen.insert(r).inserted { population.append(r) }
        }
        var objectives = try population.map { try cache.evaluate($0) }

        while !cache.exhausted {
            let (rank, crowd) = Self.rankAndCrowding(objectives)
            func tournament() -> Int {
                let a = Int.random(in: 0..<population.count, using: &rng)
                let b = Int.random(in: 0..<population.count, using: &rng)
                if rank[a] != rank[b] { return rank[a] < rank[b] ? a : b }
                return crowd[a] >= crowd[b] ? a : b
            }
            var children: [Configuration] = []
            var tries = 0
            while children.count < populationSize, tries < populationSize * maxAttemptsPerChild, !cache.exhausted {
                tries += 1
                let p1 = population[tournament()].indices, p2 = population[tournament()].indices
                var child = p1
                if rng.unit() < crossoverProbability {
                    for g in child.indices where rng.unit() < 0.5 { child[g] = p2[g] }
                }
                for g in child.indices where rng.unit() < pm {
                    child[g] = Self.mutate(child[g], count: counts[g], rng: &rng)
                }
                guard let r = try legal(Configuration(child)), !seen.contains(r) else { continue }
                seen.insert(r)
                children.append(r)
                _ = try cache.evaluate(r)
            }
            if children.isEmpty { break }  // the legal space is exhausted around the population
            let merged = population + children
            let mergedObjectives = try merged.map { try cache.evaluate($0) }
            let survivors = Self.survivors(mergedObjectives, count: populationSize)
            population = survivors.map { merged[$0] }
            objectives = survivors.map { mergedObjectives[$0] }
        }
        return SearchResult(front: cache.front, evaluations: cache.values.count, illegal: illegal)
    }

    /// Half the time a step of ±1..3 indices (local refinement of ordered genes), otherwise a
    /// uniformly fresh value (exploration).
    static func mutate(_ v: Int, count: Int, rng: inout SearchRandom) -> Int {
        guard count > 1 else { return v }
        if rng.unit() < 0.5 {
            let step = Int.random(in: 1...3, using: &rng) * (rng.unit() < 0.5 ? -1 : 1)
            return min(max(v + step, 0), count - 1)
        }
        return Int.random(in: 0..<count, using: &rng)
    }

    static func rankAndCrowding(_ objectives: [[Double]]) -> (rank: [Int], crowding: [Double]) {
        var rank = [Int](repeating: 0, count: objectives.count)
        var crowd = [Double](repeating: 0, count: objectives.count)
        for (r, front) in nondominatedFronts(objectives).enumerated() {
            let d = crowdingDistances(objectives, front: front)
            for (i, p) in front.enumerated() {
                rank[p] = r
                crowd[p] = d[i]
            }
        }
        return (rank, crowd)
    }

    /// Indices of the `count` best by rank, the last partial front cut by crowding distance.
    static func survivors(_ objectives: [[Double]], count: Int) -> [Int] {
        var out: [Int] = []
        for front in nondominatedFronts(objectives) {
            if out.count + front.count <= count {
                out += front
            } else {
                let d = crowdingDistances(objectives, front: front)
                let order = front.indices.sorted { d[$0] != d[$1] ? d[$0] > d[$1] : front[$0] < front[$1] }
                out += order.prefix(count - out.count).map { front[$0] }
            }
            if out.count >= count { break }
        }
        return out
    }
}
