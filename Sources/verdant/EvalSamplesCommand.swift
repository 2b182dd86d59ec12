import ArgumentParser
import Foundation
import VerdantEval

/// How untrusted programs run (shared by `eval --task humaneval` and `eval-samples`).
struct SandboxOptions: ParsableArguments {
    @Option(help: "Wall-clock seconds per program (its process group is killed after).")
    var timeout: Double = 10

    @Option(help: "Address-space limit per process, in MiB.")
    var memoryMb: Int = 1024

    @Option(help: "Processes a program may have at once.")
    var maxProcesses: Int = 64

    @Option(help: "Programs run at the same time (default: min(4, cores)).")
    var parallel: Int?

    @Option(help: "Python interpreter for the programs (default: python3 on PATH).")
    var python: String?

    @Option(help: "Isolation: auto (the strongest that works here), or exactly bubblewrap, namespaces or rlimits.")
    var isolation: String = "auto"

    func validate() throws {
        guard isolation == "auto" || IsolationLevel(rawValue: isolation) != nil else {
            throw ValidationError("--isolation must be auto, bubblewrap, namespaces or rlimits, got '\(isolation)'")
        }
        guard timeout.isFinite, timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be in (0, 3600] seconds") }
        guard (32...1_048_576).contains(memoryMb) else { throw ValidationError("--memory-mb must be between 32 and 1048576") }
        guard (1...4096).contains(maxProcesses) else { throw ValidationError("--max-processes must be between 1 and 4096") }
        if let p = parallel, !(1...256).contains(p) { throw ValidationError("--parallel must be between 1 and 256") }
    }

    func makeSandbox() throws -> Sandbox {
        let allowed = IsolationLevel(rawValue: isolation).map { [$0] } ?? IsolationLevel.allCases
        do {
            return try Sandbox(limits: SandboxLimits(timeoutSeconds: timeout, memoryBytes: memoryMb << 20, processes: maxProcesses),
                               python: python, allowed: allowed)
        } catch {
            throw CLIError("\(error)")
        }
    }

    var parallelPrograms: Int { parallel ?? max(1, min(4, ProcessInfo.processInfo.activeProcessorCount)) }
}

struct EvalSamplesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-samples",
        abstract: "Functional correctness (pass@k) of completions in the HumanEval / MBPP format.",
        discussion: """
        Each sample's program is prompt + completion + "\\n" + test + "\\n" + "check(entry_point)", run with \
        python3 in a fresh temporary directory as its own process group, under the wall-clock timeout and \
        CPU-time, memory, process-count and file-size limits, confined by bubblewrap (no network, read-only \
        file system outside its directory, own pid namespace) when this machine allows it, else by the \
        strongest fallback that works; the output says which. Status: passed, failed (non-zero exit), \
        timeout, error (killed by a signal). pass@k = mean over problems of 1 − C(n−c, k)/C(n, k), \
        for k in 1, 10, 100 where every problem has at least k samples; a fraction.
        """)

    @Option(help: "Problems (JSONL: task_id, prompt, test, entry_point).")
    var problems: String

    @Option(help: "Samples (JSONL: task_id, completion).")
    var samples: String

    @OptionGroup var sandbox: SandboxOptions

    @Flag(help: "Print JSON on stdout: {\"pass_at_k\": {\"1\": x, ...}, \"results\": [{\"task_id\", \"passed\", \"status\"}], \"isolation\"}.")
    var json = false

    func run() throws {
        let problemList = try readCodeProblems(path: problems)
        let sampleList = try readCodeSamples(path: samples, problems: problemList)
        let box = try sandbox.makeSandbox()
        let report = runSamples(problems: problemList, samples: sampleList, sandbox: box, parallel: sandbox.parallelPrograms)
        try printFunctionalCorrectness(report, sandbox: box, json: json, verbose: true)
    }
}

/// Runs the samples with a progress bar.
func runSamples(problems: [CodeProblem], samples: [CodeSample], sandbox: Sandbox, parallel: Int) -> FunctionalCorrectnessReport {
    printError("isolation: \(sandbox.isolationDescription); python \(sandbox.python) \(sandbox.pythonVersion)")
    Sandbox.killRunningProgramsOnInterrupt()
    let bar = ProgressBar("programs", total: samples.count)
    let report = evaluateFunctionalCorrectness(problems: problems, samples: samples, sandbox: sandbox, parallel: parallel) { done, _ in
        bar.update(done)
    }
    bar.finish()
    if !report.problemsWithoutSamples.isEmpty {
        printError("warning: \(report.problemsWithoutSamples.count) problem(s) have no samples and are left out of pass@k")
    }
    return report
}

struct FunctionalCorrectnessOutput: Codable {
    struct Result: Codable {
        var task_id: String
        var passed: Bool
        var status: String
    }
    var pass_at_k: [String: Double]
    var results: [Result]?
    var problems: Int
    var samples: Int
    var isolation: String
    var isolation_level: String
}

func printFunctionalCorrectness(_ report: FunctionalCorrectnessReport, sandbox: Sandbox, json: Bool, verbose: Bool) throws {
    let passAtK = Dictionary(uniqueKeysWithValues: report.passAtK.map { (String($0.key), $0.value) })
    if json {
        try printJSON(FunctionalCorrectnessOutput(
            pass_at_k: passAtK,
            results: verbose ? report.results.map { .init(task_id: $0.taskID, passed: $0.passed, status: $0.status.rawValue) } : nil,
            problems: report.problemsAttempted, samples: report.results.count,
            isolation: sandbox.isolationDescription, isolation_level: sandbox.level.rawValue))
        return
    }
    let ks = report.passAtK.keys.sorted().map { String(format: "pass@%d %.4f", $0, report.passAtK[$0] ?? 0) }
    var counts: [ExecutionStatus: Int] = [:]
    for r in report.results { counts[r.status, default: 0] += 1 }
    let summary = ExecutionStatus.allCases.map { "\(counts[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", ")
    print("\(ks.joined(separator: "  ")) over \(report.problemsAttempted) problems, \(report.results.count) samples (\(summary))")
    print("isolation: \(sandbox.isolationDescription)")
    printError(String(format: "%.1f s", report.seconds))
}
