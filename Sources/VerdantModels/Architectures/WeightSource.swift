import VerdantTensors

/// Where an architecture gets its named tensors from: a checkpoint on disk, or
/// (later) a trainable parameter store holding the same names.
public protocol WeightSource {
    /// Shape of the tensor, or nil when absent.
    func shape(of name: String) -> [Int]?
    /// A 2-D floating-point tensor, in its stored format.
    func matrix(_ name: String) throws -> WeightMatrix
    /// Any floating-point tensor widened to f32 (small tensors: norms, biases).
    func vector(_ name: String) throws -> [Float]
    /// True when a tensor whose checkpoint convention is [in, out] (GPT-2
    /// Conv1D) is stored already transposed to [out, in] (quantized checkpoints).
    func isPreTransposed(_ name: String) -> Bool
}

extension WeightSource {
    public func isPreTransposed(_ name: String) -> Bool { false }
}

extension WeightSource {
    func has(_ name: String) -> Bool { shape(of: name) != nil }

    /// A matrix that must have exactly `shape` = [rows, cols].
    func matrix(_ name: String, rows: Int, cols: Int) throws -> WeightMatrix {
        guard let s = shape(of: name) else { throw ModelError.missingTensor(name) }
        guard s == [rows, cols] else { throw ModelError.shapeMismatch(name, expected: [rows, cols], found: s) }
        return try matrix(name)
    }

    func vector(_ name: String, count: Int) throws -> [Float] {
        guard let s = shape(of: name) else { throw ModelError.missingTensor(name) }
        guard s == [count] else { throw ModelError.shapeMismatch(name, expected: [count], found: s) }
        return try vector(name)
    }

    func optionalVector(_ name: String, count: Int, required: Bool) throws -> [Float]? {
        if required || has(name) { return try vector(name, count: count) }
        return nil
    }

    func linear(_ prefix: String, out: Int, in inFeatures: Int, bias: Bool) throws -> Linear {
        Linear(weight: try matrix(prefix + ".weight", rows: out, cols: inFeatures),
               bias: try optionalVector(prefix + ".bias", count: out, required: bias), name: prefix + ".weight")
    }
}
