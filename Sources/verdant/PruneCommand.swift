import ArgumentParser
import Foundation
import VerdantCompress
import VerdantModels

extension LayerCriterion: ExpressibleByArgument {}
extension UnitCriterion: ExpressibleByArgument {}
extension FFNAllocation: ExpressibleByArgument {}
extension HeadPruner.Unit: ExpressibleByArgument {}

struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Structural pruning (vocabulary, layers, FFN neurons, attention heads) or Group Lasso pruning.",
        discussion: """
        Any combination of the four prunings runs in one command, in the order vocabulary → layers → \
        heads → FFN; each stage is scored on the model the earlier stages leave. The output is an \
        ordinary Hugging Face checkpoint (same dtype, config.json updated) plus pruning_report.json, \
        which records every score and what was removed; --plan applies a report's plan again.
        --group-lasso instead fine-tunes every weight (f32 master weights, AdamW, the finetune \
        options) with a Group Lasso penalty α·Σ_g √|g|·‖W_g‖ (proximal step after each update), then \
        removes the groups with the smallest norms until --sparsity of the grouped weights is gone: \
        1x2 tiles of q/k/v/o/gate/up/down (stored in the sparse bf16_sparse1x2 format), or FFN \
        neurons (row: gate+up rows, column: down column; a smaller dense checkpoint). Without \
        --alpha it only prunes by group norm (the magnitude baseline); --alpha 0 fine-tunes without penalty; \
        --penalize cut shrinks only the groups the cut would remove; --recover-tokens trains the kept \
        weights after the cut with the removed groups held at zero.
        """)

    @Argument(help: "Model directory (Hugging Face layout).")
    var modelDir: String

    @Option(help: "Keep only the tokens this corpus uses (JSONL with `text`, or plain text), plus special, added and byte tokens.")
    var vocabCorpus: String?

    @Option(help: "With --vocab-corpus: keep exactly N tokens, the corpus's most frequent (plus special, byte and merge-chain tokens) — a student vocabulary for `verdant distill --student-vocab`. The corpus then tokenizes into more, shorter tokens.")
    var vocabSize: Int?

    @Option(help: "Number of decoder layers to remove (greedy, re-scored after each removal).")
    var dropLayers: Int = 0

    @Option(help: "Layer importance: bi (1 − cos(block in, out)), kl (KL of next-token distributions without the block), last (baseline: the last layers).")
    var criterion: LayerCriterion = .bi

    @Option(help: "Fraction of FFN intermediate neurons to remove, in [0, 1).")
    var ffnRatio: Double = 0

    @Option(help: "uniform (every layer loses the same number) or global (one ranking across layers; narrower layers are zero-padded to one width).")
    var ffnAllocation: FFNAllocation = .uniform

    @Option(help: "FFN neuron importance: activation (‖W_down column‖ × RMS activation) or random (baseline).")
    var ffnCriterion: UnitCriterion = .activation

    @Option(help: "Fraction of attention heads to remove, in [0, 1): whole key/value groups with their query heads (GQA), query heads for multi-query.")
    var headsRatio: Double = 0

    @Option(help: "Head importance: activation (RMS norm of the head's output-projection term) or random (baseline).")
    var headsCriterion: UnitCriterion = .activation

    @Option(help: "What --heads-ratio removes with GQA: kv-group (key/value heads with their query heads) or query-head (the same number of query heads from every group).")
    var headsUnit: HeadPruner.Unit = .kvGroup

    @Option(help: "Calibration text for importance scores (JSONL with `text`, or plain text).")
    var calibration: String?

    @Option(help: "Calibration tokens to use.")
    var calibrationTokens: Int = 8192

    @Option(help: "Tokens per calibration sequence (at most the model's context).")
    var calibrationLength: Int = 512

    @Option(help: "Prune to exactly this student config.json's shape (layers, hidden size, heads / KV heads, intermediate size, vocabulary), every stage scored on --calibration; a smaller vocab_size is chosen by frequency on --vocab-corpus. Replaces the ratio options.")
    var toConfig: String?

    @Option(help: "With --to-config: which blocks stay, bi (greedy block influence) or even (evenly spaced).")
    var layerChoice: StudentLayerChoice = .bi

    @Option(help: "Apply the plan of a pruning_report.json (or a bare plan) instead of scoring.")
    var plan: String?

    @Option(help: "Output directory (must not exist or be empty, unless --force).")
    var out: String

    @Flag(help: "Print the pruning report as JSON on stdout.")
    var json = false

    @OptionGroup var lasso: GroupLassoOptions

    /// Data stream, schedule, checkpointing (--group-lasso fine-tuning); its --seed also
    /// seeds the random baselines and its --force replaces a non-empty --out.
    @OptionGroup var training: TrainingRunOptions

    @OptionGroup var runtime: RuntimeOptions

    var seed: UInt64 { training.seed }
    var force: Bool { training.force }

    func validate() throws {
        if lasso.groupLasso {
            try lasso.validate(structural: vocabCorpus != nil || dropLayers > 0 || ffnRatio > 0 || headsRatio > 0 || plan != nil,
                               tokens: training.tokens)
            return
        }
        try lasso.validateUnused()
        for (name, r) in [("--ffn-ratio", ffnRatio), ("--heads-ratio", headsRatio)] where !(r.isFinite && r >= 0 && r < 1) {
            throw ValidationError("\(name) must be in [0, 1), got \(r)")
        }
        if dropLayers < 0 { throw ValidationError("--drop-layers must be ≥ 0, got \(dropLayers)") }
        if calibrationTokens <= 0 { throw ValidationError("--calibration-tokens must be positive, got \(calibrationTokens)") }
        if calibrationLength < 2 { throw ValidationError("--calibration-length must be at least 2, got \(calibrationLength)") }
        if plan != nil && (vocabCorpus != nil || dropLayers > 0 || ffnRatio > 0 || headsRatio > 0) {
            throw ValidationError("--plan applies a saved plan; it cannot be combined with --vocab-corpus, --drop-layers, --ffn-ratio or --heads-ratio")
        }
        if toConfig != nil && (plan != nil || dropLayers > 0 || ffnRatio > 0 || headsRatio > 0 || vocabSize != nil) {
            throw ValidationError("--to-config sets every size from the config; it cannot be combined with --plan, --drop-layers, --ffn-ratio, --heads-ratio or --vocab-size")
        }
        if let c = calibration, !FileManager.default.fileExists(atPath: c) {
            throw ValidationError("--calibration \(c) does not exist")
        }
        if let c = vocabCorpus, !FileManager.default.fileExists(atPath: c) {
            throw ValidationError("--vocab-corpus \(c) does not exist")
        }
    }

    func run() throws {
        if lasso.groupLasso { return try runGroupLasso() }
        var options = PruningOptions()
        options.vocabularyCorpus = vocabCorpus
        options.vocabularySize = vocabSize
        options.dropLayers = dropLayers
        options.layerCriterion = criterion
        options.ffnRatio = ffnRatio
        options.ffnAllocation = ffnAllocation
        options.ffnCriterion = ffnCriterion
        options.headsRatio = headsRatio
        options.headsCriterion = headsCriterion
        options.headsUnit = headsUnit
        options.seed = seed
        options.calibrationPath = calibration
        options.calibrationTokens = calibrationTokens
        options.calibrationLength = calibrationLength
        options.plan = try plan.map { try PruningReport.loadPlan(path: $0) }
        let pool = runtime.makePool()
        options.threads = pool.threads
        if toConfig == nil { try options.validate() }
        try PrunedCheckpointWriter.checkDestination(out, force: force)

        let pruner = try Pruner(directory: modelDir)
        let progress = ProgressLine()
        let (plan, draft): (PruningPlan, PruningReport)
        if let toConfig {
            guard let bytes = FileManager.default.contents(atPath: toConfig) else { throw CLIError("cannot read --to-config \(toConfig)") }
            let student: ModelConfig
            do { student = try ModelRegistry.config(fromJSON: bytes) } catch { throw CLIError("--to-config \(toConfig): \(error)") }
            (plan, draft) = try pruner.studentPlan(student: student, options: options, layers: layerChoice, pool: pool) { stage, done, total in
                progress.update(stage, done, total)
            }
        } else {
            (plan, draft) = try pruner.makePlan(options, pool: pool) { stage, done, total in
                progress.update(stage, done, total)
            }
        }
        progress.finish()
        let report = try pruner.write(plan: plan, report: draft, to: out, force: force, threads: pool.threads)
        if json {
            FileHandle.standardOutput.write(try report.encoded())
        } else {
            print(summary(report))
        }
    }

    func summary(_ r: PruningReport) -> String {
        func n(_ x: Int) -> String {
            let s = String(x)
            var out = ""
            for (i, c) in s.reversed().enumerated() {
                if i > 0 && i % 3 == 0 && c != "-" { out.append(",") }
                out.append(c)
            }
            return String(out.reversed())
        }
        var lines = ["pruned \(r.source) → \(out)",
                     String(format: "  parameters %@ → %@ (%.1f%% removed)", n(r.parametersBefore), n(r.parametersAfter), 100 * r.removedFraction)]
        if r.zeroedParameters > 0 { lines.append("  zeroed in place: \(n(r.zeroedParameters)) parameters") }
        if let v = r.vocabulary {
            var line = "  vocabulary \(r.shapeBefore.vocabulary) → \(r.shapeAfter.vocabulary) tokens"
            if let a = v.mergesBefore, let b = v.mergesAfter { line += ", merges \(a) → \(b)" }
            if v.tokenizationVerified == true { line += "; corpus tokenization verified identical" }
            if let limit = v.stats?.sizeLimit {
                line += "; limited to \(limit) by frequency (\(v.stats?.droppedCorpusTokens ?? 0) tokens the corpus uses dropped: it now tokenizes into shorter tokens)"
            }
            lines.append(line)
        }
        if let h = r.plan.hiddenChannels { lines.append("  hidden channels \(r.shapeBefore.hidden) → \(h.count) (residual-stream RMS)") }
        if let l = r.layers { lines.append("  layers removed (\(l.criterion.rawValue)): \(l.removed)") }
        if let h = r.heads {
            lines.append("  heads (\(h.criterion.rawValue)): \(h.mode) \(h.removedPerLayer) of \(h.unitsPerLayer) \(h.unit == .kvGroup ? "kv groups" : "query heads") per layer")
            if let note = h.note { lines.append("    note: \(note)") }
        }
        if let f = r.ffn {
            lines.append("  ffn (\(f.criterion.rawValue), \(f.allocation.rawValue)): \(f.intermediateBefore) → \(f.intermediateAfter) neurons per layer")
            if f.allocation == .global { lines.append("    neurons really kept per layer: \(f.effectivePerLayer)") }
        }
        if r.layers == nil && r.heads == nil && r.ffn == nil && r.vocabulary == nil {
            lines.append("  applied plan: layers \(r.shapeBefore.layers) → \(r.shapeAfter.layers), intermediate \(r.shapeBefore.intermediate) → \(r.shapeAfter.intermediate), heads \(r.shapeBefore.heads)/\(r.shapeBefore.kvHeads) → \(r.shapeAfter.heads)/\(r.shapeAfter.kvHeads), vocabulary \(r.shapeBefore.vocabulary) → \(r.shapeAfter.vocabulary)")
        }
        lines.append(String(format: "  scoring took %.1f s; report: %@", r.scoringSeconds,
                            (out as NSString).appendingPathComponent(PruningReport.fileName)))
        return lines.joined(separator: "\n")
    }
}

/// Progress on stderr: one rewritten line on a terminal, a line per stage (and
/// its end) otherwise.
final class ProgressLine {
    private let interactive = isatty(2) != 0
    private var stage = ""
    private var shown = false

    func update(_ stage: String, _ done: Int, _ total: Int) {
        if interactive {
            printErrorInline("\r\u{1B}[K\(stage): \(done)/\(total)")
            shown = true
        } else if stage != self.stage {
            printError("\(stage)…")
        }
        self.stage = stage
    }

    func finish() {
        if interactive && shown { printErrorInline("\r\u{1B}[K") }
    }
}
