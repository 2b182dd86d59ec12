import Foundation

/// config.json of GPT-2 (model_type gpt2).
struct GPT2Config: Decodable {
    var vocabSize: Int?
    var nPositions: Int?
    var nEmbd: Int?
    var nLayer: Int?
    var nHead: Int?
    var nInner: Int?
    var activationFunction: String?
    var layerNormEpsilon: Double?
    var tieWordEmbeddings: Bool?
    var scaleAttnWeights: Bool?
    var scaleAttnByInverseLayerIdx: Bool?
    var addCrossAttention: Bool?
    var multiQuery: Bool?
    var bosTokenId: TokenIDList?
    var eosTokenId: TokenIDList?
    var torchDtype: String?
    var dtype: String?

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size"
        case nPositions = "n_positions"
        case nEmbd = "n_embd"
        case nLayer = "n_layer"
        case nHead = "n_head"
        case nInner = "n_inner"
        case activationFunction = "activation_function"
        case layerNormEpsilon = "layer_norm_epsilon"
        case tieWordEmbeddings = "tie_word_embeddings"
        case scaleAttnWeights = "scale_attn_weights"
        case scaleAttnByInverseLayerIdx = "scale_attn_by_inverse_layer_idx"
        case addCrossAttention = "add_cross_attention"
        case multiQuery = "multi_query"
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
        case torchDtype = "torch_dtype"
        case dtype
    }

    static func parse(_ data: Data) throws -> ModelConfig {
        try JSONDecoder().decode(GPT2Config.self, from: data).normalized(modelType: "gpt2", defaultActivation: "gelu_new", kvHeadsFromMultiQuery: false)
    }

    func normalized(modelType: String, defaultActivation: String, kvHeadsFromMultiQuery: Bool) throws -> ModelConfig {
        if scaleAttnWeights == false { throw ConfigError.unsupported("scale_attn_weights=false") }
        if scaleAttnByInverseLayerIdx == true { throw ConfigError.unsupported("scale_attn_by_inverse_layer_idx=true") }
        if addCrossAttention == true { throw ConfigError.unsupported("add_cross_attention=true (encoder-decoder)") }
        let hidden = try requirePositive(nEmbd, "n_embd")
        let heads = try requirePositive(nHead, "n_head")
        guard hidden % heads == 0 else { throw ConfigError.invalid("n_embd \(hidden) is not divisible by n_head \(heads)") }
        let kvHeads = kvHeadsFromMultiQuery && (multiQuery ?? true) ? 1 : heads
        return ModelConfig(
            modelType: modelType,
            family: .gpt2,
            vocabSize: try requirePositive(vocabSize, "vocab_size"),
            hiddenSize: hidden,
            numLayers: try requirePositive(nLayer, "n_layer"),
            numHeads: heads,
            numKVHeads: kvHeads,
            headDim: hidden / heads,
            intermediateSize: try requirePositive(nInner ?? 4 * hidden, "n_inner"),
            maxPositions: try requirePositive(nPositions, "n_positions"),
            normEps: Float(layerNormEpsilon ?? 1e-5),
            activation: try Activation(huggingFace: activationFunction ?? defaultActivation),
            rope: nil,
            tieWordEmbeddings: tieWordEmbeddings ?? true,
            qkvBias: true,
            outputBias: true,
            mlpBias: true,
            slidingWindow: nil,
            bosTokenIds: bosTokenId?.ids ?? [],
            eosTokenIds: eosTokenId?.ids ?? [],
            declaredDType: dtype ?? torchDtype)
    }
}

/// config.json of StarCoder-style models (model_type gpt_bigcode): GPT-2 with
/// multi-query attention and nn.Linear (not Conv1D) weight layout.
enum GPTBigCodeConfig {
    static func parse(_ data: Data) throws -> ModelConfig {
        try JSONDecoder().decode(GPT2Config.self, from: data)
            .normalized(modelType: "gpt_bigcode", defaultActivation: "gelu_pytorch_tanh", kvHeadsFromMultiQuery: true)
    }
}
