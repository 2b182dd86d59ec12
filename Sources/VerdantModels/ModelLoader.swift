import VerdantTensors

/// A model directory loaded for inference: config, memory-mapped weights, model.
public struct LoadedModel: Sendable {
    public let directory: String
    public let config: ModelConfig
    public let model: DecoderModel

    /// Reads config.json and the safetensors checkpoint (single file or shards)
    /// and builds the model. Weights stay memory-mapped in their stored dtype.
    /// dequantize: a quantized checkpoint's matrices are widened to f32 at load
    /// (the float model its quantized weights represent: a reference for
    /// measuring what activation quantization costs).
    public static func load(directory: String, dequantize: Bool = false) throws -> LoadedModel {
        let config = try ModelRegistry.config(directory: directory)
        let checkpoint = try Checkpoint(path: directory)
        let model: DecoderModel
        if let manifest = try QuantizationManifest.read(directory: directory) {
            let source = QuantizedCheckpoint(checkpoint: checkpoint, manifest: manifest, dequantize: dequantize)
            model = try DecoderModel.build(config: config, weights: source)
        } else {
            model = try DecoderModel.build(config: config, weights: checkpoint)
        }
        return LoadedModel(directory: directory, config: config, model: model)
    }
}

/// What `verdant inspect` reports, read without building the model.
public struct ModelInfo: Sendable {
    public let config: ModelConfig
    public let parameterCount: Int
    /// Parameters per stored dtype name (e.g. "BF16").
    public let parametersByDType: [String: Int]
    public let bytesOnDisk: Int
    public let tensorCount: Int

    public static func read(directory: String) throws -> ModelInfo {
        let config = try ModelRegistry.config(directory: directory)
        let checkpoint = try Checkpoint(path: directory)
        let manifest = try QuantizationManifest.read(directory: directory)
        var byDType: [String: Int] = [:]
        var total = 0
        for t in checkpoint.tensors {
            // Quantized tensors are stored as bytes: count their logical elements under the format's name.
            if let q = manifest?.tensors[t.name] {
                byDType[q.format.name, default: 0] += q.rows * q.cols
                total += q.rows * q.cols
                continue
            }
            byDType[t.dtype.rawValue, default: 0] += t.elementCount
            total += t.elementCount
        }
        return ModelInfo(config: config, parameterCount: total, parametersByDType: byDType,
                         bytesOnDisk: checkpoint.totalBytes, tensorCount: checkpoint.tensors.count)
    }
}

extension DecoderModel {
    /// Builds the architecture `config.family` names from named weights.
    public static func build(config: ModelConfig, weights: WeightSource) throws -> DecoderModel {
        switch config.family {
        case .llama: return try LlamaArchitecture.build(config: config, weights: weights)
        case .gpt2: return try GPT2Architecture.build(config: config, weights: weights)
        }
    }
}
