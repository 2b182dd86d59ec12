import Foundation
import Testing
import VerdantModels
import VerdantTensors
@testable import VerdantTraining

@Test func pairShrinkSIMDMatchesScalarFormula() {
    var s: UInt64 = 0x1234_5678
    let n = 70
    let values: [Float] = (0..<n).map { i in
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        // Some pairs below the threshold, some exactly zero.
        return i % 10 < 2 ? 0 : (Float(s >> 40) / Float(1 << 24) * 2 - 1) * (i % 3 == 0 ? 0.01 : 1)
    }
    let tau: Float = 0.05
    var simd = values
    simd.withUnsafeMutableBufferPointer { shrinkPairs($0.baseAddress!, count: n, tau: tau) }
    for p in 0..<(n / 2) {
        let a = values[2 * p], b = values[2 * p + 1]
        let norm = (a * a + b * b).squareRoot()
        let f: Float = norm > tau ? 1 - tau / norm : 0
        #expect(abs(simd[2 * p] - a * f) <= 1e-6 && abs(simd[2 * p + 1] - b * f) <= 1e-6)
        if norm <= tau { #expect(simd[2 * p] == 0 && simd[2 * p + 1] == 0) }
        // The new norm is the old one minus τ (the group soft-threshold).
        let after = (simd[2 * p] * simd[2 * p] + simd[2 * p + 1] * simd[2 * p + 1]).squareRoot()
        #expect(abs(after - max(0, norm - tau)) <= 1e-5)
    }
}

@Test func alphaScheduleValues() throws {
    let store = try ParameterStore(directory: TrainingFixtures.root.appendingPathComponent("llama").path)
    let groups = try LassoGroups(kind: .tile1x2, store: store)
    let constant = GroupLassoProximal(groups: groups, alpha: 2, schedule: .constant, totalSteps: 4)
    #expect((0..<4).map { constant.alpha(step: $0) } == [2, 2, 2, 2])
    // ramp: A·(t+1)/T, reaching A at the last step and staying there (a resumed run with more steps).
    let ramp = GroupLassoProximal(groups: groups, alpha: 2, schedule: .ramp, totalSteps: 4)
    #expect((0..<6).map { ramp.alpha(step: $0) } == [0.5, 1, 1.5, 2, 2, 2])
}

/// The selection marks the `count` smallest, ties to the lower index, exactly as a
/// stable sort would (the rule the writers used before), including many exact zeros.
@Test func smallestGroupsMatchesStableSort() {
    var s: UInt64 = 99
    for trial in 0..<40 {
        let n = 1 + trial * 7
        let norms: [Float] = (0..<n).map { _ in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return s % 3 == 0 ? 0 : Float(s % 5) * 0.25     // heavy ties
        }
        for count in [0, 1, n / 3, n / 2, n - 1, n] {
            var expected = [Bool](repeating: false, count: n)
            for i in norms.indices.sorted(by: { norms[$0] != norms[$1] ? norms[$0] < norms[$1] : $0 < $1 }).prefix(count) { expected[i] = true }
            #expect(smallestGroups(norms, count: count) == expected, "n \(n) count \(count)")
        }
    }
}

/// The targeted penalty shrinks only the groups the cut would remove; the kept ones
/// are untouched, and a large enough threshold zeroes the doomed ones exactly.
@Test(arguments: [LassoGroup.tile1x2, .row, .column])
func targetedPenaltyLeavesKeptGroupsAlone(_ kind: LassoGroup) throws {
    let store = try ParameterStore(directory: TrainingFixtures.root.appendingPathComponent("llama").path)
    let groups = try LassoGroups(kind: kind, store: store)
    let before = groups.norms(store.values)
    let doomed = before.map { smallestGroups($0.norms, count: removedCount($0.norms.count, sparsity: 0.5)) }
    let prox = GroupLassoProximal(groups: groups, alpha: 1, target: .cut, sparsity: 0.5)
    let pool = ThreadPool(threads: 2)
    prox.apply(store.values, learningRate: 1e-3, step: 0, pool: pool)
    var after = groups.norms(store.values)
    for (l, list) in doomed.enumerated() {
        for (i, d) in list.enumerated() {
            if d { #expect(after[l].norms[i] < before[l].norms[i] || before[l].norms[i] == 0) }
            else { #expect(after[l].norms[i] == before[l].norms[i]) }
        }
    }
    prox.apply(store.values, learningRate: 1e3, step: 0, pool: pool)
    after = groups.norms(store.values)
    for (l, list) in doomed.enumerated() {
        for (i, d) in list.enumerated() where d { #expect(after[l].norms[i] == 0) }
    }
}

/// Masked recovery: after training steps with the mask as the constraint, every removed
/// group is still exactly zero (all three sides of a removed neuron for row/column),
/// while the kept weights did train.
@Test(arguments: [LassoGroup.tile1x2, .row, .column])
func maskHoldsCutGroupsAtZeroThroughTraining(_ kind: LassoGroup) throws {
    let t = try makeTrainer("llama", steps: 3)
    let groups = try LassoGroups(kind: kind, store: t.store)
    let mask = GroupMask(groups: groups, values: t.store.values, sparsity: 0.6)
    mask.zero(t.store.values, pool: t.pool)
    t.constraint = mask
    let start = values(t)
    for _ in 0..<3 { _ = try t.trainStep() }
    let counts = mask.removedCounts(zeroIn: t.store.values)
    #expect(counts.removed > 0 && counts.zero == counts.removed, "\(counts)")
    if kind != .tile1x2 {
        // The neuron's other sides too: gate/up rows and down column of every removed neuron.
        for (l, removed) in mask.removed.enumerated() {
            let gate = t.store.value("model.layers.\(l).mlp.gate_proj.weight")!, up = t.store.value("model.layers.\(l).mlp.up_proj.weight")!
            let down = t.store.value("model.layers.\(l).mlp.down_proj.weight")!
            let h = t.store.config.hiddenSize, m = t.store.config.intermediateSize
            for (j, r) in removed.enumerated() where r {
                for k in 0..<h { #expect(gate[j * h + k] == 0 && up[j * h + k] == 0 && down[k * m + j] == 0) }
            }
        }
    }
    #expect(values(t) != start, "the kept weights did not train")
}

/// A checkpoint remembers the run's settings; a resume that asks for others is refused by name.
@Test func resumeWithOtherSettingsIsRefused() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-gl-settings-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    let a = try makeTrainer("llama")
    a.runSettings = ["alpha": "2.0", "group": "1x2", "sparsity": "0.6"]
    _ = try a.trainStep()
    try TrainingCheckpoint.save(a, root: root, source: TrainingFixtures.root.appendingPathComponent("llama").path)
    let dir = TrainingCheckpoint.directory(root: root, step: 1)
    let b = try makeTrainer("llama")
    b.runSettings = ["alpha": "0.5", "group": "1x2", "sparsity": "0.6"]
    let mismatch = #expect(throws: TrainingError.self) { try TrainingCheckpoint.restore(b, from: dir) }
    #expect("\(mismatch.map { "\($0)" } ?? "")".contains("alpha 2.0") && "\(mismatch.map { "\($0)" } ?? "")".contains("alpha 0.5"))
    let plain = try makeTrainer("llama")
    let unset = #expect(throws: TrainingError.self) { try TrainingCheckpoint.restore(plain, from: dir) }
    #expect("\(unset.map { "\($0)" } ?? "")".contains("alpha unset"))
    let same = try makeTrainer("llama")
    same.runSettings = a.runSettings
    try TrainingCheckpoint.restore(same, from: dir)
    #expect(same.step == 1)
}
