import VerdantModels

/// What a student must be for `--init from-teacher` to cut it out of the teacher
/// (`StudentFromTeacher.check` in VerdantCompress, restated here as solver constraints so
/// that every legal configuration is cut-able): the teacher's head size, activation, biases
/// and embedding tying; nothing larger than the teacher (its vocabulary included: a student
/// vocabulary is a pruned subset); no more query heads per KV group than the teacher's groups
/// hold. The context length is free (positions are not weights of a RoPE model).
public struct TeacherLimits: Sendable, Equatable {
    /// The teacher's shape: the student's bounds.
    public var teacher: StudentShape
    public var activation: Activation

    public init(teacher t: ModelConfig) {
        teacher = StudentShape(config: t)
        activation = t.activation
    }

    /// Query heads per KV group in the teacher.
    public var queriesPerGroup: Int { teacher.heads / max(teacher.kvHeads, 1) }

    /// The shape part of the limits, checked directly (the activation is not part of a
    /// shape): what the solver's answers are held to.
    public func admits(_ s: StudentShape) -> Bool {
        let t = teacher
        return s.family == .llama && t.family == .llama
            && s.layers <= t.layers && s.hidden <= t.hidden && s.heads <= t.heads && s.kvHeads <= t.kvHeads
            && s.headDim == t.headDim && s.intermediate <= t.intermediate && s.vocab <= t.vocab
            && s.tiedEmbeddings == t.tiedEmbeddings && s.qkvBias == t.qkvBias && s.outputBias == t.outputBias
            && s.mlpBias == t.mlpBias && s.kvHeads >= 1 && s.heads <= queriesPerGroup * s.kvHeads
    }

    /// The student's activation when the space has no activation gene.
    public static let defaultActivation = "silu"
}
