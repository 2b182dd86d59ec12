import Foundation

/// Maps config.json's `model_type` to the Codable config that understands it.
public enum ModelRegistry {
    typealias Parser = @Sendable (Data) throws -> ModelConfig

    static let parsers: [String: Parser] = [
        "llama": { try LlamaConfig.parse($0, modelType: "llama") },
        "mistral": { try LlamaConfig.parse($0, modelType: "mistral") },
        "qwen2": { try LlamaConfig.parse($0, modelType: "qwen2") },
        "gpt2": { try GPT2Config.parse($0) },
        "gpt_bigcode": { try GPTBigCodeConfig.parse($0) },
    ]

    public static var supportedModelTypes: [String] { parsers.keys.sorted() }

    /// Parses config.json bytes.
    public static func config(fromJSON data: Data) throws -> ModelConfig {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ConfigError.malformed("not valid JSON")
        }
        guard let dict = object as? [String: Any] else { throw ConfigError.malformed("top level is not an object") }
        guard let type = dict["model_type"] as? String else { throw ConfigError.malformed("no 'model_type' string") }
        guard let parser = parsers[type] else { throw ConfigError.unknownModelType(type) }
        do {
            var config = try parser(data)
            config.validateTokenIDs()
            try config.validate()
            return config
        } catch let e as ConfigError {
            throw e
        } catch let e as DecodingError {
            throw ConfigError.malformed(describe(e))
        }
    }

    /// Reads MODEL_DIR/config.json.
    public static func config(directory: String) throws -> ModelConfig {
        let path = directory.hasSuffix("/") ? directory + "config.json" : directory + "/config.json"
        guard let data = FileManager.default.contents(atPath: path) else { throw ConfigError.missingFile(path) }
        return try config(fromJSON: data)
    }

    static func describe(_ e: DecodingError) -> String {
        func path(_ p: [CodingKey]) -> String { p.map(\.stringValue).joined(separator: ".") }
        switch e {
        case .typeMismatch(let t, let c): return "'\(path(c.codingPath))' is not a \(t)"
        case .valueNotFound(let t, let c): return "'\(path(c.codingPath))' is null, expected \(t)"
        case .keyNotFound(let k, let c): return "missing '\(path(c.codingPath + [k]))'"
        case .dataCorrupted(let c): return "\(path(c.codingPath)): \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}

extension ModelConfig {
    /// Drops bos/eos ids outside the vocabulary: some checkpoints declare ids of
    /// tokens they do not have; using them would index past the embedding table.
    mutating func validateTokenIDs() {
        bosTokenIds = bosTokenIds.filter { $0 >= 0 && $0 < vocabSize }
        eosTokenIds = eosTokenIds.filter { $0 >= 0 && $0 < vocabSize }
    }

    func validate() throws {
        guard numHeads % numKVHeads == 0 else {
            throw ConfigError.invalid("num_attention_heads (\(numHeads)) is not a multiple of num_key_value_heads (\(numKVHeads))")
        }
        guard normEps.isFinite, normEps >= 0 else { throw ConfigError.invalid("norm epsilon \(normEps)") }
        if let rope, rope.rotaryDim % 2 != 0 { throw ConfigError.invalid("head_dim \(rope.rotaryDim) must be even for RoPE") }
    }
}
