import ArgumentParser
import Foundation
import VerdantModels
import VerdantSearch

struct SearchSpaceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search-space",
        abstract: "Prove which student configurations of a space fit a budget, with exact parameters and bytes.",
        discussion: """
            SPACE.json declares genes (ranges with a step, or choices); without it the default decoder \
            space is used (--print-default writes it, to start a space of your own). Every configuration \
            printed is a model of the Z3 constraints: hidden = heads × head size, heads divisible by kv \
            heads, stored bytes at --format ≤ the budget, and the optional FLOPs / KV-cache limits.
            """)

    @Argument(help: "Configuration space JSON (default: Verdant's decoder space).")
    var space: String?

    @Option(help: "Size budget of the stored student, in MB (10^6 bytes).")
    var budgetMb: Double?

    @Option(help: "Weight format the size is counted in: bf16, f16, f32, q8_0, q4_0, int4, int4_gG, w8a8.")
    var format = "bf16"

    @Option(help: "Legal configurations to enumerate (each excluded from the next by a blocking clause).")
    var enumerate = 10

    @Option(help: "Limit on decode FLOPs per token at full context.")
    var maxFlops: Double?

    @Option(help: "Limit on the f32 KV cache at full context, in MB.")
    var maxKvMb: Double?

    @Option(help: "Also compare the formulas with this checkpoint's loader count and stored bytes.")
    var compareModel: String?

    @Option(help: "Measure Avatar's box approximation: the per-gene min/max of N legal configurations, and how many of 10000 points drawn from that box break the constraints.")
    var avatarBox: Int?

    @Flag(help: "Print the default space as JSON and exit.")
    var printDefault = false

    @Flag(help: "Print JSON.")
    var json = false

    struct Row: Encodable {
        var genes: [String: String]
        var parameters: Int
        var bytes: Int
        var flops_per_token: Int
        var kv_cache_bytes: Int
    }

    struct Report: Encodable {
        var format: String
        var budget_bytes: Int
        var genes: Int
        var unconstrained_configurations: Int
        var solver_checks: Int
        var configurations: [Row]
    }

    func validate() throws {
        if !printDefault {
            guard let b = budgetMb else { throw ValidationError("--budget-mb is required") }
            guard b > 0, b.isFinite, b < 1e7 else { throw ValidationError("--budget-mb must be a positive number of MB") }
        }
        if let n = avatarBox, !(2...10_000).contains(n) { throw ValidationError("--avatar-box must be between 2 and 10000") }
        guard enumerate >= 0, enumerate <= 100_000 else { throw ValidationError("--enumerate must be between 0 and 100000") }
        if let f = maxFlops, !(f > 0 && f < 9e18) { throw ValidationError("--max-flops must be positive") }
        if let k = maxKvMb, !(k > 0 && k < 1e9) { throw ValidationError("--max-kv-mb must be positive") }
        guard StorageFormat(name: format) != nil else {
            throw ValidationError("unknown --format '\(format)' (bf16, f16, f32, q8_0, q4_0, int4, int4_g32/64/128, w8a8)")
        }
    }

    func run() throws {
        if printDefault {
            FileHandle.standardOutput.write(try ConfigurationSpace.defaultDecoder().encoded())
            print()
            return
        }
        guard let storage = StorageFormat(name: format), let budgetMb else { throw CLIError("invalid options") }
        let space = try space.map { try ConfigurationSpace.load(path: $0) } ?? .defaultDecoder()
        if let dir = compareModel { try compare(directory: dir, storage: storage) }
        let budget = Budget(sizeBytes: Int(budgetMb * 1e6), storage: storage,
                            maxFlopsPerToken: maxFlops.map { Int($0) }, maxKVCacheBytes: maxKvMb.map { Int($0 * 1e6) })
        let solver: ConstraintSolver
        do {
            solver = try ConstraintSolver(space: space, budget: budget)
        } catch let e as SpaceError {
            throw CLIError(e.description)
        }
        if let n = avatarBox { try reportBox(solver: solver, solutions: n) }
        let found = try solver.enumerate(limit: enumerate)
        let rows = try found.map { c -> Row in
            let s = try StudentShape(space: space, configuration: c)
            return Row(genes: space.values(of: c).mapValues(\.description), parameters: s.parameterCount,
                       bytes: s.bytes(storage), flops_per_token: s.flopsPerToken(span: s.context),
                       kv_cache_bytes: s.kvCacheBytes)
        }
        if json {
            try printJSON(Report(format: storage.name, budget_bytes: budget.sizeBytes, genes: space.genes.count,
                                 unconstrained_configurations: space.unconstrainedCount, solver_checks: solver.checks,
                                 configurations: rows))
            return
        }
        print("space: \(space.genes.count) genes, \(space.unconstrainedCount) configurations before constraints; "
              + "budget \(String(format: "%.3f", budgetMb)) MB at \(storage.name)")
        print("\(rows.count) legal configuration\(rows.count == 1 ? "" : "s") proved by Z3 (\(solver.checks) checks):")
        for (c, r) in zip(found, rows) {
            print(String(format: "  %10d params  %10d bytes (%.3f MB)  %.3g FLOPs/token  ", r.parameters, r.bytes,
                         Double(r.bytes) / 1e6, Double(r.flops_per_token)) + space.describe(c))
        }
    }

    /// Avatar keeps only the bounds of its solver's solutions and samples inside them; this
    /// counts how often such a sample is not a legal student (budget or shape rules broken).
    private func reportBox(solver: ConstraintSolver, solutions n: Int) throws {
        let legal = try SampleSelection.legalPool(solver, count: n, seed: 1)
        guard let box = AvatarGA.box(of: legal) else { return }
        var rng = SearchRandom(seed: 2)
        let draws = 10_000
        var illegalShape = 0, overBudget = 0
        for _ in 0..<draws {
            let c = Configuration(box.map { Int.random(in: $0, using: &rng) })
            let s = try StudentShape(space: solver.space, configuration: c)
            if s.hidden != s.heads * s.headDim || s.heads % s.kvHeads != 0 {
                illegalShape += 1
            } else if !solver.budget.admits(s) {
                overBudget += 1
            }
        }
        // A few of the verdicts re-proved by the solver, so the count is not the formula's alone.
        var disagreements = 0
        for _ in 0..<50 {
            let c = Configuration(box.map { Int.random(in: $0, using: &rng) })
            let s = try StudentShape(space: solver.space, configuration: c)
            if try solver.isLegal(c) != solver.budget.admits(s) { disagreements += 1 }
        }
        let shaped = draws - illegalShape
        print(String(format: "Avatar's box from %d legal configurations: of %d points drawn in it, %.1f%% break the shape rules; "
                     + "of the %d that keep them, %.1f%% exceed the budget; %.2f%% of all are legal "
                     + "(solver and formula disagree on %d of 50 re-checked)",
                     legal.count, draws, 100 * Double(illegalShape) / Double(draws), shaped,
                     shaped > 0 ? 100 * Double(overBudget) / Double(shaped) : 0,
                     100 * Double(shaped - overBudget) / Double(draws), disagreements))
    }

    /// Formula vs loader on a real checkpoint: parameters, and stored bytes when the checkpoint
    /// is stored in one float format equal to --format.
    private func compare(directory: String, storage: StorageFormat) throws {
        let info = try ModelInfo.read(directory: directory)
        let shape = StudentShape(config: info.config)
        let (pointSpace, point) = try ConfigurationSpace.point(shape)
        let solverCounts = try ConstraintSolver.solverCounts(space: pointSpace, configuration: point, storage: storage)
        let checkpoint = try Checkpoint(path: directory)
        let tensorBytes = checkpoint.tensors.reduce(0) { $0 + $1.byteCount }
        let dtypes = Set(checkpoint.tensors.map { $0.dtype.rawValue.lowercased() })
        print("\(directory): loader \(info.parameterCount) parameters; formula \(shape.parameterCount), solver \(solverCounts.parameters)"
              + (shape.parameterCount == info.parameterCount && solverCounts.parameters == info.parameterCount ? " (equal)" : " (DIFFERENT)"))
        var line = "  bytes at \(storage.name): formula \(shape.bytes(storage)), solver \(solverCounts.bytes)"
        if dtypes == [storage.name] { line += "; tensors on disk \(tensorBytes)" + (tensorBytes == shape.bytes(storage) ? " (equal)" : " (DIFFERENT)") }
        print(line)
    }
}
