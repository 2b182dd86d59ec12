/// Pareto dominance for minimised objectives: a dominates b when it is no worse on every
/// objective and better on at least one. (Avatar's archive used "better on every
/// objective", which keeps dominated points and drops ties.)
public func dominates(_ a: [Double], _ b: [Double]) -> Bool {
    var better = false
    for (x, y) in zip(a, b) {
        if x > y { return false }
        if x < y { better = true }
    }
    return better
}

/// Avatar's rule: better on every objective.
public func strictlyDominatesEverywhere(_ a: [Double], _ b: [Double]) -> Bool {
    zip(a, b).allSatisfy { $0 < $1 }
}

/// Indices of the points no other point dominates (duplicates are all kept).
public func nonDominatedIndices(_ points: [[Double]]) -> [Int] {
    points.indices.filter { i in !points.indices.contains { j in j != i && dominates(points[j], points[i]) } }
}
