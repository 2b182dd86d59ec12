import VerdantModels
import VerdantTensors

/// The float view of a checkpoint that quantization methods read and may
/// rewrite before quantizing (AWQ folds channel scales into norms and
/// matrices). Matrices are always [out, in]: GPT-2's Conv1D tensors are
/// transposed on the way in, and recorded as such.
public final class FloatWeights {
    public let checkpoint: Checkpoint
    public let config: ModelConfig
    /// Names of every tensor used as a linear weight (incl. lm_head / tied embedding).
    public let linearNames: Set<String>
    public private(set) var replaced: [String: [Float]] = [:]

    public init(checkpoint: Checkpoint, config: ModelConfig, linearNames: Set<String>) {
        self.checkpoint = checkpoint
        self.config = config
        self.linearNames = linearNames
    }

    /// GPT-2 stores its block linears as Conv1D [in, out].
    public func isConv1D(_ name: String) -> Bool {
        config.modelType == "gpt2" && linearNames.contains(name) && !name.hasSuffix("wte.weight") && name != "lm_head.weight"
    }

    /// [out, in] of a 2-D tensor.
    public func matrixShape(_ name: String) -> (rows: Int, cols: Int)? {
        guard let s = checkpoint.info(name)?.shape, s.count == 2 else { return nil }
        return isConv1D(name) ? (s[1], s[0]) : (s[0], s[1])
    }

    /// [out, in] f32 values of a 2-D tensor (replacement if one was set).
    public func matrix(_ name: String) throws -> [Float] {
        if let r = replaced[name] { return r }
        guard let shape = matrixShape(name) else { throw ModelError.missingTensor(name) }
        let stored = try checkpoint.floats(name)
        if !isConv1D(name) { return stored }
        // stored [in, out] → [out, in]
        let rows = shape.rows, cols = shape.cols
        var out = [Float](repeating: 0, count: stored.count)
        for i in 0..<cols {
            for o in 0..<rows { out[o * cols + i] = stored[i * rows + o] }
        }
        return out
    }

    /// Any tensor as f32 in checkpoint order (vectors: norms, biases).
    public func vector(_ name: String) throws -> [Float] {
        if let r = replaced[name] { return r }
        return try checkpoint.floats(name)
    }

    /// Replaces a matrix ([out, in]) or vector with new values of the same size.
    public func replace(_ name: String, with values: [Float]) throws {
        guard let info = checkpoint.info(name), info.elementCount == values.count else {
            throw ModelError.shapeMismatch(name, expected: checkpoint.info(name)?.shape ?? [], found: [values.count])
        }
        replaced[name] = values
    }
}
