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
