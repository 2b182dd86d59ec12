import Foundation
import Testing
@testable import VerdantCompress
import VerdantModels
import VerdantTensors

func floatWeights(_ loaded: LoadedModel) throws -> FloatWeights {
    FloatWeights(checkpoint: try Checkpoint(path: loaded.directory), config: loaded.config,
                 linearNames: CheckpointQuantizer.linearNames(of: loaded.model))
}

func maxRelativeDifference(_ a: [Float], _ b: [Float]) -> Float {
    let scale = max(1, a.map { abs($0) }.max() ?? 1)
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}

@Suite struct AWQTests {
    /// Scales folded into norms / previous rows and the linears leave the float function unchanged.
    @Test(arguments: ["llama-gqa-f32", "qwen2-tied", "llama-attn-bias", "gpt2", "bigcode-mha", "bigcode-mqa"])
    func foldingKeepsTheFloatModel(fixture: String) throws {
        let loaded = try LoadedModel.load(directory: Fixtures.model(fixture))
        let tokens = (0..<12).map { ($0 * 29 + 3) % loaded.config.vocabSize }
        let reference = try allLogits(loaded.model, tokens)
        let weights = try floatWeights(loaded)
        let (groups, skipped) = AWQ.groups(model: loaded.model, weights: weights)
        let layers = loaded.config.numLayers
        // Per block: qkv and the MLP input always; o_proj only with as many kv heads as heads;
        // down only for gated MLPs (GELU is not positively homogeneous).
        let gated = loaded.config.family == .llama
        let mha = loaded.config.numKVHeads == loaded.config.numHeads
        #expect(groups.count == layers * (2 + (mha ? 1 : 0) + (gated ? 1 : 0)), "\(groups.map(\.linears))")
        #expect(groups.count + skipped.count == layers * 4)
        var g = Gaussian(seed: 17)
        for group in groups {
            let s = (0..<group.inFeatures).map { _ in expf(g.next()) }
            try AWQ.fold(group, scales: s, into: weights)
        }
        let folded = try DecoderModel.build(config: loaded.config, weights: RewrittenWeights(weights))
        let logits = try allLogits(folded, tokens)
        let diff = maxRelativeDifference(reference, logits)
        #expect(diff <= 1e-4, "\(fixture): max |Δlogit| \(diff) (relative to the largest logit)")
        // Something was actually rewritten: the first group's first linear changed.
        #expect(weights.replaced[groups[0].linears[0]] != nil)
        if fixture == "gpt2" {
            // A rewritten Conv1D matrix is written back in the checkpoint's [in, out] layout.
            let name = groups[0].linears[0]
            let stored = try weights.storedValues(name)
            let original = try weights.checkpoint.floats(name)
            let shape = try #require(weights.matrixShape(name))
            let rewritten = try weights.matrix(name)
            #expect(stored.count == original.count)
            #expect(stored[1 * shape.rows + 2] == rewritten[2 * shape.cols + 1])
        }
    }

    /// The chosen α is never worse than no scaling on the calibration inputs, and outlier channels make it positive.
    @Test func searchNeverLosesToUnscaled() throws {
        let pool = ThreadPool(threads: 2)
        let rows = 24, cols = 96, samples = 128
        var g = Gaussian(seed: 8)
        var x = correlatedInputs(rows: samples, cols: cols, seed: 12)
        for r in 0..<samples { x[r * cols + 10] *= 12; x[r * cols + 50] *= 8 }   // salient channels
        var meanAbs = [Float](repeating: 0, count: cols)
        for r in 0..<samples { for c in 0..<cols { meanAbs[c] += abs(x[r * cols + c]) / Float(samples) } }
        let w = g.array(rows * cols, scale: 0.05)
        for format in [WeightFormat.q4_0, .int4(groupSize: 32)] {
            let member = AWQ.Member(weights: w, rows: rows, format: format, importance: nil)
            let result = AWQ().search(x: x, rows: samples, meanAbs: meanAbs, members: [member], pool: pool)
            #expect(result.errors.count == 21)
            let best = try #require(result.errors.min())
            #expect(best <= result.errors[0])
            #expect(result.alpha > 0, "\(format.name): errors \(result.errors)")
            #expect(result.errors[Int((result.alpha * 20).rounded())] == best)
            // α = 0 is plain round-to-nearest.
            let plain = outputError(w, rtnDequantized(w, rows: rows, cols: cols, format: format), x: x, rows: samples, outs: rows, cols: cols)
            #expect(abs(result.errors[0] - plain) <= 1e-3 * plain)
            let s = AWQ.scales(meanAbs: meanAbs, alpha: result.alpha)
            #expect(abs((s.max()! * s.min()!).squareRoot() - 1) < 1e-4)
        }
    }
}

/// GPTQ and AWQ through the whole pipeline: the checkpoints reload and track the float model.
@Suite struct CalibratedQuantizeTests {
    static let calibration: CalibrationSet = {
        let tokens = (0..<96).map { ($0 * 37 + 11) % 300 }
        return CalibrationSet(sequences: [Array(tokens[0..<48]), Array(tokens[48..<96])])
    }()

    struct Case: Sendable, CustomStringConvertible {
        var fixture: String
        var method: QuantizationMethod
        var schemes: [WeightFormat]
        var actOrder = false
        var sequential = false
        /// The importance search costs ~5× per AWQ grid point in a debug build: used in one case.
        var importance = false
        var description: String {
            "\(fixture) \(method.rawValue)\(actOrder ? " act-order" : "")\(sequential ? " sequential" : "")\(importance ? " importance" : "")"
        }
    }

    static let cases: [Case] = [
        Case(fixture: "llama-gqa-f32", method: .gptq, schemes: [.q4_0, .w8a8], importance: true),
        Case(fixture: "qwen2-tied", method: .gptq, schemes: [.int4(groupSize: 32), .q8_0], actOrder: true),
        Case(fixture: "gpt2", method: .gptq, schemes: [.q4_0], sequential: true),
        Case(fixture: "bigcode-mha", method: .gptq, schemes: [.int4(groupSize: 32)], actOrder: true),
        Case(fixture: "llama-gqa-f32", method: .awq, schemes: [.int4(groupSize: 32), .q8_0]),
        Case(fixture: "qwen2-tied", method: .awq, schemes: [.q4_0], importance: true),
        Case(fixture: "gpt2", method: .awq, schemes: [.q4_0, .w8a8]),
        Case(fixture: "bigcode-mha", method: .awq, schemes: [.int4(groupSize: 32)]),
    ]

    @Test(arguments: cases)
    func reloadsAndTracksTheFloatModel(_ c: Case) throws {
        let source = Fixtures.model(c.fixture)
        let float = try LoadedModel.load(directory: source)
        let tokens = (0..<10).map { ($0 * 37 + 5) % float.config.vocabSize }
        let reference = try allLogits(float.model, tokens)
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for scheme in c.schemes {
            var options = CheckpointQuantizer.Options(recipe: QuantizationRecipe(defaultFormat: scheme))
            options.method = c.method
            options.calibration = Self.calibration
            options.gptqActOrder = c.actOrder
            options.gptqSequential = c.sequential
            options.threads = 2
            options.awqSampleTokens = 32
            options.importance = c.importance
            let out = dir + "/\(scheme.name)"
            let report = try CheckpointQuantizer(directory: source, options: options).run(output: out, force: false)
            let quantized = try LoadedModel.load(directory: out)
            let logits = try allLogits(quantized.model, tokens)
            let cos = cosine(logits, reference)
            let floor = scheme == .q8_0 || scheme == .w8a8 ? 0.995 : 0.8
            #expect(cos >= floor, "\(c) \(scheme.name): cosine to float \(cos)")
            let section = try #require(try ModelDirectoryWriter.readConfigObject(directory: out)["quantization"] as? [String: Any])
            #expect(section["method"] as? String == c.method.rawValue)
            if c.method == .awq {
                // The embedding / output matrix is never rescaled; the norms feeding scaled groups are.
                #expect(!report.tensors.contains { ($0.name.contains("embed") || $0.name.contains("wte") || $0.name == "lm_head.weight") && $0.note?.contains("rescaled") == true })
            } else {
                let gptq = try #require(section["gptq"] as? [String: Any])
                #expect(gptq["act_order"] as? Bool == c.actOrder && gptq["sequential"] as? Bool == c.sequential)
            }
        }
    }

    /// On the calibration tokens themselves, GPTQ's layer-wise error compensation brings the
    /// 4-bit model closer to the float one than round-to-nearest does.
    @Test func gptqBeatsRoundToNearestOnItsCalibrationData() throws {
        let source = Fixtures.model("demo")
        let float = try LoadedModel.load(directory: source)
        let tokens = (0..<128).map { ($0 * 13 + 7) % 512 }
        let calibration = CalibrationSet(sequences: [Array(tokens[0..<64]), Array(tokens[64..<128])])
        let reference = try allLogits(float.model, Array(tokens[0..<64]))
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var distance: [QuantizationMethod: Double] = [:]
        for method in [QuantizationMethod.rtn, .gptq] {
            var options = CheckpointQuantizer.Options(recipe: QuantizationRecipe(defaultFormat: .int4(groupSize: 32)))
            options.method = method
            options.importance = false
            options.calibration = calibration
            options.threads = 2
            let out = dir + "/\(method.rawValue)"
            _ = try CheckpointQuantizer(directory: source, options: options).run(output: out, force: false)
            let logits = try allLogits(try LoadedModel.load(directory: out, dequantize: true).model, Array(tokens[0..<64]))
            distance[method] = zip(logits, reference).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
        }
        #expect(distance[.gptq]! < distance[.rtn]!, "\(distance)")
    }
}
