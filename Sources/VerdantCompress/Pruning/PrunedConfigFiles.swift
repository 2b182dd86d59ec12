import VerdantModels

/// Rewrites the JSON files of a model directory for a pruned model, changing
/// only what pruning changes and keeping every other key as written.
public enum PrunedConfigFiles {
    /// config.json: layer, width, head and vocabulary sizes; special token ids.
    public static func config(_ json: OrderedJSON, original o: ModelConfig, pruned p: ModelConfig,
                              keptLayers: [Int], vocabularyMap: [Int: Int]?) -> OrderedJSON {
        var out = json
        switch o.family {
        case .llama:
            out.set("num_hidden_layers", .integer(p.numLayers))
            out.set("hidden_size", .integer(p.hiddenSize))
            out.set("intermediate_size", .integer(p.intermediateSize))
            out.set("num_attention_heads", .integer(p.numHeads))
            out.set("num_key_value_heads", .integer(p.numKVHeads))
            // transformers derives head_dim from hidden / heads unless it is given.
            if json["head_dim"] != nil || p.hiddenSize != p.numHeads * p.headDim || p.numHeads != o.numHeads || p.hiddenSize != o.hiddenSize {
                out.set("head_dim", .integer(p.headDim))
            }
        case .gpt2:
            out.set("n_layer", .integer(p.numLayers))
            if json["n_inner"].map({ !$0.isNull }) ?? false || p.intermediateSize != o.intermediateSize {
                out.set("n_inner", .integer(p.intermediateSize))
            }
        }
        out.set("vocab_size", .integer(p.vocabSize))
        // Per-layer lists (Qwen2's `layer_types`) keep the kept layers' entries.
        if let types = json["layer_types"]?.items, types.count == o.numLayers, keptLayers.allSatisfy({ $0 < types.count }) {
            out.set("layer_types", .array(keptLayers.map { types[$0] }))
        }
        if let map = vocabularyMap { out = remapTokenIds(out, map: map) }
        return out
    }

    static func isTokenIdKey(_ key: String) -> Bool {
        key.hasSuffix("_token_id") || key.hasSuffix("_token_ids") || key == "suppress_tokens" || key == "begin_suppress_tokens"
    }

    /// Token ids named by config.json / generation_config.json keys.
    public static func tokenIds(in json: OrderedJSON) -> [Int] {
        var ids: [Int] = []
        for m in json.members ?? [] where isTokenIdKey(m.key) {
            if let i = m.value.intValue { ids.append(i) }
            for v in m.value.items ?? [] { if let i = v.intValue { ids.append(i) } }
        }
        return ids
    }

    /// Token id keys renumbered; an id without a new id becomes null (or leaves its list).
    public static func remapTokenIds(_ json: OrderedJSON, map: [Int: Int]) -> OrderedJSON {
        var out = json
        for m in json.members ?? [] where isTokenIdKey(m.key) {
            if let i = m.value.intValue {
                out.set(m.key, map[i].map { .integer($0) } ?? .null)
            } else if let items = m.value.items {
                out.set(m.key, .array(items.compactMap { v in v.intValue.flatMap { map[$0] }.map { .integer($0) } }))
            }
        }
        return out
    }

    /// tokenizer_config.json: `added_tokens_decoder` is keyed by id.
    public static func tokenizerConfig(_ json: OrderedJSON, map: [Int: Int]) -> OrderedJSON {
        var out = remapTokenIds(json, map: map)
        if let decoder = json["added_tokens_decoder"]?.members {
            let remapped = decoder.compactMap { m -> (Int, OrderedJSON.Member)? in
                guard let old = Int(m.key), let new = map[old] else { return nil }
                return (new, .init(String(new), m.value))
            }.sorted { $0.0 < $1.0 }.map(\.1)
            out.set("added_tokens_decoder", .object(remapped))
        }
        return out
    }

    /// added_tokens.json: {content: id}.
    public static func addedTokensFile(_ json: OrderedJSON, map: [Int: Int]) -> OrderedJSON {
        .object((json.members ?? []).compactMap { m in
            m.value.intValue.flatMap { map[$0] }.map { .init(m.key, .integer($0)) }
        })
    }
}
