import VerdantModels

/// The tensor shapes of a decoder, enough to count its parameters, bytes, FLOPs and KV cache
/// exactly. The same formulas are written once more as solver terms (`ShapeTerms`); the
/// tests hold both to the loader's count on real checkpoints.
public struct StudentShape: Sendable, Equatable, Codable {
    public var family: ArchitectureFamily
    public var layers: Int
    public var hidden: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var intermediate: Int
    public var vocab: Int
    public var context: Int
    public var tiedEmbeddings: Bool
    public var qkvBias: Bool
    public var outputBias: Bool
    public var mlpBias: Bool

    public init(family: ArchitectureFamily, layers: Int, hidden: Int, heads: Int, kvHeads: Int, headDim: Int,
                intermediate: Int, vocab: Int, context: Int, tiedEmbeddings: Bool,
                qkvBias: Bool = false, outputBias: Bool = false, mlpBias: Bool = false) {
        self.family = family
        self.layers = layers
        self.hidden = hidden
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.intermediate = intermediate
        self.vocab = vocab
        self.context = context
        self.tiedEmbeddings = tiedEmbeddings
        // gpt2's layout has every bias whatever the flags say.
        self.qkvBias = family == .gpt2 || qkvBias
        self.outputBias = family == .gpt2 || outputBias
        self.mlpBias = family == .gpt2 || mlpBias
    }

    /// The shape of a loaded checkpoint's config.
    public init(config c: ModelConfig) {
        self.init(family: c.family == .gpt2 ? .gpt2 : .llama, layers: c.numLayers, hidden: c.hiddenSize,
                  heads: c.numHeads, kvHeads: c.numKVHeads, headDim: c.headDim, intermediate: c.intermediateSize,
                  vocab: c.vocabSize, context: c.maxPositions, tiedEmbeddings: c.tieWordEmbeddings,
                  qkvBias: c.qkvBias, outputBias: c.outputBias, mlpBias: c.mlpBias)
    }

    /// The shape a configuration of `space` describes (missing kv_heads: one per head;
    /// missing tied_embeddings: tied, as small students usually are).
    public init(space: ConfigurationSpace, configuration: Configuration) throws {
        let v = space.values(of: configuration)
        func int(_ name: String) throws -> Int {
            guard let x = v[name]?.intValue else { throw SpaceError.malformed("no integer gene '\(name)'") }
            return x
        }
        let heads = try int(GeneName.attentionHeads)
        self.init(family: space.architecture, layers: try int(GeneName.layers), hidden: try int(GeneName.hiddenSize),
                  heads: heads, kvHeads: v[GeneName.kvHeads]?.intValue ?? heads, headDim: try int(GeneName.headSize),
                  intermediate: try int(GeneName.intermediateSize), vocab: try int(GeneName.vocabSize),
                  context: try int(GeneName.contextLength),
                  tiedEmbeddings: v[GeneName.tiedEmbeddings]?.boolValue ?? true, qkvBias: space.qkvBias,
                  outputBias: space.outputBias)
    }

    public var qDim: Int { heads * headDim }
    public var kvDim: Int { kvHeads * headDim }

    /// The linear layers' weight matrices of one block, as (rows = out, cols = in).
    public var blockMatrices: [(rows: Int, cols: Int)] {
        switch family {
        case .llama:
            return [(qDim, hidden), (kvDim, hidden), (kvDim, hidden), (hidden, qDim),
                    (intermediate, hidden), (intermediate, hidden), (hidden, intermediate)]
        case .gpt2:
            return [(qDim + 2 * kvDim, hidden), (hidden, qDim), (intermediate, hidden), (hidden, intermediate)]
        }
    }

    /// Elements of one block that are not matrices: norms and biases.
    public var blockVectorElements: Int {
        let norms = family == .llama ? 2 * hidden : 4 * hidden
        var biases = qkvBias ? qDim + 2 * kvDim : 0
        if outputBias { biases += hidden }
        if mlpBias { biases += family == .llama ? 2 * intermediate + hidden : intermediate + hidden }
        return norms + biases
    }

    /// Elements outside the blocks that are not the token embedding / output matrix:
    /// final norm, and gpt2's learned positions.
    public var headVectorElements: Int { family == .llama ? hidden : 2 * hidden }
    public var positionElements: Int { family == .gpt2 ? context * hidden : 0 }

    public var parameterCount: Int {
        let block = blockMatrices.reduce(0) { $0 + $1.rows * $1.cols } + blockVectorElements
        let embeddings = vocab * hidden * (tiedEmbeddings ? 1 : 2)
        return layers * block + embeddings + headVectorElements + positionElements
    }

    /// Bytes of the whole checkpoint stored as `storage` lays it out.
    public func bytes(_ storage: StorageFormat) -> Int {
        let block = blockMatrices.reduce(0) { $0 + $1.rows * storage.linear.rowBytes(cols: $1.cols) }
            + blockVectorElements * storage.vectorBytes
        let embeddings = vocab * storage.embedding.rowBytes(cols: hidden) * (tiedEmbeddings ? 1 : 2)
        return layers * block + embeddings + (headVectorElements + positionElements) * storage.vectorBytes
    }

    /// Weight bytes one decode step reads, as DecoderModel.weightBytesPerToken counts them:
    /// every linear matrix, the output projection, and the one embedding row looked up.
    public func weightBytesPerToken(_ storage: StorageFormat) -> Int {
        layers * blockMatrices.reduce(0) { $0 + $1.rows * storage.linear.rowBytes(cols: $1.cols) }
            + (vocab + 1) * storage.embedding.rowBytes(cols: hidden)
    }

    /// Analytic FLOPs of one decode step attending to `span` positions, counted as
    /// VerdantEval's `FLOPs.perToken` counts them (multiply-add = 2).
    public func flopsPerToken(span: Int) -> Int {
        let macs = layers * blockMatrices.reduce(0) { $0 + $1.rows * $1.cols } + vocab * hidden
        return 2 * macs + 4 * layers * heads * headDim * span
    }

    /// Bytes of the f32 key/value cache at full context.
    public var kvCacheBytes: Int { 2 * layers * kvDim * context * 4 }
}
