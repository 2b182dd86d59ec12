import VerdantTensors

/// GPT-2 (Conv1D weights stored [in, out]) and GPT-BigCode / StarCoder
/// (nn.Linear weights, multi-query attention).
enum GPT2Architecture {
    static func build(config c: ModelConfig, weights w: WeightSource) throws -> DecoderModel {
        let H = c.hiddenSize, I = c.intermediateSize
        let isConv1D = c.modelType == "gpt2"
        // Hub GPT-2 checkpoints exist with and without the "transformer." prefix.
        let prefix = w.has("transformer.wte.weight") ? "transformer." : ""

        // Conv1D stores [in, out]: transpose once at load, same dtype.
        func linear(_ name: String, out: Int, in inF: Int) throws -> Linear {
            let weight: WeightMatrix
            if isConv1D {
                let stored = try w.matrix(name + ".weight", rows: inF, cols: out)
                weight = w.isPreTransposed(name + ".weight") ? stored : stored.transposed()
            } else {
                weight = try w.matrix(name + ".weight", rows: out, cols: inF)
            }
            return Linear(weight: weight, bias: try w.optionalVector(name + ".bias", count: out, required: true),
                          name: name + ".weight")
        }
        func norm(_ name: String) throws -> Norm {
            Norm(kind: .layer, weight: try w.vector(name + ".weight", count: H),
                 bias: try w.vector(name + ".bias", count: H), eps: c.normEps, name: name + ".weight")
        }

        let embedding = try w.matrix(prefix + "wte.weight", rows: c.vocabSize, cols: H)
        let positions = try w.matrix(prefix + "wpe.weight", rows: c.maxPositions, cols: H)
        var layers: [DecoderLayer] = []
        for i in 0..<c.numLayers {
            let p = prefix + "h.\(i)."
            var qkv = try linear(p + "attn.c_attn", out: c.qDim + 2 * c.kvDim, in: H)
            if c.modelType == "gpt_bigcode" && c.numKVHeads == c.numHeads && !w.isPreRegrouped(p + "attn.c_attn.weight") {
                qkv = regroupInterleavedQKV(qkv, heads: c.numHeads, headDim: c.headDim)
            }
            layers.append(DecoderLayer(
                attentionNorm: try norm(p + "ln_1"),
                attention: .fused(qkv),
                output: try linear(p + "attn.c_proj", out: H, in: c.qDim),
                mlpNorm: try norm(p + "ln_2"),
                mlp: .plain(up: try linear(p + "mlp.c_fc", out: I, in: H),
                            down: try linear(p + "mlp.c_proj", out: H, in: I))))
        }
        let head: Linear
        if c.tieWordEmbeddings {
            head = Linear(weight: embedding, name: prefix + "wte.weight")
        } else {
            head = Linear(weight: try w.matrix("lm_head.weight", rows: c.vocabSize, cols: H), name: "lm_head.weight")
        }
        return DecoderModel(config: c, embedding: embedding, positionEmbedding: positions, layers: layers,
                            finalNorm: try norm(prefix + "ln_f"), lmHead: head,
                            embeddingName: prefix + "wte.weight", positionEmbeddingName: prefix + "wpe.weight")
    }

    /// GPT-BigCode without multi-query lays c_attn's outputs out per head as
    /// [q_h, k_h, v_h]; reorder rows to q(all heads) | k | v like the MQA layout.
    static func regroupInterleavedQKV(_ l: Linear, heads: Int, headDim d: Int) -> Linear {
        let order = interleavedQKVOrder(heads: heads, headDim: d)
        return Linear(weight: l.weight.permutingRows(order), bias: l.bias.map { b in order.map { b[$0] } }, name: l.name)
    }

    /// Model row i of the fused qkv projection is checkpoint row order[i].
    static func interleavedQKVOrder(heads: Int, headDim d: Int) -> [Int] {
        var order: [Int] = []
        for part in 0..<3 {
            for h in 0..<heads {
                for j in 0..<d { order.append(h * 3 * d + part * d + j) }
            }
        }
        return order
    }
}
