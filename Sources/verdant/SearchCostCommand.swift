import ArgumentParser
import Foundation
import VerdantEval
import VerdantSearch

struct SearchCostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search-cost",
        abstract: "Calibrate the search's latency and energy model on this machine from random-weight students.",
        discussion: """
            Picks --points legal configurations of the space spread over it (farthest-point in \
            normalised gene space), writes each as a random bf16 checkpoint, measures it with \
            `verdant measure`'s method, and fits latency and energy per decoded token as \
            c0 + c_w·weight MB + c_kv·KV MB read + c_l·layers (non-negative least squares). \
            Reports each point's measured vs predicted values and the model's leave-one-out error.
            """)

    @Argument(help: "Configuration space JSON (default: Verdant's decoder space).")
    var space: String?

    @Option(help: "Size budget in MB (bf16) the measured students are drawn under.")
    var budgetMb: Double

    @Option(help: "Configurations to measure (at least 5).")
    var points = 10

    @Option(help: "Prompt tokens per measured run.")
    var promptTokens = 64

    @Option(help: "Generated tokens per measured run.")
    var genTokens = 32

    @Option(help: "Runs per configuration (medians are used).")
    var runs = 3

    @Option(help: "Seed of the candidate pool.")
    var seed: UInt64 = 1

    @Option(help: "Write points and models as JSON to this file.")
    var out: String?

    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard budgetMb > 0, budgetMb.isFinite, budgetMb < 1e6 else { throw ValidationError("--budget-mb must be positive") }
        guard (5...200).contains(points) else { throw ValidationError("--points must be between 5 and 200") }
        guard promptTokens >= 1, genTokens >= 1, runs >= 1 else {
            throw ValidationError("--prompt-tokens, --gen-tokens and --runs must be ≥ 1")
        }
    }

    struct Output: Encodable {
        var points: [CostCalibration.Point]
        var latency: CostModel
        var energy: CostModel
        var latency_loo_mean_relative_error: Double
        var energy_loo_mean_relative_error: Double
    }

    func run() throws {
        let space = try space.map { try ConfigurationSpace.load(path: $0) } ?? .defaultDecoder()
        let budget = Budget(sizeBytes: Int(budgetMb * 1e6), storage: StorageFormat(.bf16))
        let solver: ConstraintSolver
        do { solver = try ConstraintSolver(space: space, budget: budget) } catch let e as SpaceError { throw CLIError(e.description) }
        let pool = try SampleSelection.legalPool(solver, count: 40 * points, seed: seed)
        // Start from the largest candidate so the extremes of cost are measured.
        let shapes = try pool.map { try StudentShape(space: space, configuration: $0) }
        guard let largest = shapes.indices.max(by: { shapes[$0].bytes(budget.storage) < shapes[$1].bytes(budget.storage) }) else {
            throw CLIError("the solver found no configuration to measure")
        }
        let chosen = SampleSelection.farthestPoints(pool, count: points, start: pool[largest], space: space)
        let chosenShapes = try chosen.map { try StudentShape(space: space, configuration: $0) }
        let calibration = CostCalibration(
            options: MeasureOptions(promptTokens: promptTokens, genTokens: genTokens, runs: runs),
            threads: runtime.threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let measured = try calibration.measure(chosenShapes) { i, p in
            printError(String(format: "[%d/%d] %.2f ms/token  %.4f J/token  %@", i + 1, chosenShapes.count,
                              p.decodeSecondsPerToken * 1e3, p.joulesPerToken, space.describe(chosen[i])))
        }
        let (latency, energy) = try calibration.fit(measured)
        let looLatency = try leaveOneOutRelativeError(measured, calibration) { $0.decodeSecondsPerToken } pick: { $0.latency }
        let looEnergy = try leaveOneOutRelativeError(measured, calibration) { $0.joulesPerToken } pick: { $0.energy }
        print("energy: \(measured.first?.energyMethod ?? "")")
        print("  params      weight MB   ms/token (pred)    J/token (pred)     MFLOPs/token")
        for p in measured {
            print(String(format: "  %9d  %9.3f   %7.3f (%7.3f)   %.5f (%.5f)   %9.2f", p.shape.parameterCount,
                         Double(p.weightBytesPerToken) / 1e6, p.decodeSecondsPerToken * 1e3,
                         latency.predict(p.shape, storage: budget.storage) * 1e3, p.joulesPerToken,
                         energy.predict(p.shape, storage: budget.storage), p.flopsPerToken / 1e6))
        }
        func coefficients(_ m: CostModel) -> String {
            zip(CostModel.featureNames, m.coefficients).map { String(format: "%@ %.4g", $0, $1) }.joined(separator: ", ")
        }
        print("latency model: \(coefficients(latency)); fit max rel. error \(String(format: "%.1f%%", latency.maxRelativeError * 100)), "
              + "leave-one-out mean rel. error \(String(format: "%.1f%%", looLatency * 100))")
        print("energy model:  \(coefficients(energy)); fit max rel. error \(String(format: "%.1f%%", energy.maxRelativeError * 100)), "
              + "leave-one-out mean rel. error \(String(format: "%.1f%%", looEnergy * 100))")
        if let out {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            try e.encode(Output(points: measured, latency: latency, energy: energy,
                                latency_loo_mean_relative_error: looLatency, energy_loo_mean_relative_error: looEnergy))
                .write(to: URL(fileURLWithPath: out))
        }
    }

    /// Mean |predicted − measured| / measured, each point predicted by a model fitted without it.
    private func leaveOneOutRelativeError(_ points: [CostCalibration.Point], _ c: CostCalibration,
                                          value: (CostCalibration.Point) -> Double,
                                          pick: ((latency: CostModel, energy: CostModel)) -> CostModel) throws -> Double {
        var total = 0.0, n = 0
        for i in points.indices {
            var rest = points
            rest.remove(at: i)
            let m = pick(try c.fit(rest))
            let v = value(points[i])
            guard v > 0 else { continue }
            total += abs(m.predict(points[i].shape, storage: StorageFormat(.bf16)) - v) / v
            n += 1
        }
        return n > 0 ? total / Double(n) : 0
    }
}
