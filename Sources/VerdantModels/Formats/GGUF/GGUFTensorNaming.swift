/// llama.cpp's architecture and tensor names for the model types Verdant runs.
public enum GGUFArchitecture: String, Sendable {
    case llama, qwen2, gpt2, starcoder

    /// mistral is exported as llama (llama.cpp's converter does the same).
    public init?(modelType: String) {
        switch modelType {
        case "llama", "mistral": self = .llama
        case "qwen2": self = .qwen2
        case "gpt2": self = .gpt2
        case "gpt_bigcode": self = .starcoder
        default: return nil
        }
    }

    /// llama.cpp applies RoPE to adjacent pairs (x0, x1) for llama ("normal"
    /// mode) but to halves (x_i, x_{i+d/2}) for qwen2 ("neox" mode, as
    /// transformers does). Llama's q/k rows are therefore reordered on export.
    public var permutesQK: Bool { self == .llama }
}

/// Tensor names in a GGUF file (`blk.N.` prefix for per-layer tensors).
public enum GGUFTensorName {
    public static let tokenEmbedding = "token_embd"
    public static let positionEmbedding = "position_embd"
    public static let outputNorm = "output_norm"
    public static let output = "output"
    public static let ropeFrequencies = "rope_freqs"

    public static func block(_ i: Int, _ part: String) -> String { "blk.\(i).\(part)" }

    // Per-layer parts.
    public static let attentionNorm = "attn_norm"
    public static let query = "attn_q"
    public static let key = "attn_k"
    public static let value = "attn_v"
    public static let fusedQKV = "attn_qkv"
    public static let attentionOutput = "attn_output"
    public static let ffnNorm = "ffn_norm"
    public static let ffnGate = "ffn_gate"
    public static let ffnUp = "ffn_up"
    public static let ffnDown = "ffn_down"
}

/// The row order llama.cpp's converter gives q_proj / k_proj of llama models:
/// within each head of `headDim` rows, the two halves are interleaved, so the
/// rotation pairs (i, i + d/2) of transformers become adjacent (2i, 2i + 1).
/// `order[newRow] = oldRow`; nil unless rows is a whole number of even-sized heads.
public func ggufRoPEPermutation(rows: Int, heads: Int) -> [Int]? {
    guard heads > 0, rows > 0, rows % (2 * heads) == 0 else { return nil }
    let d = rows / heads, half = d / 2
    var order = [Int](repeating: 0, count: rows)
    for h in 0..<heads {
        for i in 0..<half {
            order[h * d + 2 * i] = h * d + i
            order[h * d + 2 * i + 1] = h * d + half + i
        }
    }
    return order
}

/// The inverse permutation (GGUF row order back to transformers' order).
public func inversePermutation(_ order: [Int]) -> [Int] {
    var inverse = [Int](repeating: 0, count: order.count)
    for (new, old) in order.enumerated() { inverse[old] = new }
    return inverse
}
