import VerdantModels

/// What a pruning removes, in the original model's indices. Scoring produces a
/// plan; applying it is pure slicing (see `PrunedWeights`). The pruning report
/// embeds the plan, and `verdant prune --plan` applies a saved one again.
public struct PruningPlan: Codable, Sendable, Equatable {
    /// Original layer indices kept, ascending; nil keeps every layer.
    public var keptLayers: [Int]?
    /// Intermediate neurons kept per (original) layer; nil keeps all.
    public var ffn: [LayerNeurons]?
    /// Attention heads kept per (original) layer; nil keeps all.
    public var heads: [LayerHeads]?
    /// Old token ids kept, ascending; a token's new id is its position here.
    public var vocabulary: [Int]?
    /// Hidden (residual stream) channels kept, ascending; nil keeps all. Slices the
    /// embedding and output columns, every norm, the input columns of q/k/v/gate/up
    /// and the output rows of o/down (llama family).
    public var hiddenChannels: [Int]?

    public struct LayerNeurons: Codable, Sendable, Equatable {
        public var layer: Int
        /// Neurons kept, ascending (the new intermediate order).
        public var kept: [Int]
        /// Kept neurons whose weights are zeroed: padding when layers keep
        /// different counts but the config has one `intermediate_size`.
        public var zeroed: [Int]

        public init(layer: Int, kept: [Int], zeroed: [Int] = []) {
            self.layer = layer
            self.kept = kept
            self.zeroed = zeroed
        }
    }

    public struct LayerHeads: Codable, Sendable, Equatable {
        public var layer: Int
        /// Query heads kept, ascending.
        public var keptHeads: [Int]
        /// Key/value heads (GQA groups) kept, ascending.
        public var keptKVHeads: [Int]
        /// Kept query heads whose weights are zeroed (GPT-2 family, where a
        /// config cannot express fewer heads).
        public var zeroedHeads: [Int]

        public init(layer: Int, keptHeads: [Int], keptKVHeads: [Int], zeroedHeads: [Int] = []) {
            self.layer = layer
            self.keptHeads = keptHeads
            self.keptKVHeads = keptKVHeads
            self.zeroedHeads = zeroedHeads
        }

        enum CodingKeys: String, CodingKey {
            case layer
            case keptHeads = "kept_heads"
            case keptKVHeads = "kept_kv_heads"
            case zeroedHeads = "zeroed_heads"
        }
    }

    enum CodingKeys: String, CodingKey {
        case keptLayers = "kept_layers"
        case ffn
        case heads
        case vocabulary = "vocabulary_kept_ids"
        case hiddenChannels = "kept_hidden_channels"
    }

    public init(keptLayers: [Int]? = nil, ffn: [LayerNeurons]? = nil, heads: [LayerHeads]? = nil, vocabulary: [Int]? = nil,
                hiddenChannels: [Int]? = nil) {
        self.keptLayers = keptLayers
        self.ffn = ffn
        self.heads = heads
        self.vocabulary = vocabulary
        self.hiddenChannels = hiddenChannels
    }

    public var isEmpty: Bool { keptLayers == nil && ffn == nil && heads == nil && vocabulary == nil && hiddenChannels == nil }

    public func layers(of config: ModelConfig) -> [Int] { keptLayers ?? Array(0..<config.numLayers) }

    public func neurons(layer: Int) -> LayerNeurons? { ffn?.first { $0.layer == layer } }
    public func heads(layer: Int) -> LayerHeads? { heads?.first { $0.layer == layer } }

    /// The model config after the plan: what Verdant runs and config.json declares.
    public func apply(to c: ModelConfig, embeddingRows: Int) -> ModelConfig {
        var out = c
        out.numLayers = layers(of: c).count
        if let first = ffn?.first { out.intermediateSize = first.kept.count }
        if let first = heads?.first {
            out.numHeads = first.keptHeads.count
            out.numKVHeads = first.keptKVHeads.count
        }
        if let hiddenChannels { out.hiddenSize = hiddenChannels.count }
        out.vocabSize = vocabulary?.count ?? embeddingRows
        let v = out.vocabSize
        if let map = vocabularyMap {
            out.bosTokenIds = c.bosTokenIds.compactMap { map[$0] }.filter { $0 < v }
            out.eosTokenIds = c.eosTokenIds.compactMap { map[$0] }.filter { $0 < v }
        }
        return out
    }

    /// Old id → new id, when the vocabulary is pruned.
    public var vocabularyMap: [Int: Int]? {
        guard let vocabulary else { return nil }
        var m: [Int: Int] = [:]
        m.reserveCapacity(vocabulary.count)
        for (new, old) in vocabulary.enumerated() { m[old] = new }
        return m
    }

    /// Checks the plan against the model it is applied to.
    public func validate(config c: ModelConfig, embeddingRows: Int) throws(PruningError) {
        func ascendingUnique(_ xs: [Int], below n: Int) -> Bool {
            guard let first = xs.first, first >= 0, let last = xs.last, last < n else { return xs.isEmpty }
            return zip(xs, xs.dropFirst()).allSatisfy { $0 < $1 }
        }
        let layers = layers(of: c)
        if let keptLayers {
            guard !keptLayers.isEmpty else { throw .invalidPlan("kept_layers is empty: at least one layer must stay") }
            guard ascendingUnique(keptLayers, below: c.numLayers) else {
                throw .invalidPlan("kept_layers must be ascending, distinct and below \(c.numLayers)")
            }
        }
        if let ffn {
            guard Set(ffn.map(\.layer)) == Set(layers), ffn.count == layers.count else {
                throw .invalidPlan("ffn must list every kept layer exactly once (layers \(layers))")
            }
            let width = ffn.first?.kept.count ?? 0
            for l in ffn {
                guard !l.kept.isEmpty, ascendingUnique(l.kept, below: c.intermediateSize) else {
                    throw .invalidPlan("ffn layer \(l.layer): kept neurons must be non-empty, ascending, distinct and below \(c.intermediateSize)")
                }
                guard l.kept.count == width else {
                    throw .invalidPlan("ffn layer \(l.layer) keeps \(l.kept.count) neurons, layer \(ffn[0].layer) keeps \(width): the config has one intermediate_size")
                }
                guard Set(l.zeroed).isSubset(of: Set(l.kept)) else { throw .invalidPlan("ffn layer \(l.layer): zeroed neurons must be kept ones") }
            }
        }
        if let heads {
            guard Set(heads.map(\.layer)) == Set(layers), heads.count == layers.count else {
                throw .invalidPlan("heads must list every kept layer exactly once (layers \(layers))")
            }
            let group = c.numHeads / c.numKVHeads
            let first = heads.first
            for l in heads {
                guard !l.keptHeads.isEmpty, ascendingUnique(l.keptHeads, below: c.numHeads),
                      !l.keptKVHeads.isEmpty, ascendingUnique(l.keptKVHeads, below: c.numKVHeads) else {
                    throw .invalidPlan("heads layer \(l.layer): kept heads / kv heads must be non-empty, ascending, distinct and in range")
                }
                guard l.keptHeads.count == first?.keptHeads.count, l.keptKVHeads.count == first?.keptKVHeads.count else {
                    throw .invalidPlan("heads layer \(l.layer): every layer must keep the same numbers of heads and kv heads")
                }
                let kv = Set(l.keptKVHeads)
                guard l.keptHeads.allSatisfy({ kv.contains($0 / group) }) else {
                    throw .invalidPlan("heads layer \(l.layer): a kept query head reads a removed kv head")
                }
                guard l.keptHeads.count % l.keptKVHeads.count == 0,
                      l.keptKVHeads.allSatisfy({ g in l.keptHeads.filter { $0 / group == g }.count == l.keptHeads.count / l.keptKVHeads.count })
                else {
                    throw .invalidPlan("heads layer \(l.layer): every kept kv head must keep the same number of query heads")
                }
                guard Set(l.zeroedHeads).isSubset(of: Set(l.keptHeads)) else {
                    throw .invalidPlan("heads layer \(l.layer): zeroed heads must be kept ones")
                }
                if c.family == .gpt2 && (l.keptHeads.count != c.numHeads || l.keptKVHeads.count != c.numKVHeads) {
                    throw .invalidPlan("\(c.modelType) derives head_dim from n_embd / n_head, so heads can only be zeroed, not removed")
                }
            }
        }
        if let hiddenChannels {
            guard c.family == .llama else {
                throw .invalidPlan("\(c.modelType) ties its head size to the hidden size (n_embd / n_head): hidden channels can only be pruned in the llama family (llama, mistral, qwen2)")
            }
            guard !hiddenChannels.isEmpty, ascendingUnique(hiddenChannels, below: c.hiddenSize) else {
                throw .invalidPlan("kept_hidden_channels must be non-empty, ascending, distinct and below the hidden size (\(c.hiddenSize))")
            }
        }
        if let vocabulary {
            guard !vocabulary.isEmpty, ascendingUnique(vocabulary, below: embeddingRows) else {
                throw .invalidPlan("vocabulary_kept_ids must be non-empty, ascending, distinct and below the embedding rows (\(embeddingRows))")
            }
        }
    }
}

/// A pruning request or plan that cannot be carried out, and why.
public enum PruningError: Error, CustomStringConvertible, Equatable {
    case invalidOption(String)
    case invalidPlan(String)
    case unsupported(String)
    case input(String)
    case output(String)

    public var description: String {
        switch self {
        case .invalidOption(let m): return m
        case .invalidPlan(let m): return "invalid pruning plan: \(m)"
        case .unsupported(let m): return "cannot prune: \(m)"
        case .input(let m): return m
        case .output(let m): return "cannot write the pruned model: \(m)"
        }
    }
}
