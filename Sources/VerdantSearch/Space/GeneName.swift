/// The genes the solver and the shape formulas understand. Any other gene (dropout,
/// warm-up, ...) is carried through search and sampling without constraints.
public enum GeneName {
    public static let layers = "layers"
    public static let hiddenSize = "hidden_size"
    public static let attentionHeads = "attention_heads"
    public static let kvHeads = "kv_heads"
    public static let headSize = "head_size"
    public static let intermediateSize = "intermediate_size"
    public static let vocabSize = "vocab_size"
    public static let contextLength = "context_length"
    public static let tiedEmbeddings = "tied_embeddings"
    public static let activation = "activation"
    public static let learningRate = "learning_rate"
    public static let batchSize = "batch_size"

    /// Integer genes every space must declare (a fixed value is a one-element choice).
    public static let requiredIntegers = [layers, hiddenSize, attentionHeads, headSize, intermediateSize,
                                          vocabSize, contextLength]
    /// Integer genes that may be left out: kv_heads then equals attention_heads.
    public static let optionalIntegers = [kvHeads]
    public static let activations = ["silu", "gelu", "gelu_new", "gelu_pytorch_tanh", "relu"]
}
