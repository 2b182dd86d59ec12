/// Turns a Group Lasso cut of FFN neurons into a pruning plan for the structural slicer.
public enum GroupLassoPlan {
    /// removed: per layer, true for each FFN neuron the cut removes (GroupMask.removed:
    /// round(sparsity · intermediate) smallest-norm neurons per layer, ties to the lower
    /// index, because the config has one intermediate_size).
    public static func ffnPlan(removed: [[Bool]], sparsity: Double) throws(PruningError) -> PruningPlan {
        guard let width = removed.first?.count, width > 0, removed.allSatisfy({ $0.count == width }) else {
            throw .invalidOption("Group Lasso: every layer needs the same number of FFN neurons")
        }
        let counts = removed.map { $0.reduce(0) { $0 + ($1 ? 1 : 0) } }
        guard let remove = counts.first, counts.allSatisfy({ $0 == remove }), remove > 0, remove < width else {
            throw .invalidOption("--sparsity \(sparsity) removes \(counts.first ?? 0) of \(width) neurons per layer: at least one must go and one stay")
        }
        return PruningPlan(ffn: removed.enumerated().map { l, r in
            PruningPlan.LayerNeurons(layer: l, kept: r.indices.filter { !r[$0] })
        })
    }
}
