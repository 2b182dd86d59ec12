import Foundation
import VerdantModels
import VerdantTensors

/// Median and range of repeated measurements.
public struct Spread: Sendable, Codable, Equatable {
    public var median: Double
    public var min: Double
    public var max: Double

    public init(_ values: [Double]) {
        let s = values.sorted()
        if s.isEmpty { median = 0; min = 0; max = 0; return }
        median = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        min = s[0]
        max = s[s.count - 1]
    }
}

public struct MeasureOptions: Sendable {
    public var promptTokens = 256
    public var genTokens = 64
    public var runs = 5
    public var carbonIntensity = CarbonIntensity.worldAverage

    public init(promptTokens: Int = 256, genTokens: Int = 64, runs: Int = 5,
                carbonIntensity: CarbonIntensity = .worldAverage) {
        self.promptTokens = promptTokens
        self.genTokens = genTokens
        self.runs = runs
        self.carbonIntensity = carbonIntensity
    }
}

public enum MeasureError: Error, CustomStringConvertible {
    case tooLong(Int, max: Int)
    case badOptions(String)

    public var description: String {
        switch self {
        case .tooLong(let n, let m): return "--prompt-tokens + --gen-tokens = \(n) exceeds the model's context length \(m)"
        case .badOptions(let m): return m
        }
    }
}

/// What `verdant measure` reports about one model on this machine.
public struct ModelMeasurement: Sendable {
    public var parameters: Int
    public var diskBytes: Int
    public var weightBytesPerToken: Int
    /// Mean analytic FLOPs of the measured decode steps (see `FLOPs`).
    public var flopsPerToken: Double
    public var promptTokens: Int
    public var genTokens: Int
    public var runs: Int
    public var threads: Int
    /// Prompt forward pass plus the output projection and choice of the first token.
    public var timeToFirstToken: Spread
    /// The prompt's forward pass alone.
    public var prefillSeconds: Spread
    public var decodeSecondsPerToken: Spread
    public var peakRSSBytes: Int
    public var energyMethod: EnergyMethod
    public var energyDescription: String
    /// Decode energy per generated token (median over runs).
    public var energyJoulesPerToken: Spread
    /// Prefill energy per prompt token (median over runs).
    public var prefillEnergyJoulesPerToken: Spread
    public var carbonIntensity: CarbonIntensity
    public var cpu: String

    public var prefillTokensPerSecond: Double { prefillSeconds.median > 0 ? Double(promptTokens) / prefillSeconds.median : 0 }
    public var decodeTokensPerSecond: Double { decodeSecondsPerToken.median > 0 ? 1 / decodeSecondsPerToken.median : 0 }
    /// grams CO₂e per 1000 generated tokens.
    public var carbonGramsPer1kTokens: Double { carbonIntensity.grams(joules: energyJoulesPerToken.median * 1000) }
}

/// Measures speed, memory and energy: a warm-up, then `runs` times a prefill of
/// `promptTokens` deterministic pseudo-random ids in one pass (time to first token
/// includes choosing it) and `genTokens` greedy single-token decode steps, each
/// phase timed and metered separately. `info` gives parameters and bytes on disk.
public func measure(model: DecoderModel, info: ModelInfo, options: MeasureOptions, pool: ThreadPool,
                    meter: EnergyMeter = EnergyMeter(),
                    progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> ModelMeasurement {
    guard options.promptTokens >= 1, options.genTokens >= 1, options.runs >= 1 else {
        throw MeasureError.badOptions("prompt tokens, generated tokens and runs must all be ≥ 1")
    }
    let total = options.promptTokens + options.genTokens
    guard total <= model.config.maxPositions else { throw MeasureError.tooLong(total, max: model.config.maxPositions) }
    var random = RandomSource(seed: 1234)
    let prompt = (0..<options.promptTokens).map { _ in Int(random.next() % UInt64(model.vocabSize)) }
    let cache = model.makeCache(capacity: total)
    let workspace = Workspace(config: model.config)
    let logits = UnsafeMutablePointer<Float>.allocate(capacity: model.vocabSize)
    defer { logits.deallocate() }

    struct Run { var ttft, prefill, decodePerToken, prefillJoules, decodeJoules: Double }
    func once(prompt: [Int], steps: Int) throws -> Run {
        cache.reset()
        let e0 = meter.read()
        try model.forward(prompt, cache: cache, workspace: workspace, pool: pool)
        let prefilled = monotonicNow()
        model.logits(workspace: workspace, firstRow: prompt.count - 1, rows: 1, into: logits, pool: pool)
        var next = Sampler.argmax(logits, count: model.vocabSize)
        let e1 = meter.read()
        for _ in 0..<steps {
            try model.forward([next], cache: cache, workspace: workspace, pool: pool)
            model.logits(workspace: workspace, firstRow: 0, rows: 1, into: logits, pool: pool)
            next = Sampler.argmax(logits, count: model.vocabSize)
        }
        let e2 = meter.read()
        let rss = currentRSSBytes()
        return Run(ttft: e1.wallSeconds - e0.wallSeconds, prefill: prefilled - e0.wallSeconds,
                   decodePerToken: (e2.wallSeconds - e1.wallSeconds) / Double(max(steps, 1)),
                   prefillJoules: meter.joules(from: e0, to: e1, residentBytes: rss),
                   decodeJoules: meter.joules(from: e1, to: e2, residentBytes: rss))
    }
    // Warm-up: touches every weight page and grows the buffers.
    _ = try once(prompt: Array(prompt.prefix(min(options.promptTokens, 32))), steps: min(options.genTokens, 4))
    var runs: [Run] = []
    for r in 0..<options.runs {
        runs.append(try once(prompt: prompt, steps: options.genTokens))
        progress?(r + 1, options.runs)
    }
    let g = Double(options.genTokens), p = Double(options.promptTokens)
    return ModelMeasurement(
        parameters: info.parameterCount, diskBytes: info.bytesOnDisk, weightBytesPerToken: model.weightBytesPerToken,
        flopsPerToken: FLOPs.perGeneratedToken(model, prompt: options.promptTokens, generated: options.genTokens),
        promptTokens: options.promptTokens, genTokens: options.genTokens, runs: options.runs, threads: pool.threads,
        timeToFirstToken: Spread(runs.map(\.ttft)), prefillSeconds: Spread(runs.map(\.prefill)),
        decodeSecondsPerToken: Spread(runs.map(\.decodePerToken)), peakRSSBytes: peakRSS(),
        energyMethod: meter.method, energyDescription: meter.description,
        energyJoulesPerToken: Spread(runs.map { $0.decodeJoules / g }),
        prefillEnergyJoulesPerToken: Spread(runs.map { $0.prefillJoules / p }),
        carbonIntensity: options.carbonIntensity, cpu: CPUInfo.current.modelName)
}
