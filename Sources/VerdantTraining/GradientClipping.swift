import VerdantModels
import VerdantTensors

/// Global L2 norm of the trainable gradients: per-chunk sums of squares in
/// f64 over fixed chunks, added in chunk order (deterministic for any threads).
public func gradientNorm(_ store: ParameterStore, pool: ThreadPool) -> Double {
    let work = AdamW.chunks(store, decay: false)
    var partial = [Double](repeating: 0, count: work.count)
    let g = store.gradients
    partial.withUnsafeMutableBufferPointer { out in
        let out = out.baseAddress!
        pool.run(work.count) { c in
            let (offset, n, _) = work[c]
            var s = 0.0
            for i in offset..<(offset + n) { s += Double(g[i]) * Double(g[i]) }
            out[c] = s
        }
    }
    return partial.reduce(0, +).squareRoot()
}

/// The factor that brings the global norm `norm` down to `maxNorm`
/// (torch.nn.utils.clip_grad_norm_: maxNorm / (norm + 1e-6) when above; else 1).
public func clippingFactor(norm: Double, maxNorm: Float) -> Float {
    guard maxNorm > 0, norm > Double(maxNorm) else { return 1 }
    return Float(Double(maxNorm) / (norm + 1e-6))
}

/// Scales the gradients so that their global norm is at most `maxNorm`
/// (torch.nn.utils.clip_grad_norm_: factor maxNorm / (norm + 1e-6) when above).
/// Returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ store: ParameterStore, maxNorm: Float, pool: ThreadPool) -> Double {
    let norm = gradientNorm(store, pool: pool)
    let factor = clippingFactor(norm: norm, maxNorm: maxNorm)
    guard factor != 1 else { return norm }
    let g = store.gradients
    for (offset, n, _) in AdamW.chunks(store, decay: false) {
        for i in offset..<(offset + n) { g[i] *= factor }
    }
    return norm
}
