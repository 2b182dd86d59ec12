// Normalisations over the last dimension of [rows, n] f32 activations.

/// RMSNorm (Llama): y = x / sqrt(mean(x²) + eps) · weight.
/// x, y: [rows, n] (may alias); weight: [n].
public func rmsNorm(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, n: Int,
                    weight: UnsafePointer<Float>, eps: Float) {
    for r in 0..<rows {
        let xr = x + r * n, yr = y + r * n
        let ss = dotF32(xr, xr, n)
        let scale = 1 / (ss / Float(n) + eps).squareRoot()
        for i in 0..<n { yr[i] = xr[i] * scale * weight[i] }
    }
}

/// LayerNorm (GPT-2): y = (x − mean) / sqrt(var + eps) · weight + bias.
/// x, y: [rows, n] (may alias); weight, bias: [n].
public func layerNorm(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, n: Int,
                      weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float) {
    for r in 0..<rows {
        let xr = x + r * n, yr = y + r * n
        var mean: Float = 0
        for i in 0..<n { mean += xr[i] }
        mean /= Float(n)
        var variance: Float = 0
        for i in 0..<n { let d = xr[i] - mean; variance += d * d }
        variance /= Float(n)
        let scale = 1 / (variance + eps).squareRoot()
        for i in 0..<n { yr[i] = (xr[i] - mean) * scale * weight[i] + bias[i] }
    }
}
