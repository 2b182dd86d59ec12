import ArgumentParser
import Foundation
import VerdantCompress
import VerdantModels
import VerdantTensors
import VerdantTraining

extension LassoGroup: ExpressibleByArgument {}
extension AlphaSchedule: ExpressibleByArgument {}
extension PenaltyTarget: ExpressibleByArgument {}

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

    @Option(help: "Group Lasso: constant (α from the first step) or ramp (α grows linearly from ≈ 0 to --alpha over the penalty phase). Default constant.")
    var alphaSchedule: AlphaSchedule?

    @Option(help: "Group Lasso: all (penalise every group) or cut (only the groups the cut at --sparsity would remove now, re-ranked every step: the kept weights are not shrunk). Default all.")
    var penalize: PenaltyTarget?

    @Option(help: "Group Lasso: after the cut, train N more tokens (--data) with the removed groups held at exactly zero and no penalty, so the kept weights re-adapt; then write the output. 0 = none.")
    var recoverTokens: Int = 0

    @Option(help: "Group Lasso: peak learning rate of the fine-tuning (penalty phase and recovery).")
    var lr: Float = 1e-4

    func validate(structural: Bool, tokens: Int?) throws {
        guard !structural else {
            throw ValidationError("--group-lasso cannot be combined with --vocab-corpus, --drop-layers, --ffn-ratio, --heads-ratio or --plan")
        }
        guard group != nil else { throw ValidationError("--group-lasso needs --group 1x2, row or column") }
        guard let s = sparsity, s.isFinite, s > 0, s < 1 else {
            throw ValidationError("--group-lasso needs --sparsity in (0, 1), got \(sparsity.map { "\($0)" } ?? "none")")
        }
        guard lr.isFinite, lr > 0, lr <= 1 else { throw ValidationError("--lr must lie in (0, 1], got \(lr)") }
        guard recoverTokens >= 0 else { throw ValidationError("--recover-tokens must be ≥ 0, got \(recoverTokens)") }
        if let d = data {
            guard FileManager.default.fileExists(atPath: d) else { throw ValidationError("--data \(d) does not exist") }
            if let a = alpha {
                guard a.isFinite, a >= 0 else { throw ValidationError("--alpha must be ≥ 0 (0 = no penalty), got \(a)") }
            } else if recoverTokens == 0 {
                throw ValidationError("--data needs --alpha ≥ 0 (the penalty phase; 0 = no penalty) and/or --recover-tokens N (masked training after the cut)")
            }
        } else if alpha != nil || recoverTokens > 0 {
            throw ValidationError("--alpha and --recover-tokens need --data: both train (without --data only the norm ranking runs)")
        }
        if alpha == nil {
            if alphaSchedule != nil || penalize != nil {
                throw ValidationError("--alpha-schedule and --penalize shape the penalty phase; they need --alpha")
            }
            if tokens != nil {
                throw ValidationError("--tokens is the penalty phase's budget and needs --alpha; the recovery's is --recover-tokens")
            }
        }
    }

    func validateUnused() throws {
        if alpha != nil || group != nil || sparsity != nil || data != nil || alphaSchedule != nil || penalize != nil || recoverTokens != 0 {
            throw ValidationError("--alpha, --alpha-schedule, --penalize, --recover-tokens, --group, --sparsity and --data belong to --group-lasso")
        }
    }
}

extension PruneCommand {
    /// Penalty phase (with --alpha) → cut at --sparsity → masked recovery (with
    /// --recover-tokens) → output. Checkpoints: OUT.checkpoints/step-N for the penalty
    /// phase, OUT.checkpoints/recovery/step-N for the recovery; --resume continues
    /// whichever phase was running (the cut is recomputed from the penalty phase's
    /// final weights, which it always keeps, so it is the same cut).
    func runGroupLasso() throws {
        guard let kind = lasso.group, let sparsity = lasso.sparsity else { throw CLIError("--group-lasso needs --group and --sparsity") }
        try PrunedCheckpointWriter.checkDestination(out, force: force)
        let pool = runtime.makePool()
        let store = try ParameterStore(directory: modelDir)
        let groups = try LassoGroups(kind: kind, store: store)
        let schedule = lasso.alphaSchedule ?? .constant, target = lasso.penalize ?? .all
        // What a resume must match: the penalty and the cut (and so the recovery mask).
        var settings = ["group": kind.rawValue, "sparsity": "\(sparsity)", "alpha": lasso.alpha.map { "\($0)" } ?? "none"]
        if lasso.alpha != nil {
            settings["alpha_schedule"] = schedule.rawValue
            settings["penalize"] = target.rawValue
        }
        var weightsDirectory = modelDir
        var note: [String: Any] = ["fine_tuned": false]
        var penaltyStepsRun = 0
        // Where the penalty phase left the data stream: the recovery reads on from there, so it does not
        // re-fit the windows the penalty phase has just trained on.
        var dataPosition: String?
        if let data = lasso.data, let alpha = lasso.alpha {
            let run = try TrainingRun(store: store, modelDir: modelDir, data: data, out: out, lr: lasso.lr, accumulate: 1,
                                      training: training, pool: pool, settings: settings.merging(["phase": "penalty"]) { $1 }) { steps in
                alpha > 0 ? GroupLassoProximal(groups: groups, alpha: alpha, schedule: schedule, target: target,
                                               sparsity: sparsity, totalSteps: steps) : nil
            }
            printError(String(format: "prune --group-lasso: %@ groups (%d weights), α %g (%@, penalize %@), %d tokens of data, %d steps × %d tokens, %d threads",
                              kind.rawValue, groups.coveredWeights, alpha, schedule.rawValue, target.rawValue, run.streamTokens,
                              run.steps, run.perStep, pool.threads))
            if let prox = run.trainer.constraint as? GroupLassoProximal {
                // What α zeroes the cut: the proximal steps add up to √|g|·Σ_t lr_t·α_t, which must reach the
                // largest norm the cut removes (from the weights as they are now; Adam's own steps push back by
                // up to ≈ 1 in α units, and the cut set moves as the model trains, so this is a guide).
                let largest = GroupMask(groups: groups, values: store.values, sparsity: sparsity).removedCounts(zeroIn: store.values).largestNorm
                let unit = (0..<run.steps).reduce(0.0) { $0 + Double(run.trainer.options.schedule.rate(step: $1)) * Double(prox.alpha(step: $1) / alpha) }
                let needed = Double(largest) / (Double(groups.groupSize).squareRoot() * max(unit, 1e-30))
                printError(String(format: "the cut at S %g removes groups of norm up to %.4g now; α ≳ %.3g would zero them all by the last step of this schedule",
                                  sparsity, largest, needed))
            }
            let zeros = GroupLassoProximal(groups: groups, alpha: 0)
            // The share of exactly-zero groups shows the penalty at work (norms: one pass over the grouped weights).
            let before = run.trainer.step
            weightsDirectory = try run.run(training: training, source: modelDir, dtype: nil) { t in
                String(format: "  zero groups %.1f%%", 100 * zeros.penalty(t.store.values).zeroFraction)
            }
            penaltyStepsRun = run.trainer.step - before
            dataPosition = run.trainer.data.position
            note = ["fine_tuned": true, "alpha": Double(alpha), "alpha_schedule": schedule.rawValue, "penalize": target.rawValue,
                    "lr": Double(lasso.lr), "tokens": run.trainer.tokensSeen, "steps": run.trainer.step, "data": data,
                    "checkpoint": weightsDirectory]
        }

        // The cut: ranked on the weights as they are now (trained or not).
        let mask = GroupMask(groups: groups, values: store.values, sparsity: sparsity)
        let counts = mask.removedCounts(zeroIn: store.values)
        let zeroShare = counts.removed > 0 ? Double(counts.zero) / Double(counts.removed) : 0
        printError(String(format: "cut: %d of %d groups removed, %d of them (%.1f%%) already exactly zero",
                          counts.removed, counts.total, counts.zero, 100 * zeroShare))
        note["removed_groups"] = counts.removed
        note["removed_groups_exactly_zero"] = counts.zero

        if let data = lasso.data, lasso.recoverTokens > 0 {
            let root = (TrainingRun.checkpointRoot(out: out) as NSString).appendingPathComponent("recovery")
            // A recovery saved after another penalty phase is stale: resume it only when the
            // penalty phase was already complete (nothing trained in this invocation).
            let resume = training.resume && penaltyStepsRun == 0
            if !resume && FileManager.default.fileExists(atPath: root) { try FileManager.default.removeItem(atPath: root) }
            mask.zero(store.values, pool: pool)
            let run = try TrainingRun(store: store, modelDir: modelDir, data: data, out: out, lr: lasso.lr, accumulate: 1,
                                      training: training, pool: pool, root: root, tokens: lasso.recoverTokens,
                                      resume: resume ? .ifAny : .no, settings: settings.merging(["phase": "recovery"]) { $1 },
                                      dataPosition: dataPosition) { _ in mask }
            printError(String(format: "recovery: %d steps × %d tokens with the removed groups held at zero, no penalty",
                              run.steps, run.perStep))
            weightsDirectory = try run.run(training: training, source: modelDir, dtype: nil)
            note["recovery_tokens"] = run.trainer.tokensSeen
            note["recovery_steps"] = run.trainer.step
            note["checkpoint"] = weightsDirectory
        }

        switch kind {
        case .row, .column:
            let plan = try GroupLassoPlan.ffnPlan(removed: mask.removed, sparsity: sparsity)
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
            let cut = zip(groups.listNames, mask.removed).map { (name: $0, removed: $1) }
            let result = try SparsePairCheckpoint.write(store: store, removed: cut, sparsity: sparsity, source: modelDir,
                                                        out: out, force: force, note: note)
            print(String(format: "pruned %@ → %@\n  1x2 tiles removed: %.1f%% of %d grouped weights (q/k/v/o/gate/up/down, every matrix the same share)\n  model.safetensors %d bytes",
                         modelDir, out, 100 * result.removedFraction, groups.coveredWeights, result.bytes))
        }
        print(String(format: "  removed groups already exactly zero at the cut: %d of %d (%.1f%%)", counts.zero, counts.removed, 100 * zeroShare))
    }
}
