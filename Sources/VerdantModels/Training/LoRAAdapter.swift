import Foundation

/// A LoRA adapter on one linear of a store-built model: y = x·Wᵀ + b + scale·(x·Aᵀ)·Bᵀ
/// with scale = α / r. A [r, in] and B [out, r] are parameters of the same
/// `ParameterStore` (so AdamW, clipping and checkpoints treat them like any
/// other tensor); the base W stays frozen.
public struct LoRAAdapter: Sendable, Equatable {
    /// Checkpoint name of the base weight, e.g. model.layers.0.self_attn.q_proj.weight.
    public let base: String
    /// Store names: "<module>.lora_A.weight" [r, in] and "<module>.lora_B.weight" [out, r]
    /// (B in the model's row order, like W: bigcode's interleaved c_attn is regrouped).
    public let a: String
    public let b: String
    public let rank: Int
    public let scale: Float

    /// Module path of the base linear (its weight name without ".weight").
    public var module: String { base.hasSuffix(".weight") ? String(base.dropLast(7)) : base }

    public init(base: String, rank: Int, scale: Float) {
        self.base = base
        let module = base.hasSuffix(".weight") ? String(base.dropLast(7)) : base
        a = module + ".lora_A.weight"
        b = module + ".lora_B.weight"
        self.rank = rank
        self.scale = scale
    }
}

/// What a user names with --targets. GPT-2 and bigcode fuse q, k and v into one
/// c_attn, so any of q/k/v adapts the whole c_attn; o is attn.c_proj, up is
/// mlp.c_fc, down is mlp.c_proj; they have no gate.
public enum LoRATarget: String, CaseIterable, Sendable {
    case q, k, v, o, gate, up, down

    /// "q,k,v" → targets; unknown names are an error.
    public static func parse(_ list: String) throws -> [LoRATarget] {
        let names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw LoRAError("--targets is empty; name some of q,k,v,o,gate,up,down") }
        return try names.map { n in
            guard let t = LoRATarget(rawValue: n) else {
                throw LoRAError("unknown LoRA target '\(n)'; the targets are q,k,v,o,gate,up,down")
            }
            return t
        }
    }
}

public struct LoRAError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

extension DecoderModel {
    /// The linears `targets` name, layer by layer (a fused qkv once). A target the
    /// architecture does not have (gate on GPT-2) is an error.
    public func loraLinears(_ targets: [LoRATarget]) throws -> [Linear] {
        let t = Set(targets)
        var out: [Linear] = []
        for layer in layers {
            switch layer.attention {
            case .separate(let q, let k, let v):
                if t.contains(.q) { out.append(q) }
                if t.contains(.k) { out.append(k) }
                if t.contains(.v) { out.append(v) }
            case .fused(let qkv):
                if !t.isDisjoint(with: [.q, .k, .v]) { out.append(qkv) }
            }
            if t.contains(.o) { out.append(layer.output) }
            switch layer.mlp {
            case .gated(let gate, let up, let down):
                if t.contains(.gate) { out.append(gate) }
                if t.contains(.up) { out.append(up) }
                if t.contains(.down) { out.append(down) }
            case .plain(let up, let down):
                if t.contains(.gate) {
                    throw LoRAError("\(config.modelType) has no gate projection (its MLP is c_fc → c_proj); drop 'gate' from --targets")
                }
                if t.contains(.up) { out.append(up) }
                if t.contains(.down) { out.append(down) }
            }
        }
        return out
    }

    /// Every linear an adapter may sit on (for loading adapters by module name).
    public var adaptableLinears: [Linear] {
        let all: [LoRATarget] = config.family == .gpt2 ? [.q, .o, .up, .down] : LoRATarget.allCases
        return (try? loraLinears(all)) ?? []
    }
}
