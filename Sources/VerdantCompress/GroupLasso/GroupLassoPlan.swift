/// Turns Group Lasso neuron norms into a pruning plan for the structural slicer.
public enum GroupLassoPlan {
    /// norms: per layer, the norm of each FFN neuron's group. Every layer removes
    /// round(sparsity · intermediate) of its smallest-norm neurons (ties: the lower
    /// index goes first), because the config has one intermediate_size.
    public static func ffnPlan(norms: [[Float]], sparsity: Double) throws(PruningError) -> PruningPlan {
        guard let width = norms.first?.count, width > 0, norms.allSatisfy({ $0.count == width }) else {
            throw .invalidOption("Group Lasso: every layer needs the same number of FFN neurons")
        }
        let remove = Int((sparsity * Double(width)).rounded())
        guard remove > 0, remove < width else {
            throw .invalidOption("--sparsity \(sparsity) removes \(remove) of \(width) neurons per layer: at least one must go and one stay")
        }
        let layers = norms.enumerated().map { l, ns in
            let order = ns.indices.sorted { ns[$0] != ns[$1] ? ns[$0] < ns[$1] : $0 < $1 }
            return PruningPlan.LayerNeurons(layer: l, kept: order[remove...].sorted())
        }
        return PruningPlan(ffn: layers)
    }
}
