import Foundation

/// The `general.*` and `{arch}.*` keys llama.cpp reads to build a model,
/// with the names and value types its converter (convert_hf_to_gguf.py) writes.
enum GGUFMetadata {
    static func hyperparameters(config c: ModelConfig, architecture arch: GGUFArchitecture,
                                name: String, fileType: GGMLType) -> [(String, GGUFValue)] {
        let a = arch.rawValue
        var kv: [(String, GGUFValue)] = [
            ("general.architecture", .string(a)),
            ("general.type", .string("model")),
            ("general.name", .string(name)),
            ("general.file_type", .uint32(fileType.fileType)),
            ("general.quantization_version", .uint32(2)),
            ("\(a).context_length", .uint32(UInt32(c.maxPositions))),
            ("\(a).embedding_length", .uint32(UInt32(c.hiddenSize))),
            ("\(a).block_count", .uint32(UInt32(c.numLayers))),
            ("\(a).feed_forward_length", .uint32(UInt32(c.intermediateSize))),
            ("\(a).attention.head_count", .uint32(UInt32(c.numHeads))),
            ("\(a).attention.head_count_kv", .uint32(UInt32(c.numKVHeads))),
            ("\(a).vocab_size", .uint32(UInt32(c.vocabSize))),
        ]
        switch c.family {
        case .llama:
            kv.append(("\(a).attention.layer_norm_rms_epsilon", .float32(c.normEps)))
            // Stated explicitly: llama.cpp would otherwise derive head size as hidden / heads.
            kv.append(("\(a).attention.key_length", .uint32(UInt32(c.headDim))))
            kv.append(("\(a).attention.value_length", .uint32(UInt32(c.headDim))))
        case .gpt2:
            kv.append(("\(a).attention.layer_norm_epsilon", .float32(c.normEps)))
        }
        if let rope = c.rope {
            kv.append(("\(a).rope.freq_base", .float32(rope.theta)))
            kv.append(("\(a).rope.dimension_count", .uint32(UInt32(rope.rotaryDim))))
            switch rope.scaling {
            case .none:
                break
            case .linear(let factor):
                kv.append(("\(a).rope.scaling.type", .string("linear")))
                kv.append(("\(a).rope.scaling.factor", .float32(factor)))
            case .llama3:
                // No key: llama.cpp takes Llama 3 scaling from the rope_freqs tensor.
                break
            }
        }
        return kv
    }

    /// Llama 3.1 scaling as per-frequency divisors (the `rope_freqs` tensor,
    /// n_rot/2 values): 1 for short wavelengths, `factor` for long ones, a
    /// smooth blend between. Same rule as transformers' llama3 rope init.
    static func llama3FrequencyFactors(_ rope: RoPEConfig) -> [Float]? {
        guard case .llama3(let factor, let low, let high, let original) = rope.scaling else { return nil }
        let d = rope.rotaryDim
        let lowWavelen = Double(original) / Double(low)
        let highWavelen = Double(original) / Double(high)
        return (0..<(d / 2)).map { i in
            let freq = 1 / pow(Double(rope.theta), Double(2 * i) / Double(d))
            let wavelen = 2 * Double.pi / freq
            if wavelen < highWavelen { return 1 }
            if wavelen > lowWavelen { return factor }
            let smooth = (Double(original) / wavelen - Double(low)) / (Double(high) - Double(low))
            return Float(1 / ((1 - smooth) / Double(factor) + smooth))
        }
    }
}
