extension ConfigurationSpace {
    /// A space holding exactly `shape` (every gene a one-value choice) and that configuration:
    /// how an existing checkpoint is put through the solver's formulas.
    public static func point(_ shape: StudentShape) throws -> (ConfigurationSpace, Configuration) {
        func one(_ name: String, _ v: GeneValue) throws -> Gene { try .choices(name, [v]) }
        let space = try ConfigurationSpace(
            architecture: shape.family, qkvBias: shape.qkvBias, outputBias: shape.outputBias,
            genes: [
                one(GeneName.layers, .int(shape.layers)), one(GeneName.hiddenSize, .int(shape.hidden)),
                one(GeneName.attentionHeads, .int(shape.heads)), one(GeneName.kvHeads, .int(shape.kvHeads)),
                one(GeneName.headSize, .int(shape.headDim)), one(GeneName.intermediateSize, .int(shape.intermediate)),
                one(GeneName.vocabSize, .int(shape.vocab)), one(GeneName.contextLength, .int(shape.context)),
                one(GeneName.tiedEmbeddings, .bool(shape.tiedEmbeddings)),
            ])
        return (space, Configuration([Int](repeating: 0, count: space.genes.count)))
    }
}
