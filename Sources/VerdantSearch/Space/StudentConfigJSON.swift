import Foundation
import VerdantModels

extension ConfigurationSpace {
    /// The config.json of configuration `c` as a llama student of the teacher whose config.json
    /// object is `teacher`: the configuration's shape, activation and context with the teacher's
    /// norm epsilon, RoPE and special token ids. The search writes it for every student it
    /// distils; the from-teacher tests hold every solver-legal one to StudentFromTeacher.check.
    public func studentConfig(_ c: Configuration, teacher t: [String: Any]) throws -> [String: Any] {
        let shape = try StudentShape(space: self, configuration: c)
        let v = values(of: c)
        var config: [String: Any] = [
            "architectures": ["LlamaForCausalLM"], "model_type": "llama",
            "hidden_size": shape.hidden, "intermediate_size": shape.intermediate, "num_hidden_layers": shape.layers,
            "num_attention_heads": shape.heads, "num_key_value_heads": shape.kvHeads, "head_dim": shape.headDim,
            "vocab_size": shape.vocab, "max_position_embeddings": shape.context,
            "tie_word_embeddings": shape.tiedEmbeddings,
            "hidden_act": v[GeneName.activation]?.stringValue ?? TeacherLimits.defaultActivation,
            "attention_bias": false, "mlp_bias": false,
        ]
        for key in ["rms_norm_eps", "rope_theta", "rope_parameters", "rope_scaling", "bos_token_id", "eos_token_id"] {
            if let x = t[key], !(x is NSNull) { config[key] = x }
        }
        if config["rms_norm_eps"] == nil { config["rms_norm_eps"] = 1e-5 }
        return config
    }
}
