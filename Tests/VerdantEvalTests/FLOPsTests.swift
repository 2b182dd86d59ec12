import Testing
@testable import VerdantEval
import VerdantModels

/// FLOPs per token against counts done by hand from the fixtures' config.json.
@Test func llamaFLOPsMatchAHandCount() throws {
    // llama-gqa-f32: hidden 32, 4 heads × head_dim 8 (qDim 32), 2 kv heads (kvDim 16),
    // intermediate 64, 2 layers, vocab 300, untied lm_head.
    let model = try LoadedModel.load(directory: Fixtures.model("llama-gqa-f32")).model
    // per layer MACs: q 32·32 + k 32·16 + v 32·16 + o 32·32 + gate 32·64 + up 32·64 + down 64·32
    //               = 1024 + 512 + 512 + 1024 + 2048 + 2048 + 2048 = 9216
    // lm_head: 32·300 = 9600.   linear FLOPs = 2 · (2 · 9216 + 9600) = 56064
    #expect(FLOPs.linearPerToken(model) == 56_064)
    // attention at context 10: 2 layers · 4 · 4 heads · 8 · 10 = 2560
    #expect(FLOPs.attentionPerToken(model.config, context: 10) == 2_560)
    #expect(FLOPs.perToken(model, context: 10) == 58_624)
    // Mean over 4 steps after a 6-token prompt: contexts 7…10, mean 8.5 → 56064 + 256 · 8.5
    #expect(FLOPs.perGeneratedToken(model, prompt: 6, generated: 4) == 56_064 + 256 * 8.5)
}

@Test func gpt2FLOPsMatchAHandCount() throws {
    // gpt2: n_embd 32, 4 heads × 8, intermediate 4 · 32 = 128, 2 layers, vocab 300, tied head.
    let model = try LoadedModel.load(directory: Fixtures.model("gpt2")).model
    // per layer MACs: c_attn 32·96 + c_proj 32·32 + c_fc 32·128 + mlp c_proj 128·32
    //               = 3072 + 1024 + 4096 + 4096 = 12288
    // lm_head (tied wte): 32·300 = 9600.   linear FLOPs = 2 · (2 · 12288 + 9600) = 68352
    #expect(FLOPs.linearPerToken(model) == 68_352)
    #expect(FLOPs.perToken(model, context: 64) == 68_352 + 2 * 4 * 4 * 8 * 64)
}

@Test func multiQueryBigCodeCountsOneKeyValueHead() throws {
    // bigcode-mqa: fused c_attn is q (32) + one k head (8) + one v head (8) = 48 outputs.
    let model = try LoadedModel.load(directory: Fixtures.model("bigcode-mqa")).model
    // per layer: 32·48 + 32·32 + 32·128 + 128·32 = 1536 + 1024 + 4096 + 4096 = 10752
    #expect(FLOPs.linearPerToken(model) == 2 * (2 * 10_752 + 9_600))
}
