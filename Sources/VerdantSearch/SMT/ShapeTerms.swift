import VerdantTensors

/// `StudentShape`'s formulas as linear solver terms over the gene variables: every product
/// is a case split on a small-domain gene (`Factor`), and a row's bytes for a known width
/// are a constant. Kept parallel to StudentShape; the tests check both against the loader on
/// real checkpoints and against each other at every weight format.
struct ShapeTerms {
    typealias Term = Z3Solver.Term
    var layers, hidden, heads, kvHeads, headDim: Factor
    /// 1 when the embedding is tied, else 0.
    var tied: Factor
    var intermediate, vocab, context: Term
    var family: ArchitectureFamily
    var qkvBias: Bool
    var outputBias: Bool

    func qDim(_ z: Z3Solver) throws -> Term { try headDim.times(z, heads.term) }
    func kvDim(_ z: Z3Solver) throws -> Term { try headDim.times(z, kvHeads.term) }

    /// Rows of the matrices whose input is `hidden` (q, k, v, gate, up for llama; qkv, up for gpt2).
    private func hiddenInputRows(_ z: Z3Solver) throws -> Term {
        let q = try qDim(z), kv2 = try z.times(2, kvDim(z))
        return family == .llama ? try z.sum([q, kv2, z.times(2, intermediate)]) : try z.sum([q, kv2, intermediate])
    }

    /// Σ rows · cols over one block's linear matrices (multiply-adds per token).
    func blockMACs(_ z: Z3Solver) throws -> Term {
        // The hidden-input matrices, plus o (hidden × qDim) and down (hidden × intermediate).
        let rows = try z.sum([hiddenInputRows(z), qDim(z), intermediate])
        return try hidden.times(z, rows)
    }

    /// Σ rows · rowBytes(cols) over one block's linear matrices.
    func blockWeightBytes(_ z: Z3Solver, _ f: WeightFormat) throws -> Term {
        let rows = try hiddenInputRows(z)
        let hiddenInputs = try hidden.split(z) { h in try z.times(f.rowBytes(cols: h), rows) }
        let output = try heads.split(z) { n in try headDim.split(z) { d in try hidden.times(z, z.int(f.rowBytes(cols: n * d))) } }
        let down = try hidden.times(z, rowBytes(z, f, cols: intermediate))
        return try z.sum([hiddenInputs, output, down])
    }

    func blockVectorElements(_ z: Z3Solver) throws -> Term {
        let gpt2 = family == .gpt2
        var parts = [try hidden.times(z, z.int(gpt2 ? 4 : 2))]
        if gpt2 || qkvBias { parts += [try qDim(z), try z.times(2, kvDim(z))] }
        if gpt2 || outputBias { parts.append(hidden.term) }
        if gpt2 { parts += [intermediate, hidden.term] }  // mlp up and down biases
        return try z.sum(parts)
    }

    func headVectorElements(_ z: Z3Solver) throws -> Term { try z.times(family == .llama ? 1 : 2, hidden.term) }

    func positionElements(_ z: Z3Solver) throws -> Term {
        family == .gpt2 ? try hidden.times(z, context) : try z.int(0)
    }

    /// copies (1 tied, 2 untied) · vocab · perRow(hidden).
    private func embeddings(_ z: Z3Solver, perRow: (Int) -> Int) throws -> Term {
        let one = try hidden.split(z) { h in try z.times(perRow(h), vocab) }
        return try tied.split(z) { t in try z.times(2 - t, one) }
    }

    func parameterCount(_ z: Z3Solver) throws -> Term {
        let block = try z.sum([blockMACs(z), blockVectorElements(z)])
        return try z.sum([layers.times(z, block), embeddings(z) { $0 }, headVectorElements(z), positionElements(z)])
    }

    func bytes(_ z: Z3Solver, _ storage: StorageFormat) throws -> Term {
        let block = try z.sum([blockWeightBytes(z, storage.linear), z.times(storage.vectorBytes, blockVectorElements(z))])
        return try z.sum([
            layers.times(z, block),
            embeddings(z) { storage.embedding.rowBytes(cols: $0) },
            z.times(storage.vectorBytes, z.sum([headVectorElements(z), positionElements(z)])),
        ])
    }

    func flopsPerToken(_ z: Z3Solver) throws -> Term {
        let macs = try z.sum([layers.times(z, blockMACs(z)), hidden.times(z, vocab)])
        let perHead = try headDim.times(z, context)
        let attention = try layers.times(z, heads.times(z, perHead))
        return try z.sum([z.times(2, macs), z.times(4, attention)])
    }

    func kvCacheBytes(_ z: Z3Solver) throws -> Term {
        let perHead = try headDim.times(z, context)
        return try z.times(8, layers.times(z, kvHeads.times(z, perHead)))
    }

    /// rowConstant + blockBytes · ⌈cols / blockElements⌉ for a variable width (division by a
    /// constant stays linear).
    private func rowBytes(_ z: Z3Solver, _ f: WeightFormat, cols: Term) throws -> Term {
        let blocks = f.blockElements == 1 ? cols : try z.divide(z.plus(cols, f.blockElements - 1), z.int(f.blockElements))
        return try z.plus(z.times(f.blockBytes, blocks), f.rowConstantBytes)
    }
}
