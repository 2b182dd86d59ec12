/// y[t, n] = Σ_k x[t, k] · W[n, k]  for t < rows, n < W.rows, k < W.cols.
/// x: [rows, W.cols] f32, y: [rows, W.rows] f32 (overwritten).
/// Interim: the scalar reference. The SIMD kernels replace the body.
public func matmul(_ x: UnsafePointer<Float>, rows: Int, _ w: WeightMatrix,
                   _ y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
    matmulReference(x, rows: rows, w, y)
}

/// Plain scalar reference for every weight format: the ground truth kernels are tested against.
public func matmulReference(_ x: UnsafePointer<Float>, rows: Int, _ w: WeightMatrix,
                            _ y: UnsafeMutablePointer<Float>) {
    let k = w.cols
    for t in 0..<rows {
        for n in 0..<w.rows {
            var acc: Float = 0
            for c in 0..<k { acc += x[t * k + c] * w.element(n, c) }
            y[t * w.rows + n] = acc
        }
    }
}
