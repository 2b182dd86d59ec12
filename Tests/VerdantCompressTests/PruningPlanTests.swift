import Foundation
import Testing
@testable import VerdantCompress
import VerdantModels
import VerdantTensors

@Suite struct PruningPlanTests {
    @Test func invalidPlansAreRefusedWithAReason() throws {
        let (config, _, _) = try PruningFixtures.load("llama-gqa-f32")
        let I = config.intermediateSize
        let bad: [(PruningPlan, String)] = [
            (PruningPlan(keptLayers: []), "at least one layer"),
            (PruningPlan(keptLayers: [1, 0]), "ascending"),
            (PruningPlan(keptLayers: [0, 5]), "below 2"),
            (PruningPlan(ffn: [.init(layer: 0, kept: Array(0..<10))]), "every kept layer"),
            (PruningPlan(ffn: [.init(layer: 0, kept: Array(0..<10)), .init(layer: 1, kept: Array(0..<12))]), "one intermediate_size"),
            (PruningPlan(ffn: [.init(layer: 0, kept: [0, I]), .init(layer: 1, kept: [0, 1])]), "below \(I)"),
            (PruningPlan(ffn: [.init(layer: 0, kept: [0, 1], zeroed: [2]), .init(layer: 1, kept: [0, 1])]), "zeroed"),
            (PruningPlan(keptLayers: [1], ffn: [.init(layer: 0, kept: [0, 1])]), "every kept layer"),
            (PruningPlan(heads: [.init(layer: 0, keptHeads: [0, 1], keptKVHeads: [1]), .init(layer: 1, keptHeads: [0, 1], keptKVHeads: [0])]),
             "removed kv head"),
            (PruningPlan(heads: [.init(layer: 0, keptHeads: [0, 2, 3], keptKVHeads: [0, 1]), .init(layer: 1, keptHeads: [0, 2, 3], keptKVHeads: [0, 1])]),
             "same number of query heads"),
            (PruningPlan(heads: [.init(layer: 0, keptHeads: [0, 1], keptKVHeads: [0]), .init(layer: 1, keptHeads: [0, 1, 2, 3], keptKVHeads: [0, 1])]),
             "same numbers"),
            (PruningPlan(vocabulary: [3, 2]), "ascending"),
            (PruningPlan(vocabulary: [0, 300]), "below the embedding rows"),
        ]
        for (plan, reason) in bad {
            do {
                try plan.validate(config: config, embeddingRows: 300)
                Issue.record("accepted: \(plan)")
            } catch {
                #expect(error.description.contains(reason), "\(error.description) — expected '\(reason)'")
            }
        }
        // A valid query-head reduction inside each group (GQA structure preserved).
        try PruningPlan(heads: (0..<2).map { .init(layer: $0, keptHeads: [0, 2], keptKVHeads: [0, 1]) })
            .validate(config: config, embeddingRows: 300)
    }

    @Test func planRoundTripsThroughJSONAndReports() throws {
        let plan = PruningPlan(keptLayers: [0, 2], ffn: [.init(layer: 0, kept: [1, 2], zeroed: [2]), .init(layer: 2, kept: [0, 3])],
                               heads: [.init(layer: 0, keptHeads: [2, 3], keptKVHeads: [1]), .init(layer: 2, keptHeads: [0, 1], keptKVHeads: [0])],
                               vocabulary: [0, 4, 9])
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bare = dir + "/plan.json"
        try JSONEncoder().encode(plan).write(to: URL(fileURLWithPath: bare))
        #expect(try PruningReport.loadPlan(path: bare) == plan)
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: bare)), as: UTF8.self)
        #expect(text.contains("\"kept_layers\"") && text.contains("\"kept_kv_heads\"") && text.contains("\"vocabulary_kept_ids\""))

        let (config, _, _) = try PruningFixtures.load("llama-gqa-f32")
        let report = PruningReport(source: "x", modelType: "llama", parametersBefore: 10, parametersAfter: 5, removedFraction: 0.5,
                                   zeroedParameters: 0, shapeBefore: .init(config), shapeAfter: .init(config), plan: plan, scoringSeconds: 1)
        let path = dir + "/report.json"
        try report.encoded().write(to: URL(fileURLWithPath: path))
        #expect(try PruningReport.loadPlan(path: path) == plan)
        #expect(throws: PruningError.self) { try PruningReport.loadPlan(path: dir + "/missing.json") }
        try Data("{\"plan\": 3}".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: PruningError.self) { try PruningReport.loadPlan(path: path) }
    }

    @Test func orderedJSONKeepsOrderAndNumberLiterals() throws {
        let text = #"{"b": 1.0, "a": [1, 2e-05, -3], "s": "t\u00e9\n\"x\"", "n": null, "o": {"z": true, "y": false}}"#
        var json = try OrderedJSON.parse(Array(text.utf8))
        #expect(json.members?.map(\.key) == ["b", "a", "s", "n", "o"])
        #expect(json["b"] == .number("1.0") && json["a"]?.items?[1] == .number("2e-05"))
        #expect(json["s"]?.stringValue == "té\n\"x\"")
        json.set("b", .integer(7))
        json.set("aa", .integer(1))   // inserted before the first key sorting after it
        #expect(json.members?.map(\.key) == ["aa", "b", "a", "s", "n", "o"])
        let again = try OrderedJSON.parse(Array(json.serialized().utf8))
        #expect(again == json)
        for broken in ["{", "[1,]", "{\"a\" 1}", "tru", "\"\\x\"", "01x", "{} {}"] {
            #expect(throws: OrderedJSON.SyntaxError.self) { try OrderedJSON.parse(Array(broken.utf8)) }
        }
    }

    @Test func configRewriteChangesOnlyPrunedKeys() throws {
        let dir = Fixtures.model("qwen2-tied")
        let original = try ModelRegistry.config(directory: dir)
        let json = try OrderedJSON.parse([UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))))
        var pruned = original
        pruned.numLayers = 1
        pruned.numHeads = 2
        pruned.numKVHeads = 1
        pruned.intermediateSize = 40
        pruned.vocabSize = 200
        let out = PrunedConfigFiles.config(json, original: original, pruned: pruned, keptLayers: [1], vocabularyMap: nil)
        #expect(out["num_hidden_layers"]?.intValue == 1 && out["num_attention_heads"]?.intValue == 2)
        #expect(out["num_key_value_heads"]?.intValue == 1 && out["intermediate_size"]?.intValue == 40)
        #expect(out["vocab_size"]?.intValue == 200 && out["head_dim"]?.intValue == original.headDim)
        #expect(out["layer_types"]?.items?.count == 1)
        #expect(out["rope_parameters"] == json["rope_parameters"] && out["rms_norm_eps"] == json["rms_norm_eps"])
        let changed = Set(["num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size", "vocab_size", "head_dim", "layer_types"])
        for m in json.members ?? [] where !changed.contains(m.key) { #expect(out[m.key] == m.value, "\(m.key)") }

        // Token ids: remapped, and ids without a new id dropped.
        let ids = try OrderedJSON.parse(Array(#"{"bos_token_id": 5, "eos_token_id": [5, 8], "pad_token_id": 9, "other": 5}"#.utf8))
        let remapped = PrunedConfigFiles.remapTokenIds(ids, map: [5: 0, 8: 1])
        #expect(remapped["bos_token_id"]?.intValue == 0 && remapped["eos_token_id"]?.items == [.integer(0), .integer(1)])
        #expect(remapped["pad_token_id"]?.isNull == true && remapped["other"]?.intValue == 5)
        #expect(PrunedConfigFiles.tokenIds(in: ids).sorted() == [5, 5, 8, 9])
    }
}
