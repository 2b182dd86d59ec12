import VerdantModels
import VerdantTensors

/// AdamW hyper-parameters (PyTorch's defaults except the decay, which is the caller's).
public struct AdamWSettings: Sendable, Codable, Equatable {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    /// Decoupled weight decay λ: p ← p·(1 − lr·λ) before the Adam step.
    public var weightDecay: Float = 0

    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0) throws {
        guard beta1 >= 0, beta1 < 1, beta2 >= 0, beta2 < 1 else {
            throw TrainingError.invalidArgument("Adam betas must lie in [0, 1), got \(beta1), \(beta2)")
        }
        guard epsilon > 0, epsilon.isFinite else { throw TrainingError.invalidArgument("Adam epsilon must be > 0") }
        guard weightDecay >= 0, weightDecay < 1 else {
            throw TrainingError.invalidArgument("weight decay must lie in [0, 1), got \(weightDecay)")
        }
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }
}

/// AdamW over a `ParameterStore`'s trainable tensors, with f32 moments laid out
/// like the store's flat buffers (moment i belongs to value i).
///
/// Weight decay applies only to ≥ 2-D tensors (linear weights, embeddings): decaying
/// norm gains toward 0 and biases toward 0 fights the normalisation they implement
/// and is the usual exclusion (transformers' Trainer excludes biases and norm weights).
///
/// The update is element-wise, so any partition is deterministic; the work is
/// cut into fixed chunks of ≤ 32k elements run on the pool.
public final class AdamW: @unchecked Sendable {
    public let settings: AdamWSettings
    /// Updates done so far (bias correction uses step + 1 for the next one).
    public internal(set) var step = 0
    let count: Int
    /// [store.totalCount]
    let m: UnsafeMutablePointer<Float>
    let v: UnsafeMutablePointer<Float>

    public init(store: ParameterStore, settings: AdamWSettings) {
        self.settings = settings
        count = store.totalCount
        m = .allocate(capacity: max(1, count))
        v = .allocate(capacity: max(1, count))
        m.initialize(repeating: 0, count: max(1, count))
        v.initialize(repeating: 0, count: max(1, count))
    }

    deinit {
        m.deallocate()
        v.deallocate()
    }

    /// Chunks (offset, count, decayed) over the trainable tensors.
    static func chunks(_ store: ParameterStore, decay: Bool) -> [(Int, Int, Bool)] {
        var out: [(Int, Int, Bool)] = []
        let size = 32768
        for p in store.parameters where p.trainable {
            var o = 0
            while o < p.count {
                out.append((p.offset + o, min(size, p.count - o), decay && p.isMatrix))
                o += size
            }
        }
        return out
    }

    /// One update with learning rate `lr` from the store's gradients, each first
    /// multiplied by `gradientScale` (the clipping factor: folded in here so that
    /// clipping costs no extra pass over the gradients).
    public func update(store: ParameterStore, learningRate lr: Float, gradientScale: Float = 1, pool: ThreadPool) {
        step += 1
        let s = settings
        let bc1 = 1 - Double(s.beta1).pow(step), bc2 = 1 - Double(s.beta2).pow(step)
        let stepSize = Float(Double(lr) / bc1), sqrtBC2 = Float(bc2.squareRoot())
        let shrink = 1 - lr * s.weightDecay
        let work = Self.chunks(store, decay: s.weightDecay > 0)
        let p = store.values, g = store.gradients, m = m, v = v
        let b1 = s.beta1, b2 = s.beta2, eps = s.epsilon
        pool.run(work.count) { c in
            let (offset, n, decayed) = work[c]
            let k = decayed ? shrink : 1
            // SIMD16 body, scalar tail: the same formula lane by lane (so results do
            // not depend on where a chunk starts).
            typealias V = SIMD16<Float>
            var i = offset
            let end = offset + n
            while i + 16 <= end {
                let gi = UnsafeRawPointer(g + i).loadUnaligned(as: V.self) * gradientScale
                let mi = b1 * UnsafeRawPointer(m + i).loadUnaligned(as: V.self) + (1 - b1) * gi
                let vi = b2 * UnsafeRawPointer(v + i).loadUnaligned(as: V.self) + (1 - b2) * gi * gi
                var pi = UnsafeRawPointer(p + i).loadUnaligned(as: V.self) * k
                // As torch.optim.AdamW: p −= lr/bc1 · m / (√v/√bc2 + eps).
                pi -= stepSize * mi / (vi.squareRoot() / sqrtBC2 + eps)
                UnsafeMutableRawPointer(m + i).storeBytes(of: mi, as: V.self)
                UnsafeMutableRawPointer(v + i).storeBytes(of: vi, as: V.self)
                UnsafeMutableRawPointer(p + i).storeBytes(of: pi, as: V.self)
                i += 16
            }
            while i < end {
                let gi = g[i] * gradientScale
                m[i] = b1 * m[i] + (1 - b1) * gi
                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                p[i] = p[i] * k - stepSize * m[i] / (v[i].squareRoot() / sqrtBC2 + eps)
                i += 1
            }
        }
    }
}

extension Double {
    func pow(_ n: Int) -> Double {
        var r = 1.0
        for _ in 0..<n { r *= self }
        return r
    }
}
