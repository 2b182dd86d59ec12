import Foundation

/// A base model, candidates and their headline ratios, rendered as a terminal
/// table, Markdown (with charts) — the seeds' "N× smaller, M× less energy, Δ
/// effectiveness" figures with the method behind each.
public struct ComparisonReport: Sendable {
    public var models: [ModelSummary]
    /// The metric the charts and headline use ("es", "pass@1"), if effectiveness was measured.
    public var headlineMetric: String?
    /// Lines describing how every figure was obtained (machine, protocol, energy method, carbon source).
    public var method: [String]

    public init(models: [ModelSummary], headlineMetric: String?, method: [String]) {
        self.models = models
        self.headlineMetric = headlineMetric
        self.method = method
    }

    public var base: ModelSummary? { models.first }
    public var ratios: [HeadlineRatios] {
        guard let base else { return [] }
        return models.dropFirst().map { HeadlineRatios(base: base, candidate: $0) }
    }

    /// Effectiveness metric names present in every model, headline first.
    public var metrics: [String] {
        guard let first = models.first else { return [] }
        let common = first.effectiveness.keys.filter { k in models.allSatisfy { $0.effectiveness[k] != nil } }
        return common.sorted { a, b in a == headlineMetric ? true : b == headlineMetric ? false : a < b }
    }

    // MARK: Tables

    var modelColumns: [String] {
        ["model", "params", "disk MB", "GFLOPs/tok", "prefill tok/s", "decode tok/s", "TTFT ms", "peak RSS MiB",
         "J/token", "gCO2e/1k tok"] + metrics.map(Self.metricTitle)
    }

    func modelRow(_ m: ModelSummary) -> [String] {
        [m.name, Self.count(m.parameters), String(format: "%.1f", Double(m.diskBytes) / 1e6),
         String(format: "%.4f", m.flopsPerToken / 1e9), String(format: "%.1f", m.prefillTokensPerSecond),
         String(format: "%.1f", m.decodeTokensPerSecond), String(format: "%.1f", m.timeToFirstTokenSeconds * 1e3),
         String(format: "%.1f", Double(m.peakRSSBytes) / 1_048_576), String(format: "%.4g", m.energyJoulesPerToken),
         String(format: "%.4g", m.carbonGramsPer1kTokens)] + metrics.map { Self.value($0, m.effectiveness[$0]) }
    }

    var ratioColumns: [String] {
        ["candidate", "size ×", "latency ×", "TTFT ×", "energy ×", "carbon ×", "FLOPs ×"]
            + metrics.flatMap { ["\(Self.metricTitle($0)) Δ", "\(Self.metricTitle($0)) Δ%"] }
    }

    func ratioRow(_ r: HeadlineRatios) -> [String] {
        func x(_ v: Double?) -> String { v.map { String(format: "%.2f×", $0) } ?? "–" }
        return [r.candidate, x(r.size), x(r.latency), x(r.firstTokenLatency), x(r.energy), x(r.carbon), x(r.flops)]
            + metrics.flatMap { m -> [String] in
                guard let d = r.effectiveness[m] else { return ["–", "–"] }
                return [String(format: "%+.2f", d.absolute), d.relativePercent.map { String(format: "%+.1f%%", $0) } ?? "–"]
            }
    }

    /// Aligned plain-text tables for the terminal.
    public var terminalTable: String {
        var out = Self.aligned([modelColumns] + models.map(modelRow))
        if let base, models.count > 1 {
            out += "\nrelative to \(base.name) (× = base ÷ candidate for costs; Δ = candidate − base)\n"
            out += Self.aligned([ratioColumns] + ratios.map(ratioRow))
        }
        return out
    }

    /// The Markdown report. `charts` are (file name, caption) of SVG files written next to it.
    public func markdown(title: String = "Verdant comparison", charts: [(file: String, caption: String)]) -> String {
        var md = "# \(title)\n\n"
        if let base, let headline = headlineMetric, models.count > 1 {
            md += "Base: **\(base.name)**. Headline metric: \(Self.metricTitle(headline)).\n\n"
            for r in ratios {
                var parts: [String] = []
                if let s = r.size { parts.append(String(format: "%.2f× smaller", s)) }
                if let l = r.latency { parts.append(String(format: "%.2f× faster decode", l)) }
                if let e = r.energy { parts.append(String(format: "%.2f× less energy", e)) }
                if let c = r.carbon { parts.append(String(format: "%.2f× less carbon", c)) }
                if let d = r.effectiveness[headline] {
                    parts.append(String(format: "%@ %+.2f (%@)", Self.metricTitle(headline), d.absolute,
                                        d.relativePercent.map { String(format: "%+.1f%%", $0) } ?? "n/a"))
                }
                md += "- **\(r.candidate)**: \(parts.joined(separator: ", "))\n"
            }
            md += "\n"
        }
        md += "## Models\n\n" + Self.markdownTable([modelColumns] + models.map(modelRow)) + "\n"
        if models.count > 1, let base {
            md += "## Relative to \(base.name)\n\n"
            md += "× = base ÷ candidate for size, latency, energy, carbon and FLOPs (above 1: the candidate is better); "
            md += "Δ = candidate − base (points for percentages), Δ% relative to the base.\n\n"
            md += Self.markdownTable([ratioColumns] + ratios.map(ratioRow)) + "\n"
        }
        for chart in charts { md += "![\(chart.caption)](\(chart.file))\n\n" }
        if !method.isEmpty {
            md += "## How these figures were measured\n\n" + method.map { "- \($0)\n" }.joined() + "\n"
        }
        return md
    }

    /// Effectiveness against disk size and against energy per token, when effectiveness was measured.
    public var charts: [(name: String, chart: ScatterChart)] {
        guard let metric = headlineMetric, models.allSatisfy({ $0.effectiveness[metric] != nil }) else { return [] }
        let label = Self.axisTitle(metric)
        func points(_ x: (ModelSummary) -> Double) -> [ScatterChart.Point] {
            models.enumerated().map { i, m in
                ScatterChart.Point(label: m.name, x: x(m), y: m.effectiveness[metric] ?? 0, highlighted: i == 0)
            }
        }
        return [
            ("size", ScatterChart(title: "\(Self.metricTitle(metric)) vs size", xLabel: "size on disk (MB)", yLabel: label,
                                  points: points { Double($0.diskBytes) / 1e6 })),
            ("energy", ScatterChart(title: "\(Self.metricTitle(metric)) vs energy", xLabel: "energy per generated token (J)", yLabel: label,
                                    points: points { $0.energyJoulesPerToken })),
        ]
    }

    // MARK: Formatting

    static func metricTitle(_ m: String) -> String {
        switch m {
        case "em": return "EM"
        case "es": return "ES"
        default: return m
        }
    }

    static func axisTitle(_ m: String) -> String {
        switch m {
        case "em": return "Exact Match (%)"
        case "es": return "Edit Similarity (%)"
        default: return m
        }
    }

    static func value(_ metric: String, _ v: Double?) -> String {
        guard let v else { return "–" }
        return metric.hasPrefix("pass@") ? String(format: "%.4f", v) : String(format: "%.2f", v)
    }

    static func count(_ n: Int) -> String {
        n >= 1_000_000_000 ? String(format: "%.2fB", Double(n) / 1e9)
            : n >= 1_000_000 ? String(format: "%.2fM", Double(n) / 1e6)
            : n >= 1000 ? String(format: "%.1fk", Double(n) / 1e3) : "\(n)"
    }

    static func aligned(_ rows: [[String]]) -> String {
        guard let columns = rows.map(\.count).max() else { return "" }
        var widths = [Int](repeating: 0, count: columns)
        for row in rows { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        return rows.map { row in
            row.enumerated().map { i, c in
                let pad = String(repeating: " ", count: widths[i] - c.count)
                return i == 0 ? c + pad : pad + c
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    static func markdownTable(_ rows: [[String]]) -> String {
        guard let header = rows.first else { return "" }
        func line(_ r: [String]) -> String { "| " + r.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |\n" }
        return line(header) + "|" + header.enumerated().map { i, _ in i == 0 ? "---|" : "---:|" }.joined() + "\n"
            + rows.dropFirst().map(line).joined()
    }
}
