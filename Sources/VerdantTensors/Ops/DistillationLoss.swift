#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the distillation loss knows of the teacher for each row.
public enum DistillationTeacher {
    /// Full logits rows [rows, vocab] (an online teacher).
    case logits(UnsafePointer<Float>)
    /// Per row the k most probable ids [rows, k], their probabilities at the loss's
    /// temperature [rows, k] and the remaining probability mass [rows] (a cached
    /// teacher, see `teacherTopK`).
    case topK(ids: UnsafePointer<Int32>, probabilities: UnsafePointer<Float>, tailMass: UnsafePointer<Float>, k: Int)
}

/// Where a top-k teacher puts the probability mass outside its k ids.
public enum TopKTail: String, Sendable, Codable, CaseIterable {
    /// Spread over the other ids in proportion to the student's own probabilities:
    /// the loss is the exact KL between the (k + 1)-bucket coarsenings (k ids + "the
    /// rest") of teacher and student, a lower bound of the full KL.
    case studentShaped = "student-shaped"
    /// Spread uniformly over the other V − k ids.
    case uniform
    /// Dropped: the k probabilities renormalised to sum to 1.
    case renormalized
}

/// Sums over the rows a call counted (rows whose target is not `ignoreIndex`).
public struct DistillationLossValue: Sendable, Equatable {
    /// Σ A·T²·KL + (1 − A)·CE.
    public var loss: Double = 0
    /// Σ KL(p_teacher,T ‖ p_student,T) (without the T² factor).
    public var kl: Double = 0
    /// Σ −log softmax(z_s)[target].
    public var crossEntropy: Double = 0
    public var rows: Int = 0

    public init() {}
}

public struct DistillationLossError: Error, CustomStringConvertible, Equatable {
    public let description: String
}

/// loss = A · KL(p_t,T ‖ p_s,T) · T² + (1 − A) · CE(z_s, target) per row, where
/// p_·,T = softmax(z / T), and its exact gradient with respect to the student logits:
///   ∂/∂z_s = A · T · (p_s,T − p̃_t,T) + (1 − A) · (softmax(z_s) − onehot(target)),
/// with p̃_t the teacher distribution the teacher form implies (the T² factor keeps
/// the soft-label gradient's scale independent of T, Hinton et al.). A = 1 is
/// Avatar's pure soft-label loss; A = 0 plain cross-entropy. A row whose target is
/// `ignoreIndex` (−100, PyTorch's convention) counts for neither term and gets a
/// zero gradient.
///
/// Top-k teacher tails. Measured on pycoder-llama-19m (V = 16384) over 512 real
/// positions (2 sequences of 256) of code-train.jsonl.xz with
/// `verdant teacher-cache --measure-top-k` (`TopKTailStudy`): relative error of the
/// KL (Σ|KL_k − KL| / Σ KL) and of the soft-label gradient (‖g_k − g‖ / ‖g‖) against
/// the full teacher, cached probabilities rounded to f16 as the cache stores them,
/// for a "short-context" student (the teacher seeing only its last 4 tokens, a
/// stand-in for a half-trained student). Entries are KL / gradient error for
/// k = 16, 32, 64, 128; "mass" is the teacher's mean probability outside the top k.
///
///   T   mass (k=16…128)        student-shaped               uniform                      renormalised
///   1   .17 .13 .09 .07   KL   .13  .10  .07  .05         .27  .19  .13  .08           .24  .18  .13  .09
///                         grad .069 .047 .033 .020        .034 .021 .013 .007          .20  .14  .10  .06
///   2   .78 .75 .70 .65   KL   .55  .52  .48  .44         .74  .68  .60  .51           4.8  4.2  3.6  3.1
///                         grad .095 .082 .071 .060        .100 .082 .068 .054          2.1  1.7  1.4  1.1
///   10  >.98 (.997….982)  KL   .99  .99  .98  .96         1.07 1.04 1.00 .94           425  382  339  295
///                         grad .99  .98  .97  .96         1.46 1.44 1.40 1.35          185  131  92   65
///
/// For a student at initialisation (uniform logits) student-shaped and uniform
/// coincide: KL .076→.021 and gradient .027→.006 at T = 1 (k = 16→128), .38→.23 and
/// .082→.044 at T = 2, .95→.85 and .96→.89 at T = 10.
///
/// Choice: `studentShaped` is the default. It is the exact KL between the (k + 1)-
/// bucket coarsenings, so the loss is a true lower bound of the full KL, with the
/// smallest KL error in every cell but one (T = 10, k = 128: .96 vs .94); its gradient error is within 1.1× of uniform's
/// at T = 2 and never above 1 (it only loses signal), whereas uniform's exceeds 1 at
/// T = 10 (worse than no soft-label gradient: it pulls the student toward a flat
/// tail the teacher does not have). Uniform's gradient is 2–3× closer at T = 1 with
/// a trained student and stays available. Renormalising is worst everywhere: it
/// tells the student the tail has probability 0.
///
/// At Avatar's T = 10 no top-k (k ≤ 128) represents this teacher: 98–99.7% of its
/// mass lies outside the top k and the gradient error is ≈ 1. For T > 2 use the
/// hidden-state teacher cache (the teacher's f16 final hidden states, full logits
/// recomputed by its output layer): in the same measurement its KL error is
/// ≤ 7·10⁻⁵ and its gradient error ≤ 2.3·10⁻⁴ at T = 1, 2 and 10, for 768 bytes
/// per token against 260 for top-64.
public struct DistillationLoss: Sendable, Equatable {
    public static let ignoreIndex = -100

    public var temperature: Float
    public var alpha: Float
    public var tail: TopKTail

    public init(temperature: Float, alpha: Float, tail: TopKTail = .studentShaped) throws {
        guard temperature.isFinite, temperature > 0, temperature <= 1000 else {
            throw DistillationLossError(description: "temperature must lie in (0, 1000], got \(temperature)")
        }
        guard alpha.isFinite, alpha >= 0, alpha <= 1 else {
            throw DistillationLossError(description: "alpha must lie in [0, 1], got \(alpha)")
        }
        self.temperature = temperature
        self.alpha = alpha
        self.tail = tail
    }

    /// Loss sums over `rows` rows of student logits [rows, vocab]; when `gradient`
    /// ([rows, vocab]) is given it receives gradientScale · ∂loss_row/∂z_s (e.g.
    /// 1 / tokens in the batch for a mean). Rows run on `pool` when given; the
    /// result does not depend on the thread count.
    public func evaluate(student: UnsafePointer<Float>, teacher: DistillationTeacher, targets: UnsafePointer<Int>,
                         rows: Int, vocab: Int, gradient: UnsafeMutablePointer<Float>?, gradientScale: Float = 1,
                         pool: ThreadPool? = nil) throws -> DistillationLossValue {
        for r in 0..<rows where targets[r] != Self.ignoreIndex && !(0..<vocab).contains(targets[r]) {
            throw DistillationLossError(description: "target id \(targets[r]) in row \(r) is outside the vocabulary of \(vocab)")
        }
        if case .topK(let ids, _, _, let k) = teacher {
            guard k >= 1 && k <= vocab else { throw DistillationLossError(description: "top-k teacher with k = \(k) for a vocabulary of \(vocab)") }
            for i in 0..<(rows * k) where ids[i] < 0 || Int(ids[i]) >= vocab {
                throw DistillationLossError(description: "teacher id \(ids[i]) is outside the student's vocabulary of \(vocab)")
            }
        }
        let perRow = UnsafeMutablePointer<(Double, Double, Bool)>.allocate(capacity: max(rows, 1))
        defer { perRow.deallocate() }
        let work = { (r: Int, scratch: UnsafeMutablePointer<Float>) in
            perRow[r] = self.row(r, student: student, teacher: teacher, target: targets[r], vocab: vocab,
                                 gradient: gradient.map { $0 + r * vocab }, scale: gradientScale, scratch: scratch)
        }
        let scratchBytes = 3 * vocab * MemoryLayout<Float>.stride
        if let pool, pool.threads > 1, rows > 1, !pool.isRunning {
            pool.runWorkers(rows) { r, w in
                work(r, pool.scratch(worker: w, bytes: scratchBytes).assumingMemoryBound(to: Float.self))
            }
        } else {
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 3 * vocab)
            defer { scratch.deallocate() }
            for r in 0..<rows { work(r, scratch) }
        }
        var value = DistillationLossValue()
        let a = Double(alpha), t2 = Double(temperature) * Double(temperature)
        for r in 0..<rows where perRow[r].2 {
            value.kl += perRow[r].0
            value.crossEntropy += perRow[r].1
            value.rows += 1
        }
        value.loss = a * t2 * value.kl + (1 - a) * value.crossEntropy
        return value
    }

    /// (KL, CE, counted) of one row; writes its gradient.
    private func row(_ r: Int, student: UnsafePointer<Float>, teacher: DistillationTeacher, target: Int, vocab V: Int,
                     gradient g: UnsafeMutablePointer<Float>?, scale: Float,
                     scratch: UnsafeMutablePointer<Float>) -> (Double, Double, Bool) {
        if target == Self.ignoreIndex {
            g?.update(repeating: 0, count: V)
            return (0, 0, false)
        }
        let z = student + r * V
        let T = temperature, invT = 1 / temperature
        let A = alpha
        let sT = scratch, e1 = scratch + V, tq = scratch + 2 * V
        let mz = maxF32(z, V)
        // Student at T: p_s,T[j] = sT[j] / sumT, log p_s,T[j] = (z_j − mz)/T − logZT.
        let sumT = A > 0 ? scaledExp(z, shift: mz, scale: invT, into: sT, V) : 1
        let logZT = log(sumT)
        func logPS(_ j: Int) -> Double { Double((z[j] - mz) * invT) - logZT }

        var kl = 0.0
        // Gradient of the KL part: A·T·(cs·sT[j] − u) for every j, then a correction
        // on the ids the teacher names (all of them for full logits).
        var cs = 1 / sumT, u = 0.0
        if A > 0 {
            switch teacher {
            case .logits(let teacherLogits):
                let t = teacherLogits + r * V
                let mt = maxF32(t, V)
                let sumU = scaledExp(t, shift: mt, scale: invT, into: tq, V)
                // KL = Σ q (log q − log p_s) with both logs linear in the logits:
                // (1/T)·Σ q (t − z) + (mz − mt)/T + log Z_s,T − log Z_t,T.
                kl = weightedDifferenceSum(tq, t, z, V) / sumU * Double(invT)
                    + Double(mz - mt) * Double(invT) + logZT - log(sumU)
                let invSumU = Float(1 / sumU)
                scaleInPlace(tq, invSumU, V)
            case .topK(let ids, let probabilities, let tailMass, let k):
                let ri = ids + r * k, rp = probabilities + r * k
                let mT = Double(tailMass[r])
                var keptTeacher = 0.0, sumLogPSKept = 0.0
                for i in 0..<k {
                    tq[i] = sT[Int(ri[i])]
                    keptTeacher += Double(rp[i])
                    sumLogPSKept += logPS(Int(ri[i]))
                }
                // The student's mass outside the named ids, summed directly (not
                // 1 − Σ named, which cancels to rounding noise when the tail is small).
                for i in 0..<k { sT[Int(ri[i])] = 0 }
                let rest = sumF64(sT, V)
                for i in 0..<k { sT[Int(ri[i])] = tq[i] }
                let norm = tail == .renormalized && keptTeacher > 0 ? 1 / keptTeacher : 1
                for i in 0..<k where rp[i] > 0 {
                    let q = Double(rp[i]) * norm
                    kl += q * (log(q) - logPS(Int(ri[i])))
                }
                // A student whose whole tail underflowed cannot shape the teacher's
                // tail: that row falls back to the uniform spread.
                let shaped = tail == .studentShaped && (mT == 0 || rest > 1e-30)
                if shaped {
                    if mT > 0 { kl += mT * (log(mT) - log(rest / sumT)) }
                    cs = 1 / sumT - mT / Swift.max(rest, 1e-30)
                } else if tail != .renormalized && V > k && mT > 0 {
                    u = mT / Double(V - k)
                    var sumLogPSAll = 0.0
                    for j in 0..<V { sumLogPSAll += Double(z[j] - mz) }
                    sumLogPSAll = sumLogPSAll * Double(invT) - Double(V) * logZT
                    kl += mT * log(u) - u * (sumLogPSAll - sumLogPSKept)
                }
            }
        }

        var ce = 0.0
        var sum1 = 1.0
        if A < 1 {
            sum1 = scaledExp(z, shift: mz, scale: 1, into: e1, V)
            ce = log(sum1) - Double(z[target] - mz)
        }
        guard let g else { return (kl, ce, true) }

        let kT = Float(Double(A) * Double(T)) * scale
        let kC = (1 - A) * scale
        let inv1 = Float(1 / sum1), invSumT = Float(1 / sumT)
        let csF = Float(cs), uF = Float(u)
        // g = kT·(cs·sT − u − q_full) + kC·e1/Z1, 16 lanes at a time; an unused term
        // has a zero coefficient and its buffer is never read.
        let full: Bool
        if case .logits = teacher { full = A > 0 } else { full = false }
        let a = SIMD16<Float>(repeating: A > 0 ? kT * csF : 0), b = SIMD16<Float>(repeating: A > 0 ? -kT * uF : 0)
        let c = SIMD16<Float>(repeating: A < 1 ? kC * inv1 : 0), d = SIMD16<Float>(repeating: -kT)
        var j = 0
        while j + 16 <= V {
            var v = b
            if A > 0 { v = v.addingProduct(a, UnsafeRawPointer(sT + j).loadUnaligned(as: SIMD16<Float>.self)) }
            if A < 1 { v = v.addingProduct(c, UnsafeRawPointer(e1 + j).loadUnaligned(as: SIMD16<Float>.self)) }
            if full { v = v.addingProduct(d, UnsafeRawPointer(tq + j).loadUnaligned(as: SIMD16<Float>.self)) }
            UnsafeMutableRawPointer(g + j).storeBytes(of: v, as: SIMD16<Float>.self)
            j += 16
        }
        while j < V {
            var v: Float = 0
            if A > 0 { v = kT * (csF * sT[j] - uF) }
            if A < 1 { v += kC * e1[j] * inv1 }
            if full { v -= kT * tq[j] }
            g[j] = v
            j += 1
        }
        if A < 1 { g[target] -= kC }
        if A > 0 {
            switch teacher {
            case .logits:
                break
            case .topK(let ids, let probabilities, _, let k):
                let ri = ids + r * k, rp = probabilities + r * k
                var keptTeacher: Float = 0
                for i in 0..<k { keptTeacher += rp[i] }
                let norm: Float = tail == .renormalized && keptTeacher > 0 ? 1 / keptTeacher : 1
                for i in 0..<k {
                    let j = Int(ri[i])
                    g[j] += kT * ((invSumT - csF) * sT[j] + uF - rp[i] * norm)
                }
            }
        }
        return (kl, ce, true)
    }
}
