/// One model's figures in a comparison: what `verdant measure` and `verdant eval` report.
public struct ModelSummary: Sendable, Codable, Equatable {
    public var name: String
    public var path: String
    public var parameters: Int
    public var diskBytes: Int
    public var flopsPerToken: Double
    public var prefillTokensPerSecond: Double
    public var decodeTokensPerSecond: Double
    public var timeToFirstTokenSeconds: Double
    public var peakRSSBytes: Int
    public var energyJoulesPerToken: Double
    public var energyMethod: String
    public var carbonGramsPer1kTokens: Double
    /// Effectiveness metrics by name ("em", "es", "pass@1", ...), in percent or fraction as the task reports them.
    public var effectiveness: [String: Double]

    public init(name: String, path: String, parameters: Int, diskBytes: Int, flopsPerToken: Double,
                prefillTokensPerSecond: Double, decodeTokensPerSecond: Double, timeToFirstTokenSeconds: Double,
                peakRSSBytes: Int, energyJoulesPerToken: Double, energyMethod: String, carbonGramsPer1kTokens: Double,
                effectiveness: [String: Double]) {
        self.name = name
        self.path = path
        self.parameters = parameters
        self.diskBytes = diskBytes
        self.flopsPerToken = flopsPerToken
        self.prefillTokensPerSecond = prefillTokensPerSecond
        self.decodeTokensPerSecond = decodeTokensPerSecond
        self.timeToFirstTokenSeconds = timeToFirstTokenSeconds
        self.peakRSSBytes = peakRSSBytes
        self.energyJoulesPerToken = energyJoulesPerToken
        self.energyMethod = energyMethod
        self.carbonGramsPer1kTokens = carbonGramsPer1kTokens
        self.effectiveness = effectiveness
    }
}

/// The seeds' headline ratios of a candidate against the base. Every "×" is
/// base ÷ candidate for costs (so 2× = the candidate is half as large / slow /
/// energy-hungry), nil where a denominator is zero.
public struct HeadlineRatios: Sendable, Codable, Equatable {
    public struct Delta: Sendable, Codable, Equatable {
        /// candidate − base, in the metric's unit (points for percentages).
        public var absolute: Double
        /// (candidate − base) / base × 100, nil when the base is 0.
        public var relativePercent: Double?
    }
    public var candidate: String
    /// base disk bytes / candidate disk bytes.
    public var size: Double?
    /// Decode latency: base seconds per token / candidate seconds per token.
    public var latency: Double?
    /// Time to first token: base / candidate.
    public var firstTokenLatency: Double?
    public var energy: Double?
    public var carbon: Double?
    public var flops: Double?
    public var effectiveness: [String: Delta]

    public init(base: ModelSummary, candidate: ModelSummary) {
        func ratio(_ a: Double, _ b: Double) -> Double? { a > 0 && b > 0 && a.isFinite && b.isFinite ? a / b : nil }
        self.candidate = candidate.name
        size = ratio(Double(base.diskBytes), Double(candidate.diskBytes))
        latency = ratio(candidate.decodeTokensPerSecond, base.decodeTokensPerSecond)
        firstTokenLatency = ratio(base.timeToFirstTokenSeconds, candidate.timeToFirstTokenSeconds)
        energy = ratio(base.energyJoulesPerToken, candidate.energyJoulesPerToken)
        carbon = ratio(base.carbonGramsPer1kTokens, candidate.carbonGramsPer1kTokens)
        flops = ratio(base.flopsPerToken, candidate.flopsPerToken)
        var deltas: [String: Delta] = [:]
        for (metric, b) in base.effectiveness {
            guard let c = candidate.effectiveness[metric] else { continue }
            deltas[metric] = Delta(absolute: c - b, relativePercent: b != 0 ? (c - b) / b * 100 : nil)
        }
        effectiveness = deltas
    }
}
