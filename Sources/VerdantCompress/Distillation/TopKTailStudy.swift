import VerdantModels
import VerdantTensors
import VerdantTraining

/// How far a top-k teacher's loss and gradient are from the full teacher's.
public struct TopKTailMeasurement: Sendable, Encodable {
    public var student: String
    public var k: Int
    public var temperature: Float
    public var tail: String
    /// Σ|KL_k − KL| / Σ KL over the positions.
    public var klRelativeError: Double
    /// ‖g_k − g‖ / ‖g‖ over all positions' soft-label gradients (A = 1).
    public var gradientRelativeError: Double
    /// Mean teacher probability mass outside the top k.
    public var meanTailMass: Double

    enum CodingKeys: String, CodingKey {
        case student, k, temperature, tail
        case klRelativeError = "kl_relative_error", gradientRelativeError = "gradient_relative_error", meanTailMass = "mean_tail_mass"
    }
}

/// Measures what caching only the top k costs: teacher logits of real positions,
/// two students (the teacher itself with its context cut to the last 4 tokens, a
/// stand-in for a half-trained student; and uniform logits, a student at
/// initialisation), KL and gradient per tail treatment against the full teacher.
/// The cached probabilities are rounded to f16 as the cache stores them.
public enum TopKTailStudy {
    public static func run(teacher: DecoderModel, stream: TokenStream, sequences: Int, ks: [Int], temperatures: [Float],
                           pool: ThreadPool) throws -> [TopKTailMeasurement] {
        let V = teacher.vocabSize, C = stream.context
        let N = sequences * C
        var teacherLogits = [Float](repeating: 0, count: N * V)
        var shortLogits = [Float](repeating: 0, count: N * V)
        var roundedLogits = [Float](repeating: 0, count: N * V)
        var targets = [Int](repeating: 0, count: N)
        let kv = teacher.makeCache(capacity: C)
        let workspace = Workspace(config: teacher.config)
        for s in 0..<sequences {
            let seq = stream.sequence(s)
            let inputs = Array(seq.prefix(C))
            kv.reset()
            try teacher.forward(inputs, cache: kv, workspace: workspace, pool: pool)
            teacherLogits.withUnsafeMutableBufferPointer { out in
                var row = 0
                while row < C {
                    let rows = min(32, C - row)
                    teacher.logits(workspace: workspace, firstRow: row, rows: rows, into: out.baseAddress! + (s * C + row) * V, pool: pool)
                    row += rows
                }
            }
            // What a hidden-state cache gives back: logits of f16-rounded hidden states.
            let H = teacher.hiddenSize
            let rounded = (0..<(C * H)).map { f16ToFloat(floatToF16(workspace.hiddenStates[$0])) }
            roundedLogits.withUnsafeMutableBufferPointer { out in
                teacher.lmHead(rounded, rows: C, out.baseAddress! + s * C * V, pool: pool)
            }
            for p in 0..<C {
                targets[s * C + p] = seq[p + 1]
                let window = Array(inputs[max(0, p - 3)...p])
                kv.reset()
                try teacher.forward(window, cache: kv, workspace: workspace, pool: pool)
                shortLogits.withUnsafeMutableBufferPointer { out in
                    teacher.logits(workspace: workspace, firstRow: window.count - 1, rows: 1, into: out.baseAddress! + (s * C + p) * V, pool: pool)
                }
            }
        }
        let students: [(String, [Float])] = [("short-context", shortLogits), ("uniform", [Float](repeating: 0, count: N * V))]
        var results: [TopKTailMeasurement] = []
        var scratch = [Float](repeating: 0, count: V)
        for T in temperatures {
            let loss = try DistillationLoss(temperature: T, alpha: 1)
            for (name, studentLogits) in students {
                // Per-row KL of the full teacher, and its gradient.
                var gFull = [Float](repeating: 0, count: N * V)
                var klFull = [Double](repeating: 0, count: N)
                try studentLogits.withUnsafeBufferPointer { s in
                    try teacherLogits.withUnsafeBufferPointer { t in
                        try gFull.withUnsafeMutableBufferPointer { g in
                            for r in 0..<N {
                                klFull[r] = try loss.evaluate(student: s.baseAddress! + r * V, teacher: .logits(t.baseAddress! + r * V),
                                                              targets: [targets[r]], rows: 1, vocab: V, gradient: g.baseAddress! + r * V).kl
                            }
                        }
                    }
                }
                let gNorm = gFull.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                // The hidden-state cache: the full form on logits of f16 hidden states.
                var gRounded = [Float](repeating: 0, count: N * V)
                var klRoundedError = 0.0, klTotal = 0.0
                try studentLogits.withUnsafeBufferPointer { s in
                    try roundedLogits.withUnsafeBufferPointer { t in
                        try gRounded.withUnsafeMutableBufferPointer { g in
                            for r in 0..<N {
                                let v = try loss.evaluate(student: s.baseAddress! + r * V, teacher: .logits(t.baseAddress! + r * V),
                                                          targets: [targets[r]], rows: 1, vocab: V, gradient: g.baseAddress! + r * V)
                                klRoundedError += abs(v.kl - klFull[r])
                                klTotal += klFull[r]
                            }
                        }
                    }
                }
                var roundedDiff = 0.0
                for i in 0..<(N * V) { let d = Double(gRounded[i] - gFull[i]); roundedDiff += d * d }
                results.append(TopKTailMeasurement(student: name, k: V, temperature: T, tail: "hidden-f16",
                                                   klRelativeError: klTotal > 0 ? klRoundedError / klTotal : 0,
                                                   gradientRelativeError: gNorm > 0 ? roundedDiff.squareRoot() / gNorm : 0,
                                                   meanTailMass: 0))
                for k in ks where k <= V {
                    var ids = [Int32](repeating: 0, count: N * k), probabilities = [Float](repeating: 0, count: N * k)
                    var tail = [Float](repeating: 0, count: N)
                    ids.withUnsafeMutableBufferPointer { i in
                        probabilities.withUnsafeMutableBufferPointer { pp in
                            teacherLogits.withUnsafeBufferPointer { t in
                                for r in 0..<N {
                                    tail[r] = teacherTopK(logits: t.baseAddress! + r * V, vocab: V, k: k, temperature: T,
                                                          ids: i.baseAddress! + r * k, probabilities: pp.baseAddress! + r * k,
                                                          scratch: &scratch)
                                }
                            }
                        }
                    }
                    probabilities = probabilities.map { f16ToFloat(floatToF16($0)) }
                    for tailKind in TopKTail.allCases {
                        var l = loss
                        l.tail = tailKind
                        var gTop = [Float](repeating: 0, count: N * V)
                        var klError = 0.0, klTotal = 0.0
                        try studentLogits.withUnsafeBufferPointer { s in
                            try ids.withUnsafeBufferPointer { i in
                                try probabilities.withUnsafeBufferPointer { pp in
                                    try tail.withUnsafeBufferPointer { m in
                                        try gTop.withUnsafeMutableBufferPointer { g in
                                            for r in 0..<N {
                                                let teacher = DistillationTeacher.topK(ids: i.baseAddress! + r * k, probabilities: pp.baseAddress! + r * k,
                                                                                       tailMass: m.baseAddress! + r, k: k)
                                                let v = try l.evaluate(student: s.baseAddress! + r * V, teacher: teacher, targets: [targets[r]],
                                                                       rows: 1, vocab: V, gradient: g.baseAddress! + r * V)
                                                klError += abs(v.kl - klFull[r])
                                                klTotal += klFull[r]
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        var diff = 0.0
                        for i in 0..<(N * V) { let d = Double(gTop[i] - gFull[i]); diff += d * d }
                        results.append(TopKTailMeasurement(student: name, k: k, temperature: T, tail: tailKind.rawValue,
                                                           klRelativeError: klTotal > 0 ? klError / klTotal : 0,
                                                           gradientRelativeError: gNorm > 0 ? diff.squareRoot() / gNorm : 0,
                                                           meanTailMass: tail.reduce(0.0) { $0 + Double($1) } / Double(N)))
                    }
                }
            }
        }
        return results
    }
}
