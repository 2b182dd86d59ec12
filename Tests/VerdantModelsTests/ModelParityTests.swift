import Foundation
import Testing
@testable import VerdantEval
@testable import VerdantModels
import VerdantTensors

/// Fixtures written by scripts/make_model_fixtures.py: tiny random checkpoints of
/// every supported architecture with transformers' logits, greedy continuation
/// and perplexity.
enum Fixtures {
    static var root: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("models")
    }

    /// Every fixture model with a reference.json.
    static var modelNames: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter { FileManager.default.fileExists(atPath: root.appendingPathComponent("\($0)/reference.json").path) }.sorted()
    }

    static func reference(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent("\(name)/reference.json"))
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }
}

@Test func everyArchitectureHasAFixture() {
    let names = Fixtures.modelNames
    for prefix in ["llama", "mistral", "qwen2", "gpt2", "bigcode"] {
        #expect(names.contains { $0.hasPrefix(prefix) }, "no fixture for \(prefix)")
    }
}

@Test(arguments: Fixtures.modelNames)
func logitsMatchTransformers(_ name: String) throws {
    let ref = try Fixtures.reference(name)
    let ids = try #require(ref["input_ids"] as? [Int])
    let expected = try #require(ref["logits"] as? [[Double]])
    let loaded = try LoadedModel.load(directory: Fixtures.root.appendingPathComponent(name).path)
    let model = loaded.model
    let vocab = model.vocabSize
    let pool = ThreadPool(threads: 2)
    let cache = model.makeCache(capacity: ids.count)
    let workspace = Workspace(config: model.config)
    var out = [Float](repeating: 0, count: ids.count * vocab)
    // A batched prefill of part of the sequence, then one token at a time through the cache.
    let split = ids.count / 2 + 1
    try model.forward(Array(ids[..<split]), cache: cache, workspace: workspace, pool: pool)
    model.logits(workspace: workspace, firstRow: 0, rows: split, into: &out, pool: pool)
    for t in split..<ids.count {
        try model.forward([ids[t]], cache: cache, workspace: workspace, pool: pool)
        out.withUnsafeMutableBufferPointer { model.logits(workspace: workspace, firstRow: 0, rows: 1, into: $0.baseAddress! + t * vocab, pool: pool) }
    }
    var worst = 0.0
    for t in 0..<ids.count {
        for v in 0..<vocab {
            let e = expected[t][v]
            worst = max(worst, abs(Double(out[t * vocab + v]) - e) / max(1, abs(e)))
        }
    }
    #expect(worst < 1e-4, "\(name): worst logit error \(worst)")
}

@Test(arguments: Fixtures.modelNames)
func greedyTokensMatchTransformers(_ name: String) throws {
    let ref = try Fixtures.reference(name)
    let prompt = try #require(ref["greedy_prompt"] as? [Int])
    let expected = try #require(ref["greedy_tokens"] as? [Int])
    let stopAtEOS = ref["greedy_eos_stopping"] as? Bool ?? false
    let loaded = try LoadedModel.load(directory: Fixtures.root.appendingPathComponent(name).path)
    let result = try loaded.model.generate(prompt: prompt, maxTokens: expected.count, sampling: SamplingOptions(),
                                           stopTokens: stopAtEOS ? nil : [], pool: ThreadPool(threads: 2))
    #expect(result.tokens == expected)
}

@Test(arguments: Fixtures.modelNames)
func perplexityMatchesTransformers(_ name: String) throws {
    let ref = try Fixtures.reference(name)
    let p = try #require(ref["perplexity"] as? [String: Any])
    let tokens = try #require(p["tokens"] as? [Int])
    let context = try #require(p["context"] as? Int)
    let loaded = try LoadedModel.load(directory: Fixtures.root.appendingPathComponent(name).path)
    let result = try perplexity(model: loaded.model, tokens: tokens, context: context, pool: ThreadPool(threads: 2))
    #expect(result.predictedTokens == p["predicted_tokens"] as? Int)
    let expected = try #require(p["perplexity"] as? Double)
    #expect(abs(result.perplexity - expected) / expected < 1e-4)
}
