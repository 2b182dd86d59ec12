import VerdantModels
import VerdantTensors
import VerdantTokenizer

/// Where a HumanEval completion ends: the first line that starts a new top-level
/// statement (the stop sequences of Chen et al. 2021).
public let humanEvalStopSequences = ["\nclass", "\ndef", "\n#", "\nif", "\nprint"]

/// `text` cut before the first occurrence of any stop sequence.
public func truncateAtStopSequence(_ text: String, stops: [String] = humanEvalStopSequences) -> String {
    let bytes = Array(text.utf8)
    var end = bytes.count
    for stop in stops {
        let s = Array(stop.utf8)
        guard !s.isEmpty, s.count <= bytes.count else { continue }
        var i = 0
        while i + s.count <= end {
            if bytes[i] == s[0] && Array(bytes[i..<(i + s.count)]) == s { end = i; break }
            i += 1
        }
    }
    return String(decoding: bytes[..<end], as: UTF8.self)
}

public struct CodeGenerationOptions: Sendable {
    public var samplesPerProblem: Int = 1
    public var maxNewTokens: Int = 256
    public var sampling: SamplingOptions = SamplingOptions()

    public init(samplesPerProblem: Int = 1, maxNewTokens: Int = 256, sampling: SamplingOptions = SamplingOptions()) {
        self.samplesPerProblem = samplesPerProblem
        self.maxNewTokens = maxNewTokens
        self.sampling = sampling
    }
}

/// `samplesPerProblem` completions of every problem's prompt (problem-major order).
/// Each is generated from the prompt (tokenized without special tokens) until EOS,
/// a stop sequence or `maxNewTokens`, then cut at the first stop sequence. Sample
/// j of a problem draws with seed `sampling.seed + j`, so results do not depend on
/// the number of threads.
public func generateCompletions(model: DecoderModel, tokenizer: Tokenizer, problems: [CodeProblem],
                                options: CodeGenerationOptions, threads: Int,
                                progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> [CodeSample] {
    let k = options.samplesPerProblem
    let prompts = tokenizer.encodeBatch(problems.map(\.prompt), addSpecialTokens: false, threads: threads)
    let maxPositions = model.config.maxPositions
    for (p, ids) in zip(problems, prompts) where ids.count >= maxPositions {
        throw GenerationError.promptTooLong(ids.count, capacity: maxPositions)
            .withTask(p.taskID)
    }
    let stops = Set(model.config.eosTokenIds.isEmpty ? tokenizer.eosTokenId.map { [$0] } ?? [] : model.config.eosTokenIds)
    let longest = prompts.map(\.count).max() ?? 0
    let capacity = min(maxPositions, longest + options.maxNewTokens)
    return try mapInParallel(count: problems.count * k, threads: threads, model: model, capacity: capacity,
                             progress: progress) { task, slot in
        let problem = task / k, sample = task % k
        var prompt = prompts[problem]
        if prompt.isEmpty, let bos = model.config.bosTokenIds.first { prompt = [bos] }
        guard !prompt.isEmpty else { throw GenerationError.emptyPrompt }
        var sampling = options.sampling
        sampling.seed = options.sampling.seed &+ UInt64(sample)
        var sampler = Sampler(options: sampling)
        slot.cache.reset()
        try model.forward(prompt, cache: slot.cache, workspace: slot.workspace, pool: slot.pool)
        model.logits(workspace: slot.workspace, firstRow: prompt.count - 1, rows: 1, into: slot.logits, pool: slot.pool)
        var generated: [Int] = []
        var text = ""
        while generated.count < options.maxNewTokens {
            let next = sampler.sample(slot.logits, count: model.vocabSize)
            if stops.contains(next) { break }
            generated.append(next)
            text = tokenizer.decode(generated, skipSpecialTokens: true)
            if truncateAtStopSequence(text).utf8.count < text.utf8.count { break }
            if slot.cache.count >= slot.cache.capacity { break }
            try model.forward([next], cache: slot.cache, workspace: slot.workspace, pool: slot.pool)
            model.logits(workspace: slot.workspace, firstRow: 0, rows: 1, into: slot.logits, pool: slot.pool)
        }
        return CodeSample(taskID: problems[problem].taskID, completion: truncateAtStopSequence(text))
    }
}

struct TaskError: Error, CustomStringConvertible {
    let description: String
}

extension Error {
    func withTask(_ id: String) -> TaskError { TaskError(description: "\(id): \(self)") }
}
