import VerdantTensors

extension Linear {
    /// f32 weight [out, in] in the parameter store (models built from a store only).
    var f32Weight: UnsafePointer<Float> {
        precondition(weight.format == .f32, "training needs f32 weights (build the model from a ParameterStore)")
        return weight.data.assumingMemoryBound(to: Float.self)
    }

    /// y = x·Wᵀ + b. x: [rows, in], y: [rows, out] at row stride ldy.
    func trainingForward(_ x: UnsafePointer<Float>, rows: Int, _ y: UnsafeMutablePointer<Float>, ldy: Int? = nil,
                         store: ParameterStore, pool: ThreadPool) {
        let ld = ldy ?? outFeatures
        sgemm(transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
              b: f32Weight, ldb: inFeatures, c: y, ldc: ld, accumulate: false, pool: pool)
        if bias != nil, let b = store.value(biasName) {
            for r in 0..<rows { addInPlace(y + r * ld, b, outFeatures) }
        }
        loraForward(x, rows: rows, y, ld: ld, store: store, pool: pool)
    }

    /// dx (= or +=) dy·W; dW += dyᵀ·x and db += Σ_rows dy unless frozen (no gradient
    /// buffer in the store): a frozen base layer (LoRA) still propagates dx.
    /// x: [rows, in], dy: [rows, out], dx: [rows, in] (nil: not needed, e.g. nothing below).
    func trainingBackward(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, rows: Int,
                          dx: UnsafeMutablePointer<Float>?, accumulateDX: Bool, store: ParameterStore, pool: ThreadPool) {
        if let dx {
            sgemm(transA: false, transB: false, m: rows, n: inFeatures, k: outFeatures, a: dy, lda: outFeatures,
                  b: f32Weight, ldb: inFeatures, c: dx, ldc: inFeatures, accumulate: accumulateDX, pool: pool)
        }
        if let dW = store.gradient(name) {
            sgemm(transA: true, transB: false, m: outFeatures, n: inFeatures, k: rows, a: dy, lda: outFeatures,
                  b: x, ldb: inFeatures, c: dW, ldc: inFeatures, accumulate: true, pool: pool)
        }
        if bias != nil, let db = store.gradient(biasName) {
            addColumnSums(dy, rows: rows, cols: outFeatures, into: db)
        }
        loraBackward(x: x, dy: dy, rows: rows, dx: dx, store: store, pool: pool)
    }
}

extension Norm {
    var biasName: String { checkpointBiasName(name) }

    /// y = norm(x) with the store's current parameters. x, y: [rows, n].
    func trainingForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, store: ParameterStore) {
        let n = weight.count
        guard let w = store.value(name) else { preconditionFailure("norm \(name) is not in the parameter store") }
        switch kind {
        case .rms: rmsNorm(x, y, rows: rows, n: n, weight: w, eps: eps)
        case .layer:
            guard let b = store.value(biasName) else { preconditionFailure("norm bias \(biasName) is not in the parameter store") }
            layerNorm(x, y, rows: rows, n: n, weight: w, bias: b, eps: eps)
        }
    }

    /// dx = ∂/∂x given dy; weight (and bias) gradients accumulated unless frozen.
    func trainingBackward(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, rows: Int,
                          store: ParameterStore, pool: ThreadPool) {
        let n = weight.count
        guard let w = store.value(name) else { preconditionFailure("norm \(name) is not in the parameter store") }
        switch kind {
        case .rms:
            rmsNormBackward(x: x, dy: dy, dx: dx, rows: rows, n: n, weight: w, eps: eps,
                            dWeight: store.gradient(name), pool: pool)
        case .layer:
            layerNormBackward(x: x, dy: dy, dx: dx, rows: rows, n: n, weight: w, eps: eps,
                              dWeight: store.gradient(name), dBias: store.gradient(biasName), pool: pool)
        }
    }
}
