import VerdantTensors

/// Where an architecture gets its named tensors from: a checkpoint on disk, or
/// a trainable `ParameterStore` holding the same names.
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
    /// True when gpt_bigcode's per-head interleaved c_attn rows ([q_h, k_h, v_h])
    /// are stored already regrouped to q | k | v (a parameter store keeps the
    /// model's layout so that the model's matrices point into it).
    func isPreRegrouped(_ name: String) -> Bool
    /// Called with a tensor's expected checkpoint shape before the architecture
    /// reads it: a source that creates tensors on demand (random initialisation)
    /// learns the architecture's layout from the architecture itself.
    func expect(_ name: String, shape: [Int])
}

extension WeightSource {
    public func isPreTransposed(_ name: String) -> Bool { false }
    public func isPreRegrouped(_ name: String) -> Bool { false }
    public func expect(_ name: String, shape: [Int]) {}
}

extension WeightSource {
    func has(_ name: String) -> Bool { shape(of: name) != nil }

    /// A matrix that must have exactly `shape` = [rows, cols].
    func matrix(_ name: String, rows: Int, cols: Int) throws -> WeightMatrix {
        expect(name, shape: [rows, cols])
        guard let s = shape(of: name) else { throw ModelError.missingTensor(name) }
        guard s == [rows, cols] else { throw ModelError.shapeMismatch(name, expected: [rows, cols], found: s) }
        return try matrix(name)
    }

    func vector(_ name: String, count: Int) throws -> [Float] {
        expect(name, shape: [count])
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
