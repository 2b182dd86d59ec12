/// Row-major single-precision GEMM for training (forward x·Wᵀ, backward dY·W and dYᵀ·X):
///
///     C[m, n] = op(A)[m, k] · op(B)[k, n]   (+ C[m, n] when `accumulate`)
///
/// op(A) = A stored [m, k] at row stride lda, or Aᵀ when `transA` (A stored [k, m]).
/// op(B) = B stored [k, n] at row stride ldb, or Bᵀ when `transB` (B stored [n, k]).
/// C is [m, n] at row stride ldc and must not overlap A or B.
///
/// Called from inside a task of `pool` it runs single-threaded.
public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                  c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, pool: ThreadPool) {
    if m <= 0 || n <= 0 { return }
    if k <= 0 {
        if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        return
    }
    let body = { (i0: Int, i1: Int) in
        for i in i0..<i1 {
            let ci = c + i * ldc
            if !accumulate { ci.update(repeating: 0, count: n) }
            for p in 0..<k {
                let aip = transA ? a[p * lda + i] : a[i * lda + p]
                if transB {
                    for j in 0..<n { ci[j] += aip * b[j * ldb + p] }
                } else {
                    let bp = b + p * ldb
                    for j in 0..<n { ci[j] += aip * bp[j] }
                }
            }
        }
    }
    if pool.isRunning || pool.threads == 1 || m < 2 {
        body(0, m)
        return
    }
    let tasks = min(m, pool.threads * 4)
    pool.run(tasks) { t in body(t * m / tasks, (t + 1) * m / tasks) }
}

/// Plain scalar reference for `sgemm` (double accumulation): what kernels are tested against.
public func sgemmReference(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                           c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k {
                let x = transA ? a[p * lda + i] : a[i * lda + p]
                let y = transB ? b[j * ldb + p] : b[p * ldb + j]
                s += Double(x) * Double(y)
            }
            c[i * ldc + j] = Float(s) + (accumulate ? c[i * ldc + j] : 0)
        }
    }
}
