#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Targets with this id contribute neither loss nor gradient (PyTorch's ignore_index).
public let ignoredTarget: Int32 = -100

/// Softmax cross-entropy of one row: returns −log softmax(logits)[target] and
/// overwrites logits with scale·(softmax − onehot(target)). An ignored target
/// returns 0 and writes zeros. logits: [vocab].
public func softmaxCrossEntropyRow(_ logits: UnsafeMutablePointer<Float>, vocab: Int, target: Int32,
                                   scale: Float) -> Float {
    if target == ignoredTarget || target < 0 || Int(target) >= vocab {
        logits.update(repeating: 0, count: vocab)
        return 0
    }
    var m = -Float.infinity
    for i in 0..<vocab { m = max(m, logits[i]) }
    let t = Int(target)
    // −log p = log Σ exp(z − m) − (z_t − m): exact even when p_t underflows.
    let shifted = logits[t] - m
    var sum: Float = 0
    for i in 0..<vocab {
        let e = expf(logits[i] - m)
        logits[i] = e
        sum += e
    }
    let loss = logf(sum) - shifted
    let inv = scale / sum
    for i in 0..<vocab { logits[i] *= inv }
    logits[t] -= scale
    return loss
}
