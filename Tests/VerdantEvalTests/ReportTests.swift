import Foundation
import Testing
@testable import VerdantEval

func summary(_ name: String, disk: Int, decode: Double, energy: Double, es: Double) -> ModelSummary {
    ModelSummary(name: name, path: "/m/\(name)", parameters: disk / 2, diskBytes: disk, flopsPerToken: Double(disk),
                 prefillTokensPerSecond: 1000, decodeTokensPerSecond: decode, timeToFirstTokenSeconds: 0.1,
                 peakRSSBytes: 50 << 20, energyJoulesPerToken: energy, energyMethod: "estimate",
                 carbonGramsPer1kTokens: energy * 1000 / 3.6e6 * 475, effectiveness: ["es": es, "em": es / 2])
}

@Test func headlineRatiosAreBaseOverCandidate() throws {
    let base = summary("base", disk: 40_000_000, decode: 100, energy: 0.2, es: 50)
    let small = summary("small<&>", disk: 10_000_000, decode: 250, energy: 0.05, es: 45)
    let r = HeadlineRatios(base: base, candidate: small)
    #expect(r.size == 4)
    #expect(r.latency == 2.5)
    #expect(r.energy == 4)
    #expect(abs((r.carbon ?? 0) - 4) < 1e-12)
    #expect(r.effectiveness["es"]?.absolute == -5)
    #expect(r.effectiveness["es"]?.relativePercent == -10)
    // A zero denominator gives no ratio rather than infinity (JSON cannot carry it).
    let zero = summary("zero", disk: 10, decode: 0, energy: 0, es: 0)
    let z = HeadlineRatios(base: base, candidate: zero)
    #expect(z.energy == nil && z.latency == nil)
    #expect(HeadlineRatios(base: zero, candidate: base).effectiveness["es"]?.relativePercent == nil)
}

@Test func reportHasTablesChartsAndMethod() throws {
    let models = [summary("base", disk: 40_000_000, decode: 100, energy: 0.2, es: 50),
                  summary("small<&>", disk: 10_000_000, decode: 250, energy: 0.05, es: 45)]
    let report = ComparisonReport(models: models, headlineMetric: "es", method: ["Energy: estimate."])
    #expect(report.metrics == ["es", "em"])
    let md = report.markdown(charts: [("r-size.svg", "ES vs size")])
    #expect(md.contains("4.00× smaller"))
    #expect(md.contains("| small<&> | 4.00× | 2.50× |"))
    #expect(md.contains("![ES vs size](r-size.svg)"))
    #expect(md.contains("- Energy: estimate."))
    let table = report.terminalTable
    #expect(table.contains("relative to base"))
    #expect(report.charts.map(\.name) == ["size", "energy"])
    let svg = try #require(report.charts.first).chart.svg
    #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
    #expect(svg.contains("small&lt;&amp;&gt;"))
    #expect(!svg.contains("small<&>"))
    #expect(svg.components(separatedBy: "<circle").count - 1 == 2 + 2)  // two points, two legend marks
    #expect(svg.contains(">base</text>"))
    #expect(svg.hasSuffix("</svg>\n"))
    // No effectiveness: no charts.
    #expect(ComparisonReport(models: models, headlineMetric: nil, method: []).charts.isEmpty)
}

@Test func chartAxesAreNiceAndCoverTheData() {
    let (lo, hi, ticks) = ScatterChart.linearAxis([3.2, 47.9])
    #expect(lo < 3.2 && hi > 47.9)
    #expect(ticks.allSatisfy { $0 >= lo && $0 <= hi })
    #expect(ticks == [0, 10, 20, 30, 40, 50])
    let (llo, lhi, lticks) = ScatterChart.logAxis([0.5, 400])
    #expect(llo < 0.5 && lhi > 400 && lticks.contains(1) && lticks.contains(100))
    // A single value still gets a range.
    let (slo, shi, _) = ScatterChart.linearAxis([0.2, 0.2])
    #expect(slo < 0.2 && shi > 0.2 && slo > 0)
}
