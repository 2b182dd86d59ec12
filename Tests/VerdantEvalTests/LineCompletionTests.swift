import Foundation
import Testing
@testable import VerdantEval
import VerdantModels
import VerdantTensors
import VerdantTokenizer

/// The demo fixture (a tiny Llama trained on Python) with its tokenizer.
enum Demo {
    static let directory = Fixtures.model("demo")
    static let loaded = try? LoadedModel.load(directory: directory)
    static let tokenizer = try? Tokenizer(contentsOf: directory + "/tokenizer.json")

    static let tasks = [
        LineCompletionTask(context: "import os\n\ndef read_file(path):\n    ", target: "with open(path) as f:"),
        LineCompletionTask(context: "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        ", target: "self.y = y"),
        LineCompletionTask(context: "for i in range(10):\n    ", target: "print(i)"),
        LineCompletionTask(context: "", target: "import sys"),
    ]
}

@Test func lineCompletionDoesNotDependOnThreads() throws {
    let model = try #require(Demo.loaded).model
    let tokenizer = try #require(Demo.tokenizer)
    let options = LineCompletionOptions(contextTokens: 64, maxNewTokens: 12)  // few tokens: tests run unoptimized
    let one = try runLineCompletion(model: model, tokenizer: tokenizer, tasks: Demo.tasks, options: options, threads: 1)
    let two = try runLineCompletion(model: model, tokenizer: tokenizer, tasks: Demo.tasks, options: options, threads: 3)
    #expect(one.predictions == two.predictions)
    #expect(one.score == two.score)
    #expect(one.score.n == 4)
}

@Test func predictionIsTheFirstLineOfTheGreedyContinuation() throws {
    let model = try #require(Demo.loaded).model
    let tokenizer = try #require(Demo.tokenizer)
    let options = LineCompletionOptions(contextTokens: 12, maxNewTokens: 12)
    let result = try runLineCompletion(model: model, tokenizer: tokenizer, tasks: Demo.tasks, options: options, threads: 2)
    let pool = ThreadPool(threads: 1)
    for (task, prediction) in zip(Demo.tasks, result.predictions) {
        // The same protocol spelled out with the generic generator: last 12 tokens of the
        // context (no special tokens; BOS when empty), greedy, first line of the text.
        var ids = Array(tokenizer.encode(task.context, addSpecialTokens: false).suffix(12))
        if ids.isEmpty, let bos = model.config.bosTokenIds.first { ids = [bos] }
        let generated = try model.generate(prompt: ids, maxTokens: 12, sampling: SamplingOptions(), pool: pool)
        let text = tokenizer.decode(generated.tokens, skipSpecialTokens: true)
        let expected = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first
            .map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
        #expect(prediction == expected, "context \(task.context.debugDescription)")
    }
}

@Test func contextTokensMustFitTheModel() throws {
    let loaded = try #require(Demo.loaded)
    let tokenizer = try #require(Demo.tokenizer)
    for bad in [0, loaded.config.maxPositions + 1] {
        #expect(throws: LineCompletionError.self) {
            _ = try runLineCompletion(model: loaded.model, tokenizer: tokenizer, tasks: Demo.tasks,
                                      options: LineCompletionOptions(contextTokens: bad), threads: 1)
        }
    }
}

@Test func codeCompletionsStopAtTheNextTopLevelStatement() throws {
    let model = try #require(Demo.loaded).model
    let tokenizer = try #require(Demo.tokenizer)
    let problems = [CodeProblem(taskID: "demo/0", prompt: "def add(a, b):\n", test: "", entryPoint: "add")]
    let options = CodeGenerationOptions(samplesPerProblem: 3, maxNewTokens: 16,
                                        sampling: SamplingOptions(temperature: 0.8, topP: 0.95, seed: 7))
    let a = try generateCompletions(model: model, tokenizer: tokenizer, problems: problems, options: options, threads: 1)
    let b = try generateCompletions(model: model, tokenizer: tokenizer, problems: problems, options: options, threads: 2)
    #expect(a == b)  // seeds are per sample, not per thread
    #expect(a.count == 3)
    for s in a {
        #expect(s.taskID == "demo/0")
        #expect(truncateAtStopSequence(s.completion) == s.completion)
    }
}
