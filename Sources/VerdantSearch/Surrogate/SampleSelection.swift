/// Chooses the configurations the surrogate is trained on: spread over the legal space so a
/// regression through them interpolates rather than extrapolates (Avatar's adaptive random
/// sampling, made exact): each next sample is the candidate farthest, in normalised gene
/// space, from every sample already chosen.
public enum SampleSelection {
    /// Greedy farthest-point selection of `count` members of `pool`, starting from `start`
    /// (included first). Ties go to the earlier candidate, so the result is deterministic.
    public static func farthestPoints(_ pool: [Configuration], count: Int, start: Configuration,
                                      space: ConfigurationSpace) -> [Configuration] {
        var chosen = [start]
        var nearest = pool.map { distance(space.normalised($0), space.normalised(start)) }
        let coordinates = pool.map(space.normalised)
        while chosen.count < count {
            guard let (i, d) = nearest.enumerated().max(by: { $0.element < $1.element }), d > 0 else { break }
            chosen.append(pool[i])
            for j in pool.indices { nearest[j] = min(nearest[j], distance(coordinates[j], coordinates[i])) }
        }
        return chosen
    }

    /// `count` distinct legal configurations drawn uniformly over the genes and repaired by the
    /// solver: the candidate pool farthest-point selection picks from.
    public static func legalPool(_ solver: ConstraintSolver, count: Int, seed: UInt64) throws -> [Configuration] {
        var rng = SearchRandom(seed: seed)
        var seen = Set<Configuration>()
        var out: [Configuration] = []
        let counts = solver.space.geneCounts
        var tries = 0
        while out.count < count, tries < count * 10 {
            tries += 1
            let c = Configuration(counts.map { Int.random(in: 0..<$0, using: &rng) })
            var order = Array(0..<counts.count)
            order.shuffle(using: &rng)
            if let r = try solver.repair(c, releaseOrder: order), seen.insert(r).inserted { out.append(r) }
        }
        return out
    }

    static func distance(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
    }
}
