import ArgumentParser
import Foundation
import VerdantCompress
import VerdantEval
import VerdantModels
import VerdantSearch
import VerdantTensors
import VerdantTokenizer
import VerdantTraining

/// What one distilled student scored: held-out perplexity (per token of its own vocabulary),
/// bits per byte (comparable across vocabularies) and line-completion ES / EM.
struct SampleMetrics: Codable, Equatable {
    var perplexity: Double
    /// nil in samples recorded before bits per byte were; such a sample is distilled again
    /// when the indicator needs them.
    var bitsPerByte: Double?
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
    /// −bits per byte of the held-out text: the log-likelihood per byte, which compares
    /// students of different vocabularies (the same text for all).
    case bitsPerByte = "bpb"
    /// −ln(held-out perplexity): the mean log-likelihood per token, which only compares
    /// students of one vocabulary.
    case logPerplexity = "log-ppl"

    func score(_ m: SampleMetrics) -> Double? {
        switch self {
        case .es: return m.es
        case .bitsPerByte: return m.bitsPerByte.map { -$0 }
        case .logPerplexity: return -log(m.perplexity)
        }
    }

    /// How the report names it.
    var label: String {
        switch self {
        case .es: return "ES"
        case .bitsPerByte: return "−bits/byte"
        case .logPerplexity: return "−ln ppl"
        }
    }
}

/// How `--init` starts every sample and finalist.
struct SearchInitialisation: Equatable {
    var layers: StudentLayerChoice
    var calibrationTokens: Int

    /// As settings.json records it.
    static func describe(_ i: SearchInitialisation?) -> String {
        guard let i else { return "random" }
        return "from-teacher (layers \(i.layers.rawValue), \(i.calibrationTokens) calibration tokens)"
    }
}

/// Distils one configuration in process (DistillationRun, the teacher cache of the
/// configuration's vocabulary) and scores it on the held-out text and the dev tasks.
/// Everything a sample writes lives under its own directory, so a killed search redoes at
/// most the sample it was in.
struct SearchSampleEvaluator {
    let space: ConfigurationSpace
    let teacher: LoadedModel
    let teacherDir: String
    let vocabularies: SearchVocabularies
    let tasks: [LineCompletionTask]
    let pool: ThreadPool
    var temperature: Float = 10
    var alpha: Float = 1
    var seed: UInt64 = 0
    /// nil: random initialisation; else every student is cut from the teacher first (the
    /// solver has made sure every legal configuration can be).
    var initialisation: SearchInitialisation?

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
        let vocabulary = try vocabularies.vocabulary(student.vocabSize, tokens: tokens)
        let run = vocabulary.run
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
        let initialise = initialisation.map {
            StudentInitialisation.initialiser(teacherDir: teacherDir, student: student, vocabulary: vocabulary.map, stream: run.stream,
                                              layers: $0.layers, calibrationTokens: $0.calibrationTokens, pool: pool)
        }
        let out = (directory as NSString).appendingPathComponent("model")
        let trainStart = monotonicSeconds()
        var last = ""
        let summary = try run.run(studentConfigPath: configPath, student: student, options: o, teacherCache: vocabulary.teacherCache,
                                  out: out, force: true, initialise: initialise,
                                  progress: { p in last = String(format: "loss %.4f, %.0f tokens/s", p.loss, p.tokensPerSecond) })
        let trainSeconds = monotonicSeconds() - trainStart
        // The optimizer state is 3× the model and only a resumed run of this sample would read it.
        try? fm.removeItem(atPath: out + ".checkpoints")
        let evalStart = monotonicSeconds()
        let loaded = try LoadedModel.load(directory: out)
        let metrics = try score(loaded.model, vocabulary: vocabulary)
        log(String(format: "  %d params, vocabulary %d, %d steps (%@), %.0f s; held-out ppl %.2f, %.4f bits/byte%@", summary.parameters,
                   vocabulary.size, summary.steps, last as NSString, trainSeconds, metrics.perplexity, metrics.bitsPerByte,
                   metrics.es.map { String(format: ", ES %.2f", $0) as NSString } ?? ""))
        return SampleMetrics(perplexity: metrics.perplexity, bitsPerByte: metrics.bitsPerByte, es: metrics.es, em: metrics.em,
                             parameters: summary.parameters, trainSeconds: trainSeconds, evalSeconds: monotonicSeconds() - evalStart)
    }

    /// Held-out perplexity and bits per byte (windows of the distillation context, the text
    /// tokenized with `vocabulary`) and, with tasks, ES / EM.
    func score(_ model: DecoderModel, vocabulary: SearchVocabularies.Vocabulary) throws
        -> (perplexity: Double, bitsPerByte: Double, es: Double?, em: Double?) {
        let context = min(vocabulary.run.stream.context, model.config.maxPositions)
        let p = try perplexity(model: model, tokens: vocabulary.heldOut, context: context, pool: pool)
        // As `verdant perplexity` computes it: the total NLL in bits over the text's UTF-8 bytes.
        let bitsPerByte = p.negativeLogLikelihood / log(2) / Double(max(vocabularies.heldOutBytes, 1))
        guard !tasks.isEmpty else { return (p.perplexity, bitsPerByte, nil, nil) }
        // A student whose context is shorter than the usual 448 prompt tokens + 64 new ones
        // sees a shorter prompt: its context length is one of the genes being judged.
        var options = LineCompletionOptions()
        options.contextTokens = max(1, min(options.contextTokens, model.config.maxPositions - options.maxNewTokens))
        let r = try runLineCompletion(model: model, tokenizer: vocabulary.tokenizer, tasks: tasks, options: options, threads: pool.threads)
        return (p.perplexity, bitsPerByte, r.score.es, r.score.em)
    }
}
