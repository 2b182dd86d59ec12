import ArgumentParser
import Foundation
import VerdantCompress
import VerdantEval
import VerdantModels
import VerdantSearch
import VerdantTensors
import VerdantTokenizer
import VerdantTraining

/// What one distilled student scored: held-out perplexity and line-completion ES / EM.
struct SampleMetrics: Codable, Equatable {
    var perplexity: Double
    var es: Double?
    var em: Double?
    var parameters: Int
    var trainSeconds: Double
    var evalSeconds: Double
}

/// Which measured number the effectiveness indicator is fitted on (higher is better).
enum SearchIndicator: String, Codable, CaseIterable, ExpressibleByArgument {
    /// Line-completion Edit Similarity on the dev tasks (0–100).
    case es
    /// −ln(held-out perplexity): the mean log-likelihood per token.
    case logPerplexity = "log-ppl"

    func score(_ m: SampleMetrics) -> Double? {
        switch self {
        case .es: return m.es
        case .logPerplexity: return -log(m.perplexity)
        }
    }
}

/// Distils one configuration in process (DistillationRun, the shared teacher cache) and scores
/// it on the held-out tokens and the dev tasks. Everything a sample writes lives under its own
/// directory, so a killed search redoes at most the sample it was in.
struct SearchSampleEvaluator {
    let space: ConfigurationSpace
    let teacher: LoadedModel
    let teacherDir: String
    let tokenizer: Tokenizer
    let run: DistillationRun
    let teacherCache: String
    let heldOut: [Int]
    let tasks: [LineCompletionTask]
    let pool: ThreadPool
    var temperature: Float = 10
    var alpha: Float = 1
    var seed: UInt64 = 0

    /// The student's config.json for a configuration (`ConfigurationSpace.studentConfig`).
    func studentConfig(_ c: Configuration) throws -> [String: Any] {
        try space.studentConfig(c, teacher: try ModelDirectoryWriter.readConfigObject(directory: teacherDir))
    }

    /// Distils `c` on `tokens` predicted tokens into DIR/model (dtype `output`) and scores it.
    func evaluate(_ c: Configuration, directory: String, tokens: Int, output: DType = .f32,
                  log: (String) -> Void) throws -> SampleMetrics {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let configPath = (directory as NSString).appendingPathComponent("student.json")
        let json = try JSONSerialization.data(withJSONObject: try studentConfig(c), options: [.prettyPrinted, .sortedKeys])
        try json.write(to: URL(fileURLWithPath: configPath), options: .atomic)
        let student = try ModelRegistry.config(fromJSON: json)
        let values = space.values(of: c)
        var o = DistillationRunOptions()
        o.tokens = tokens
        o.batchTokens = (values[GeneName.batchSize]?.intValue ?? 8) * run.stream.context
        o.learningRate = Float(values[GeneName.learningRate]?.doubleValue ?? 1e-3)
        o.temperature = temperature
        o.alpha = alpha
        o.seed = seed
        o.saveEvery = 0
        o.outputDType = output
        let out = (directory as NSString).appendingPathComponent("model")
        let trainStart = monotonicSeconds()
        var last = ""
        let summary = try run.run(studentConfigPath: configPath, student: student, options: o, teacherCache: teacherCache,
                                  out: out, force: true,
                                  progress: { p in last = String(format: "loss %.4f, %.0f tokens/s", p.loss, p.tokensPerSecond) })
        let trainSeconds = monotonicSeconds() - trainStart
        // The optimizer state is 3× the model and only a resumed run of this sample would read it.
        try? fm.removeItem(atPath: out + ".checkpoints")
        let evalStart = monotonicSeconds()
        let loaded = try LoadedModel.load(directory: out)
        let metrics = try score(loaded.model)
        log(String(format: "  %d params, %d steps (%@), %.0f s; held-out ppl %.2f%@", summary.parameters, summary.steps,
                   last as NSString, trainSeconds, metrics.perplexity,
                   metrics.es.map { String(format: ", ES %.2f", $0) as NSString } ?? ""))
        return SampleMetrics(perplexity: metrics.perplexity, es: metrics.es, em: metrics.em, parameters: summary.parameters,
                             trainSeconds: trainSeconds, evalSeconds: monotonicSeconds() - evalStart)
    }

    /// Held-out perplexity (windows of the distillation context) and, with tasks, ES / EM.
    func score(_ model: DecoderModel) throws -> (perplexity: Double, es: Double?, em: Double?) {
        let context = min(run.stream.context, model.config.maxPositions)
        let ppl = try perplexity(model: model, tokens: heldOut, context: context, pool: pool).perplexity
        guard !tasks.isEmpty else { return (ppl, nil, nil) }
        // A student whose context is shorter than the usual 448 prompt tokens + 64 new ones
        // sees a shorter prompt: its context length is one of the genes being judged.
        var options = LineCompletionOptions()
        options.contextTokens = max(1, min(options.contextTokens, model.config.maxPositions - options.maxNewTokens))
        let r = try runLineCompletion(model: model, tokenizer: tokenizer, tasks: tasks, options: options, threads: pool.threads)
        return (ppl, r.score.es, r.score.em)
    }
}
