#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Token selection from a logits row, in transformers' order:
/// temperature, then top-k, then top-p (nucleus), then a draw.
public struct SamplingOptions: Sendable, Equatable {
    /// 0 = greedy.
    public var temperature: Float = 0
    /// 0 = disabled.
    public var topK: Int = 0
    /// 1 = disabled.
    public var topP: Float = 1
    public var seed: UInt64 = 0

    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
    }

    public var isGreedy: Bool { temperature == 0 || topK == 1 }
}

public struct Sampler: Sendable {
    public let options: SamplingOptions
    private var random: RandomSource
    /// Candidate indices and probabilities, reused across calls.
    private var candidates: [Int] = []
    private var probabilities: [Float] = []
    /// Logits copy reordered by the top-k selection.
    private var scratch: [Float] = []

    public init(options: SamplingOptions) {
        self.options = options
        random = RandomSource(seed: options.seed)
    }

    /// First index of the maximum, as torch.argmax.
    public static func argmax(_ logits: UnsafePointer<Float>, count: Int) -> Int {
        var best = 0
        var bestValue = -Float.infinity
        for i in 0..<count where logits[i] > bestValue {
            bestValue = logits[i]
            best = i
        }
        return best
    }

    public mutating func sample(_ logits: UnsafePointer<Float>, count: Int) -> Int {
        if options.isGreedy { return Self.argmax(logits, count: count) }
        let invT = 1 / options.temperature
        // Top-k first: the k-th largest logit is the threshold (ties kept, as torch's mask does).
        candidates.removeAll(keepingCapacity: true)
        if options.topK > 0 && options.topK < count {
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: UnsafeBufferPointer(start: logits, count: count))
            let kth = Self.kthLargest(&scratch, options.topK)
            for i in 0..<count where logits[i] >= kth { candidates.append(i) }
        } else {
            candidates.append(contentsOf: 0..<count)
        }
        // Softmax over the candidates at temperature T.
        var maxLogit = -Float.infinity
        for i in candidates where logits[i] > maxLogit { maxLogit = logits[i] }
        probabilities.removeAll(keepingCapacity: true)
        var sum: Float = 0
        for i in candidates {
            let p = expf((logits[i] - maxLogit) * invT)
            probabilities.append(p)
            sum += p
        }
        for j in probabilities.indices { probabilities[j] /= sum }
        if options.topP < 1 {
            // Keep the smallest high-probability set whose mass reaches top_p.
            let order = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }
            var kept: [Int] = []
            var keptP: [Float] = []
            var mass: Float = 0
            for j in order {
                kept.append(candidates[j])
                keptP.append(probabilities[j])
                mass += probabilities[j]
                if mass >= options.topP { break }
            }
            candidates = kept
            probabilities = keptP.map { $0 / mass }
        }
        let u = random.nextUnitFloat()
        var acc: Float = 0
        for (j, p) in probabilities.enumerated() {
            acc += p
            if u < acc { return candidates[j] }
        }
        return candidates[candidates.count - 1]
    }

    /// Quickselect for the k-th largest (1-based) value; reorders `v`.
    static func kthLargest(_ v: inout [Float], _ k: Int) -> Float {
        var lo = 0, hi = v.count - 1
        let target = k - 1
        while lo < hi {
            let pivot = v[(lo + hi) / 2]
            var i = lo, j = hi
            while i <= j {
                while v[i] > pivot { i += 1 }
                while v[j] < pivot { j -= 1 }
                if i <= j { v.swapAt(i, j); i += 1; j -= 1 }
            }
            if target <= j { hi = j } else if target >= i { lo = i } else { return v[target] }
        }
        return v[target]
    }
}
