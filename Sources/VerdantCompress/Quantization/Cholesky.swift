import VerdantTensors

/// The few dense operations GPTQ needs on row-major Float matrices. The O(n³)
/// parts are products routed through Verdant's f32 GEMM (`matmul`), so they run
/// at the kernel's speed and on the pool; the O(n²·b) remainder is scalar.
enum DenseMatrix {
    /// c[m, n] = a[m, k] · b[n, k]ᵀ, all contiguous row-major.
    static func multiplyTransposed(_ a: UnsafePointer<Float>, rows m: Int, _ b: UnsafePointer<Float>, rows n: Int,
                                   depth k: Int, into c: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let w = WeightMatrix(format: .f32, rows: n, cols: k, data: UnsafeRawPointer(b), owner: nil)
        matmul(a, rows: m, w, c, pool: pool)
    }

    /// Rows of the trailing update handled per GEMM call: the lower block
    /// triangle is computed chunk by chunk, so about half the products of a full
    /// square are skipped.
    static let triangleChunk = 256

    /// In-place lower Cholesky factor L (a = L·Lᵀ) of the symmetric positive
    /// definite n×n matrix `a`. Only the lower triangle is read; the upper one
    /// is zeroed on success. Returns false when a pivot is not positive (the
    /// matrix is not positive definite at Float precision), leaving `a` garbage.
    ///
    /// Right-looking blocked algorithm: factor a b×b diagonal block (in Double),
    /// solve the panel below it, subtract the panel's Gram matrix from the
    /// trailing lower triangle with the GEMM.
    static func choleskyLower(_ a: UnsafeMutablePointer<Float>, n: Int, pool: ThreadPool, block nb: Int = 128) -> Bool {
        if n == 0 { return true }
        let panel = UnsafeMutablePointer<Float>.allocate(capacity: n * nb)
        defer { panel.deallocate() }
        let chunk = triangleChunk
        let product = UnsafeMutablePointer<Float>.allocate(capacity: min(chunk, n) * n)
        defer { product.deallocate() }
        var diagonal = [Double](repeating: 0, count: nb * nb)
        // L11ᵀ of the current block with 1/L11[j][j] on the diagonal.
        let upper = UnsafeMutablePointer<Float>.allocate(capacity: nb * nb)
        defer { upper.deallocate() }
        var k0 = 0
        while k0 < n {
            let b = min(nb, n - k0)
            guard factorDiagonalBlock(a, n: n, at: k0, size: b, scratch: &diagonal) else { return false }
            let m = n - k0 - b
            if m > 0 {
                // Panel: L21 = A21 · L11⁻ᵀ, row by row (forward substitution), also copied contiguous.
                // Column-oriented with L11ᵀ so the inner loop is a contiguous axpy (vectorised),
                // not a dot product (a reduction the compiler must keep in order).
                for j in 0..<b {
                    for q in 0..<b { upper[j * b + q] = q > j ? a[(k0 + q) * n + k0 + j] : 0 }
                    upper[j * b + j] = 1 / a[(k0 + j) * n + k0 + j]
                }
                let tasks = min(m, pool.threads * 4)
                pool.run(tasks) { t in
                    for i in (t * m / tasks)..<((t + 1) * m / tasks) {
                        let row = a + (k0 + b + i) * n + k0
                        for j in 0..<b {
                            let u = upper + j * b
                            let x = row[j] * u[j]
                            row[j] = x
                            for q in (j + 1)..<max(j + 1, b) { row[q] -= x * u[q] }
                        }
                        (panel + i * b).update(from: row, count: b)
                    }
                }
                // Trailing lower triangle: A22 −= L21·L21ᵀ, chunk of rows by chunk of rows.
                var c0 = 0
                while c0 < m {
                    let c1 = min(m, c0 + chunk)
                    multiplyTransposed(panel + c0 * b, rows: c1 - c0, panel, rows: c1, depth: b, into: product, pool: pool)
                    let rows = c1 - c0
                    let subtractTasks = min(rows, pool.threads * 4)
                    pool.run(subtractTasks) { t in
                        for i in (t * rows / subtractTasks)..<((t + 1) * rows / subtractTasks) {
                            let dst = a + (k0 + b + c0 + i) * n + k0 + b
                            let src = product + i * c1
                            for j in 0...(c0 + i) { dst[j] -= src[j] }
                        }
                    }
                    c0 = c1
                }
            }
            k0 += b
        }
        for i in 0..<n { (a + i * n + i + 1).update(repeating: 0, count: n - i - 1) }
        return true
    }

    /// Unblocked Cholesky of the b×b block at (k0, k0), accumulated in Double.
    private static func factorDiagonalBlock(_ a: UnsafeMutablePointer<Float>, n: Int, at k0: Int, size b: Int,
                                            scratch d: inout [Double]) -> Bool {
        for i in 0..<b {
            for j in 0...i { d[i * b + j] = Double(a[(k0 + i) * n + k0 + j]) }
        }
        for j in 0..<b {
            var s = d[j * b + j]
            for q in 0..<j { s -= d[j * b + q] * d[j * b + q] }
            guard s > 0, s.isFinite else { return false }
            let pivot = s.squareRoot()
            d[j * b + j] = pivot
            for i in (j + 1)..<max(j + 1, b) {
                var t = d[i * b + j]
                for q in 0..<j { t -= d[i * b + q] * d[j * b + q] }
                d[i * b + j] = t / pivot
            }
        }
        for i in 0..<b {
            for j in 0...i { a[(k0 + i) * n + k0 + j] = Float(d[i * b + j]) }
        }
        return true
    }

    /// Reverses both indices (a 180° rotation): turns a lower triangular matrix
    /// into an upper one, J·a·J with J the exchange matrix.
    static func reverseBoth(_ a: UnsafeMutablePointer<Float>, n: Int) {
        let count = n * n
        for p in 0..<(count / 2) {
            let q = count - 1 - p
            let t = a[p]; a[p] = a[q]; a[q] = t
        }
    }
}
