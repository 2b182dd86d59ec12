import VerdantModels

/// What a student must be for `--init from-teacher` to cut it out of the teacher
/// (`StudentFromTeacher.check` in VerdantCompress, restated here as solver constraints so
/// that every legal configuration is cut-able): the teacher's head size, activation, biases
/// and embedding tying; nothing larger than the teacher; no more query heads per KV group
/// than the teacher's groups hold.
public struct TeacherLimits: Sendable, Equatable {
    public var layers: Int
    public var hidden: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var intermediate: Int
    /// The largest student vocabulary (the teacher's; a pruned one is a subset).
    public var vocab: Int
    public var activation: Activation
    public var tiedEmbeddings: Bool
    public var qkvBias: Bool
    public var outputBias: Bool
    public var mlpBias: Bool

    public init(teacher t: ModelConfig) {
        layers = t.numLayers
        hidden = t.hiddenSize
        heads = t.numHeads
        kvHeads = t.numKVHeads
        headDim = t.headDim
        intermediate = t.intermediateSize
        vocab = t.vocabSize
        activation = t.activation
        tiedEmbeddings = t.tieWordEmbeddings
        qkvBias = t.qkvBias
        outputBias = t.outputBias
        mlpBias = t.mlpBias
    }

    /// Query heads per KV group in the teacher.
    public var queriesPerGroup: Int { heads / max(kvHeads, 1) }

    /// The shape part of the limits, checked directly (the activation is not part of a
    /// shape): what the solver's answers are held to.
    public func admits(_ s: StudentShape) -> Bool {
        s.layers <= layers && s.hidden <= hidden && s.heads <= heads && s.kvHeads <= kvHeads && s.headDim == headDim
            && s.intermediate <= intermediate && s.vocab <= vocab && s.tiedEmbeddings == tiedEmbeddings
            && s.qkvBias == qkvBias && s.outputBias == outputBias && s.mlpBias == mlpBias
            && s.kvHeads >= 1 && s.heads <= queriesPerGroup * s.kvHeads
    }

    /// The student's activation when the space has no activation gene.
    public static let defaultActivation = "silu"
}
