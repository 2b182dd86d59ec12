import VerdantTensors

/// How a student's tensors are stored at a target weight format, following
/// `verdant quantize`'s default recipe: every linear weight in the format; the token
/// embedding / output matrix in the format too, except at 4 bits where it stays q8_0; norms,
/// biases and position embeddings as stored (bf16 under a quantized format).
public struct StorageFormat: Sendable, Equatable {
    public var linear: WeightFormat
    public var embedding: WeightFormat
    /// Bytes of each norm / bias / position element.
    public var vectorBytes: Int

    public init(linear: WeightFormat, embedding: WeightFormat, vectorBytes: Int) {
        self.linear = linear
        self.embedding = embedding
        self.vectorBytes = vectorBytes
    }

    public init(_ format: WeightFormat) {
        switch format {
        case .f32: self.init(linear: .f32, embedding: .f32, vectorBytes: 4)
        case .f16, .bf16: self.init(linear: format, embedding: format, vectorBytes: 2)
        case .q4_0, .int4: self.init(linear: format, embedding: .q8_0, vectorBytes: 2)
        case .q8_0, .w8a8: self.init(linear: format, embedding: format, vectorBytes: 2)
        // Its size depends on the kept share, not the shape: budgeted as dense bf16 (an upper bound).
        case .bf16Sparse1x2: self.init(linear: .bf16, embedding: .bf16, vectorBytes: 2)
        case .q8Sparse1x2: self.init(linear: .q8_0, embedding: .q8_0, vectorBytes: 2)
        }
    }

    /// Parses a CLI name: bf16, f16, f32, q8_0, q4_0, int4 (group 128), int4_gG, w8a8.
    public init?(name: String) {
        guard let f = WeightFormat(name: name), f.sparsePairs == nil else { return nil }
        self.init(f)
    }

    public var name: String { linear.name }
}

extension WeightFormat {
    /// rowBytes(cols) = rowConstantBytes + blockBytes · ⌈cols / blockElements⌉ for every format:
    /// the form the solver needs, since it has no table lookup.
    var rowConstantBytes: Int {
        if case .w8a8 = self { return 4 }
        return 0
    }
}
