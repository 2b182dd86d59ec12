import VerdantTensors

extension Linear {
    /// y += scale·(x·Aᵀ)·Bᵀ when the store holds an adapter on this linear.
    /// x: [rows, in], y: [rows, out] at row stride ld.
    func loraForward(_ x: UnsafePointer<Float>, rows: Int, _ y: UnsafeMutablePointer<Float>, ld: Int,
                     store: ParameterStore, pool: ThreadPool) {
        guard let ad = store.adapters[name], let a = store.value(ad.a), let b = store.value(ad.b) else { return }
        let r = ad.rank
        // u: [rows, r] = scale·x·Aᵀ (the scale on the narrow side: r columns, not out)
        let u = UnsafeMutablePointer<Float>.allocate(capacity: rows * r)
        defer { u.deallocate() }
        sgemm(transA: false, transB: true, m: rows, n: r, k: inFeatures, a: x, lda: inFeatures, b: a, ldb: inFeatures,
              c: u, ldc: r, accumulate: false, pool: pool)
        for i in 0..<rows * r { u[i] *= ad.scale }
        sgemm(transA: false, transB: true, m: rows, n: outFeatures, k: r, a: u, lda: r, b: b, ldb: r,
              c: y, ldc: ld, accumulate: true, pool: pool)
    }

    /// The adapter path's backward: dB += dyᵀ·u, dA += duᵀ·x, dx += du·A with
    /// u = scale·x·Aᵀ (recomputed: rows·in·r, cheaper than keeping it on the tape)
    /// and du = scale·dy·B. x: [rows, in], dy: [rows, out], dx: [rows, in] (already
    /// holding the base path's dx).
    func loraBackward(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, rows: Int, dx: UnsafeMutablePointer<Float>?,
                      store: ParameterStore, pool: ThreadPool) {
        guard let ad = store.adapters[name], let a = store.value(ad.a), let b = store.value(ad.b) else { return }
        let r = ad.rank
        let u = UnsafeMutablePointer<Float>.allocate(capacity: rows * r), du = UnsafeMutablePointer<Float>.allocate(capacity: rows * r)
        defer { u.deallocate(); du.deallocate() }
        if let dB = store.gradient(ad.b) {
            // dB: [out, r]
            sgemm(transA: false, transB: true, m: rows, n: r, k: inFeatures, a: x, lda: inFeatures, b: a, ldb: inFeatures,
                  c: u, ldc: r, accumulate: false, pool: pool)
            for i in 0..<rows * r { u[i] *= ad.scale }
            sgemm(transA: true, transB: false, m: outFeatures, n: r, k: rows, a: dy, lda: outFeatures, b: u, ldb: r,
                  c: dB, ldc: r, accumulate: true, pool: pool)
        }
        // du: [rows, r]
        sgemm(transA: false, transB: false, m: rows, n: r, k: outFeatures, a: dy, lda: outFeatures, b: b, ldb: r,
              c: du, ldc: r, accumulate: false, pool: pool)
        for i in 0..<rows * r { du[i] *= ad.scale }
        if let dA = store.gradient(ad.a) {
            // dA: [r, in]
            sgemm(transA: true, transB: false, m: r, n: inFeatures, k: rows, a: du, lda: r, b: x, ldb: inFeatures,
                  c: dA, ldc: inFeatures, accumulate: true, pool: pool)
        }
        if let dx {
            sgemm(transA: false, transB: false, m: rows, n: inFeatures, k: r, a: du, lda: r, b: a, ldb: inFeatures,
                  c: dx, ldc: inFeatures, accumulate: true, pool: pool)
        }
    }
}
