import VerdantTensors

/// A linear layer y = x·Wᵀ + b whose weight may be stored in any `WeightFormat`:
/// float checkpoints and quantized ones run through this one type.
public struct Linear: Sendable {
    /// [outFeatures, inFeatures]
    public var weight: WeightMatrix
    /// [outFeatures]
    public var bias: [Float]?
    /// Checkpoint name of the weight (e.g. "model.layers.0.mlp.up_proj.weight"):
    /// how observers, quantization recipes and pruning reports refer to this layer.
    public var name: String

    /// Checkpoint name of the bias (the weight's name ending in ".bias").
    public var biasName: String { checkpointBiasName(name) }

    public init(weight: WeightMatrix, bias: [Float]? = nil, name: String = "") {
        self.weight = weight
        self.bias = bias
        self.name = name
    }

    public var inFeatures: Int { weight.cols }
    public var outFeatures: Int { weight.rows }

    /// x: [rows, inFeatures] → y: [rows, outFeatures]
    public func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, _ y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        matmul(x, rows: rows, weight, y, pool: pool)
        if let bias {
            bias.withUnsafeBufferPointer { b in
                for r in 0..<rows { addInPlace(y + r * outFeatures, b.baseAddress!, outFeatures) }
            }
        }
    }
}

/// "x.weight" → "x.bias".
func checkpointBiasName(_ weightName: String) -> String {
    weightName.hasSuffix(".weight") ? String(weightName.dropLast(7)) + ".bias" : weightName + ".bias"
}

/// RMSNorm or LayerNorm with its parameters.
public struct Norm: Sendable {
    public enum Kind: Sendable { case rms, layer }
    public var kind: Kind
    /// [n]
    public var weight: [Float]
    /// [n], LayerNorm only
    public var bias: [Float]?
    public var eps: Float
    /// Checkpoint name of the weight ("model.norm.weight"); the bias, if any, is
    /// the same name ending in ".bias". Training reads the current values from the
    /// parameter store under these names (the arrays above are a snapshot).
    public var name: String = ""

    /// x, y: [rows, n] (may alias)
    public func callAsFunction(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int) {
        let n = weight.count
        weight.withUnsafeBufferPointer { w in
            switch kind {
            case .rms:
                rmsNorm(x, y, rows: rows, n: n, weight: w.baseAddress!, eps: eps)
            case .layer:
                let b = bias ?? [Float](repeating: 0, count: n)
                b.withUnsafeBufferPointer { bp in
                    layerNorm(x, y, rows: rows, n: n, weight: w.baseAddress!, bias: bp.baseAddress!, eps: eps)
                }
            }
        }
    }
}
