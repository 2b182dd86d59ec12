import ArgumentParser
import Foundation
import VerdantCompress
import VerdantModels
import VerdantTensors
import VerdantTraining

extension LassoGroup: ExpressibleByArgument {}

/// `verdant prune --group-lasso` options (the training ones come from TrainingRunOptions).
struct GroupLassoOptions: ParsableArguments {
    @Flag(help: "Group Lasso pruning: fine-tune with the penalty (with --data), then remove the smallest-norm groups.")
    var groupLasso = false

    @Option(help: "Group Lasso: penalty strength α (per √group-size; the proximal threshold is lr·α·√|g|). 0 = fine-tune without penalty.")
    var alpha: Float?

    @Option(help: "Group Lasso: 1x2 (adjacent weight pairs of q/k/v/o/gate/up/down), row (FFN neuron: gate+up rows) or column (FFN neuron: down column).")
    var group: LassoGroup?

    @Option(help: "Group Lasso: fraction of the grouped weights to remove, in (0, 1).")
    var sparsity: Double?

    @Option(help: "Group Lasso: training text (JSONL `text` or plain text, .xz accepted); without it only the norm ranking runs (magnitude baseline).")
    var data: String?

    @Option(help: "Group Lasso: peak learning rate of the fine-tuning.")
    var lr: Float = 1e-4

    func validate(structural: Bool) throws {
        guard !structural else {
            throw ValidationError("--group-lasso cannot be combined with --vocab-corpus, --drop-layers, --ffn-ratio, --heads-ratio or --plan")
        }
        guard group != nil else { throw ValidationError("--group-lasso needs --group 1x2, row or column") }
        guard let s = sparsity, s.isFinite, s > 0, s < 1 else {
            throw ValidationError("--group-lasso needs --sparsity in (0, 1), got \(sparsity.map { "\($0)" } ?? "none")")
        }
        guard lr.isFinite, lr > 0, lr <= 1 else { throw ValidationError("--lr must lie in (0, 1], got \(lr)") }
        if let d = data {
            guard FileManager.default.fileExists(atPath: d) else { throw ValidationError("--data \(d) does not exist") }
            guard let a = alpha, a.isFinite, a >= 0 else {
                throw ValidationError("fine-tuning (--data) needs --alpha ≥ 0 (0 = no penalty), got \(alpha.map { "\($0)" } ?? "none")")
            }
        } else if alpha != nil {
            throw ValidationError("--alpha needs --data: the penalty acts during fine-tuning (without --data only the norm ranking runs)")
        }
    }

    func validateUnused() throws {
        if alpha != nil || group != nil || sparsity != nil || data != nil {
            throw ValidationError("--alpha, --group, --sparsity and --data belong to --group-lasso")
        }
    }
}

extension PruneCommand {
    func runGroupLasso() throws {
        guard let kind = lasso.group, let sparsity = lasso.sparsity else { throw CLIError("--group-lasso needs --group and --sparsity") }
        try PrunedCheckpointWriter.checkDestination(out, force: force)
        let pool = runtime.makePool()
        let store = try ParameterStore(directory: modelDir)
        let groups = try LassoGroups(kind: kind, store: store)
        var weightsDirectory = modelDir
        var trainingNote: [String: Any] = ["fine_tuned": false]
        if let data = lasso.data, let alpha = lasso.alpha {
            let proximal = alpha > 0 ? GroupLassoProximal(groups: groups, alpha: alpha) : nil
            let run = try TrainingRun(store: store, modelDir: modelDir, data: data, out: out, lr: lasso.lr, accumulate: 1,
                                      training: training, pool: pool, proximal: proximal)
            printError(String(format: "prune --group-lasso: %@ groups (%d weights), α %g, %d tokens of data, %d steps × %d tokens, %d threads",
                              kind.rawValue, groups.coveredWeights, alpha, run.streamTokens, run.steps, run.perStep, pool.threads))
            let report = proximal ?? GroupLassoProximal(groups: groups, alpha: 0)
            // The share of exactly-zero groups shows the penalty at work (norms: one pass over the grouped weights).
            weightsDirectory = try run.run(training: training, source: modelDir, dtype: nil) { t in
                String(format: "  zero groups %.1f%%", 100 * report.penalty(t.store.values).zeroFraction)
            }
            trainingNote = ["fine_tuned": true, "alpha": Double(alpha), "lr": Double(lasso.lr), "tokens": run.trainer.tokensSeen,
                            "steps": run.trainer.step, "data": data, "checkpoint": weightsDirectory]
        }
        let norms = groups.norms(store.values)
        switch kind {
        case .row, .column:
            let plan = try GroupLassoPlan.ffnPlan(norms: norms.map(\.norms), sparsity: sparsity)
            var options = PruningOptions()
            options.plan = plan
            options.threads = pool.threads
            let pruner = try Pruner(directory: weightsDirectory)
            let (p, draft) = try pruner.makePlan(options, pool: pool) { _, _, _ in }
            let report = try pruner.write(plan: p, report: draft, to: out, force: force, threads: pool.threads)
            let removed = 1 - Double(p.ffn?.first?.kept.count ?? 0) / Double(store.config.intermediateSize)
            print(summary(report))
            print(String(format: "  group lasso (%@): %.1f%% of the FFN neurons (and their gate/up/down weights) removed; attention, embeddings, norms kept",
                         kind.rawValue, 100 * removed))
        case .tile1x2:
            let result = try SparsePairCheckpoint.write(store: store, norms: norms, sparsity: sparsity, source: modelDir,
                                                        out: out, force: force, note: trainingNote)
            print(String(format: "pruned %@ → %@\n  1x2 tiles removed: %.1f%% of %d grouped weights (q/k/v/o/gate/up/down, every matrix the same share)\n  model.safetensors %d bytes",
                         modelDir, out, 100 * result.removedFraction, groups.coveredWeights, result.bytes))
        }
    }
}
