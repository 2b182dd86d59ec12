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
    // SIMD passes (16 lanes, vexp ≈ 2 ulp): max, exp and sum, scale. One row is a
    // vocabulary long (16k+), so this is most of the loss's non-GEMM time.
    var i = 0
    var mv = SIMD16<Float>(repeating: -.infinity)
    while i + 16 <= vocab {
        mv = pointwiseMax(mv, UnsafeRawPointer(logits + i).loadUnaligned(as: SIMD16<Float>.self))
        i += 16
    }
    var m = horizontalMax(mv)
    while i < vocab { m = max(m, logits[i]); i += 1 }
    let t = Int(target)
    // −log p = log Σ exp(z − m) − (z_t − m): exact even when p_t underflows.
    let shifted = logits[t] - m
    var sv = SIMD16<Float>()
    let mb = SIMD16<Float>(repeating: m)
    i = 0
    while i + 16 <= vocab {
        let e = vexp(UnsafeRawPointer(logits + i).loadUnaligned(as: SIMD16<Float>.self) - mb)
        UnsafeMutableRawPointer(logits + i).storeBytes(of: e, as: SIMD16<Float>.self)
        sv += e
        i += 16
    }
    var sum = horizontalSum(sv)
    while i < vocab {
        let e = expf(logits[i] - m)
        logits[i] = e
        sum += e
        i += 1
    }
    let loss = logf(sum) - shifted
    let inv = scale / sum
    scaleInPlace(logits, inv, vocab)
    logits[t] -= scale
    return loss
}
