/// How a tensor's checkpoint layout relates to the layout the model computes
/// with. A `ParameterStore` keeps the model layout so that the model's matrices
/// point into it, and converts back when it writes a checkpoint or reports a
/// gradient in checkpoint terms.
public enum ParameterLayout: Sendable, Equatable {
    case plain
    /// GPT-2 Conv1D weight: checkpoint [in, out], model [out, in].
    case conv1D
    /// gpt_bigcode c_attn without multi-query: checkpoint rows per head
    /// [q_h | k_h | v_h], model rows q (all heads) | k | v.
    case interleavedQKV(heads: Int, headDim: Int)

    /// The layout of checkpoint tensor `name` of `shape` under `config`
    /// (the same rules GPT2Architecture applies when it loads them).
    static func of(_ name: String, shape: [Int], config c: ModelConfig) -> ParameterLayout {
        if c.modelType == "gpt2" && shape.count == 2 {
            for part in [".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight"]
            where name.hasSuffix(part) { return .conv1D }
        }
        if c.modelType == "gpt_bigcode" && c.numKVHeads == c.numHeads
            && (name.hasSuffix(".attn.c_attn.weight") || name.hasSuffix(".attn.c_attn.bias")
                || name.hasSuffix(".attn.c_attn.lora_B.weight")) {
            // A LoRA B [3·H, r] on the interleaved c_attn is regrouped like its rows.
            return .interleavedQKV(heads: c.numHeads, headDim: c.headDim)
        }
        return .plain
    }

    /// Model-layout shape of a checkpoint shape.
    public func modelShape(_ shape: [Int]) -> [Int] {
        self == .conv1D ? [shape[1], shape[0]] : shape
    }

    /// checkpoint → model. src, dst: [count] (checkpoint shape `shape`).
    public func toModel(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, shape: [Int]) {
        convert(src, dst, shape: shape, inverse: false)
    }

    /// model → checkpoint (the same tensor, checkpoint shape `shape`).
    public func toCheckpoint(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, shape: [Int]) {
        convert(src, dst, shape: shape, inverse: true)
    }

    private func convert(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, shape: [Int], inverse: Bool) {
        let count = shape.reduce(1, *)
        switch self {
        case .plain:
            dst.update(from: src, count: count)
        case .conv1D:
            // checkpoint [a, b] ↔ model [b, a]
            let (rows, cols) = inverse ? (shape[1], shape[0]) : (shape[0], shape[1])
            for r in 0..<rows { for c in 0..<cols { dst[c * rows + r] = src[r * cols + c] } }
        case .interleavedQKV(let heads, let d):
            // Rows of `width` values (1 for the bias).
            let width = shape.count == 2 ? shape[1] : 1
            let order = GPT2Architecture.interleavedQKVOrder(heads: heads, headDim: d)
            for (modelRow, checkpointRow) in order.enumerated() {
                let (from, to) = inverse ? (modelRow, checkpointRow) : (checkpointRow, modelRow)
                (dst + to * width).update(from: src + from * width, count: width)
            }
        }
    }
}
