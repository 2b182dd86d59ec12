import VerdantTensors

/// GPTQ (Frantar et al. 2022): quantizes a weight matrix W [out, in] column by
/// column, and after each column pushes its rounding error onto the columns
/// not yet quantized so that the layer's output error ‖(W − Ŵ)·X‖² on the
/// calibration inputs X stays small. H = X·Xᵀ (the input's second moment)
/// decides how error in one input channel can be compensated by the others.
///
/// The paper's reference implementation takes the upper Cholesky factor U of
/// H⁻¹ and, for column i, propagates err = (w'ᵢ − qᵢ)/U[i,i] with U[i, i+1:]
/// (w' the updated weights). Writing H = A·D·Aᵀ with A unit upper triangular,
/// one finds A = (U/diag U)⁻¹ and the same recursion in closed form:
///     w'ⱼ = wⱼ + Σ_{i<j} (wᵢ − qᵢ)·A[i, j]
/// (the "LDLQ" form of Chee et al. 2023, proven equal to GPTQ there). A comes
/// from ONE Cholesky factorisation of the index-reversed H (reversal turns a
/// lower factor into the upper one needed), instead of the reference's three
/// O(n³) steps (Cholesky, inverse, Cholesky). The errors propagated are those
/// of the original weights (wᵢ − qᵢ), and the updates are applied lazily in
/// blocks of 128 columns: within a block eagerly, row by row; to the columns
/// after it as one GEMM, W'[:, i2:] += E[:, i1:i2]·A[i1:i2, i2:].
public struct GPTQ: Sendable {
    /// λ = damping · mean(diag H) is added to diag H (numerical stability, and a
    /// prior towards round-to-nearest).
    public var damping: Float = 0.01
    /// Process columns in order of decreasing diag H (most important first).
    public var actOrder = false
    /// Fit block parameters with the importance-weighted scale search, weighting
    /// column c by diag(H)[c] ∝ E[x_c²]; false (default): GGUF's rule, as the
    /// reference fits min/max. Measured on pycoder-llama-19m it does not pay:
    /// q4_0 perplexity 11.852 with the search vs 11.835 without, int4 g128 11.914
    /// vs 11.917, at 4× the time on q4_0 — the search picks the scale that is
    /// best for the block as it stands, but GPTQ then moves later columns'
    /// weights, and a clipped range hurts the values it pushes outward.
    public var useImportance = false
    /// Columns per lazy batch update (a multiple of every parameter group ≤ 128).
    public var blockSize = 128

    public init(damping: Float = 0.01, actOrder: Bool = false, useImportance: Bool = false) {
        self.damping = damping
        self.actOrder = actOrder
        self.useImportance = useImportance
    }

    /// Codes (rows × padded columns, in the stored column order) and one
    /// BlockParams per row and parameter group.
    public struct Result {
        public let format: WeightFormat
        public let rows: Int
        public let cols: Int
        public var codes: [Int32]
        public var params: [BlockParams]
        /// The damping that made H positive definite (≥ the requested one).
        public var damping: Float

        public var paddedColumns: Int { format.paddedColumns(cols) }
        public var groupsPerRow: Int { paddedColumns / format.codec.parameterGroup(cols: cols) }

        /// Ŵ [rows, cols].
        public func dequantized() -> [Float] {
            let codec = format.codec, g = codec.parameterGroup(cols: cols), padded = paddedColumns, groups = groupsPerRow
            var out = [Float](repeating: 0, count: rows * cols)
            for r in 0..<rows {
                for c in 0..<cols {
                    out[r * cols + c] = codec.value(Int(codes[r * padded + c]), params[r * groups + c / g])
                }
            }
            return out
        }

        /// Stored rows: rows × format.rowBytes(cols:) bytes.
        public func encode(into dst: UnsafeMutableRawPointer, pool: ThreadPool) {
            let codec = format.codec, rowBytes = format.rowBytes(cols: cols), padded = paddedColumns, groups = groupsPerRow
            let rows = self.rows, cols = self.cols
            codes.withUnsafeBufferPointer { cb in
                params.withUnsafeBufferPointer { pb in
                    guard let c = cb.baseAddress, let p = pb.baseAddress else { return }
                    let tasks = min(rows, pool.threads * 4)
                    pool.run(tasks) { t in
                        for r in (t * rows / tasks)..<((t + 1) * rows / tasks) {
                            codec.encodeRow(codes: c + r * padded, params: p + r * groups, cols: cols,
                                            into: dst + r * rowBytes)
                        }
                    }
                }
            }
        }
    }

    /// Quantizes w [rows, cols] (not modified) given h = Σ x·xᵀ [cols, cols]
    /// (symmetric, both triangles). Throws when H cannot be made positive
    /// definite even with 10⁴× the requested damping (NaN inputs).
    public func quantize(_ w: UnsafePointer<Float>, rows: Int, cols n: Int, hessian h: UnsafePointer<Float>,
                         format: WeightFormat, pool: ThreadPool) throws -> Result {
        let codec = format.codec
        let g = codec.parameterGroup(cols: n), padded = format.paddedColumns(n), groups = padded / g
        var result = Result(format: format, rows: rows, cols: n, codes: [Int32](repeating: 0, count: rows * padded),
                            params: [BlockParams](repeating: BlockParams(scale: 0), count: rows * groups), damping: damping)
        guard rows > 0, n > 0 else { return result }

        // Dead inputs (always 0 in calibration): nothing can be compensated through
        // them; the reference sets H[i,i] = 1 and the weights' column to 0.
        var diag = (0..<n).map { h[$0 * n + $0] }
        guard diag.allSatisfy(\.isFinite) else {
            throw QuantizeError("GPTQ: the calibration Hessian has non-finite entries (non-finite activations?)")
        }
        let dead = diag.map { !($0 > 0) }
        for i in 0..<n where dead[i] { diag[i] = 1 }
        let order: [Int] = actOrder
            ? (0..<n).sorted { diag[$0] != diag[$1] ? diag[$0] > diag[$1] : $0 < $1 }
            : Array(0..<n)
        let meanDiag = diag.reduce(0.0) { $0 + Double($1) } / Double(n)
        let importance: [Float]? = useImportance ? (0..<n).map { dead[$0] ? 0 : diag[$0] } : nil

        // A (strictly upper part used), in processing order.
        let a = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
        defer { a.deallocate() }
        var lambda = damping
        var factored = false
        for _ in 0..<5 {
            // M = J·P·H·Pᵀ·J (P: act-order permutation, J: reversal), lower triangle.
            for i in 0..<n {
                let oi = order[n - 1 - i]
                for j in 0...i {
                    let oj = order[n - 1 - j]
                    a[i * n + j] = oi == oj ? diag[oi] + Float(Double(lambda) * meanDiag) : (dead[oi] || dead[oj] ? 0 : h[oi * n + oj])
                }
            }
            if DenseMatrix.choleskyLower(a, n: n, pool: pool) { factored = true; break }
            lambda *= 10
        }
        guard factored else {
            throw QuantizeError("GPTQ: the calibration Hessian (\(n)×\(n)) is not positive definite even with damping \(lambda / 10); non-finite activations?")
        }
        result.damping = lambda
        // J·L·J = R is upper with H' = R·Rᵀ; A = R·diag(R)⁻¹ (unit upper).
        DenseMatrix.reverseBoth(a, n: n)
        let pivots = (0..<n).map { a[$0 * n + $0] }
        pivots.withUnsafeBufferPointer { pv in
            for i in 0..<n {
                let row = a + i * n
                for k in (i + 1)..<max(i + 1, n) { row[k] /= pv[k] }
            }
        }

        // Weights in processing order (dead columns zeroed): original and working copy.
        let original = UnsafeMutablePointer<Float>.allocate(capacity: rows * n)
        let working = UnsafeMutablePointer<Float>.allocate(capacity: rows * n)
        defer { original.deallocate(); working.deallocate() }
        for r in 0..<rows {
            for j in 0..<n { original[r * n + j] = dead[order[j]] ? 0 : w[r * n + order[j]] }
        }
        working.update(from: original, count: rows * n)

        // Block parameters fitted once up front ("static groups") for w8a8 (one
        // per row, on the whole row) and under act-order. With act-order the
        // columns of a stored group are scattered over the processing order, so
        // they cannot be fitted "when the loop reaches the group's first column";
        // the reference implementation's static_groups option fits every group on
        // the original weights before processing, which keeps the stored layout
        // (contiguous groups, no g_idx) that our formats require.
        let staticParams = actOrder || format == .w8a8
        var imp = importance ?? []
        // Dynamic groups must not straddle blocks: a group is fitted when the loop
        // reaches its first column, on weights updated by every earlier column.
        let blockSize = staticParams ? max(1, self.blockSize) : max(g, self.blockSize / g * g)
        let errors = UnsafeMutablePointer<Float>.allocate(capacity: rows * blockSize)
        defer { errors.deallocate() }
        let transposedBlock = UnsafeMutablePointer<Float>.allocate(capacity: max(1, n * blockSize))
        defer { transposedBlock.deallocate() }
        let update = UnsafeMutablePointer<Float>.allocate(capacity: max(1, rows * n))
        defer { update.deallocate() }

        result.codes.withUnsafeMutableBufferPointer { codesBuffer in
            result.params.withUnsafeMutableBufferPointer { paramsBuffer in
                imp.withUnsafeMutableBufferPointer { impBuffer in
                    guard let codes = codesBuffer.baseAddress, let params = paramsBuffer.baseAddress else { return }
                    let impBase: UnsafePointer<Float>? = importance == nil ? nil : impBuffer.baseAddress.map { UnsafePointer($0) }
                    let tasks = min(rows, pool.threads * 4)
                    if staticParams {
                        pool.run(tasks) { t in
                            var row = [Float](repeating: 0, count: n)
                            for r in (t * rows / tasks)..<((t + 1) * rows / tasks) {
                                for j in 0..<n { row[order[j]] = original[r * n + j] }
                                row.withUnsafeBufferPointer { rb in
                                    for gi in 0..<groups where gi * g < n {
                                        params[r * groups + gi] = codec.fit(rb.baseAddress! + gi * g, count: min(g, n - gi * g),
                                                                            importance: impBase.map { $0 + gi * g })
                                    }
                                }
                            }
                        }
                    }
                    var i1 = 0
                    while i1 < n {
                        let i2 = min(n, i1 + blockSize), width = i2 - i1
                        pool.run(tasks) { t in
                            var conditional = [Float](repeating: 0, count: g)
                            for r in (t * rows / tasks)..<((t + 1) * rows / tasks) {
                                let wr = working + r * n, w0 = original + r * n, er = errors + r * width
                                for j in i1..<i2 {
                                    if !staticParams && j % g == 0 {
                                        let count = min(g, n - j)
                                        conditional.withUnsafeMutableBufferPointer { cb in
                                            guard let v = cb.baseAddress else { return }
                                            Self.conditionalWeights(working: wr, original: w0, a: a, n: n, from: j, count: count, into: v)
                                            params[r * groups + j / g] = codec.fit(v, count: count, importance: impBase.map { $0 + j })
                                        }
                                    }
                                    let column = order[j]
                                    let p = params[r * groups + column / g]
                                    let c = codec.code(wr[j], p)
                                    codes[r * padded + column] = Int32(c)
                                    let e = w0[j] - codec.value(c, p)
                                    er[j - i1] = e
                                    let arow = a + j * n
                                    for k in (j + 1)..<max(j + 1, i2) { wr[k] += e * arow[k] }
                                }
                            }
                        }
                        if i2 < n {
                            // W'[:, i2:] += E·A[i1:i2, i2:] as E [rows, width] · T[n−i2, width]ᵀ.
                            let rest = n - i2
                            for k in 0..<rest {
                                for t in 0..<width { transposedBlock[k * width + t] = a[(i1 + t) * n + i2 + k] }
                            }
                            DenseMatrix.multiplyTransposed(errors, rows: rows, transposedBlock, rows: rest, depth: width,
                                                           into: update, pool: pool)
                            pool.run(tasks) { t in
                                for r in (t * rows / tasks)..<((t + 1) * rows / tasks) {
                                    let wr = working + r * n + i2, u = update + r * rest
                                    for k in 0..<rest { wr[k] += u[k] }
                                }
                            }
                        }
                        i1 = i2
                    }
                    // Padding columns encode 0 where the format can, as RoundToNearest does.
                    if padded > n {
                        for r in 0..<rows {
                            for c in n..<padded { codes[r * padded + c] = Int32(codec.code(0, params[r * groups + c / g])) }
                        }
                    }
                }
            }
        }
        return result
    }

    /// tr(Δ·H·Δᵀ) = ‖Δ·X‖² for Δ [rows, cols] and H = X·Xᵀ: the calibration output error.
    public static func outputError(delta: UnsafePointer<Float>, rows: Int, cols: Int, hessian: UnsafePointer<Float>,
                                   pool: ThreadPool) -> Double {
        guard rows > 0, cols > 0 else { return 0 }
        let product = UnsafeMutablePointer<Float>.allocate(capacity: rows * cols)
        defer { product.deallocate() }
        DenseMatrix.multiplyTransposed(delta, rows: rows, hessian, rows: cols, depth: cols, into: product, pool: pool)
        var total = 0.0
        for i in 0..<(rows * cols) { total += Double(delta[i]) * Double(product[i]) }
        return total
    }

    /// Output error of GPTQ's result relative to round-to-nearest's (same
    /// block rule) on the calibration Hessian: what the compensation bought.
    public func errorRatio(_ result: Result, weights w: UnsafePointer<Float>, hessian: UnsafePointer<Float>,
                           pool: ThreadPool) -> Double {
        let rows = result.rows, cols = result.cols
        let codec = result.format.codec
        var gptqDelta = result.dequantized()
        var rtnDelta = [Float](repeating: 0, count: rows * cols)
        rtnDelta.withUnsafeMutableBufferPointer { rb in
            guard let r = rb.baseAddress else { return }
            for i in 0..<rows { codec.roundTrip(w + i * cols, cols: cols, into: r + i * cols) }
            for i in 0..<(rows * cols) { r[i] = w[i] - r[i] }
        }
        for i in 0..<(rows * cols) { gptqDelta[i] = w[i] - gptqDelta[i] }
        let ours = gptqDelta.withUnsafeBufferPointer { d in
            d.baseAddress.map { Self.outputError(delta: $0, rows: rows, cols: cols, hessian: hessian, pool: pool) } ?? 0
        }
        let rtn = rtnDelta.withUnsafeBufferPointer { d in
            d.baseAddress.map { Self.outputError(delta: $0, rows: rows, cols: cols, hessian: hessian, pool: pool) } ?? 0
        }
        return rtn > 0 ? ours / rtn : 1
    }

    /// The group's weights as the reference algorithm holds them when its loop
    /// reaches column j (the group's first): the best continuous values given
    /// that every column before j is quantized. `working` holds
    /// wₖ + Σ_{i<j} (wᵢ − qᵢ)·A[i,k]; in the closed form, the reference's
    /// intermediate value also assumes no error at columns j..<k, i.e. qᵢ = w'ᵢ
    /// there, which adds Σ_{j≤i<k} (wᵢ − w'ᵢ)·A[i,k] (O(g²) per group and row).
    static func conditionalWeights(working: UnsafePointer<Float>, original: UnsafePointer<Float>, a: UnsafePointer<Float>,
                                   n: Int, from j: Int, count: Int, into v: UnsafeMutablePointer<Float>) {
        for k in 0..<count {
            var s = working[j + k]
            for i in 0..<k { s += (original[j + i] - v[i]) * a[(j + i) * n + j + k] }
            v[k] = s
        }
    }
}
