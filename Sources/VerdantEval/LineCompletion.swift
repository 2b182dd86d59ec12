import Foundation
import VerdantModels
import VerdantTensors
import VerdantTokenizer

/// One CodeXGLUE-style next-line task: the code before the line, and the line.
public struct LineCompletionTask: Sendable, Equatable {
    public var context: String
    public var target: String

    public init(context: String, target: String) {
        self.context = context
        self.target = target
    }
}

/// Tasks of a JSONL file with string fields `context` and `target` on every line.
public func readLineCompletionTasks(path: String) throws -> [LineCompletionTask] {
    try readJSONLines(path: path).map {
        LineCompletionTask(context: try $0.string("context", path: path), target: try $0.string("target", path: path))
    }
}

/// The line-completion protocol. Every figure Verdant reports uses these values
/// unless the command line says otherwise.
public struct LineCompletionOptions: Sendable, Equatable {
    /// The context, tokenized without special tokens, is cut to its last this-many tokens.
    public var contextTokens: Int = 448
    /// Greedy decoding stops at the first newline or after this many tokens.
    public var maxNewTokens: Int = 64

    public init(contextTokens: Int = 448, maxNewTokens: Int = 64) {
        self.contextTokens = contextTokens
        self.maxNewTokens = maxNewTokens
    }
}

/// Exact Match and Edit Similarity, in percent, over `n` tasks.
public struct LineCompletionScore: Sendable, Equatable, Codable {
    public var em: Double
    public var es: Double
    public var n: Int

    /// EM: prediction == target. ES: mean of `editSimilarity(prediction, target)`.
    public init(predictions: [String], targets: [String]) {
        precondition(predictions.count == targets.count)
        n = predictions.count
        guard n > 0 else { em = 0; es = 0; return }
        var exact = 0, similarity = 0.0
        for (p, t) in zip(predictions, targets) {
            if p == t { exact += 1 }
            similarity += editSimilarity(p, t)
        }
        em = 100 * Double(exact) / Double(n)
        es = similarity / Double(n)
    }
}

public struct LineCompletionResult: Sendable {
    public var predictions: [String]
    public var score: LineCompletionScore
    public var promptTokens: Int
    public var generatedTokens: Int
    public var seconds: Double

    public var tasksPerSecond: Double { seconds > 0 ? Double(predictions.count) / seconds : 0 }
}

public enum LineCompletionError: Error, CustomStringConvertible {
    case badContextTokens(Int, max: Int)
    case emptyContext(task: Int)

    public var description: String {
        switch self {
        case .badContextTokens(let c, let m):
            return "--context-tokens \(c) must be between 1 and the model's context length \(m)"
        case .emptyContext(let t):
            return "task \(t + 1): the context has no tokens and the model declares no BOS token to start from"
        }
    }
}

/// Runs the protocol: each context is tokenized without special tokens and
/// left-truncated to its last `contextTokens` tokens (an empty context becomes the
/// BOS token); the model continues it greedily until the decoded continuation
/// contains a newline, EOS is chosen, or `maxNewTokens` tokens are generated; the
/// prediction is the text before the first "\n", stripped of surrounding whitespace
/// (Python's `str.strip`). Tasks run in parallel on `threads` threads, one model
/// and a private KV cache per thread.
public func runLineCompletion(model: DecoderModel, tokenizer: Tokenizer, tasks: [LineCompletionTask],
                              options: LineCompletionOptions = LineCompletionOptions(), threads: Int,
                              progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> LineCompletionResult {
    let maxPositions = model.config.maxPositions
    guard options.contextTokens >= 1 && options.contextTokens <= maxPositions else {
        throw LineCompletionError.badContextTokens(options.contextTokens, max: maxPositions)
    }
    let start = monotonicSeconds()
    let prompts = try tokenizer.encodeBatch(tasks.map(\.context), addSpecialTokens: false, threads: threads)
        .enumerated().map { (i, ids) -> [Int] in
            if ids.isEmpty {
                guard let bos = model.config.bosTokenIds.first else { throw LineCompletionError.emptyContext(task: i) }
                return [bos]
            }
            return Array(ids.suffix(options.contextTokens))
        }
    let stops = Set(model.config.eosTokenIds.isEmpty ? tokenizer.eosTokenId.map { [$0] } ?? [] : model.config.eosTokenIds)
    let capacity = min(maxPositions, options.contextTokens + options.maxNewTokens)
    let outputs = try mapInParallel(count: tasks.count, threads: threads, model: model, capacity: capacity,
                                    progress: progress) { task, slot in
        try completeLine(model: model, tokenizer: tokenizer, prompt: prompts[task],
                         maxNewTokens: options.maxNewTokens, stops: stops, slot: slot)
    }
    let predictions = outputs.map(\.prediction)
    return LineCompletionResult(predictions: predictions,
                                score: LineCompletionScore(predictions: predictions, targets: tasks.map(\.target)),
                                promptTokens: prompts.reduce(0) { $0 + $1.count },
                                generatedTokens: outputs.reduce(0) { $0 + $1.generated },
                                seconds: monotonicSeconds() - start)
}

/// Greedy continuation of `prompt` up to the first newline of its decoded text.
func completeLine(model: DecoderModel, tokenizer: Tokenizer, prompt: [Int], maxNewTokens: Int,
                  stops: Set<Int>, slot: DecodeSlot) throws -> (prediction: String, generated: Int) {
    let vocab = model.vocabSize
    slot.cache.reset()
    try model.forward(prompt, cache: slot.cache, workspace: slot.workspace, pool: slot.pool)
    model.logits(workspace: slot.workspace, firstRow: prompt.count - 1, rows: 1, into: slot.logits, pool: slot.pool)
    var generated: [Int] = []
    var text = ""
    while generated.count < maxNewTokens {
        let next = Sampler.argmax(slot.logits, count: vocab)
        if stops.contains(next) { break }
        generated.append(next)
        // The whole continuation is re-decoded (at most maxNewTokens ids): a token
        // may hold a newline in its middle, or complete a multi-byte character.
        text = tokenizer.decode(generated, skipSpecialTokens: true)
        if text.utf8.contains(0x0A) { break }
        if generated.count >= maxNewTokens || slot.cache.count >= slot.cache.capacity { break }
        try model.forward([next], cache: slot.cache, workspace: slot.workspace, pool: slot.pool)
        model.logits(workspace: slot.workspace, firstRow: 0, rows: 1, into: slot.logits, pool: slot.pool)
    }
    return (firstLine(of: text), generated.count)
}

/// The text before the first "\n" (a byte-level cut: "\r\n" is not one unit here,
/// as in Python's `split("\n")`), stripped of surrounding whitespace.
public func firstLine(of text: String) -> String {
    let bytes = Array(text.utf8)
    let end = bytes.firstIndex(of: 0x0A) ?? bytes.count
    return pythonStrip(String(decoding: bytes[..<end], as: UTF8.self))
}
