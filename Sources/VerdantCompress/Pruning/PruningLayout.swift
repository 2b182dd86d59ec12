import VerdantModels

/// Where each architecture keeps the rows and columns a plan removes: the
/// checkpoint tensor names of a family, which axis of each tensor is the
/// output/input feature axis, and how layers are numbered.
struct PruningLayout {
    let config: ModelConfig
    /// "model.layers." or "transformer.h." / "h.".
    let layerPrefix: String
    let embeddingName: String
    /// GPT-2 stores Conv1D weights [in, out].
    let conv1D: Bool

    init(config: ModelConfig, tensorNames: Set<String>) {
        self.config = config
        switch config.family {
        case .llama:
            layerPrefix = "model.layers."
            embeddingName = "model.embed_tokens.weight"
            conv1D = false
        case .gpt2:
            let prefix = tensorNames.contains("transformer.wte.weight") ? "transformer." : ""
            layerPrefix = prefix + "h."
            embeddingName = prefix + "wte.weight"
            conv1D = config.modelType == "gpt2"
        }
    }

    /// (layer index, the rest of the name) for a per-layer tensor.
    func splitLayer(_ name: String) -> (Int, String)? {
        guard name.hasPrefix(layerPrefix) else { return nil }
        let tail = name.dropFirst(layerPrefix.count)
        guard let dot = tail.firstIndex(of: "."), let index = Int(tail[..<dot]) else { return nil }
        return (index, String(tail[tail.index(after: dot)...]))
    }

    /// The output name and edit of a source tensor, or nil when the tensor goes
    /// (it belongs to a removed layer).
    func output(for name: String, shape: [Int], plan: PruningPlan, layerMap: [Int: Int]) -> (String, TensorEdit)? {
        let hidden = plan.hiddenChannels
        if name == embeddingName || name == "lm_head.weight" {
            if shape.count == 1 { return (name, .identity) }
            return (name, TensorEdit(rows: plan.vocabulary, cols: hidden))
        }
        guard let (layer, rest) = splitLayer(name) else {
            // The final norm (weight and bias) lives on the residual stream.
            if let hidden, config.family == .llama, name == "model.norm.weight" || name == "model.norm.bias" {
                return (name, TensorEdit(cols: hidden))
            }
            return (name, .identity)
        }
        guard let newIndex = layerMap[layer] else { return nil }
        let outName = layerPrefix + "\(newIndex)." + rest
        return (outName, edit(rest, shape: shape, neurons: plan.neurons(layer: layer), heads: plan.heads(layer: layer), hidden: hidden))
    }

    private typealias Axis = (keep: [Int]?, zero: Set<Int>)
    private static let whole: Axis = (nil, [])

    /// A linear weight [out, in] (Conv1D: [in, out]) or its 1-D bias [out].
    private func linear(shape: [Int], out: Axis, in inAxis: Axis = whole, conv1D: Bool) -> TensorEdit {
        if shape.count == 1 { return TensorEdit(cols: out.keep, zeroCols: out.zero) }
        if conv1D { return TensorEdit(rows: inAxis.keep, cols: out.keep, zeroRows: inAxis.zero, zeroCols: out.zero) }
        return TensorEdit(rows: out.keep, cols: inAxis.keep, zeroRows: out.zero, zeroCols: inAxis.zero)
    }

    private func edit(_ rest: String, shape: [Int], neurons: PruningPlan.LayerNeurons?,
                      heads: PruningPlan.LayerHeads?, hidden: [Int]?) -> TensorEdit {
        let hiddenAxis: Axis = hidden.map { ($0, []) } ?? Self.whole
        let d = config.headDim
        let ffnAxis: Axis = neurons.map { ($0.kept, Set($0.zeroed)) } ?? Self.whole
        let headAxis: Axis = heads.map { (expand($0.keptHeads, width: d), Set(expand($0.zeroedHeads, width: d))) } ?? Self.whole
        let kvAxis: Axis = heads.map { (expand($0.keptKVHeads, width: d), []) } ?? Self.whole
        let part = rest.hasSuffix(".weight") ? String(rest.dropLast(7)) : rest.hasSuffix(".bias") ? String(rest.dropLast(5)) : rest
        switch config.family {
        case .llama:
            switch part {
            case "self_attn.q_proj": return linear(shape: shape, out: headAxis, in: hiddenAxis, conv1D: false)
            case "self_attn.k_proj", "self_attn.v_proj": return linear(shape: shape, out: kvAxis, in: hiddenAxis, conv1D: false)
            case "self_attn.o_proj": return linear(shape: shape, out: hiddenAxis, in: headAxis, conv1D: false)
            case "mlp.gate_proj", "mlp.up_proj": return linear(shape: shape, out: ffnAxis, in: hiddenAxis, conv1D: false)
            case "mlp.down_proj": return linear(shape: shape, out: hiddenAxis, in: ffnAxis, conv1D: false)
            case "input_layernorm", "post_attention_layernorm":
                return hidden.map { TensorEdit(cols: $0) } ?? .identity
            default: return .identity
            }
        case .gpt2:
            switch part {
            case "attn.c_attn":
                // GPT-2 family heads are zeroed, never removed (see PruningPlan.validate).
                let zeroed = heads?.zeroedHeads ?? []
                return linear(shape: shape, out: (nil, Set(fusedQKVRows(zeroedHeads: zeroed))), conv1D: conv1D)
            case "attn.c_proj":
                return rest.hasSuffix(".bias") ? .identity : linear(shape: shape, out: Self.whole, in: headAxis, conv1D: conv1D)
            case "mlp.c_fc": return linear(shape: shape, out: ffnAxis, conv1D: conv1D)
            case "mlp.c_proj":
                return rest.hasSuffix(".bias") ? .identity : linear(shape: shape, out: Self.whole, in: ffnAxis, conv1D: conv1D)
            default: return .identity
            }
        }
    }

    /// Output features of a fused c_attn that belong to `zeroedHeads`. GPT-2
    /// orders them q | k | v (each head a block of head_dim); GPT-BigCode without
    /// multi-query interleaves [q_h, k_h, v_h] per head; with multi-query the one
    /// shared k/v head stays.
    func fusedQKVRows(zeroedHeads: [Int]) -> [Int] {
        let d = config.headDim, q = config.qDim, kv = config.kvDim
        if config.modelType == "gpt_bigcode" {
            if config.numKVHeads == config.numHeads { return expand(zeroedHeads, width: 3 * d) }
            return expand(zeroedHeads, width: d)
        }
        return expand(zeroedHeads, width: d) + expand(zeroedHeads, width: d, offset: q) + expand(zeroedHeads, width: d, offset: q + kv)
    }
}
