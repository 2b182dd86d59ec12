extension ConfigurationSpace {
    /// The space Verdant searches when none is given: llama-style decoder students from a
    /// few hundred kilobytes to a few tens of megabytes. Head sizes are multiples of 16 and
    /// widths of 32 so every row fills whole 32-element quantization blocks; the vocabulary is
    /// realised by pruning the teacher's, so it only shrinks.
    public static func defaultDecoder() -> ConfigurationSpace {
        // Literal, validated genes: a failure here is a programming error caught by the tests.
        let genes: [Gene] = (try? [
            .range(GeneName.layers, 1, 12),
            .range(GeneName.hiddenSize, 64, 768, step: 32),
            .range(GeneName.attentionHeads, 1, 12),
            .range(GeneName.kvHeads, 1, 12),
            .choices(GeneName.headSize, [.int(16), .int(32), .int(48), .int(64)]),
            .range(GeneName.intermediateSize, 64, 3072, step: 64),
            .choices(GeneName.activation, [.string("silu"), .string("gelu_pytorch_tanh"), .string("relu")]),
            .choices(GeneName.vocabSize, [.int(4096), .int(8192), .int(12288), .int(16384)]),
            .choices(GeneName.contextLength, [.int(256), .int(512), .int(1024)]),
            .choices(GeneName.tiedEmbeddings, [.bool(true), .bool(false)]),
            .choices(GeneName.learningRate, [.double(1e-3), .double(5e-4), .double(1e-4)]),
            .choices(GeneName.batchSize, [.int(8), .int(16), .int(32)]),
        ]) ?? []
        return ConfigurationSpace(unchecked: .llama, genes: genes)
    }

    init(unchecked architecture: ArchitectureFamily, genes: [Gene]) {
        self.architecture = architecture
        self.qkvBias = false
        self.outputBias = false
        self.genes = genes
    }
}
