import Foundation
import Testing
@testable import VerdantTensors

/// Full-logits teacher over a copy of `logits` that outlives the call (an array
/// passed straight into the enum would be a dangling temporary pointer). Leaked:
/// a few hundred floats per test.
func pinned(_ logits: [Float]) -> DistillationTeacher {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: logits.count)
    p.initialize(from: logits, count: logits.count)
    return .logits(p)
}

@Suite struct DistillationLossTests {
    /// Deterministic pseudo-random logits.
    static func logits(_ count: Int, seed: UInt64, spread: Float = 3) -> [Float] {
        var s = seed
        return (0..<count).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return (Float(s >> 40) / Float(1 << 24) - 0.5) * 2 * spread
        }
    }

    /// Top-k rows of full teacher logits, as the cache stores them.
    static func topK(_ teacher: [Float], rows: Int, vocab: Int, k: Int, temperature: Float)
        -> (ids: [Int32], probabilities: [Float], tail: [Float]) {
        var ids = [Int32](repeating: 0, count: rows * k), p = [Float](repeating: 0, count: rows * k)
        var tail = [Float](repeating: 0, count: rows), scratch = [Float](repeating: 0, count: vocab)
        ids.withUnsafeMutableBufferPointer { i in
            p.withUnsafeMutableBufferPointer { pp in
                teacher.withUnsafeBufferPointer { t in
                    for r in 0..<rows {
                        tail[r] = teacherTopK(logits: t.baseAddress! + r * vocab, vocab: vocab, k: k, temperature: temperature,
                                              ids: i.baseAddress! + r * k, probabilities: pp.baseAddress! + r * k, scratch: &scratch)
                    }
                }
            }
        }
        return (ids, p, tail)
    }

    enum Form { case full, topK(Int, TopKTail) }

    func evaluate(_ loss: DistillationLoss, student: [Float], teacher: [Float], targets: [Int], vocab: Int,
                  form: Form, gradient: inout [Float]) throws -> DistillationLossValue {
        let rows = targets.count
        switch form {
        case .full:
            return try loss.evaluate(student: student, teacher: pinned(teacher), targets: targets, rows: rows,
                                     vocab: vocab, gradient: &gradient)
        case .topK(let k, let tail):
            var l = loss
            l.tail = tail
            let (ids, p, m) = Self.topK(teacher, rows: rows, vocab: vocab, k: k, temperature: loss.temperature)
            return try ids.withUnsafeBufferPointer { i in
                try p.withUnsafeBufferPointer { pp in
                    try m.withUnsafeBufferPointer { mm in
                        try l.evaluate(student: student, teacher: .topK(ids: i.baseAddress!, probabilities: pp.baseAddress!,
                                                                        tailMass: mm.baseAddress!, k: k),
                                       targets: targets, rows: rows, vocab: vocab, gradient: &gradient)
                    }
                }
            }
        }
    }

    @Test(arguments: [Float(1), 2, 10])
    func gradientMatchesFiniteDifferences(temperature: Float) throws {
        let vocab = 9, targets = [3, DistillationLoss.ignoreIndex, 0]
        let student = Self.logits(vocab * 3, seed: 1), teacher = Self.logits(vocab * 3, seed: 2)
        let forms: [Form] = [.full, .topK(4, .studentShaped), .topK(4, .uniform), .topK(4, .renormalized)]
        for alpha in [Float(0), 0.4, 1] {
            let loss = try DistillationLoss(temperature: temperature, alpha: alpha)
            for form in forms {
                var g = [Float](repeating: .nan, count: student.count), unused = g
                _ = try evaluate(loss, student: student, teacher: teacher, targets: targets, vocab: vocab, form: form, gradient: &g)
                for i in 0..<student.count {
                    let h: Float = 1e-2
                    var plus = student, minus = student
                    plus[i] += h
                    minus[i] -= h
                    let lp = try evaluate(loss, student: plus, teacher: teacher, targets: targets, vocab: vocab, form: form, gradient: &unused).loss
                    let lm = try evaluate(loss, student: minus, teacher: teacher, targets: targets, vocab: vocab, form: form, gradient: &unused).loss
                    let fd = (lp - lm) / Double(2 * h)
                    #expect(abs(Double(g[i]) - fd) < 2e-3 * max(1, abs(fd)), "T=\(temperature) A=\(alpha) \(form) i=\(i): \(g[i]) vs \(fd)")
                }
            }
        }
    }

    @Test func knownAnswers() throws {
        // V = 2, teacher logits [0, ln 3] → p_t = [1/4, 3/4]; student uniform.
        let teacher: [Float] = [0, Float(log(3.0))], student: [Float] = [0, 0]
        var g = [Float](repeating: 0, count: 2)
        let soft = try DistillationLoss(temperature: 1, alpha: 1)
        let v = try soft.evaluate(student: student, teacher: pinned(teacher), targets: [1], rows: 1, vocab: 2, gradient: &g)
        let kl = 0.25 * log(0.25 / 0.5) + 0.75 * log(0.75 / 0.5)
        #expect(abs(v.kl - kl) < 1e-6 && abs(v.loss - kl) < 1e-6)
        #expect(abs(g[0] - 0.25) < 1e-6 && abs(g[1] + 0.25) < 1e-6)
        // T² scaling: at T = 2, loss = 4·KL(softmax(t/2) ‖ softmax(s/2)), gradient = 2·(p_s − p_t).
        let hot = try DistillationLoss(temperature: 2, alpha: 1)
        let v2 = try hot.evaluate(student: student, teacher: pinned(teacher), targets: [1], rows: 1, vocab: 2, gradient: &g)
        let pt1 = 1 / (1 + sqrt(3.0)), pt2 = 1 - pt1
        #expect(abs(v2.loss - 4 * (pt1 * log(2 * pt1) + pt2 * log(2 * pt2))) < 1e-6)
        #expect(abs(Double(g[0]) - 2 * (0.5 - pt1)) < 1e-6)
        // A teacher equal to the student costs nothing.
        let same = try soft.evaluate(student: teacher, teacher: pinned(teacher), targets: [0], rows: 1, vocab: 2, gradient: &g)
        #expect(abs(same.loss) < 1e-7 && g.allSatisfy { abs($0) < 1e-7 })
    }

    @Test func alphaZeroIsPlainCrossEntropy() throws {
        let vocab = 37, rows = 4
        let student = Self.logits(vocab * rows, seed: 5), teacher = Self.logits(vocab * rows, seed: 6)
        let targets = [1, 36, 0, 17]
        var g = [Float](repeating: 0, count: student.count)
        let v = try DistillationLoss(temperature: 10, alpha: 0).evaluate(student: student, teacher: pinned(teacher), targets: targets,
                                                                         rows: rows, vocab: vocab, gradient: &g)
        var ce = 0.0
        for r in 0..<rows {
            let row = Array(student[(r * vocab)..<((r + 1) * vocab)])
            let lse = Double(row.withUnsafeBufferPointer { logSumExp($0.baseAddress!, vocab) })
            ce += lse - Double(row[targets[r]])
            for j in 0..<vocab {
                let p = exp(Double(row[j]) - lse) - (j == targets[r] ? 1 : 0)
                #expect(abs(Double(g[r * vocab + j]) - p) < 1e-5)
            }
        }
        #expect(abs(v.loss - ce) < 1e-4 && abs(v.crossEntropy - ce) < 1e-4 && v.rows == rows)
    }

    @Test func topKWithEveryIdEqualsTheFullTeacher() throws {
        let vocab = 40, rows = 3
        let student = Self.logits(vocab * rows, seed: 7), teacher = Self.logits(vocab * rows, seed: 8, spread: 6)
        let targets = [2, 9, 39]
        for tail in TopKTail.allCases {
            for temperature in [Float(1), 10] {
                let loss = try DistillationLoss(temperature: temperature, alpha: 0.7)
                var gFull = [Float](repeating: 0, count: student.count), gTop = gFull
                let full = try evaluate(loss, student: student, teacher: teacher, targets: targets, vocab: vocab, form: .full, gradient: &gFull)
                let top = try evaluate(loss, student: student, teacher: teacher, targets: targets, vocab: vocab,
                                       form: .topK(vocab, tail), gradient: &gTop)
                #expect(abs(full.loss - top.loss) < 1e-5 * max(1, abs(full.loss)), "\(tail) T=\(temperature)")
                for i in 0..<gFull.count { #expect(abs(gFull[i] - gTop[i]) < 1e-6) }
            }
        }
    }

    @Test func ignoredRowsAndThreadsAndBadInput() throws {
        let vocab = 50, rows = 9
        let student = Self.logits(vocab * rows, seed: 9), teacher = Self.logits(vocab * rows, seed: 10)
        let targets = (0..<rows).map { $0 % 3 == 0 ? DistillationLoss.ignoreIndex : $0 }
        let loss = try DistillationLoss(temperature: 2, alpha: 0.5)
        var g1 = [Float](repeating: 1, count: student.count), g2 = g1
        let one = try loss.evaluate(student: student, teacher: pinned(teacher), targets: targets, rows: rows, vocab: vocab, gradient: &g1)
        let pool = ThreadPool(threads: 3)
        let many = try loss.evaluate(student: student, teacher: pinned(teacher), targets: targets, rows: rows, vocab: vocab,
                                     gradient: &g2, pool: pool)
        #expect(one == many && g1 == g2 && one.rows == 6)
        #expect(g1[0..<vocab].allSatisfy { $0 == 0 })
        #expect(throws: DistillationLossError.self) {
            try loss.evaluate(student: student, teacher: pinned(teacher), targets: [vocab] + targets.dropFirst(), rows: rows,
                              vocab: vocab, gradient: nil)
        }
        #expect(throws: DistillationLossError.self) { try DistillationLoss(temperature: 0, alpha: 1) }
        #expect(throws: DistillationLossError.self) { try DistillationLoss(temperature: 1, alpha: 1.5) }
    }

    @Test func teacherTopKPicksTheLargestInOrder() {
        let logits: [Float] = [1, 5, 3, 5, -2, 4]
        var ids = [Int32](repeating: 0, count: 3), p = [Float](repeating: 0, count: 3), scratch = [Float](repeating: 0, count: 6)
        let tail = teacherTopK(logits: logits, vocab: 6, k: 3, temperature: 1, ids: &ids, probabilities: &p, scratch: &scratch)
        #expect(ids == [1, 3, 5])
        let z = logits.reduce(0.0) { $0 + exp(Double($1)) }
        #expect(abs(Double(p[0]) - exp(5) / z) < 1e-6 && abs(Double(p[2]) - exp(4) / z) < 1e-6)
        #expect(abs(Double(tail) - (exp(1) + exp(3) + exp(-2)) / z) < 1e-6)
    }
}
