/// The decoder layout a student is built in; it decides which tensors exist and so the
/// exact parameter count.
public enum ArchitectureFamily: String, Sendable, Codable, CaseIterable {
    /// RMSNorm, RoPE, gated MLP, separate q/k/v/o (llama, mistral, qwen2).
    case llama
    /// LayerNorm, learned positions, plain MLP, fused qkv, biases everywhere (gpt2, gpt_bigcode).
    case gpt2
}
