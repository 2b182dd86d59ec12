/// The architecture-independent description of a decoder that the model
/// implementation runs. Each supported `model_type` has its own Codable config
/// (Hugging Face key names) that normalizes into this.
public struct ModelConfig: Sendable, Equatable {
    public enum Family: String, Sendable {
        /// Pre-norm RMSNorm, RoPE, SwiGLU, separate q/k/v/o (llama, mistral, qwen2).
        case llama
        /// Pre-norm LayerNorm, learned positions, GELU MLP, fused qkv (gpt2, gpt_bigcode).
        case gpt2
    }

    public var modelType: String
    public var family: Family
    public var vocabSize: Int
    public var hiddenSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var numKVHeads: Int
    public var headDim: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    public var normEps: Float
    public var activation: Activation
    /// nil for learned absolute positions.
    public var rope: RoPEConfig?
    public var tieWordEmbeddings: Bool
    /// Bias on the q/k/v projections.
    public var qkvBias: Bool
    /// Bias on the attention output projection.
    public var outputBias: Bool
    public var mlpBias: Bool
    /// Sliding-window attention span, when the model restricts attention to it.
    public var slidingWindow: Int?
    public var bosTokenIds: [Int]
    public var eosTokenIds: [Int]
    /// Storage dtype the checkpoint declares (informational).
    public var declaredDType: String?

    public var qDim: Int { numHeads * headDim }
    public var kvDim: Int { numKVHeads * headDim }
}

public enum Activation: String, Sendable {
    case silu
    /// Exact GELU (erf).
    case gelu
    /// GELU with the tanh approximation (gelu_new, gelu_pytorch_tanh, gelu_fast).
    case geluTanh
    case relu

    public init(huggingFace name: String) throws {
        switch name {
        case "silu", "swish": self = .silu
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
        case "relu": self = .relu
        default: throw ConfigError.unsupported("activation function '\(name)'")
        }
    }
}

public struct RoPEConfig: Sendable, Equatable {
    public enum Scaling: Sendable, Equatable {
        case none
        /// Positions divided by `factor` (transformers "linear").
        case linear(factor: Float)
        /// Llama 3.1 frequency-dependent scaling.
        case llama3(factor: Float, lowFreqFactor: Float, highFreqFactor: Float, originalMaxPositions: Int)
    }
    public var theta: Float
    public var scaling: Scaling
    /// Rotated dimensions per head (= head_dim unless partial rotary).
    public var rotaryDim: Int
}

public enum ConfigError: Error, CustomStringConvertible, Equatable {
    case missingFile(String)
    case malformed(String)
    case unknownModelType(String)
    case unsupported(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .missingFile(let p): return "config.json not found: \(p)"
        case .malformed(let m): return "malformed config.json: \(m)"
        case .unknownModelType(let t):
            return "unknown model_type '\(t)' (supported: \(ModelRegistry.supportedModelTypes.joined(separator: ", ")))"
        case .unsupported(let m): return "unsupported model feature: \(m)"
        case .invalid(let m): return "invalid config.json: \(m)"
        }
    }
}
