// Backward of the normalisations in Norms.swift. Statistics (mean, 1/rms) are
// recomputed from the saved input x: one pass over n values per row, cheaper
// than keeping them and it keeps the tape to the layer inputs.

/// RMSNorm y = x·r·w with r = 1/sqrt(mean(x²) + eps):
///     dw += Σ_rows dy·x·r,   dx = r·(dy·w − x·r²·mean(dy·w·x)).
/// x, dy, dx: [rows, n] (dx may alias dy, not x); weight: [n];
/// dWeight: [n] accumulated, nil when the weight is frozen (dx is still computed).
public func rmsNormBackward(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                            rows: Int, n: Int, weight: UnsafePointer<Float>, eps: Float,
                            dWeight: UnsafeMutablePointer<Float>?, pool: ThreadPool) {
    forEachRowBlock(rows: rows, width: n, into: dWeight, pool: pool) { range, dw in
        for r in range {
            let xr = x + r * n, gr = dy + r * n, dr = dx + r * n
            let scale = 1 / (dotF32(xr, xr, n) / Float(n) + eps).squareRoot()
            var dot: Float = 0  // Σ dy·w·x
            for i in 0..<n { dot += gr[i] * weight[i] * xr[i] }
            let c = dot * scale * scale / Float(n)
            if let dw { for i in 0..<n { dw[i] += gr[i] * xr[i] * scale } }
            for i in 0..<n { dr[i] = scale * (gr[i] * weight[i] - xr[i] * c) }
        }
    }
}

/// LayerNorm y = x̂·w + b with x̂ = (x − mean)·r, r = 1/sqrt(var + eps):
///     db += Σ dy,  dw += Σ dy·x̂,  g = dy·w,  dx = r·(g − mean(g) − x̂·mean(g·x̂)).
/// x, dy, dx: [rows, n] (dx may alias dy, not x); weight: [n];
/// dWeight, dBias: [n] accumulated, nil when frozen.
public func layerNormBackward(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                              rows: Int, n: Int, weight: UnsafePointer<Float>, eps: Float,
                              dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
                              pool: ThreadPool) {
    let frozen = dWeight == nil && dBias == nil
    // One partial row of 2n: [dw | db].
    let both: UnsafeMutablePointer<Float>? = frozen ? nil : .allocate(capacity: 2 * n)
    both?.initialize(repeating: 0, count: 2 * n)
    defer { both?.deallocate() }
    forEachRowBlock(rows: rows, width: 2 * n, into: both, pool: pool) { range, partial in
        for r in range {
            let xr = x + r * n, gr = dy + r * n, dr = dx + r * n
            var mean: Float = 0
            for i in 0..<n { mean += xr[i] }
            mean /= Float(n)
            var variance: Float = 0
            for i in 0..<n { let d = xr[i] - mean; variance += d * d }
            variance /= Float(n)
            let scale = 1 / (variance + eps).squareRoot()
            var sumG: Float = 0, sumGX: Float = 0
            for i in 0..<n {
                let g = gr[i] * weight[i], xh = (xr[i] - mean) * scale
                sumG += g
                sumGX += g * xh
            }
            sumG /= Float(n)
            sumGX /= Float(n)
            if let partial {
                for i in 0..<n {
                    partial[i] += gr[i] * (xr[i] - mean) * scale
                    partial[n + i] += gr[i]
                }
            }
            for i in 0..<n {
                let xh = (xr[i] - mean) * scale
                dr[i] = scale * (gr[i] * weight[i] - sumG - xh * sumGX)
            }
        }
    }
    if let both {
        if let dWeight { addInPlace(dWeight, both, n) }
        if let dBias { addInPlace(dBias, both + n, n) }
    }
}
