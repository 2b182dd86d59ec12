import VerdantTensors

/// One adapter to add to a store: the base linear, rank, scale and initial
/// values of A [r, in] and B [out, r] (B in checkpoint row order).
public struct LoRAInit: Sendable {
    public var base: String
    public var inFeatures: Int
    public var outFeatures: Int
    public var rank: Int
    public var scale: Float
    public var a: [Float]
    public var b: [Float]

    /// PEFT's initialisation: A kaiming-uniform with a = √5 (bound
    /// √(6 / ((1 + a²)·in)) = 1/√in), B zero, so the adapted model starts as the base.
    public init(linear: Linear, rank: Int, alpha: Float, rng: inout RandomSource) {
        base = linear.name
        inFeatures = linear.inFeatures
        outFeatures = linear.outFeatures
        self.rank = rank
        scale = alpha / Float(rank)
        let bound = 1 / Float(linear.inFeatures).squareRoot()
        a = (0..<rank * linear.inFeatures).map { _ in (rng.nextUnitFloat() * 2 - 1) * bound }
        b = [Float](repeating: 0, count: linear.outFeatures * rank)
    }

    public init(base: String, inFeatures: Int, outFeatures: Int, rank: Int, scale: Float, a: [Float], b: [Float]) {
        self.base = base
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.rank = rank
        self.scale = scale
        self.a = a
        self.b = b
    }
}

extension ParameterStore {
    /// A copy of `base` with LoRA adapters: the base tensors frozen, only A and B trainable.
    public convenience init(base: ParameterStore, adapters inits: [LoRAInit]) throws {
        var tensors: [(name: String, shape: [Int], dtype: DType, values: [Float])] = base.parameters.map {
            ($0.name, $0.shape, $0.sourceDType, base.checkpointValues($0.name) ?? [])
        }
        var adapters: [String: LoRAAdapter] = [:]
        for l in inits {
            guard base.parameter(l.base) != nil else { throw LoRAError("the model has no weight \(l.base) to adapt") }
            guard adapters[l.base] == nil else { throw LoRAError("two adapters on \(l.base)") }
            guard l.rank >= 1, l.rank <= min(l.inFeatures, l.outFeatures) else {
                throw LoRAError("LoRA rank \(l.rank) for \(l.base) [\(l.outFeatures) × \(l.inFeatures)] must lie in 1...\(min(l.inFeatures, l.outFeatures))")
            }
            guard l.a.count == l.rank * l.inFeatures, l.b.count == l.outFeatures * l.rank else {
                throw LoRAError("adapter of \(l.base) has \(l.a.count) + \(l.b.count) values, expected A [\(l.rank), \(l.inFeatures)] and B [\(l.outFeatures), \(l.rank)]")
            }
            let adapter = LoRAAdapter(base: l.base, rank: l.rank, scale: l.scale)
            adapters[l.base] = adapter
            tensors.append((adapter.a, [l.rank, l.inFeatures], .f32, l.a))
            tensors.append((adapter.b, [l.outFeatures, l.rank], .f32, l.b))
        }
        self.init(config: base.config, tensors: tensors)
        self.adapters = adapters
        adapterTensors = Set(adapters.values.flatMap { [$0.a, $0.b] })
        for p in parameters { setTrainable(p.name, adapterTensors.contains(p.name)) }
    }

    /// A copy of `base` with freshly initialised adapters (rank r, α) on the
    /// linears `targets` name; deterministic for `seed`.
    public convenience init(base: ParameterStore, rank: Int, alpha: Float, targets: [LoRATarget], seed: UInt64) throws {
        guard rank >= 1 else { throw LoRAError("--lora-rank must be ≥ 1, got \(rank)") }
        guard alpha.isFinite, alpha > 0 else { throw LoRAError("--lora-alpha must be > 0, got \(alpha)") }
        let linears = try base.model().loraLinears(targets)
        guard !linears.isEmpty else { throw LoRAError("no linear matches --targets \(targets.map(\.rawValue))") }
        var rng = RandomSource(seed: seed ^ 0x4C6F_5241_2D41)  // own stream: independent of the data order
        let inits = linears.map { LoRAInit(linear: $0, rank: rank, alpha: alpha, rng: &rng) }
        try self.init(base: base, adapters: inits)
    }

    /// Whether `name` is an adapter's A or B (not a tensor of the model itself).
    public func isAdapterTensor(_ name: String) -> Bool { adapterTensors.contains(name) }

    /// Values of model tensor `name` in checkpoint layout with its adapter merged:
    /// W + scale·B·A (what the adapted model computes, as one dense weight).
    public func mergedCheckpointValues(_ name: String) -> [Float]? {
        guard let ad = adapters[name], let p = parameter(name), let a = value(ad.a), let b = value(ad.b) else {
            return checkpointValues(name)
        }
        let s = p.layout.modelShape(p.shape), rows = s[0], cols = s[1], r = ad.rank
        // merged, scaledB: model layout [rows, cols], [rows, r]
        var merged = Array(UnsafeBufferPointer(start: values + p.offset, count: p.count))
        let scaledB = (0..<rows * r).map { b[$0] * ad.scale }
        let pool = ThreadPool(threads: 1)
        scaledB.withUnsafeBufferPointer { sb in
            merged.withUnsafeMutableBufferPointer { m in
                sgemm(transA: false, transB: false, m: rows, n: cols, k: r, a: sb.baseAddress!, lda: r, b: a, ldb: cols,
                      c: m.baseAddress!, ldc: cols, accumulate: true, pool: pool)
            }
        }
        return [Float](unsafeUninitializedCapacity: p.count) { buf, n in
            merged.withUnsafeBufferPointer { p.layout.toCheckpoint($0.baseAddress!, buf.baseAddress!, shape: p.shape) }
            n = p.count
        }
    }
}
