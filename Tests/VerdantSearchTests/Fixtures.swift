import Foundation

/// The models test target's checkpoints, shared rather than copied.
enum Fixtures {
    static let models = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("VerdantModelsTests/Fixtures/models")

    static func model(_ name: String) -> String { models.appendingPathComponent(name).path }

    static let all = ["bigcode-mha", "bigcode-mqa", "demo", "gpt2", "gpt2-bf16", "llama-attn-bias",
                      "llama-bf16-tied-oldrope", "llama-gqa-f32", "llama-linear-rope", "llama-sharded",
                      "llama3-rope-scaling", "mistral-f16", "qwen2-tied"]
}
