import VerdantTensors

/// Llama, Mistral and Qwen2 checkpoints (`model.layers.N.self_attn.q_proj` ...).
enum LlamaArchitecture {
    static func build(config c: ModelConfig, weights w: WeightSource) throws -> DecoderModel {
        let H = c.hiddenSize
        let embedding = try w.matrix("model.embed_tokens.weight", rows: c.vocabSize, cols: H)
        let norm = { (name: String) throws -> Norm in
            Norm(kind: .rms, weight: try w.vector(name, count: H), bias: nil, eps: c.normEps, name: name)
        }
        var layers: [DecoderLayer] = []
        for i in 0..<c.numLayers {
            let p = "model.layers.\(i)."
            let attention = DecoderLayer.Attention.separate(
                q: try w.linear(p + "self_attn.q_proj", out: c.qDim, in: H, bias: c.qkvBias),
                k: try w.linear(p + "self_attn.k_proj", out: c.kvDim, in: H, bias: c.qkvBias),
                v: try w.linear(p + "self_attn.v_proj", out: c.kvDim, in: H, bias: c.qkvBias))
            let mlp = DecoderLayer.MLP.gated(
                gate: try w.linear(p + "mlp.gate_proj", out: c.intermediateSize, in: H, bias: c.mlpBias),
                up: try w.linear(p + "mlp.up_proj", out: c.intermediateSize, in: H, bias: c.mlpBias),
                down: try w.linear(p + "mlp.down_proj", out: H, in: c.intermediateSize, bias: c.mlpBias))
            layers.append(DecoderLayer(
                attentionNorm: try norm(p + "input_layernorm.weight"),
                attention: attention,
                output: try w.linear(p + "self_attn.o_proj", out: H, in: c.qDim, bias: c.outputBias),
                mlpNorm: try norm(p + "post_attention_layernorm.weight"),
                mlp: mlp))
        }
        // Tied checkpoints usually omit lm_head; transformers uses the embedding even if present.
        let head: Linear
        if c.tieWordEmbeddings {
            head = Linear(weight: embedding, name: "model.embed_tokens.weight")
        } else {
            head = Linear(weight: try w.matrix("lm_head.weight", rows: c.vocabSize, cols: H), name: "lm_head.weight")
        }
        return DecoderModel(config: c, embedding: embedding, positionEmbedding: nil, layers: layers,
                            finalNorm: try norm("model.norm.weight"), lmHead: head,
                            embeddingName: "model.embed_tokens.weight")
    }
}
