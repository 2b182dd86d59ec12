/// Token ids in config.json appear as a number, a list of numbers or null.
struct TokenIDList: Decodable, Sendable {
    var ids: [Int]
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { ids = []; return }
        if let one = try? c.decode(Int.self) { ids = [one]; return }
        ids = try c.decode([Int].self)
    }
}

/// The RoPE block of either layout: transformers ≥ 5 nests `rope_theta` and the
/// scaling keys in `rope_parameters`; older checkpoints put `rope_theta` at the
/// top level and the scaling keys in `rope_scaling`.
struct RoPEParameters: Decodable, Sendable {
    var ropeType: String?
    var type: String?
    var ropeTheta: Double?
    var factor: Double?
    var lowFreqFactor: Double?
    var highFreqFactor: Double?
    var originalMaxPositionEmbeddings: Int?
    var partialRotaryFactor: Double?

    enum CodingKeys: String, CodingKey {
        case ropeType = "rope_type"
        case type
        case ropeTheta = "rope_theta"
        case factor
        case lowFreqFactor = "low_freq_factor"
        case highFreqFactor = "high_freq_factor"
        case originalMaxPositionEmbeddings = "original_max_position_embeddings"
        case partialRotaryFactor = "partial_rotary_factor"
    }

    var kind: String { ropeType ?? type ?? "default" }
}

/// Resolves theta and scaling from the two layouts; the nested one wins.
func resolveRoPE(topLevelTheta: Double?, parameters: RoPEParameters?, scaling: RoPEParameters?,
                 headDim: Int, defaultTheta: Double = 10000) throws -> RoPEConfig {
    let theta = parameters?.ropeTheta ?? topLevelTheta ?? scaling?.ropeTheta ?? defaultTheta
    guard theta.isFinite, theta > 1 else { throw ConfigError.invalid("rope_theta must be > 1, got \(theta)") }
    // The scaling keys live in rope_parameters (new) or rope_scaling (old).
    let s: RoPEParameters? = {
        if let p = parameters, p.kind != "default" { return p }
        return scaling
    }()
    var result = RoPEConfig(theta: Float(theta), scaling: .none, rotaryDim: headDim)
    if let p = parameters?.partialRotaryFactor ?? scaling?.partialRotaryFactor, p != 1 {
        throw ConfigError.unsupported("partial_rotary_factor \(p)")
    }
    guard let s else { return result }
    switch s.kind {
    case "default":
        break
    case "linear":
        guard let f = s.factor, f.isFinite, f > 0 else { throw ConfigError.invalid("linear rope scaling needs a positive factor") }
        result.scaling = .linear(factor: Float(f))
    case "llama3":
        guard let f = s.factor, let lo = s.lowFreqFactor, let hi = s.highFreqFactor,
              let orig = s.originalMaxPositionEmbeddings else {
            throw ConfigError.invalid("llama3 rope scaling needs factor, low_freq_factor, high_freq_factor, original_max_position_embeddings")
        }
        guard f > 0, lo > 0, hi > lo, orig > 0 else { throw ConfigError.invalid("llama3 rope scaling values out of range") }
        result.scaling = .llama3(factor: Float(f), lowFreqFactor: Float(lo), highFreqFactor: Float(hi), originalMaxPositions: orig)
    default:
        throw ConfigError.unsupported("rope scaling type '\(s.kind)' (supported: default, linear, llama3)")
    }
    return result
}

func requirePositive(_ value: Int?, _ key: String) throws -> Int {
    guard let value else { throw ConfigError.invalid("missing '\(key)'") }
    guard value > 0 else { throw ConfigError.invalid("'\(key)' must be positive, got \(value)") }
    // Bound absurd sizes before anything allocates from them.
    guard value <= 1 << 24 else { throw ConfigError.invalid("'\(key)' = \(value) is implausibly large") }
    return value
}
