import VerdantModels

/// Analytic floating-point operations of a decoder, counting a multiply-add as 2.
///
/// One decode step (one new token) whose attention spans `context` positions
/// (the new token included; min(context, sliding window) when the model has one):
///
///     FLOPs = Σ_layers [ 2 · Σ_{linear ∈ layer} in · out      (q, k, v or fused qkv; o; MLP)
///                        + 4 · heads · head_dim · span ]       (q·kᵀ scores and scores·v)
///             + 2 · hidden · vocab                             (lm_head)
///
/// Llama family: linears q [qDim×H], k, v [kvDim×H], o [H×qDim], gate, up [I×H], down [H×I].
/// GPT-2 family: fused qkv [(qDim + 2·kvDim)×H], o [H×qDim], up [I×H], down [H×I].
/// Left out, as O(hidden) per token: norms, activations, softmax, RoPE, residual
/// adds, biases, the embedding lookup. The linear shapes are read from the model
/// itself, so pruned or reshaped layers are counted as they are.
public enum FLOPs {
    /// FLOPs of the linear layers of one token (everything but attention scores).
    public static func linearPerToken(_ model: DecoderModel) -> Int {
        var macs = model.lmHead.inFeatures * model.lmHead.outFeatures
        for layer in model.layers {
            switch layer.attention {
            case .separate(let q, let k, let v): macs += [q, k, v].reduce(0) { $0 + $1.inFeatures * $1.outFeatures }
            case .fused(let qkv): macs += qkv.inFeatures * qkv.outFeatures
            }
            macs += layer.output.inFeatures * layer.output.outFeatures
            switch layer.mlp {
            case .gated(let g, let u, let d): macs += [g, u, d].reduce(0) { $0 + $1.inFeatures * $1.outFeatures }
            case .plain(let u, let d): macs += [u, d].reduce(0) { $0 + $1.inFeatures * $1.outFeatures }
            }
        }
        return 2 * macs
    }

    /// Attention-score and value FLOPs of one token attending to `context` positions.
    public static func attentionPerToken(_ config: ModelConfig, context: Int) -> Int {
        let span = min(max(context, 1), config.slidingWindow ?? Int.max)
        return config.numLayers * 4 * config.numHeads * config.headDim * span
    }

    /// One decode step at `context` positions.
    public static func perToken(_ model: DecoderModel, context: Int) -> Int {
        linearPerToken(model) + attentionPerToken(model.config, context: context)
    }

    /// Mean over the `generated` decode steps that follow a `prompt`-token prompt
    /// (step i attends to prompt + i positions, i = 1…generated).
    public static func perGeneratedToken(_ model: DecoderModel, prompt: Int, generated: Int) -> Double {
        guard generated > 0 else { return Double(perToken(model, context: prompt)) }
        var total = 0.0
        for i in 1...generated { total += Double(perToken(model, context: prompt + i)) }
        return total / Double(generated)
    }
}
