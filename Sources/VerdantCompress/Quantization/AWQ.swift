import VerdantModels
import VerdantTensors
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// AWQ-style activation-aware scaling (Lin et al. 2023). A few input channels
/// carry much larger activations than the rest; their weights matter more for
/// the output, but a block's scale is set by its largest weight, not by what
/// the inputs make important. Multiplying input channel c of W by s_c > 1 (and
/// dividing the input by s_c) gives those weights a finer relative grid
/// without changing the float function. Per group of linears sharing an
/// input, s = mean|x|^α is searched over α ∈ {0, 1/grid, …, 1} to minimise
/// ‖X·Wᵀ − X·(Q(W·diag s)·diag s⁻¹)ᵀ‖² on sampled calibration inputs, with Q
/// the recipe's format for each linear; then s is folded: W ← W·diag(s) and
/// the operation producing the input is divided by s (a norm's weight and
/// bias, or the rows of the previous linear when the path between them is
/// linear per channel).
public struct AWQ: Sendable {
    /// Linears sharing one input, and what produces that input.
    public struct Group: Sendable {
        public enum Previous: Sendable, Equatable {
            /// RMSNorm / LayerNorm parameters (bias: LayerNorm only).
            case norm(weight: String, bias: String?)
            /// A linear whose output row rowOf[c] (and bias entry) becomes input channel c:
            /// v_proj → o_proj through attention (a per-channel weighted sum of values),
            /// up_proj → down_proj through act(gate)·up (linear in up).
            case rows(matrix: String, bias: String?, rowOf: [Int])
        }
        public let layer: Int
        public let linears: [String]
        public let inFeatures: Int
        public let previous: Previous
        /// The key activation statistics and samples are stored under.
        public var site: String { linears[0] }
    }

    /// α steps: α = i/grid, i = 0...grid.
    public var grid = 20
    /// Calibration rows (tokens) the search measures the output error on.
    public var sampleRows = 512
    /// Output rows of each linear the search quantizes (evenly spaced). Rows are
    /// quantized independently, so the error over a subset estimates the total
    /// without bias; 256 rows keep the search's cost (21 quantizations of every
    /// matrix, with the importance scale search when enabled) well below the
    /// calibration pass's.
    public var searchRows = 256

    public init(grid: Int = 20, sampleRows: Int = 512, searchRows: Int = 256) {
        self.grid = max(1, grid)
        self.sampleRows = max(1, sampleRows)
        self.searchRows = max(1, searchRows)
    }

    // MARK: groups

    /// The groups of `model` whose input scaling can be folded away, and why others were skipped.
    public static func groups(model: DecoderModel, weights: FloatWeights) -> (groups: [Group], skipped: [String]) {
        let c = model.config
        var groups: [Group] = [], skipped: [String] = []
        let checkpoint = weights.checkpoint
        func exists(_ name: String) -> Bool { checkpoint.info(name) != nil }
        func bias(of weight: String) -> String? {
            guard weight.hasSuffix(".weight") else { return nil }
            let b = String(weight.dropLast(".weight".count)) + ".bias"
            return exists(b) ? b : nil
        }
        /// `name` with its last occurrence of `suffix` replaced by `new`.
        func sibling(_ name: String, _ suffix: String, _ new: String) -> String? {
            guard name.hasSuffix(suffix) else { return nil }
            return String(name.dropLast(suffix.count)) + new
        }
        func norm(_ name: String?, hasBias: Bool) -> Group.Previous? {
            guard let name, name.hasSuffix(".weight"), exists(name) else { return nil }
            let b = String(name.dropLast(".weight".count)) + ".bias"
            return .norm(weight: name, bias: hasBias && exists(b) ? b : nil)
        }
        let sameHeads = c.numKVHeads == c.numHeads
        for (l, layer) in model.layers.enumerated() {
            switch layer.attention {
            case .separate(let q, let k, let v):
                if let prev = norm(sibling(q.name, "self_attn.q_proj.weight", "input_layernorm.weight"), hasBias: false) {
                    groups.append(Group(layer: l, linears: [q.name, k.name, v.name], inFeatures: q.inFeatures, previous: prev))
                } else {
                    skipped.append("\(q.name): attention norm not found")
                }
                if sameHeads && v.outFeatures == layer.output.inFeatures {
                    groups.append(Group(layer: l, linears: [layer.output.name], inFeatures: layer.output.inFeatures,
                                        previous: .rows(matrix: v.name, bias: bias(of: v.name), rowOf: Array(0..<v.outFeatures))))
                } else {
                    skipped.append("\(layer.output.name): grouped-query attention, v_proj rows do not map to o_proj inputs")
                }
            case .fused(let qkv):
                if let prev = norm(sibling(qkv.name, "attn.c_attn.weight", "ln_1.weight"), hasBias: true) {
                    groups.append(Group(layer: l, linears: [qkv.name], inFeatures: qkv.inFeatures, previous: prev))
                } else {
                    skipped.append("\(qkv.name): attention norm not found")
                }
                if sameHeads && c.kvDim == layer.output.inFeatures {
                    // Which stored row of c_attn produces attention channel ch = head·d + j.
                    let d = c.headDim
                    let rowOf: [Int] = (0..<c.kvDim).map { ch in
                        // gpt_bigcode without multi-query stores rows per head as [q_h, k_h, v_h].
                        c.modelType == "gpt_bigcode" ? (ch / d) * 3 * d + 2 * d + ch % d : c.qDim + c.kvDim + ch
                    }
                    groups.append(Group(layer: l, linears: [layer.output.name], inFeatures: layer.output.inFeatures,
                                        previous: .rows(matrix: qkv.name, bias: bias(of: qkv.name), rowOf: rowOf)))
                } else {
                    skipped.append("\(layer.output.name): multi-query attention, value rows do not map to c_proj inputs")
                }
            }
            switch layer.mlp {
            case .gated(let gate, let up, let down):
                if let prev = norm(sibling(gate.name, "mlp.gate_proj.weight", "post_attention_layernorm.weight"), hasBias: false) {
                    groups.append(Group(layer: l, linears: [gate.name, up.name], inFeatures: gate.inFeatures, previous: prev))
                } else {
                    skipped.append("\(gate.name): MLP norm not found")
                }
                groups.append(Group(layer: l, linears: [down.name], inFeatures: down.inFeatures,
                                    previous: .rows(matrix: up.name, bias: bias(of: up.name), rowOf: Array(0..<up.outFeatures))))
            case .plain(let up, let down):
                if let prev = norm(sibling(up.name, "mlp.c_fc.weight", "ln_2.weight"), hasBias: true) {
                    groups.append(Group(layer: l, linears: [up.name], inFeatures: up.inFeatures, previous: prev))
                } else {
                    skipped.append("\(up.name): MLP norm not found")
                }
                // relu(x/s) = relu(x)/s for s > 0; GELU and friends are not positively homogeneous.
                if c.activation == .relu {
                    groups.append(Group(layer: l, linears: [down.name], inFeatures: down.inFeatures,
                                        previous: .rows(matrix: up.name, bias: bias(of: up.name), rowOf: Array(0..<up.outFeatures))))
                } else {
                    skipped.append("\(down.name): the MLP activation is not positively homogeneous")
                }
            }
        }
        return (groups, skipped)
    }

    // MARK: search

    /// One linear of a group as the search sees it.
    public struct Member {
        public var weights: [Float]
        public var rows: Int
        public var format: WeightFormat
        /// Importance (E[x²] of the unscaled input) for the RTN scale search, if used.
        public var importance: [Float]?

        public init(weights: [Float], rows: Int, format: WeightFormat, importance: [Float]?) {
            self.weights = weights
            self.rows = rows
            self.format = format
            self.importance = importance
        }

        /// At most `limit` evenly spaced rows.
        func subsampled(rows limit: Int, cols: Int) -> Member {
            guard rows > limit, weights.count == rows * cols else { return self }
            var picked: [Float] = []
            picked.reserveCapacity(limit * cols)
            for i in 0..<limit {
                let r = i * rows / limit
                picked.append(contentsOf: weights[(r * cols)..<((r + 1) * cols)])
            }
            return Member(weights: picked, rows: limit, format: format, importance: importance)
        }
    }

    public struct SearchResult: Sendable {
        public var alpha: Float
        public var scales: [Float]
        /// Output error for α = i/grid.
        public var errors: [Double]
    }

    /// s = mean|x|^α, clamped at 1e-4 and normalised so that √(max·min) = 1 (as AutoAWQ does).
    public static func scales(meanAbs: [Float], alpha: Float) -> [Float] {
        var s = meanAbs.map { max(powf(max($0, 0), alpha), 1e-4) }
        guard let hi = s.max(), let lo = s.min() else { return s }
        let norm = (hi * lo).squareRoot()
        if norm > 0 && norm.isFinite { s = s.map { $0 / norm } }
        return s
    }

    /// Searches α on x [rows, cols] for the members sharing that input.
    public func search(x: [Float], rows n: Int, meanAbs: [Float], members: [Member], pool: ThreadPool) -> SearchResult {
        let cols = meanAbs.count
        let members = members.map { $0.subsampled(rows: searchRows, cols: cols) }
        var errors: [Double] = []
        var best = SearchResult(alpha: 0, scales: [Float](repeating: 1, count: cols), errors: [])
        var bestError = Double.infinity
        for i in 0...grid {
            let alpha = Float(i) / Float(grid)
            let s = Self.scales(meanAbs: meanAbs, alpha: alpha)
            var error = 0.0
            for m in members where m.format.isQuantized {
                error += Self.outputError(x: x, rows: n, member: m, scales: s, pool: pool)
            }
            errors.append(error)
            if error < bestError {
                bestError = error
                best.alpha = alpha
                best.scales = s
            }
        }
        best.errors = errors
        return best
    }

    /// ‖X·(W − Q(W·diag s)·diag s⁻¹)ᵀ‖² (importance for Q's scale search: E[x²]/s², the scaled input's).
    static func outputError(x: [Float], rows n: Int, member m: Member, scales s: [Float], pool: ThreadPool) -> Double {
        let cols = s.count, rows = m.rows
        guard n > 0, rows > 0, cols > 0 else { return 0 }
        let codec = m.format.codec
        var delta = [Float](repeating: 0, count: rows * cols)
        let importance = m.importance.map { imp in (0..<cols).map { imp[$0] / (s[$0] * s[$0]) } }
        delta.withUnsafeMutableBufferPointer { db in
            m.weights.withUnsafeBufferPointer { wb in
                s.withUnsafeBufferPointer { sb in
                    (importance ?? []).withUnsafeBufferPointer { ib in
                        guard let d = db.baseAddress, let w = wb.baseAddress, let sp = sb.baseAddress else { return }
                        let imp = importance == nil ? nil : ib.baseAddress
                        let tasks = min(rows, pool.threads * 4)
                        pool.run(tasks) { t in
                            var scaled = [Float](repeating: 0, count: cols), q = [Float](repeating: 0, count: cols)
                            for r in (t * rows / tasks)..<((t + 1) * rows / tasks) {
                                let wr = w + r * cols
                                for c in 0..<cols { scaled[c] = wr[c] * sp[c] }
                                scaled.withUnsafeBufferPointer { sc in
                                    q.withUnsafeMutableBufferPointer { qb in
                                        guard let src = sc.baseAddress, let dst = qb.baseAddress else { return }
                                        codec.roundTrip(src, cols: cols, into: dst, importance: imp)
                                    }
                                }
                                for c in 0..<cols { d[r * cols + c] = wr[c] - q[c] / sp[c] }
                            }
                        }
                    }
                }
            }
        }
        var y = [Float](repeating: 0, count: n * rows)
        x.withUnsafeBufferPointer { xb in
            delta.withUnsafeBufferPointer { db in
                y.withUnsafeMutableBufferPointer { yb in
                    guard let xp = xb.baseAddress, let dp = db.baseAddress, let yp = yb.baseAddress else { return }
                    DenseMatrix.multiplyTransposed(xp, rows: n, dp, rows: rows, depth: cols, into: yp, pool: pool)
                }
            }
        }
        return y.reduce(0.0) { $0 + Double($1) * Double($1) }
    }

    // MARK: folding

    /// W ← W·diag(s) for the group's linears, previous op ← divided by s. The
    /// float function is unchanged (up to rounding).
    public static func fold(_ group: Group, scales s: [Float], into weights: FloatWeights) throws {
        guard s.count == group.inFeatures else {
            throw QuantizeError("AWQ: \(s.count) scales for \(group.inFeatures) input channels of \(group.site)")
        }
        for name in group.linears {
            guard let shape = weights.matrixShape(name), shape.cols == s.count else {
                throw QuantizeError("AWQ: \(name) does not have \(s.count) input channels")
            }
            var w = try weights.matrix(name)
            for r in 0..<shape.rows {
                for c in 0..<shape.cols { w[r * shape.cols + c] *= s[c] }
            }
            try weights.replace(name, with: w)
        }
        switch group.previous {
        case .norm(let weight, let bias):
            for name in [weight] + (bias.map { [$0] } ?? []) {
                var v = try weights.vector(name)
                guard v.count == s.count else { throw QuantizeError("AWQ: \(name) has \(v.count) entries, expected \(s.count)") }
                for c in 0..<v.count { v[c] /= s[c] }
                try weights.replace(name, with: v)
            }
        case .rows(let matrix, let bias, let rowOf):
            guard let shape = weights.matrixShape(matrix), rowOf.count == s.count, rowOf.allSatisfy({ $0 >= 0 && $0 < shape.rows }) else {
                throw QuantizeError("AWQ: the rows of \(matrix) do not match the \(s.count) inputs of \(group.site)")
            }
            var w = try weights.matrix(matrix)
            for (c, r) in rowOf.enumerated() {
                for k in 0..<shape.cols { w[r * shape.cols + k] /= s[c] }
            }
            try weights.replace(matrix, with: w)
            if let bias {
                var b = try weights.vector(bias)
                guard b.count == shape.rows else { throw QuantizeError("AWQ: \(bias) has \(b.count) entries, expected \(shape.rows)") }
                for (c, r) in rowOf.enumerated() { b[r] /= s[c] }
                try weights.replace(bias, with: b)
            }
        }
    }
}

/// Every `stride`-th calibration row of each linear input, up to `capacity`
/// rows per input: the inputs AWQ's search measures output errors on.
final class ActivationSampler: ForwardObserver {
    let stride: Int
    let capacity: Int
    private(set) var samples: [String: [Float]] = [:]
    private(set) var counts: [String: Int] = [:]
    private var seen: [String: Int] = [:]

    init(stride: Int, capacity: Int) {
        self.stride = max(1, stride)
        self.capacity = capacity
    }

    func linearInput(layer: Int, linears: [Linear], x: UnsafePointer<Float>, rows: Int) {
        guard let first = linears.first else { return }
        let key = first.name, cols = first.inFeatures
        var seenSoFar = seen[key] ?? 0, kept = counts[key] ?? 0
        for r in 0..<rows {
            if seenSoFar % stride == 0 && kept < capacity {
                samples[key, default: []].append(contentsOf: UnsafeBufferPointer(start: x + r * cols, count: cols))
                kept += 1
            }
            seenSoFar += 1
        }
        seen[key] = seenSoFar
        counts[key] = kept
    }
}
