import Foundation
import Testing
@testable import VerdantCompress
import VerdantModels
import VerdantTensors

@Suite struct PrunerPipelineTests {
    static func allFour() -> PruningOptions {
        var o = PruningOptions()
        o.vocabularyCorpus = PruningFixtures.corpus
        o.dropLayers = 1
        o.layerCriterion = .kl
        o.ffnRatio = 0.25
        o.headsRatio = 0.5
        o.calibrationPath = PruningFixtures.corpus
        o.calibrationTokens = 200
        o.calibrationLength = 64
        return o
    }

    @Test func allFourComposeAndTheReportRecordsEveryScore() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pruner = try Pruner(directory: Fixtures.model("demo"))
        let pool = ThreadPool(threads: 1)
        var stages = Set<String>()
        let (plan, draft) = try pruner.makePlan(Self.allFour(), pool: pool) { stage, _, _ in stages.insert(stage) }
        #expect(stages.contains("vocabulary") && stages.contains("heads (activation)") && stages.contains("ffn (activation)"))
        #expect(stages.contains { $0.hasPrefix("layers (kl)") })
        let out = dir + "/pruned"
        let report = try pruner.write(plan: plan, report: draft, to: out, force: false)

        // The report on disk is the one returned, with every stage's scores.
        let data = try Data(contentsOf: URL(fileURLWithPath: out + "/" + PruningReport.fileName))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        for key in ["parameters_before", "parameters_after", "removed_fraction", "shape_before", "shape_after", "calibration",
                    "vocabulary", "layers", "heads", "ffn", "plan", "copied_files"] {
            #expect(json[key] != nil, "report lacks \(key)")
        }
        let layers = try #require(report.layers)
        #expect(layers.removed.count == 1 && layers.steps[0].scores.count == 2 && layers.criterion == .kl)
        let heads = try #require(report.heads)
        #expect(heads.unit == .kvGroup && heads.mode == "removed" && heads.removedPerLayer == 1)
        #expect(heads.layers.count == 1 && heads.layers[0].scores.count == 2 && heads.layers[0].removed.count == 1)
        let ffn = try #require(report.ffn)
        #expect(ffn.intermediateBefore == 128 && ffn.intermediateAfter == 96)
        #expect(ffn.layers[0].scores.count == 128 && ffn.layers[0].removed.count == 32)
        #expect(report.calibration?.tokens == 200 && report.calibration?.sequenceLength == 64)
        #expect(report.vocabulary?.tokenizationVerified == true)
        #expect(report.shapeAfter == .init(layers: 1, heads: 2, kv: 1, intermediate: 96, vocabulary: plan.vocabulary?.count ?? 0, like: report.shapeBefore))
        #expect(report.vocabulary?.rewrittenFiles?.contains("generation_config.json") == true)
        #expect(report.copiedFiles?.contains("generation_config.json") == false)

        // The file holds what the report says, loads, and computes what the in-memory plan computes.
        let loaded = try LoadedModel.load(directory: out)
        let checkpoint = try Checkpoint(path: out)
        #expect(checkpoint.parameterCount == report.parametersAfter)
        #expect(abs(report.removedFraction - (1 - Double(report.parametersAfter) / Double(report.parametersBefore))) < 1e-12)
        #expect(loaded.config.numLayers == 1 && loaded.config.intermediateSize == 96 && loaded.config.numHeads == 2)
        #expect(checkpoint.tensors.allSatisfy { $0.dtype == .bf16 })
        let inMemory = try PrunedWeights(checkpoint: pruner.checkpoint, config: pruner.config, plan: plan).buildModel()
        let ids = [0, 5, 17, 3, 40, 2]
        #expect(worstDifference(try logits(loaded.model, ids), try logits(inMemory, ids)) == 0)

        // Applying the report's plan again gives the same weights, byte for byte.
        var again = PruningOptions()
        again.plan = try PruningReport.loadPlan(path: out + "/" + PruningReport.fileName)
        let (plan2, draft2) = try pruner.makePlan(again, pool: pool)
        _ = try pruner.write(plan: plan2, report: draft2, to: dir + "/again", force: false)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/model.safetensors"))
                == Data(contentsOf: URL(fileURLWithPath: dir + "/again/model.safetensors")))
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/tokenizer.json"))
                == Data(contentsOf: URL(fileURLWithPath: dir + "/again/tokenizer.json")))
        // No temporary directories are left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["again", "pruned"])
    }

    @Test func outputIsReplacedOnlyWithForce() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: out + "/note.txt"))
        let pruner = try Pruner(directory: Fixtures.model("llama-gqa-f32"))
        var options = PruningOptions()
        options.dropLayers = 1
        options.layerCriterion = .last
        let (plan, draft) = try pruner.makePlan(options, pool: ThreadPool(threads: 1))
        #expect(throws: PruningError.self) { try pruner.write(plan: plan, report: draft, to: out, force: false) }
        #expect(FileManager.default.fileExists(atPath: out + "/note.txt"))
        _ = try pruner.write(plan: plan, report: draft, to: out, force: true)
        #expect(!FileManager.default.fileExists(atPath: out + "/note.txt"))
        #expect(try LoadedModel.load(directory: out).config.numLayers == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out"])
        // An empty directory is fine without --force; a missing parent is not.
        try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: false)
        _ = try pruner.write(plan: plan, report: draft, to: dir + "/empty", force: false)
        #expect(throws: PruningError.self) { try pruner.write(plan: plan, report: draft, to: dir + "/no/such/dir", force: false) }
    }

    @Test func shardedInputBecomesOneFile() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pruner = try Pruner(directory: Fixtures.model("llama-sharded"))
        var options = PruningOptions()
        options.ffnRatio = 0.5
        options.ffnCriterion = .random
        let (plan, draft) = try pruner.makePlan(options, pool: ThreadPool(threads: 1))
        let report = try pruner.write(plan: plan, report: draft, to: dir + "/out", force: false)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/out").sorted()
        #expect(files.contains("model.safetensors") && !files.contains { $0.hasPrefix("model-0") || $0.hasSuffix(".index.json") })
        #expect(report.skippedFiles?.contains("model.safetensors.index.json") == true)
        #expect(try LoadedModel.load(directory: dir + "/out").config.intermediateSize == 32)
    }

    @Test func badOptionsAreRefusedBeforeAnyWork() throws {
        let pruner = try Pruner(directory: Fixtures.model("demo"))
        let pool = ThreadPool(threads: 1)
        func refused(_ edit: (inout PruningOptions) -> Void, _ mentions: String) {
            var o = PruningOptions()
            edit(&o)
            do {
                _ = try pruner.makePlan(o, pool: pool)
                Issue.record("accepted options mentioning \(mentions)")
            } catch {
                #expect("\(error)".contains(mentions), "\(error)")
            }
        }
        refused({ _ in }, "nothing to prune")
        refused({ $0.ffnRatio = 1 }, "--ffn-ratio")
        refused({ $0.headsRatio = -0.1 }, "--heads-ratio")
        refused({ $0.ffnRatio = .nan }, "--ffn-ratio")
        refused({ $0.ffnRatio = 0.5 }, "--calibration")
        refused({ $0.dropLayers = 2; $0.layerCriterion = .last }, "--drop-layers")
        refused({ $0.headsRatio = 0.9; $0.headsCriterion = .random }, "--heads-ratio")
        refused({ $0.plan = PruningPlan(keptLayers: [0]); $0.dropLayers = 1 }, "--plan")
        refused({ $0.plan = PruningPlan(keptLayers: [7]) }, "kept_layers")
        refused({ $0.dropLayers = 1; $0.calibrationPath = "/nonexistent.jsonl" }, "/nonexistent.jsonl")
        // Vocabulary pruning needs a tokenizer.
        let noTokenizer = try Pruner(directory: Fixtures.model("gpt2"))
        var o = PruningOptions()
        o.vocabularyCorpus = PruningFixtures.corpus
        #expect(throws: PruningError.self) { _ = try noTokenizer.makePlan(o, pool: pool) }
    }
}

extension PruningReport.Shape {
    init(layers: Int, heads: Int, kv: Int, intermediate: Int, vocabulary: Int, like s: PruningReport.Shape) {
        self = s
        self.layers = layers
        self.heads = heads
        self.kvHeads = kv
        self.intermediate = intermediate
        self.vocabulary = vocabulary
    }
}
