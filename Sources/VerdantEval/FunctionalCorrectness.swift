import Foundation

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
