import Foundation
import Testing
@testable import VerdantCompress
import VerdantModels
import VerdantTensors

/// Logits of every position of `tokens`: [T, vocab].
func allLogits(_ model: DecoderModel, _ tokens: [Int]) throws -> [Float] {
    let pool = ThreadPool(threads: 1)
    let cache = model.makeCache(capacity: tokens.count)
    let ws = Workspace(config: model.config)
    try model.forward(tokens, cache: cache, workspace: ws, pool: pool)
    var out = [Float](repeating: 0, count: tokens.count * model.vocabSize)
    out.withUnsafeMutableBufferPointer { model.logits(workspace: ws, firstRow: 0, rows: tokens.count, into: $0.baseAddress!, pool: pool) }
    return out
}

func cosine(_ a: [Float], _ b: [Float]) -> Double {
    var ab = 0.0, aa = 0.0, bb = 0.0
    for i in 0..<a.count { ab += Double(a[i] * b[i]); aa += Double(a[i] * a[i]); bb += Double(b[i] * b[i]) }
    return ab / (aa.squareRoot() * bb.squareRoot() + 1e-30)
}

@Suite struct QuantizeTests {
    static let fixtures = ["llama-gqa-f32", "qwen2-tied", "gpt2", "gpt2-bf16", "bigcode-mha", "bigcode-mqa", "mistral-f16", "llama-sharded"]
    static let schemes: [WeightFormat] = [.q8_0, .q4_0, .int4(groupSize: 32), .int4(groupSize: 128), .w8a8]

    @Test(arguments: fixtures)
    func everySchemeReloadsAndTracksTheFloatModel(fixture: String) throws {
        let source = Fixtures.model(fixture)
        let float = try LoadedModel.load(directory: source)
        let tokens = Array((0..<10).map { ($0 * 37 + 5) % float.config.vocabSize })
        let reference = try allLogits(float.model, tokens)
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for scheme in Self.schemes {
            let out = dir + "/\(scheme.name)"
            // Quantize everything, embeddings included, to test every tensor path.
            let recipe = QuantizationRecipe(defaultFormat: scheme)
            var options = CheckpointQuantizer.Options(recipe: recipe)
            options.importance = false
            let report = try CheckpointQuantizer(directory: source, options: options).run(output: out, force: false)
            let quantized = try LoadedModel.load(directory: out)
            let manifest = try #require(try QuantizationManifest.read(directory: out))
            // Every linear weight and the embedding are quantized; norms and biases are not.
            #expect(manifest.tensors.count == report.tensors.filter { $0.format == scheme.name }.count)
            #expect(manifest.tensors.keys.allSatisfy { $0.hasSuffix(".weight") })
            #expect(!manifest.tensors.keys.contains { $0.contains("norm") || $0.contains("ln_") || $0.contains("wpe") })
            if fixture.hasPrefix("gpt2") {
                let fc = manifest.tensors.first { $0.key.hasSuffix("h.0.mlp.c_fc.weight") }
                #expect(fc?.value.storedTransposed == true)
            }
            #expect(report.weightBytesAfter < report.weightBytesBefore || scheme == .int4(groupSize: 128))
            let logits = try allLogits(quantized.model, tokens)
            // The integer kernels compute what the stored weights mean: only the int8
            // activation rounding separates them from the dequantized float model.
            let dequantized = try allLogits(try LoadedModel.load(directory: out, dequantize: true).model, tokens)
            let exact = cosine(logits, dequantized)
            #expect(exact >= 0.999, "\(fixture) \(scheme.name): integer vs dequantized cosine \(exact)")
            // And the stored weights stay close to the float ones (tiny random models: a loose floor).
            let c = cosine(logits, reference)
            let floor = scheme == .q8_0 || scheme == .w8a8 ? 0.995 : 0.8
            #expect(c >= floor, "\(fixture) \(scheme.name): cosine to float \(c)")
        }
    }

    @Test func standardRecipeKeepsEmbeddingsAt8BitsAndIsReported() throws {
        let source = Fixtures.model("demo")
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/q4"
        var options = CheckpointQuantizer.Options(recipe: .standard(.q4_0))
        options.importance = false
        let report = try CheckpointQuantizer(directory: source, options: options).run(output: out, force: false)
        let manifest = try #require(try QuantizationManifest.read(directory: out))
        #expect(manifest.tensors["model.embed_tokens.weight"]?.format == .q8_0)
        #expect(manifest.tensors["model.layers.0.mlp.up_proj.weight"]?.format == .q4_0)
        // Tokenizer files travel with the model; the report is written next to it.
        for f in ["tokenizer.json", "tokenizer_config.json", "generation_config.json", "quantization_report.json"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + f), "\(f)")
        }
        let config = try ModelDirectoryWriter.readConfigObject(directory: out)
        let section = try #require(config["quantization"] as? [String: Any])
        #expect(section["scheme"] as? String == "q4_0")
        #expect(section["method"] as? String == "rtn")
        #expect(report.tensors.contains { $0.name == "model.norm.weight" && $0.bytesAfter == $0.bytesBefore })
        // The directory is complete or absent: no staging directory is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["q4"])
        // Refuses to overwrite without force, and to quantize a quantized model.
        #expect(throws: (any Error).self) { try CheckpointQuantizer(directory: source, options: options).run(output: out, force: false) }
        #expect(throws: (any Error).self) { try CheckpointQuantizer(directory: out, options: options).run(output: dir + "/again", force: false) }
    }

    @Test func importanceSearchUsesCalibrationStatistics() throws {
        let source = Fixtures.model("demo")
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tokens = (0..<64).map { ($0 * 13 + 7) % 512 }
        let calibration = CalibrationSet(sequences: [Array(tokens[0..<32]), Array(tokens[32..<64])])
        var bytes: [Bool: Data] = [:]
        for useImportance in [false, true] {
            var options = CheckpointQuantizer.Options(recipe: QuantizationRecipe(defaultFormat: .q4_0))
            options.importance = useImportance
            options.calibration = calibration
            let out = dir + "/imp-\(useImportance)"
            let report = try CheckpointQuantizer(directory: source, options: options).run(output: out, force: false)
            #expect(report.calibrationTokens == 64)
            #expect(!report.tensors.contains { $0.note?.contains("no calibration statistics") == true })
            let section = try #require(try ModelDirectoryWriter.readConfigObject(directory: out)["quantization"] as? [String: Any])
            #expect(section["importance_search"] as? Bool == useImportance)
            bytes[useImportance] = FileManager.default.contents(atPath: out + "/model.safetensors")
        }
        // The searched scales differ from GGUF's rule (their benefit is measured in BENCHMARKS.md;
        // the per-block weighted error is tested in QuantFormatTests).
        #expect(bytes[false] != bytes[true])
    }

    @Test func recipesResolveByPatternAndLayer() throws {
        let json = """
        {"default": "int4", "overrides": [
          {"match": "*embed_tokens*", "format": "q8_0"},
          {"layers": [0, -1], "match": "*down_proj*", "format": "q8_0"},
          {"match": "lm_head.weight", "format": "keep"}]}
        """
        let r = try QuantizationRecipe.parse(Data(json.utf8), groupSize: 64)
        #expect(r.target(for: "model.embed_tokens.weight", layerCount: 4) == .format(.q8_0))
        #expect(r.target(for: "model.layers.0.mlp.down_proj.weight", layerCount: 4) == .format(.q8_0))
        #expect(r.target(for: "model.layers.3.mlp.down_proj.weight", layerCount: 4) == .format(.q8_0))
        #expect(r.target(for: "model.layers.2.mlp.down_proj.weight", layerCount: 4) == .format(.int4(groupSize: 64)))
        #expect(r.target(for: "lm_head.weight", layerCount: 4) == .keep)
        #expect(r.target(for: "h.3.mlp.c_proj.weight", layerCount: 4) == .format(.int4(groupSize: 64)))
        let cli = try QuantizationRecipe.parseOverride("*c_proj*=q8_0", groupSize: 128)
        #expect(cli.match == "*c_proj*" && cli.target == .format(.q8_0))
        for bad in ["{}", "{\"default\": \"q5_k\"}", "{\"default\": \"keep\"}", "{\"default\": \"q4_0\", \"overrides\": [{\"format\": \"q8_0\"}]}",
                    "{\"default\": \"q4_0\", \"overides\": []}", "[1]", "{\"default\": \"q4_0\", \"overrides\": [{\"match\": 3, \"format\": \"q8_0\"}]}"] {
            #expect(throws: RecipeError.self, "\(bad)") { try QuantizationRecipe.parse(Data(bad.utf8), groupSize: 128) }
        }
        #expect(throws: RecipeError.self) { try QuantizationRecipe.parseOverride("noequals", groupSize: 128) }
        #expect(QuantizationRecipe.glob("model.*.q_proj.weight", matches: "model.layers.1.self_attn.q_proj.weight"))
        #expect(!QuantizationRecipe.glob("*.k_proj.*", matches: "model.layers.1.self_attn.q_proj.weight"))
    }

    @Test func damagedQuantizedCheckpointsAreClearErrors() throws {
        let source = Fixtures.model("llama-gqa-f32")
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/q"
        var options = CheckpointQuantizer.Options(recipe: QuantizationRecipe(defaultFormat: .q4_0))
        options.importance = false
        _ = try CheckpointQuantizer(directory: source, options: options).run(output: out, force: false)

        // A manifest claiming another format (different row size) than the stored bytes.
        var config = try ModelDirectoryWriter.readConfigObject(directory: out)
        var section = try #require(config["quantization"] as? [String: Any])
        var tensors = try #require(section["tensors"] as? [String: Any])
        tensors["model.layers.0.mlp.up_proj.weight"] = ["format": "q8_0", "shape": [64, 32]]
        section["tensors"] = tensors
        config["quantization"] = section
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: out + "/config.json"))
        #expect {
            try LoadedModel.load(directory: out)
        } throws: { error in
            "\(error)".contains("model.layers.0.mlp.up_proj.weight") && "\(error)".contains("q8_0")
        }
        // Unknown format name.
        tensors["model.layers.0.mlp.up_proj.weight"] = ["format": "q3_k", "shape": [64, 32]]
        section["tensors"] = tensors
        config["quantization"] = section
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: out + "/config.json"))
        #expect(throws: (any Error).self) { try LoadedModel.load(directory: out) }
    }
}
