import Foundation
import VerdantTensors
import VerdantTokenizer

public struct GGUFExportOptions: Sendable {
    /// Type of the 2-D weights; nil picks the checkpoint's own format when GGUF
    /// has it (f32, f16, bf16, q8_0, q4_0, int4_g32 as q4_1), else f16.
    public var type: GGMLType?
    /// false: no vocabulary (tokenizer model "none"); llama.cpp can then only
    /// run the file from token ids.
    public var includeVocabulary: Bool

    public init(type: GGMLType? = nil, includeVocabulary: Bool = true) {
        self.type = type
        self.includeVocabulary = includeVocabulary
    }
}

public struct GGUFExportSummary: Sendable {
    public var architecture: GGUFArchitecture
    public var type: GGMLType
    public var tensors: Int
    public var fileBytes: Int
    /// Quantized source tensors whose bytes were copied unchanged.
    public var copiedExactly: [String]
    /// Quantized source tensors dequantized and quantized again.
    public var requantized: [String]
    /// Tensors written as f16 because their rows are not whole blocks.
    public var f16Fallbacks: [String]
}

/// Writes a model directory (float or Verdant-quantized) as a GGUF file that
/// llama.cpp runs. The weights come from the same `DecoderModel` Verdant
/// executes (Conv1D already transposed, GPT-BigCode MHA qkv already regrouped
/// to q | k | v), so the file holds exactly the weights Verdant computes with.
public enum GGUFExporter {
    public static func export(modelDirectory dir: String, to url: URL, options: GGUFExportOptions = GGUFExportOptions(),
                              log: @escaping (String) -> Void = { _ in }) throws -> GGUFExportSummary {
        let config = try ModelRegistry.config(directory: dir)
        guard let arch = GGUFArchitecture(modelType: config.modelType) else {
            throw GGUFError.unsupported("model_type '\(config.modelType)' has no GGUF export (supported: llama, mistral, qwen2, gpt2, gpt_bigcode)")
        }
        // The vocabulary is checked first: it is the cheap failure.
        var vocabulary: [(String, GGUFValue)] = GGUFVocabulary.placeholder()
        if options.includeVocabulary {
            let tokenizerPath = (dir as NSString).appendingPathComponent("tokenizer.json")
            guard FileManager.default.fileExists(atPath: tokenizerPath) else {
                throw GGUFError.unsupported("\(dir) has no tokenizer.json; a GGUF file carries the vocabulary (pass --no-vocab to export the weights alone, runnable from token ids)")
            }
            let v = try GGUFVocabulary.metadata(directory: dir, tokenizer: try Tokenizer(contentsOf: tokenizerPath), config: config)
            vocabulary = v.metadata
            v.notes.forEach(log)
        }
        if let w = config.slidingWindow, w < config.maxPositions {
            log("note: sliding_window \(w) is not written (llama.cpp's llama architecture attends over the whole context); outputs agree up to \(w) tokens")
        }

        let model = try LoadedModel.load(directory: dir).model
        let type = options.type ?? automaticType(model)
        var plan = TensorPlan(type: type, log: log)

        plan.writer.set("general.architecture", .string(arch.rawValue))
        let name = URL(fileURLWithPath: dir).standardizedFileURL.lastPathComponent
        for (k, v) in GGUFMetadata.hyperparameters(config: config, architecture: arch, name: name, fileType: type) {
            plan.writer.set(k, v)
        }
        for (k, v) in vocabulary { plan.writer.set(k, v) }

        try addTensors(model, config: config, arch: arch, to: &plan)
        try plan.writer.write(to: url)
        let attributes = try? FileManager.default.attributesOfItem(atPath: url.path)
        let size = (attributes?[.size] as? Int) ?? 0
        return GGUFExportSummary(architecture: arch, type: type, tensors: plan.writer.tensorNames.count, fileBytes: size,
                                 copiedExactly: plan.copied, requantized: plan.requantized, f16Fallbacks: plan.fallbacks)
    }

    /// The layers' weight format when it is uniform and GGUF stores it as is; else f16.
    static func automaticType(_ model: DecoderModel) -> GGMLType {
        var formats = Set<WeightFormat>()
        for layer in model.layers {
            for l in layer.linears { formats.insert(l.weight.format) }
        }
        if formats.count == 1, let f = formats.first, let t = GGMLType(bitCompatibleWith: f) { return t }
        return .f16
    }

    static func addTensors(_ model: DecoderModel, config c: ModelConfig, arch: GGUFArchitecture,
                           to plan: inout TensorPlan) throws {
        typealias N = GGUFTensorName
        try plan.matrix(N.tokenEmbedding + ".weight", model.embedding)
        if let positions = model.positionEmbedding {
            // Kept f32, as llama.cpp's converter and quantizer do.
            try plan.matrix(N.positionEmbedding + ".weight", positions, type: .f32)
        }
        if let rope = c.rope, let factors = GGUFMetadata.llama3FrequencyFactors(rope) {
            try plan.writer.addTensor(N.ropeFrequencies + ".weight", floats: factors)
        }
        let qOrder = arch.permutesQK ? ggufRoPEPermutation(rows: c.qDim, heads: c.numHeads) : nil
        let kOrder = arch.permutesQK ? ggufRoPEPermutation(rows: c.kvDim, heads: c.numKVHeads) : nil
        if arch.permutesQK && (qOrder == nil || kOrder == nil) {
            throw GGUFError.unsupported("head_dim \(c.headDim) must be even to reorder q/k rows for llama.cpp's RoPE")
        }
        for (i, layer) in model.layers.enumerated() {
            func name(_ part: String) -> String { N.block(i, part) }
            try plan.norm(name(N.attentionNorm), layer.attentionNorm)
            switch layer.attention {
            case .separate(let q, let k, let v):
                try plan.linear(name(N.query), q, rowOrder: qOrder)
                try plan.linear(name(N.key), k, rowOrder: kOrder)
                try plan.linear(name(N.value), v)
            case .fused(let qkv):
                try plan.linear(name(N.fusedQKV), qkv)
            }
            try plan.linear(name(N.attentionOutput), layer.output)
            try plan.norm(name(N.ffnNorm), layer.mlpNorm)
            switch layer.mlp {
            case .gated(let gate, let up, let down):
                try plan.linear(name(N.ffnGate), gate)
                try plan.linear(name(N.ffnUp), up)
                try plan.linear(name(N.ffnDown), down)
            case .plain(let up, let down):
                try plan.linear(name(N.ffnUp), up)
                try plan.linear(name(N.ffnDown), down)
            }
        }
        try plan.norm(N.outputNorm, model.finalNorm)
        // Tied embeddings: llama.cpp reuses token_embd when `output` is absent.
        if !c.tieWordEmbeddings {
            try plan.linear(N.output, model.lmHead)
        }
    }
}

extension DecoderLayer {
    var linears: [Linear] {
        var out: [Linear] = [output]
        switch attention {
        case .separate(let q, let k, let v): out += [q, k, v]
        case .fused(let qkv): out.append(qkv)
        }
        switch mlp {
        case .gated(let g, let u, let d): out += [g, u, d]
        case .plain(let u, let d): out += [u, d]
        }
        return out
    }
}

/// Tensors on their way into the writer, with the per-tensor type decisions.
struct TensorPlan {
    var writer = GGUFWriter()
    let type: GGMLType
    let log: (String) -> Void
    var copied: [String] = []
    var requantized: [String] = []
    var fallbacks: [String] = []

    init(type: GGMLType, log: @escaping (String) -> Void) {
        self.type = type
        self.log = log
    }

    mutating func norm(_ base: String, _ n: Norm) throws {
        try writer.addTensor(base + ".weight", floats: n.weight)
        if let b = n.bias { try writer.addTensor(base + ".bias", floats: b) }
    }

    mutating func linear(_ base: String, _ l: Linear, rowOrder: [Int]? = nil) throws {
        try matrix(base + ".weight", l.weight, rowOrder: rowOrder)
        if let b = l.bias {
            try writer.addTensor(base + ".bias", floats: rowOrder.map { $0.map { b[$0] } } ?? b)
        }
    }

    /// Adds a 2-D weight in `type` (or `type` override). Block formats need rows
    /// of whole blocks; other rows fall back to f16. A quantized source already
    /// in the target's layout is copied byte for byte (a row permutation moves
    /// whole rows, so blocks stay intact).
    mutating func matrix(_ name: String, _ source: WeightMatrix, rowOrder: [Int]? = nil, type override: GGMLType? = nil) throws {
        var target = override ?? type
        if target.isQuantized && source.cols % target.blockSize != 0 {
            log("\(name): rows of \(source.cols) are not a multiple of \(target.blockSize); written as f16")
            fallbacks.append(name)
            target = .f16
        }
        var source = source
        if source.format.sparsePairs != nil {
            // GGUF has no sparse type: the kept tiles are written in a dense type (zeros elsewhere).
            log("\(name): \(source.format.name) written dense")
            source = source.densified()
        }
        let m = rowOrder.map { source.permutingRows($0) } ?? source
        let rows = m.rows, cols = m.cols
        if GGMLType(bitCompatibleWith: m.format) == target {
            if m.format.isQuantized { copied.append(name) }
            try writer.addTensor(name, shape: [rows, cols], type: target) { out in
                withExtendedLifetime(m.owner) {
                    out.copyMemory(from: UnsafeRawBufferPointer(start: m.data, count: min(out.count, m.byteCount)))
                }
            }
            return
        }
        if m.format.isQuantized && target.isQuantized {
            log("warning: \(name): \(m.format.name) → \(target.name): dequantizing and quantizing again (not bit-exact)")
            requantized.append(name)
        }
        let t = target
        try writer.addTensor(name, shape: [rows, cols], type: t) { out in
            guard let dst = out.baseAddress, let rowBytes = t.rowBytes(cols: cols) else { return }
            let row = UnsafeMutablePointer<Float>.allocate(capacity: cols)
            defer { row.deallocate() }
            withExtendedLifetime(m.owner) {
                for r in 0..<rows {
                    m.copyRow(r, into: row)
                    encodeRow(row, cols: cols, as: t, into: dst + r * rowBytes)
                }
            }
        }
    }
}

/// One row of floats in a GGML type (block types use the GGUF reference rule).
func encodeRow(_ src: UnsafePointer<Float>, cols: Int, as type: GGMLType, into dst: UnsafeMutableRawPointer) {
    switch type {
    case .f32:
        dst.copyMemory(from: src, byteCount: cols * 4)
    case .f16:
        for c in 0..<cols { dst.storeBytes(of: floatToF16(src[c]), toByteOffset: 2 * c, as: UInt16.self) }
    case .bf16:
        for c in 0..<cols { dst.storeBytes(of: floatToBF16(src[c]), toByteOffset: 2 * c, as: UInt16.self) }
    case .q8_0, .q4_0, .q4_1:
        type.weightFormat.codec.quantizeRow(src, cols: cols, into: dst)
    }
}
