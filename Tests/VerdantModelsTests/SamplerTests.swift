import Testing
@testable import VerdantModels

@Test func greedyPicksFirstMaximum() {
    let logits: [Float] = [0.1, 3, -1, 3, 2]
    var s = Sampler(options: SamplingOptions(temperature: 0))
    #expect(s.sample(logits, count: logits.count) == 1)
}

@Test func samplingIsReproducibleWithASeed() {
    let logits: [Float] = (0..<50).map { Float($0 % 7) * 0.3 }
    func draw(_ seed: UInt64) -> [Int] {
        var s = Sampler(options: SamplingOptions(temperature: 1, seed: seed))
        return (0..<40).map { _ in s.sample(logits, count: logits.count) }
    }
    #expect(draw(7) == draw(7))
    #expect(draw(7) != draw(8))
}

@Test func topKAndTopPRestrictTheCandidates() {
    let logits: [Float] = [5, 4, 3, 0, 0, 0, 0, 0]
    var k = Sampler(options: SamplingOptions(temperature: 1, topK: 2, seed: 1))
    for _ in 0..<200 { #expect(k.sample(logits, count: 8) < 2) }
    // p(0) ≈ 0.66, p(1) ≈ 0.24: top-p 0.5 keeps token 0 alone.
    var p = Sampler(options: SamplingOptions(temperature: 1, topP: 0.5, seed: 1))
    for _ in 0..<200 { #expect(p.sample(logits, count: 8) == 0) }
    // A high temperature flattens: every token appears eventually.
    var t = Sampler(options: SamplingOptions(temperature: 100, seed: 3))
    let seen = Set((0..<2000).map { _ in t.sample(logits, count: 8) })
    #expect(seen.count == 8)
}

@Test func kthLargestMatchesSorting() {
    var r = RandomSource(seed: 9)
    for n in [1, 2, 5, 33, 100] {
        let values = (0..<n).map { _ in Float(r.next() % 10) }
        for k in 1...n {
            var v = values
            #expect(Sampler.kthLargest(&v, k) == values.sorted(by: >)[k - 1])
        }
    }
}
