/// Deb's fast non-dominated sort: fronts of indices, the first non-dominated, each next one
/// non-dominated once the earlier fronts are removed. O(M·N²).
public func nondominatedFronts(_ points: [[Double]]) -> [[Int]] {
    let n = points.count
    var dominatedBy = [[Int]](repeating: [], count: n)
    var dominationCount = [Int](repeating: 0, count: n)
    var fronts: [[Int]] = [[]]
    for p in 0..<n {
        for q in 0..<n where p != q {
            if dominates(points[p], points[q]) {
                dominatedBy[p].append(q)
            } else if dominates(points[q], points[p]) {
                dominationCount[p] += 1
            }
        }
        if dominationCount[p] == 0 { fronts[0].append(p) }
    }
    var i = 0
    while i < fronts.count, !fronts[i].isEmpty {
        var next: [Int] = []
        for p in fronts[i] {
            for q in dominatedBy[p] {
                dominationCount[q] -= 1
                if dominationCount[q] == 0 { next.append(q) }
            }
        }
        i += 1
        if !next.isEmpty { fronts.append(next) }
    }
    return fronts.filter { !$0.isEmpty }
}

/// Crowding distance of each member of `front` (same order): the perimeter of the cuboid
/// its neighbours span, per objective normalised by the front's range; the extremes get
/// infinity so they are always kept.
public func crowdingDistances(_ points: [[Double]], front: [Int]) -> [Double] {
    let n = front.count
    guard n > 2, let m = points.first?.count else { return [Double](repeating: .infinity, count: n) }
    var d = [Double](repeating: 0, count: n)
    for k in 0..<m {
        let order = (0..<n).sorted { points[front[$0]][k] < points[front[$1]][k] }
        let lo = points[front[order[0]]][k], hi = points[front[order[n - 1]]][k]
        d[order[0]] = .infinity
        d[order[n - 1]] = .infinity
        guard hi > lo else { continue }
        for r in 1..<(n - 1) {
            d[order[r]] += (points[front[order[r + 1]]][k] - points[front[order[r - 1]]][k]) / (hi - lo)
        }
    }
    return d
}
