import Foundation
import VerdantModels
import VerdantTensors

/// A checkpoint of a student's shape with random weights: what a configuration costs to run
/// does not depend on what it learned, so cost can be measured before any training.
public enum RandomCheckpoint {
    /// Writes `shape` as a Hugging Face llama directory (config.json + bf16 safetensors) with
    /// weights ~ U(−0.05, 0.05) and unit norms. Only the llama family without biases is
    /// written for now (the default space); other shapes are an error.
    public static func write(_ shape: StudentShape, to directory: String, seed: UInt64 = 1) throws {
        guard shape.family == .llama, !shape.qkvBias, !shape.outputBias, !shape.mlpBias else {
            throw SpaceError.malformed("random checkpoints are written for llama students without biases only")
        }
        var weights = SafetensorsWriter()
        var tensorSeed = seed
        func matrix(_ name: String, _ rows: Int, _ cols: Int) throws {
            tensorSeed &+= 1
            let s = tensorSeed
            try weights.add(name, dtype: .bf16, shape: [rows, cols]) { out in
                var rng = SearchRandom(seed: s)
                let p = out.bindMemory(to: UInt16.self)
                for i in p.indices { p[i] = floatToBF16(Float(rng.unit() - 0.5) * 0.1) }
            }
        }
        func ones(_ name: String, _ n: Int) throws {
            try weights.add(name, dtype: .bf16, shape: [n]) { out in
                let p = out.bindMemory(to: UInt16.self)
                for i in p.indices { p[i] = floatToBF16(1) }
            }
        }
        let h = shape.hidden
        try matrix("model.embed_tokens.weight", shape.vocab, h)
        for l in 0..<shape.layers {
            let p = "model.layers.\(l)."
            try ones(p + "input_layernorm.weight", h)
            try matrix(p + "self_attn.q_proj.weight", shape.qDim, h)
            try matrix(p + "self_attn.k_proj.weight", shape.kvDim, h)
            try matrix(p + "self_attn.v_proj.weight", shape.kvDim, h)
            try matrix(p + "self_attn.o_proj.weight", h, shape.qDim)
            try ones(p + "post_attention_layernorm.weight", h)
            try matrix(p + "mlp.gate_proj.weight", shape.intermediate, h)
            try matrix(p + "mlp.up_proj.weight", shape.intermediate, h)
            try matrix(p + "mlp.down_proj.weight", h, shape.intermediate)
        }
        try ones("model.norm.weight", h)
        if !shape.tiedEmbeddings { try matrix("lm_head.weight", shape.vocab, h) }
        let config: [String: Any] = [
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "torch_dtype": "bfloat16",
            "hidden_size": h, "intermediate_size": shape.intermediate, "num_hidden_layers": shape.layers,
            "num_attention_heads": shape.heads, "num_key_value_heads": shape.kvHeads, "head_dim": shape.headDim,
            "vocab_size": shape.vocab, "max_position_embeddings": shape.context, "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0, "tie_word_embeddings": shape.tiedEmbeddings, "hidden_act": "silu",
            "attention_bias": false, "mlp_bias": false, "bos_token_id": 0, "eos_token_id": 0,
        ]
        try ModelDirectoryWriter(destination: directory, force: true).write(config: config, weights: weights, copyFrom: nil)
    }
}
