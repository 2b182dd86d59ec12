import Foundation
import Testing
@testable import VerdantModels

private func parse(_ json: String) throws -> ModelConfig {
    try ModelRegistry.config(fromJSON: Data(json.utf8))
}

private let llamaBase = """
"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
"num_key_value_heads": 2, "vocab_size": 100, "max_position_embeddings": 256
"""

@Test func ropeThetaAtTopLevelOrUnderRopeParameters() throws {
    let old = try parse(#"{"model_type": "llama", \#(llamaBase), "rope_theta": 500000}"#)
    #expect(old.rope?.theta == 500000)
    let new = try parse(#"{"model_type": "llama", \#(llamaBase), "rope_parameters": {"rope_type": "default", "rope_theta": 20000}}"#)
    #expect(new.rope?.theta == 20000)
    #expect(new.rope?.scaling == RoPEConfig.Scaling.none)
    let defaulted = try parse(#"{"model_type": "llama", \#(llamaBase)}"#)
    #expect(defaulted.rope?.theta == 10000)
}

@Test func ropeScalingKinds() throws {
    let linear = try parse(#"{"model_type": "llama", \#(llamaBase), "rope_scaling": {"type": "linear", "factor": 2.0}}"#)
    #expect(linear.rope?.scaling == .linear(factor: 2))
    let llama3 = try parse(#"""
    {"model_type": "llama", \#(llamaBase), "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000,
     "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}}
    """#)
    #expect(llama3.rope?.scaling == .llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192))
    #expect(throws: ConfigError.self) {
        try parse(#"{"model_type": "llama", \#(llamaBase), "rope_scaling": {"rope_type": "yarn", "factor": 4.0}}"#)
    }
}

@Test func familyDefaultsForBiasesAndHeads() throws {
    let qwen = try parse(#"{"model_type": "qwen2", \#(llamaBase), "tie_word_embeddings": true}"#)
    #expect(qwen.qkvBias && !qwen.outputBias && qwen.tieWordEmbeddings)
    let mistral = try parse(#"{"model_type": "mistral", \#(llamaBase), "sliding_window": 4096}"#)
    #expect(!mistral.qkvBias && mistral.slidingWindow == 4096)
    let headDim = try parse(#"{"model_type": "llama", \#(llamaBase), "head_dim": 32, "attention_bias": true}"#)
    #expect(headDim.headDim == 32 && headDim.qDim == 128 && headDim.qkvBias && headDim.outputBias)
    let bigcode = try parse(#"{"model_type": "gpt_bigcode", "n_embd": 64, "n_layer": 2, "n_head": 4, "vocab_size": 50, "n_positions": 64}"#)
    #expect(bigcode.numKVHeads == 1 && bigcode.intermediateSize == 256 && bigcode.activation == .geluTanh)
    let mha = try parse(#"{"model_type": "gpt_bigcode", "multi_query": false, "n_embd": 64, "n_layer": 2, "n_head": 4, "vocab_size": 50, "n_positions": 64}"#)
    #expect(mha.numKVHeads == 4)
}

@Test func tokenIdsAsNumberListNullOrOutOfVocabulary() throws {
    let list = try parse(#"{"model_type": "llama", \#(llamaBase), "bos_token_id": null, "eos_token_id": [5, 7, 1000]}"#)
    #expect(list.bosTokenIds == [])
    #expect(list.eosTokenIds == [5, 7])
    let single = try parse(#"{"model_type": "gpt2", "n_embd": 32, "n_layer": 1, "n_head": 2, "vocab_size": 50, "n_positions": 64, "eos_token_id": 49}"#)
    #expect(single.eosTokenIds == [49])
}

@Test func badConfigsAreClearErrors() {
    func message(_ json: String) -> String {
        do { _ = try parse(json); return "no error" } catch { return "\(error)" }
    }
    #expect(message(#"{"model_type": "mamba"}"#).contains("unknown model_type 'mamba'"))
    #expect(message("{not json").contains("not valid JSON"))
    #expect(message("[1, 2]").contains("not an object"))
    #expect(message(#"{"hidden_size": 4}"#).contains("model_type"))
    #expect(message(#"{"model_type": "llama", "hidden_size": 64}"#).contains("missing"))
    #expect(message(#"{"model_type": "llama", \#(llamaBase.replacingOccurrences(of: "\"num_key_value_heads\": 2", with: "\"num_key_value_heads\": 3"))}"#).contains("multiple"))
    #expect(message(#"{"model_type": "llama", \#(llamaBase), "hidden_act": "swishglu"}"#).contains("swishglu"))
    #expect(message(#"{"model_type": "llama", \#(llamaBase.replacingOccurrences(of: "\"hidden_size\": 64", with: "\"hidden_size\": -64"))}"#).contains("positive"))
    #expect(message(#"{"model_type": "llama", \#(llamaBase.replacingOccurrences(of: "\"hidden_size\": 64", with: "\"hidden_size\": \"big\""))}"#).contains("hidden_size"))
}
