import Foundation

/// A HumanEval / MBPP-format problem: the function's prompt (signature and
/// docstring), the test code defining `check(candidate)`, and the function name.
public struct CodeProblem: Sendable, Equatable {
    public var taskID: String
    public var prompt: String
    public var test: String
    public var entryPoint: String

    public init(taskID: String, prompt: String, test: String, entryPoint: String) {
        self.taskID = taskID
        self.prompt = prompt
        self.test = test
        self.entryPoint = entryPoint
    }

    /// The program that decides a completion, as human-eval builds it:
    /// prompt + completion + "\n" + test + "\n" + "check(entry_point)".
    public func program(completion: String) -> String {
        prompt + completion + "\n" + test + "\n" + "check(\(entryPoint))\n"
    }
}

/// A model's completion of one problem.
public struct CodeSample: Sendable, Equatable {
    public var taskID: String
    public var completion: String

    public init(taskID: String, completion: String) {
        self.taskID = taskID
        self.completion = completion
    }
}

/// Problems of a JSONL file ({"task_id", "prompt", "test", "entry_point"}); task ids must be unique.
public func readCodeProblems(path: String) throws -> [CodeProblem] {
    var seen = Set<String>()
    return try readJSONLines(path: path).map { line in
        let problem = CodeProblem(taskID: try line.string("task_id", path: path), prompt: try line.string("prompt", path: path),
                                  test: try line.string("test", path: path), entryPoint: try line.string("entry_point", path: path))
        guard seen.insert(problem.taskID).inserted else {
            throw DataError("\(path):\(line.number): task_id '\(problem.taskID)' appears twice")
        }
        guard problem.entryPoint.unicodeScalars.allSatisfy({ $0 == "_" || $0.properties.isAlphabetic || $0.properties.numericType != nil }),
              !problem.entryPoint.isEmpty else {
            throw DataError("\(path):\(line.number): entry_point '\(problem.entryPoint)' is not a Python identifier")
        }
        return problem
    }
}

/// Samples of a JSONL file ({"task_id", "completion"}); every task id must name one of `problems`.
public func readCodeSamples(path: String, problems: [CodeProblem]) throws -> [CodeSample] {
    let known = Set(problems.map(\.taskID))
    return try readJSONLines(path: path).map { line in
        let sample = CodeSample(taskID: try line.string("task_id", path: path), completion: try line.string("completion", path: path))
        guard known.contains(sample.taskID) else {
            throw DataError("\(path):\(line.number): task_id '\(sample.taskID)' is not in the problems file")
        }
        return sample
    }
}

/// The verdict on one sample.
public struct SampleResult: Sendable, Equatable, Codable {
    public var taskID: String
    public var passed: Bool
    public var status: ExecutionStatus

    enum CodingKeys: String, CodingKey {
        case taskID = "task_id", passed, status
    }
}

public struct FunctionalCorrectnessReport: Sendable {
    /// In the samples' order.
    public var results: [SampleResult]
    /// k → mean pass@k (a fraction), for k in 1, 10, 100 where every attempted problem has ≥ k samples.
    public var passAtK: [Int: Double]
    public var problemsAttempted: Int
    public var problemsWithoutSamples: [String]
    public var seconds: Double
}

/// Runs every sample's program in `sandbox`, `parallel` at a time, and scores pass@k.
public func evaluateFunctionalCorrectness(problems: [CodeProblem], samples: [CodeSample], sandbox: Sandbox,
                                          parallel: Int,
                                          progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil)
    -> FunctionalCorrectnessReport {
    let start = monotonicNow()
    let byID = Dictionary(problems.map { ($0.taskID, $0) }, uniquingKeysWith: { a, _ in a })
    let programs = samples.map { byID[$0.taskID]?.program(completion: $0.completion) }
    let outcomes = runInParallel(count: samples.count, parallel: parallel, progress: progress) { i -> ExecutionStatus in
        guard let program = programs[i] else { return .error }
        return sandbox.run(program: program).status
    }
    let results = zip(samples, outcomes).map { SampleResult(taskID: $0.taskID, passed: $1 == .passed, status: $1) }
    var counts: [String: (n: Int, c: Int)] = [:]
    for r in results { counts[r.taskID, default: (0, 0)].n += 1; if r.passed { counts[r.taskID, default: (0, 0)].c += 1 } }
    let missing = problems.map(\.taskID).filter { counts[$0] == nil }
    return FunctionalCorrectnessReport(results: results, passAtK: meanPassAtK(Array(counts.values)),
                                       problemsAttempted: counts.count, problemsWithoutSamples: missing,
                                       seconds: monotonicNow() - start)
}

/// `body(i)` for i in 0..<count on `parallel` threads (blocking work: waiting for
/// child processes), results in order.
func runInParallel<T: Sendable>(count: Int, parallel: Int,
                                progress: (@Sendable (_ done: Int, _ total: Int) -> Void)?,
                                _ body: @escaping @Sendable (Int) -> T) -> [T] {
    let state = ParallelState<T>(count: count)
    let group = DispatchGroup()
    for _ in 0..<max(1, min(parallel, count)) {
        group.enter()
        let thread = Thread {
            while true {
                state.lock.lock()
                let i = state.next
                state.next += 1
                state.lock.unlock()
                if i >= count { break }
                let value = body(i)
                state.lock.lock()
                state.results[i] = value
                state.done += 1
                progress?(state.done, count)
                state.lock.unlock()
            }
            group.leave()
        }
        thread.start()
    }
    group.wait()
    return state.results.compactMap { $0 }
}

private final class ParallelState<T>: @unchecked Sendable {
    let lock = NSLock()
    var next = 0
    var done = 0
    var results: [T?]
    init(count: Int) { results = Array(repeating: nil, count: count) }
}
