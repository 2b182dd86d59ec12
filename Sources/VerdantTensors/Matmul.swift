/// y[t, n] = Σ_k x[t, k] · W[n, k]  for t < rows, n < W.rows, k < W.cols.
/// x: [rows, W.cols] f32, y: [rows, W.rows] f32 (overwritten); x and y must not overlap.
/// Preconditions (programmer errors, not checked): x holds rows·W.cols floats,
/// y holds rows·W.rows floats.
///
/// One token (decode) streams the weights once with in-register conversion
/// (GEMVKernels.swift); several tokens (prefill) convert 32-row panels to f32
/// once and reuse them across all tokens (GEMMKernels.swift). The pool splits
/// the work over output features, and over tokens when there are few features.
///
/// Called from inside a task of `pool` it runs single-threaded with private
/// scratch (the pool's scratch belongs to the outer job).
public func matmul(_ x: UnsafePointer<Float>, rows: Int, _ w: WeightMatrix,
                   _ y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
    if rows <= 0 || w.rows <= 0 { return }
    if pool.isRunning {
        matmul(x, rows: rows, w, y, pool: ThreadPool(threads: 1))
        return
    }
    if w.cols <= 0 {
        y.update(repeating: 0, count: rows * w.rows)
        return
    }
    switch w.format {
    case .f32: matmulDispatch(F32Lanes.self, x, rows: rows, w, y, pool: pool)
    case .bf16: matmulDispatch(BF16Lanes.self, x, rows: rows, w, y, pool: pool)
    case .f16: matmulDispatch(F16Lanes.self, x, rows: rows, w, y, pool: pool)
    case .q8_0, .q4_0, .int4, .w8a8: quantMatmul(x, rows: rows, w, y, pool: pool)
    case .bf16Sparse1x2, .q8Sparse1x2: sparseMatmul(x, rows: rows, w, y, pool: pool)
    }
}

/// Below this many tokens, packing a panel costs more than streaming the
/// weights once per token.
let gemmMinRows = 4

@inline(__always)
func matmulDispatch<D: LaneDecoder>(_ d: D.Type, _ x: UnsafePointer<Float>, rows: Int, _ w: WeightMatrix,
                                    _ y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
    if rows < gemmMinRows {
        for t in 0..<rows { gemv(d, x + t * w.cols, w, y + t * w.rows, pool: pool) }
    } else {
        gemm(d, x, rows: rows, w, y, pool: pool)
    }
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
