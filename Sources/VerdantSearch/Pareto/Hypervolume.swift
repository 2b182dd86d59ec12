/// Exact hypervolume (minimisation) of the region dominated by `points` and bounded by
/// `reference`: points not strictly better than the reference on every objective add
/// nothing. 1-D and 2-D directly, higher dimensions by slicing along the last objective
/// (HSO), exact and fast enough for the fronts of a search (hundreds of points in 3-D).
public func hypervolume(_ points: [[Double]], reference: [Double]) -> Double {
    let inside = points.filter { p in zip(p, reference).allSatisfy { $0 < $1 } }
    guard !inside.isEmpty else { return 0 }
    let kept = nonDominatedIndices(inside).map { inside[$0] }
    return slicedVolume(kept, reference)
}

private func slicedVolume(_ points: [[Double]], _ ref: [Double]) -> Double {
    let d = ref.count
    if points.isEmpty { return 0 }
    if d == 1 { return ref[0] - (points.map { $0[0] }.min() ?? ref[0]) }
    if d == 2 {
        let sorted = points.sorted { $0[0] != $1[0] ? $0[0] < $1[0] : $0[1] < $1[1] }
        var area = 0.0
        var bestY = ref[1]
        for p in sorted where p[1] < bestY {
            area += (ref[0] - p[0]) * (bestY - p[1])
            bestY = p[1]
        }
        return area
    }
    // Slabs between consecutive values of the last objective: in each, the points at or
    // below the slab's floor dominate a (d−1)-dimensional region of constant extent.
    let sorted = points.sorted { $0[d - 1] < $1[d - 1] }
    let subRef = Array(ref.prefix(d - 1))
    var volume = 0.0
    var active: [[Double]] = []
    for (i, p) in sorted.enumerated() {
        active.append(Array(p.prefix(d - 1)))
        let top = i + 1 < sorted.count ? sorted[i + 1][d - 1] : ref[d - 1]
        let height = top - p[d - 1]
        if height > 0 {
            let front = nonDominatedIndices(active).map { active[$0] }
            active = front
            volume += slicedVolume(front, subRef) * height
        }
    }
    return volume
}
