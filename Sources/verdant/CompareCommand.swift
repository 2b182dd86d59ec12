import ArgumentParser
import Foundation
import VerdantEval
import VerdantTensors

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare candidates with a base model: size ×, latency ×, energy ×, carbon ×, effectiveness Δ.",
        discussion: """
        Runs `verdant measure` and (with --data) `verdant eval` on every model, each in its own process so that \
        memory and energy are per model, and prints a table; --json prints everything as JSON; --report FILE.md \
        writes a Markdown report with SVG charts of effectiveness against size and against energy \
        (FILE-size.svg, FILE-energy.svg next to it). × is base ÷ candidate for costs (2× = half the cost).
        """)

    @Argument(help: "The base model directory, then one or more candidate directories.")
    var models: [String]

    @Option(help: "Effectiveness task data (JSONL); without it only costs are compared.")
    var data: String?

    @Option(help: "line-completion (EM/ES, headline ES) or humaneval (greedy pass@1).")
    var task: EvalCommand.Task = .lineCompletion

    @Option(help: "Evaluate only the first N tasks.")
    var limit: Int?

    @Option(help: "line-completion: context kept, in tokens.")
    var contextTokens: Int = 448

    @OptionGroup var measurement: MeasureProtocolOptions

    @OptionGroup var carbon: CarbonOptions

    @OptionGroup var runtime: RuntimeOptions

    @Option(help: "Write a Markdown report (and its SVG charts next to it).")
    var report: String?

    @Flag(help: "Print JSON on stdout.")
    var json = false

    func validate() throws {
        guard models.count >= 2 else { throw ValidationError("give a base model and at least one candidate") }
        if let l = limit, l < 1 { throw ValidationError("--limit must be ≥ 1, got \(l)") }
        guard (1...1_000_000).contains(contextTokens) else { throw ValidationError("--context-tokens must be ≥ 1") }
        if let report, !report.hasSuffix(".md") { throw ValidationError("--report must name a .md file, got \(report)") }
    }

    struct Output: Encodable {
        var base: String
        var headline_metric: String?
        var models: [ModelSummary]
        var ratios: [HeadlineRatios]
        var method: [String]
    }

    func run() throws {
        for m in models where !FileManager.default.fileExists(atPath: (m as NSString).appendingPathComponent("config.json")) {
            throw CLIError("\(m) has no config.json: not a model directory")
        }
        if let data, !FileManager.default.fileExists(atPath: data) { throw CLIError("\(data): no such file") }
        if let report { try requireOutputDirectory(report) }
        let names = Self.uniqueNames(models)
        var summaries: [ModelSummary] = []
        var energyLines = Set<String>()
        var sandboxLine: String?
        for (i, (path, name)) in zip(models, names).enumerated() {
            let step = "[\(i + 1)/\(models.count)] \(name)"
            printError("\(step): measure")
            let m = try runSelf(["measure", path, "--json", "--prompt-tokens", "\(measurement.promptTokens)",
                                 "--gen-tokens", "\(measurement.genTokens)", "--runs", "\(measurement.runs)"]
                                + (measurement.noRapl ? ["--no-rapl"] : []) + carbonArguments + threadArguments,
                                as: MeasureOutput.self)
            energyLines.insert(m.energy_model)
            var effectiveness: [String: Double] = [:]
            if let data {
                printError("\(step): eval \(task.rawValue)")
                var args = ["eval", path, "--task", task.rawValue, "--data", data, "--json"] + threadArguments
                if let limit { args += ["--limit", "\(limit)"] }
                switch task {
                case .lineCompletion:
                    let e = try runSelf(args + ["--context-tokens", "\(contextTokens)"], as: EvalCommand.LineCompletionOutput.self)
                    effectiveness = ["em": e.em, "es": e.es]
                case .humaneval:
                    let e = try runSelf(args + ["--samples", "1", "--temperature", "0"], as: FunctionalCorrectnessOutput.self)
                    effectiveness = ["pass@1": e.pass_at_k["1"] ?? 0]
                    sandboxLine = e.isolation
                }
            }
            summaries.append(ModelSummary(
                name: name, path: path, parameters: m.parameters, diskBytes: m.disk_bytes, flopsPerToken: m.flops_per_token,
                prefillTokensPerSecond: m.prefill_tokens_per_s, decodeTokensPerSecond: m.decode_tokens_per_s,
                timeToFirstTokenSeconds: m.time_to_first_token_s, peakRSSBytes: m.peak_rss_bytes,
                energyJoulesPerToken: m.energy_joules_per_token, energyMethod: m.energy_method,
                carbonGramsPer1kTokens: m.carbon_g_per_1k_tokens, effectiveness: effectiveness))
        }
        let headline: String? = data == nil ? nil : (task == .lineCompletion ? "es" : "pass@1")
        let comparison = ComparisonReport(models: summaries, headlineMetric: headline,
                                          method: methodLines(energy: energyLines.sorted(), sandbox: sandboxLine))
        if let report { try writeReport(comparison, to: report) }
        if json {
            try printJSON(Output(base: names[0], headline_metric: headline, models: summaries, ratios: comparison.ratios,
                                 method: comparison.method))
        } else {
            print(comparison.terminalTable, terminator: "")
            if let report { print("report: \(report)") }
        }
    }

    var carbonArguments: [String] {
        if let c = carbon.carbonIntensity { return ["--carbon-intensity", "\(c)"] }
        if let r = carbon.region { return ["--region", r] }
        return []
    }

    var threadArguments: [String] { runtime.threads.map { ["--threads", "\($0)"] } ?? [] }

    func methodLines(energy: [String], sandbox: String?) -> [String] {
        let cpu = CPUInfo.current
        var lines = [
            "Machine: \(cpu.modelName), \(cpu.logicalCores) logical CPUs, \(runtime.threads ?? ProcessInfo.processInfo.activeProcessorCount) threads; \(Self.timestamp()).",
            "Command: `verdant \(CommandLine.arguments.dropFirst().joined(separator: " "))`.",
            "Speed: `verdant measure`: a warm-up, then \(measurement.runs) runs of a \(measurement.promptTokens)-token prompt prefilled in one pass and \(measurement.genTokens) greedy decode steps; medians. Latency × compares decode seconds per token; TTFT × the time to the first token.",
            "FLOPs per token: analytic (2 per multiply-add of every linear layer and the output projection, plus attention scores and values at the measured context).",
        ]
        lines += energy.map { "Energy per generated token: \($0)." }
        lines.append("Carbon: energy × \(String(format: "%g", carbon.intensity.gramsPerKWh)) gCO2e/kWh (\(carbon.intensity.source)).")
        if let data {
            switch task {
            case .lineCompletion:
                lines.append("Effectiveness: line completion on `\(data)`\(limit.map { " (first \($0) tasks)" } ?? ""): context tokenized without special tokens and cut to its last \(contextTokens) tokens, greedy until the first newline or 64 tokens; EM = exact match of the stripped first line, ES = 100 × (1 − Levenshtein / max length) over code points; percentages.")
            case .humaneval:
                lines.append("Effectiveness: greedy pass@1 on `\(data)`\(limit.map { " (first \($0) problems)" } ?? ""), programs run in a sandbox: \(sandbox ?? "?").")
            }
        }
        return lines
    }

    func writeReport(_ comparison: ComparisonReport, to path: String) throws {
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let dir = (path as NSString).deletingLastPathComponent
        var charts: [(file: String, caption: String)] = []
        for (name, chart) in comparison.charts {
            let file = "\(stem)-\(name).svg"
            try writeAtomically(Data(chart.svg.utf8), to: dir.isEmpty ? file : (dir as NSString).appendingPathComponent(file))
            charts.append((file, chart.title))
        }
        try writeAtomically(Data(comparison.markdown(charts: charts).utf8), to: path)
    }

    /// Runs this executable with `arguments` (stderr passed through, so progress
    /// bars show) and decodes its JSON stdout.
    func runSelf<T: Decodable>(_ arguments: [String], as: T.Type) throws -> T {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executablePath)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.standardError
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw CLIError("`verdant \(arguments.prefix(2).joined(separator: " "))` failed (exit status \(process.terminationStatus))")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw CLIError("`verdant \(arguments.prefix(2).joined(separator: " "))` printed unexpected output: \(error)")
        }
    }

    static var executablePath: String {
        #if os(Linux)
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return resolved }
        #endif
        return Bundle.main.executablePath ?? CommandLine.arguments[0]
    }

    /// Last path components, made unique with a numeric suffix.
    static func uniqueNames(_ paths: [String]) -> [String] {
        var seen: [String: Int] = [:]
        return paths.map { p in
            let base = URL(fileURLWithPath: p).standardizedFileURL.lastPathComponent
            seen[base, default: 0] += 1
            return seen[base] == 1 ? base : "\(base)#\(seen[base] ?? 0)"
        }
    }

    static func timestamp() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date())
    }
}
