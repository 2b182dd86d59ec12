import ArgumentParser
import Foundation
import VerdantEval
import VerdantModels
import VerdantTokenizer

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Effectiveness on a code task: line completion (EM/ES) or HumanEval-style pass@k.",
        discussion: """
        line-completion: each JSONL line has `context` and `target`. The context is tokenized without \
        special tokens and cut to its last --context-tokens tokens; the model continues it greedily until \
        the first newline (or 64 tokens); the prediction is that line, stripped. EM = prediction == target; \
        ES = 100 × (1 − Levenshtein / max length), over code points. Percentages.

        humaneval: each JSONL line has `task_id`, `prompt`, `test`, `entry_point`. The model writes --samples \
        completions per problem (stopping at a top-level def/class/if/print/# line or --max-tokens); each \
        program (prompt + completion + test + check(entry_point)) runs in a sandbox (see `verdant eval-samples`). \
        pass@k is the unbiased estimator, as a fraction.
        """)

    enum Task: String, ExpressibleByArgument, CaseIterable {
        case lineCompletion = "line-completion"
        case humaneval
    }

    @Argument(help: "Model directory (Hugging Face layout, with tokenizer.json).")
    var modelDir: String

    @Option(help: "line-completion or humaneval.")
    var task: Task

    @Option(help: "Tasks (JSONL).")
    var data: String

    @Option(help: "Evaluate only the first N tasks.")
    var limit: Int?

    @Option(help: "line-completion: context kept, in tokens (left-truncated).")
    var contextTokens: Int = 448

    @Option(help: "line-completion: write {\"prediction\", \"target\"} per task to this JSONL file.")
    var predictions: String?

    @Option(help: "humaneval: completions per problem.")
    var samples: Int = 1

    @Option(help: "humaneval: sampling temperature (default 0 = greedy for 1 sample, 0.8 otherwise).")
    var temperature: Float?

    @Option(help: "humaneval: nucleus sampling mass.")
    var topP: Float = 0.95

    @Option(help: "humaneval: maximum tokens per completion.")
    var maxTokens: Int = 256

    @Option(help: "humaneval: random seed (sample i of a problem uses seed + i).")
    var seed: UInt64 = 0

    @Option(help: "humaneval: write the completions ({\"task_id\", \"completion\"} per line) to this JSONL file.")
    var samplesOut: String?

    @OptionGroup var sandbox: SandboxOptions

    @OptionGroup var runtime: RuntimeOptions

    @Flag(help: "Print JSON on stdout: {\"em\", \"es\", \"n\"} or {\"pass_at_k\", ...}.")
    var json = false

    func validate() throws {
        if let l = limit, l < 1 { throw ValidationError("--limit must be ≥ 1, got \(l)") }
        guard (1...1_000_000).contains(contextTokens) else {
            throw ValidationError("--context-tokens must be ≥ 1, got \(contextTokens)")
        }
        guard (1...100_000).contains(samples) else { throw ValidationError("--samples must be between 1 and 100000") }
        if let t = temperature, !(t.isFinite && t >= 0 && t <= 100) {
            throw ValidationError("--temperature must be in [0, 100]")
        }
        guard topP.isFinite, topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard (1...100_000).contains(maxTokens) else { throw ValidationError("--max-tokens must be ≥ 1") }
    }

    struct LineCompletionOutput: Codable {
        var em: Double
        var es: Double
        var n: Int
    }

    func run() throws {
        // Fail before the evaluation, not after it, when an output cannot be written.
        for path in [predictions, samplesOut].compactMap({ $0 }) { try requireOutputDirectory(path) }
        switch task {
        case .lineCompletion: try runLineCompletion()
        case .humaneval: try runHumanEval()
        }
    }

    func runLineCompletion() throws {
        var tasks = try readLineCompletionTasks(path: data)
        if let limit { tasks = Array(tasks.prefix(limit)) }
        let loaded = try LoadedModel.load(directory: modelDir)
        let tokenizer = try loadTokenizer(directory: modelDir)
        let threads = runtime.threads ?? ProcessInfo.processInfo.activeProcessorCount
        guard contextTokens <= loaded.config.maxPositions else {
            throw CLIError("--context-tokens \(contextTokens) exceeds the model's context length \(loaded.config.maxPositions)")
        }
        let bar = ProgressBar("line completion", total: tasks.count)
        let result = try VerdantEval.runLineCompletion(
            model: loaded.model, tokenizer: tokenizer, tasks: tasks,
            options: LineCompletionOptions(contextTokens: contextTokens), threads: threads) { done, _ in bar.update(done) }
        bar.finish()
        if let predictions {
            var lines = ""
            for (p, t) in zip(result.predictions, tasks) {
                lines += try jsonLine(["prediction": p, "target": t.target])
            }
            try writeAtomically(Data(lines.utf8), to: predictions)
        }
        if json {
            try printJSON(LineCompletionOutput(em: result.score.em, es: result.score.es, n: result.score.n))
        } else {
            print(String(format: "EM %.2f  ES %.2f  over %d tasks", result.score.em, result.score.es, result.score.n))
        }
        printError(String(format: "%d tasks in %.1f s (%.2f tasks/s, %d prompt + %d generated tokens, %d threads)",
                          tasks.count, result.seconds, result.tasksPerSecond, result.promptTokens,
                          result.generatedTokens, threads))
    }
}

/// Throws unless the directory `path` would be written into exists.
func requireOutputDirectory(_ path: String) throws {
    let dir = (path as NSString).deletingLastPathComponent
    var isDirectory: ObjCBool = false
    if !dir.isEmpty && !(FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) && isDirectory.boolValue) {
        throw CLIError("cannot write \(path): directory \(dir) does not exist")
    }
}

/// One JSON object on one line (sorted keys), for JSONL outputs.
func jsonLine(_ object: [String: String]) throws -> String {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    return String(decoding: data, as: UTF8.self) + "\n"
}

extension EvalCommand {
    func runHumanEval() throws {
        var problems = try readCodeProblems(path: data)
        if let limit { problems = Array(problems.prefix(limit)) }
        let loaded = try LoadedModel.load(directory: modelDir)
        let tokenizer = try loadTokenizer(directory: modelDir)
        let box = try sandbox.makeSandbox()  // before generating: fail early if nothing can run the programs
        let threads = runtime.threads ?? ProcessInfo.processInfo.activeProcessorCount
        let t = temperature ?? (samples == 1 ? 0 : 0.8)
        if samples > 1 && t == 0 { printError("warning: --samples \(samples) with greedy decoding gives identical samples") }
        let options = CodeGenerationOptions(samplesPerProblem: samples, maxNewTokens: maxTokens,
                                            sampling: SamplingOptions(temperature: t, topP: topP, seed: seed))
        let bar = ProgressBar("generating", total: problems.count * samples)
        let completions = try generateCompletions(model: loaded.model, tokenizer: tokenizer, problems: problems,
                                                  options: options, threads: threads) { done, _ in bar.update(done) }
        bar.finish()
        if let samplesOut {
            let lines = try completions.map { try jsonLine(["task_id": $0.taskID, "completion": $0.completion]) }.joined()
            try writeAtomically(Data(lines.utf8), to: samplesOut)
        }
        let report = runSamples(problems: problems, samples: completions, sandbox: box, parallel: sandbox.parallelPrograms)
        try printFunctionalCorrectness(report, sandbox: box, json: json, verbose: false)
    }
}
