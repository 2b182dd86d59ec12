import Testing
@testable import VerdantSearch

@Suite struct ParetoTests {
    @Test func dominanceIsWeakOnEveryObjectiveStrictOnOne() {
        #expect(dominates([1, 2], [1, 3]))
        #expect(!dominates([1, 2], [1, 2]))
        #expect(!dominates([0, 3], [1, 2]))
        // Avatar's rule misses the first case.
        #expect(!strictlyDominatesEverywhere([1, 2], [1, 3]))
    }

    @Test func fastNondominatedSortFindsFronts() {
        let points: [[Double]] = [[1, 5], [2, 3], [4, 1], [3, 4], [5, 5], [2, 6]]
        let fronts = nondominatedFronts(points)
        #expect(fronts.map { Set($0) } == [Set([0, 1, 2]), Set([3, 5]), Set([4])])
    }

    @Test func crowdingKeepsExtremes() {
        let points: [[Double]] = [[0, 4], [1, 3], [2, 2], [4, 0]]
        let d = crowdingDistances(points, front: [0, 1, 2, 3])
        #expect(d[0] == .infinity && d[3] == .infinity)
        #expect(abs(d[1] - (2.0 / 4 + 2.0 / 4)) < 1e-12)
        #expect(abs(d[2] - (3.0 / 4 + 3.0 / 4)) < 1e-12)
    }

    @Test func hypervolume2D() {
        #expect(hypervolume([[1, 3], [2, 2], [3, 1]], reference: [4, 4]) == 6)
        // Dominated, duplicate and outside points add nothing.
        #expect(hypervolume([[1, 3], [2, 2], [3, 1], [3, 3], [2, 2], [5, 0]], reference: [4, 4]) == 6)
        #expect(hypervolume([], reference: [1, 1]) == 0)
    }

    /// 3-D (and 4-D) hypervolume against counting the unit cells an integer point set dominates.
    @Test(arguments: [3, 4])
    func hypervolumeMatchesCellCount(_ dims: Int) {
        var rng = SearchRandom(seed: 7)
        for _ in 0..<20 {
            let n = Int.random(in: 1...12, using: &rng)
            let points = (0..<n).map { _ in (0..<dims).map { _ in Double(Int.random(in: 0..<6, using: &rng)) } }
            let reference = [Double](repeating: 6, count: dims)
            var cells = 0
            var cell = [Int](repeating: 0, count: dims)
            func visit(_ k: Int) {
                if k == dims {
                    if points.contains(where: { p in zip(p, cell).allSatisfy { $0 <= Double($1) } }) { cells += 1 }
                    return
                }
                for v in 0..<6 { cell[k] = v; visit(k + 1) }
            }
            visit(0)
            #expect(hypervolume(points, reference: reference) == Double(cells))
        }
    }
}
