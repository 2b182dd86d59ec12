/// Sees the activations of a forward pass. Calibration for quantization (GPTQ
/// Hessians, AWQ channel scales), pruning importance (block influence, neuron
/// and head norms) and analysis hook in here instead of re-implementing the
/// model. Every method has an empty default; the model calls them only when an
/// observer is passed, so plain inference pays nothing.
public protocol ForwardObserver: AnyObject {
    /// x: [rows, hidden], the residual stream entering block `layer`.
    func blockInput(layer: Int, x: UnsafePointer<Float>, rows: Int, cols: Int)
    /// x: [rows, hidden], the residual stream leaving block `layer`.
    func blockOutput(layer: Int, x: UnsafePointer<Float>, rows: Int, cols: Int)
    /// x: [rows, linears[0].inFeatures], the input every layer of `linears` is
    /// applied to (q/k/v share one input, gate/up another). The input of the
    /// attention output projection is the attention result [rows, heads·headDim];
    /// the input of the MLP down projection is the activated intermediate
    /// [rows, intermediate].
    func linearInput(layer: Int, linears: [Linear], x: UnsafePointer<Float>, rows: Int)
    /// x: [rows, hidden], final-normed hidden states (the lm_head input).
    func finalHidden(x: UnsafePointer<Float>, rows: Int, cols: Int)
}

extension ForwardObserver {
    public func blockInput(layer: Int, x: UnsafePointer<Float>, rows: Int, cols: Int) {}
    public func blockOutput(layer: Int, x: UnsafePointer<Float>, rows: Int, cols: Int) {}
    public func linearInput(layer: Int, linears: [Linear], x: UnsafePointer<Float>, rows: Int) {}
    public func finalHidden(x: UnsafePointer<Float>, rows: Int, cols: Int) {}
}

extension DecoderModel {
    /// The same model with only the blocks at `indices` (in that order), sharing
    /// every weight: for scoring a model without some layers before pruning them.
    public func keepingLayers(_ indices: [Int]) -> DecoderModel {
        var c = config
        c.numLayers = indices.count
        return DecoderModel(config: c, embedding: embedding, positionEmbedding: positionEmbedding,
                            layers: indices.map { layers[$0] }, finalNorm: finalNorm, lmHead: lmHead,
                            embeddingName: embeddingName, positionEmbeddingName: positionEmbeddingName)
    }
}
