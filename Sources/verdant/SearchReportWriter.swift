import Foundation
import VerdantEval
import VerdantSearch

/// Everything a finished search found, as front.json holds it.
struct SearchOutput: Encodable {
    var budgetBytes: Int
    var format: String
    var indicator: String
    var tokensPerSample: Int
    var teacher: SearchCostSetup.TeacherReference
    var cost: SearchCostSetup.Calibration
    var samples: [SampleRecord]
    var search: StudentSearch.Report
    var finals: [FinalStudent]
    var vocabularyNote: String
    var initialisation: String
}

/// front.json, report.md and its two SVG plots (VerdantEval's ScatterChart).
struct SearchReportWriter {
    let output: SearchOutput
    let space: ConfigurationSpace
    let files: SearchFiles

    func write() throws {
        try atomicWrite(try jsonData(output), to: files.front)
        let o = output
        let bf16 = StorageFormat(.bf16)
        let indicatorName = SearchIndicator(rawValue: o.indicator)?.label ?? o.indicator
        var points: [ScatterChart.Point] = []
        var energyPoints: [ScatterChart.Point] = []
        for (i, m) in o.search.front.enumerated() {
            points.append(.init(label: "F\(i + 1)", x: Double(m.bytes) / 1e6, y: m.predictedEffectiveness))
            energyPoints.append(.init(label: "F\(i + 1)", x: (m.predictedCosts.dropFirst().first ?? .nan) * 1e3, y: m.predictedEffectiveness))
        }
        for s in o.samples {
            guard let shape = try? StudentShape(space: space, configuration: s.configuration),
                  let y = SearchIndicator(rawValue: o.indicator)?.score(s.metrics) else { continue }
            points.append(.init(label: "S\(s.index + 1)", x: Double(shape.bytes(bf16)) / 1e6, y: y, highlighted: true))
            energyPoints.append(.init(label: "S\(s.index + 1)", x: o.cost.energy.predict(shape, storage: bf16) * 1e3, y: y, highlighted: true))
        }
        let sizeChart = ScatterChart(title: "Predicted \(indicatorName) vs size (F: front, S: distilled samples, measured)",
                                     xLabel: "size (MB, bf16)", yLabel: indicatorName, points: points)
        let energyChart = ScatterChart(title: "Predicted \(indicatorName) vs energy per token",
                                       xLabel: "energy (mJ / decoded token, cost model)", yLabel: indicatorName, points: energyPoints)
        try atomicWrite(Data(sizeChart.svg.utf8), to: files.path("front-size.svg"))
        try atomicWrite(Data(energyChart.svg.utf8), to: files.path("front-energy.svg"))
        try atomicWrite(Data(markdown().utf8), to: files.report)
    }

    private func f(_ x: Double?, _ format: String = "%.3f") -> String {
        guard let x, x.isFinite else { return "–" }
        return String(format: format, x)
    }

    func markdown() -> String {
        let o = output, t = o.teacher
        var md = "# Student search: \(f(Double(o.budgetBytes) / 1e6)) MB at \(o.format)\n\n"
        md += "Indicator: `\(o.indicator)`; \(o.samples.count) samples distilled on \(o.tokensPerSample) tokens each, initialised \(o.initialisation); \(o.vocabularyNote).\n\n"
        md += "## Teacher\n\n| parameters | MB (bf16) | held-out ppl | bits / byte | ES | ms / token | J / token | MFLOPs / token | load |\n|---|---|---|---|---|---|---|---|---|\n"
        md += "| \(t.parameters) | \(f(Double(t.bytesBF16) / 1e6)) | \(f(t.perplexity, "%.2f")) | \(f(t.bitsPerByte, "%.4f")) | \(f(t.es, "%.2f")) | \(f(t.decodeSecondsPerToken * 1e3)) | \(f(t.joulesPerToken, "%.4f")) | \(f(t.flopsPerToken / 1e6, "%.1f")) | \(f(t.loadAverage, "%.1f")) |\n\n"
        md += "Energy: \(t.energyMethod).\n\n"
        md += "## Samples (the indicator's training set)\n\nPerplexity is per token of the sample's own vocabulary; bits per byte compare across vocabularies (the same held-out text).\n\n"
        md += "| # | configuration | params | MB | ppl | bits / byte | ES | train s |\n|---|---|---|---|---|---|---|---|\n"
        for s in o.samples {
            let mb = (try? StudentShape(space: space, configuration: s.configuration)).map { Double($0.bytes(StorageFormat(.bf16))) / 1e6 }
            md += "| \(s.index + 1) | \(s.genes) | \(s.metrics.parameters) | \(f(mb)) | \(f(s.metrics.perplexity, "%.2f")) | \(f(s.metrics.bitsPerByte, "%.4f")) | \(f(s.metrics.es, "%.2f")) | \(f(s.metrics.trainSeconds, "%.1f")) |\n"
        }
        md += "\n## Surrogate (leave-one-out over the samples; the first is used)\n\n| model | RMSE | MAE |\n|---|---|---|\n"
        for l in o.search.surrogate { md += "| \(l.model) | \(f(l.rmse, "%.4g")) | \(f(l.meanAbsoluteError, "%.4g")) |\n" }
        let c = o.cost
        md += "\n## Cost model\n\nCalibrated on \(c.points.count) random-weight students (\(c.promptTokens)-token prompt, \(c.genTokens) decoded, median of \(c.runs); load average \(f(c.loadAverage, "%.1f"))): "
        md += "latency fit max rel. error \(f(c.latency.maxRelativeError * 100, "%.1f"))%, energy \(f(c.energy.maxRelativeError * 100, "%.1f"))%. FLOPs are listed beside, not used.\n\n"
        md += "## Front (NSGA-II, every member re-proved legal by Z3)\n\n"
        md += "| # | configuration | params | MB | size × | predicted \(o.indicator) | ms / token | J / token | latency × | energy × | MFLOPs / token |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
        for (i, m) in o.search.front.enumerated() {
            let lat = m.predictedCosts.first ?? .nan, en = m.predictedCosts.dropFirst().first ?? .nan
            md += "| F\(i + 1) | \(space.describe(m.configuration)) | \(m.parameters) | \(f(Double(m.bytes) / 1e6)) | \(f(Double(t.bytesBF16) / Double(m.bytes), "%.1f")) | \(f(m.predictedEffectiveness, "%.3f")) | \(f(lat * 1e3)) | \(f(en, "%.5f")) | \(f(t.decodeSecondsPerToken / lat, "%.1f")) | \(f(t.joulesPerToken / en, "%.1f")) | \(f(Double(m.flopsPerToken) / 1e6, "%.2f")) |\n"
        }
        md += "\n![effectiveness vs size](front-size.svg)\n\n![effectiveness vs energy](front-energy.svg)\n\n"
        let s = o.search
        md += "## NSGA-II vs Avatar's GA (same \(s.evaluations) evaluations)\n\n| | hypervolume |\n|---|---|\n"
        md += "| NSGA-II front (\(s.front.count) members) | \(f(s.hypervolumeNSGA2, "%.4f")) |\n"
        md += "| Avatar GA archive, legal members (\(s.avatarArchive - s.avatarIllegal) of \(s.avatarArchive)) | \(f(s.hypervolumeAvatar, "%.4f")) |\n"
        md += "| Avatar GA archive as it reports it (illegal included) | \(f(s.hypervolumeAvatarWithIllegal, "%.4f")) |\n\n"
        md += "Objectives scaled to [0, 1] over both sets, reference point 1.1; \(s.solverChecks) solver checks.\n"
        if !o.finals.isEmpty {
            md += "\n## Front members distilled in full, measured against the teacher\n\n"
            md += "| configuration | MB | size × | latency × | energy × | predicted \(o.indicator) | measured | ppl | bits / byte | ES | ES Δ | ms / token (pred) | load |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
            for x in o.finals {
                let genes = x.genes.keys.sorted().map { "\($0)=\(x.genes[$0] ?? "")" }.joined(separator: " ")
                md += "| \(genes) | \(f(Double(x.bytes) / 1e6)) | \(f(x.sizeRatio, "%.1f")) | \(f(x.latencyRatio, "%.2f")) | \(f(x.energyRatio, "%.2f")) | \(f(x.predictedEffectiveness)) | \(f(x.measuredEffectiveness)) | \(f(x.perplexity, "%.2f")) | \(f(x.bitsPerByte, "%.4f")) | \(f(x.es, "%.2f")) | \(f(x.esDelta, "%+.2f")) | \(f(x.decodeSecondsPerToken * 1e3)) (\(f(x.predictedDecodeSecondsPerToken * 1e3))) | \(f(x.loadAverage, "%.1f")) |\n"
            }
        }
        return md
    }
}
