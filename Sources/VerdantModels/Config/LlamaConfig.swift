import Foundation

/// config.json of the Llama family (model_type llama, mistral, qwen2), with the
/// Hugging Face key names. They share one implementation and differ in biases,
/// defaults and sliding-window attention.
struct LlamaConfig: Decodable {
    var vocabSize: Int?
    var hiddenSize: Int?
    var intermediateSize: Int?
    var numHiddenLayers: Int?
    var numAttentionHeads: Int?
    var numKeyValueHeads: Int?
    var headDim: Int?
    var hiddenAct: String?
    var maxPositionEmbeddings: Int?
    var rmsNormEps: Double?
    var ropeTheta: Double?
    var ropeScaling: RoPEParameters?
    var ropeParameters: RoPEParameters?
    var tieWordEmbeddings: Bool?
    var attentionBias: Bool?
    var mlpBias: Bool?
    var slidingWindow: Int?
    var useSlidingWindow: Bool?
    var bosTokenId: TokenIDList?
    var eosTokenId: TokenIDList?
    var torchDtype: String?
    var dtype: String?
    var pretrainingTp: Int?

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size"
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads"
        case headDim = "head_dim"
        case hiddenAct = "hidden_act"
        case maxPositionEmbeddings = "max_position_embeddings"
        case rmsNormEps = "rms_norm_eps"
        case ropeTheta = "rope_theta"
        case ropeScaling = "rope_scaling"
        case ropeParameters = "rope_parameters"
        case tieWordEmbeddings = "tie_word_embeddings"
        case attentionBias = "attention_bias"
        case mlpBias = "mlp_bias"
        case slidingWindow = "sliding_window"
        case useSlidingWindow = "use_sliding_window"
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
        case torchDtype = "torch_dtype"
        case dtype
        case pretrainingTp = "pretraining_tp"
    }

    static func parse(_ data: Data, modelType: String) throws -> ModelConfig {
        let c = try JSONDecoder().decode(LlamaConfig.self, from: data)
        let hidden = try requirePositive(c.hiddenSize, "hidden_size")
        let heads = try requirePositive(c.numAttentionHeads, "num_attention_heads")
        let kvHeads = try requirePositive(c.numKeyValueHeads ?? heads, "num_key_value_heads")
        guard c.headDim != nil || hidden % heads == 0 else {
            throw ConfigError.invalid("hidden_size \(hidden) is not divisible by num_attention_heads \(heads) and no head_dim is given")
        }
        let headDim = try requirePositive(c.headDim ?? hidden / heads, "head_dim")
        var window: Int? = nil
        switch modelType {
        case "mistral":
            window = c.slidingWindow
        case "qwen2":
            if c.useSlidingWindow == true {
                throw ConfigError.unsupported("qwen2 use_sliding_window=true")
            }
        default:
            break
        }
        if let w = window, w <= 0 { throw ConfigError.invalid("sliding_window must be positive, got \(w)") }
        let attentionBias = c.attentionBias ?? false
        return ModelConfig(
            modelType: modelType,
            family: .llama,
            vocabSize: try requirePositive(c.vocabSize, "vocab_size"),
            hiddenSize: hidden,
            numLayers: try requirePositive(c.numHiddenLayers, "num_hidden_layers"),
            numHeads: heads,
            numKVHeads: kvHeads,
            headDim: headDim,
            intermediateSize: try requirePositive(c.intermediateSize, "intermediate_size"),
            maxPositions: try requirePositive(c.maxPositionEmbeddings ?? (modelType == "llama" ? 2048 : 32768), "max_position_embeddings"),
            normEps: Float(c.rmsNormEps ?? 1e-6),
            activation: try Activation(huggingFace: c.hiddenAct ?? "silu"),
            rope: try resolveRoPE(topLevelTheta: c.ropeTheta, parameters: c.ropeParameters, scaling: c.ropeScaling, headDim: headDim),
            tieWordEmbeddings: c.tieWordEmbeddings ?? false,
            // Qwen2 hard-codes bias on q/k/v and none on o_proj; Mistral has none.
            qkvBias: modelType == "qwen2" ? true : (modelType == "mistral" ? false : attentionBias),
            outputBias: modelType == "llama" ? attentionBias : false,
            mlpBias: modelType == "llama" ? (c.mlpBias ?? false) : false,
            slidingWindow: window,
            bosTokenIds: c.bosTokenId?.ids ?? [],
            eosTokenIds: c.eosTokenId?.ids ?? [],
            declaredDType: c.dtype ?? c.torchDtype)
    }
}
