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

extension FloatWeights {
    /// Values of any tensor in the checkpoint's own layout (a rewritten GPT-2
    /// Conv1D matrix is transposed back to [in, out]), for writing it out.
    public func storedValues(_ name: String) throws -> [Float] {
        guard let r = replaced[name] else { return try checkpoint.floats(name) }
        guard isConv1D(name), let shape = matrixShape(name) else { return r }
        var out = [Float](repeating: 0, count: r.count)
        for o in 0..<shape.rows {
            for i in 0..<shape.cols { out[i * shape.rows + o] = r[o * shape.cols + i] }
        }
        return out
    }
}

/// The checkpoint as a model sees it after a method rewrote some tensors
/// (AWQ's scaled norms and matrices) and quantized others (GPTQ's sequential
/// mode feeds calibration through the layers it has already quantized).
/// Untouched tensors come straight from the memory-mapped checkpoint.
final class RewrittenWeights: WeightSource {
    let weights: FloatWeights
    /// Matrices [out, in] to use instead of the checkpoint's (quantized or f32).
    var matrices: [String: WeightMatrix] = [:]

    init(_ weights: FloatWeights) { self.weights = weights }

    func shape(of name: String) -> [Int]? { weights.checkpoint.shape(of: name) }

    /// Replacements are [out, in] whatever the checkpoint's convention.
    func isPreTransposed(_ name: String) -> Bool {
        weights.isConv1D(name) && (matrices[name] != nil || weights.replaced[name] != nil)
    }

    func matrix(_ name: String) throws -> WeightMatrix {
        if let m = matrices[name] { return m }
        if weights.replaced[name] != nil, let shape = weights.matrixShape(name) {
            return WeightMatrix.f32(rows: shape.rows, cols: shape.cols, values: try weights.matrix(name))
        }
        return try weights.checkpoint.matrix(name)
    }

    func vector(_ name: String) throws -> [Float] { try weights.vector(name) }
}
