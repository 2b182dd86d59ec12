import Foundation
import Testing
import VerdantCompress
import VerdantModels
import VerdantTensors
import VerdantTokenizer

/// Golden references from scripts/make_pruning_fixtures.py: transformers loaded
/// the checkpoint `verdant prune` wrote for each case and recorded its logits
/// (and, with vocabulary pruning, what the `tokenizers` library makes of the
/// rebuilt tokenizer.json). Verdant applies the recorded plan again and must
/// agree: the pruned checkpoint means the same thing to both.
enum PruningCases {
    static let directory = PruningFixtures.root.appendingPathComponent("pruning")

    static var names: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }

    static func reference(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name + ".json"))
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    static func plan(_ ref: [String: Any]) throws -> PruningPlan {
        let data = try JSONSerialization.data(withJSONObject: ref["plan"] ?? [:])
        return try JSONDecoder().decode(PruningPlan.self, from: data)
    }
}

@Test func everyFamilyAndPruningHasAGoldenCase() throws {
    let names = PruningCases.names
    #expect(names.count >= 13)
    var kinds = Set<String>()
    for name in names {
        let plan = try PruningCases.plan(PruningCases.reference(name))
        let model = try #require(PruningCases.reference(name)["model"] as? String)
        let family = model.hasPrefix("gpt2") || model.hasPrefix("bigcode") ? "gpt2" : "llama"
        if plan.keptLayers != nil { kinds.insert(family + ":layers") }
        if plan.ffn != nil { kinds.insert(family + ":ffn") }
        if plan.heads != nil { kinds.insert(family + ":heads") }
        if plan.vocabulary != nil { kinds.insert(family + ":vocabulary") }
        if plan.hiddenChannels != nil { kinds.insert(family + ":hidden") }
    }
    #expect(kinds.contains("llama:hidden"))
    for family in ["llama", "gpt2"] {
        for kind in ["layers", "ffn", "heads", "vocabulary"] { #expect(kinds.contains(family + ":" + kind)) }
    }
}

@Test(arguments: PruningCases.names)
func prunedCheckpointMatchesTransformers(_ name: String) throws {
    let ref = try PruningCases.reference(name)
    let model = try #require(ref["model"] as? String)
    let plan = try PruningCases.plan(ref)
    let ids = try #require(ref["input_ids"] as? [Int])
    let expected = try #require(ref["logits"] as? [[Double]])

    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let pruner = try Pruner(directory: PruningFixtures.model(model))
    var options = PruningOptions()
    options.plan = plan
    let (p, draft) = try pruner.makePlan(options, pool: ThreadPool(threads: 1))
    let report = try pruner.write(plan: p, report: draft, to: dir + "/out", force: false)
    #expect(report.parametersAfter == ref["num_parameters"] as? Int)
    #expect(report.zeroedParameters == ref["zeroed_parameters"] as? Int)

    // config.json says what transformers read.
    let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/config.json"))) as? [String: Any])
    for (key, value) in try #require(ref["config"] as? [String: Any]) {
        #expect("\(config[key] ?? "missing")" == "\(value)", "\(name): \(key)")
    }

    let loaded = try LoadedModel.load(directory: dir + "/out")
    let out = try logits(loaded.model, ids)
    let vocab = loaded.model.vocabSize
    #expect(expected.count == ids.count && expected[0].count == vocab)
    var worst = 0.0
    for t in 0..<ids.count {
        for v in 0..<vocab {
            let e = expected[t][v]
            worst = max(worst, abs(Double(out[t * vocab + v]) - e) / max(1, abs(e)))
        }
    }
    #expect(worst < 1e-4, "\(name): worst logit error \(worst)")

    if let checks = ref["tokenizer_checks"] as? [String: [Int]] {
        let tokenizer = try Tokenizer(contentsOf: dir + "/out")
        let decoded = ref["decode_checks"] as? [String: String] ?? [:]
        for (text, ids) in checks {
            #expect(tokenizer.encode(text) == ids, "\(name): \(text.debugDescription)")
            #expect(tokenizer.decode(ids, skipSpecialTokens: true) == decoded[text], "\(name): decode \(text.debugDescription)")
        }
    }
}
