import Foundation
import VerdantEval
import VerdantModels
import VerdantSearch
import VerdantTensors

/// A front member distilled on the full token budget and measured like the teacher. Its
/// checkpoint (bf16) carries the tokenizer files of its vocabulary, pruned or the teacher's.
struct FinalStudent: Codable {
    var genes: [String: String]
    var parameters: Int
    var bytes: Int
    var predictedEffectiveness: Double
    var measuredEffectiveness: Double?
    var perplexity: Double
    var bitsPerByte: Double?
    var es: Double?
    var decodeSecondsPerToken: Double
    var joulesPerToken: Double
    var predictedDecodeSecondsPerToken: Double
    var predictedJoulesPerToken: Double
    var sizeRatio: Double
    var latencyRatio: Double
    var energyRatio: Double
    var esDelta: Double?
    var directory: String
    var loadAverage: Double?
}

/// final.json in a final student's directory: what was distilled, on how many tokens.
struct FinalRecord: Codable {
    var configuration: Configuration
    var tokens: Int
    var student: FinalStudent
}

enum SearchFinalists {
    /// The K members spread along the front by size (smallest, largest and evenly between),
    /// so the measured check covers the whole trade-off rather than one corner.
    static func pick(_ front: [StudentSearch.Member], count: Int) -> [StudentSearch.Member] {
        let sorted = front.sorted { $0.bytes < $1.bytes }
        guard count < sorted.count else { return sorted }
        guard count > 1 else { return [sorted.max { $0.predictedEffectiveness < $1.predictedEffectiveness } ?? sorted[0]] }
        let indices = (0..<count).map { Int((Double($0) * Double(sorted.count - 1) / Double(count - 1)).rounded()) }
        return Array(Set(indices)).sorted().map { sorted[$0] }
    }

    static func distil(_ front: [StudentSearch.Member], count: Int, space: ConfigurationSpace, evaluator: SearchSampleEvaluator,
                       tokens: Int, indicator: SearchIndicator, reference: SearchCostSetup.TeacherReference,
                       files: SearchFiles, threads: Int) throws -> [FinalStudent] {
        var out: [FinalStudent] = []
        for (i, member) in pick(front, count: count).enumerated() {
            let dir = files.finalDirectory(i)
            let record = (dir as NSString).appendingPathComponent("final.json")
            // A resumed search keeps a finished final student of the same configuration and budget.
            if let data = FileManager.default.contents(atPath: record),
               let done = try? searchJSONDecoder().decode(FinalRecord.self, from: data),
               done.configuration == member.configuration, done.tokens == tokens {
                out.append(done.student)
                continue
            }
            printError("final \(i + 1)/\(count): \(space.describe(member.configuration)) on \(tokens) tokens")
            // bf16 output: the file is the size the budget counted (at --format bf16).
            let m = try evaluator.evaluate(member.configuration, directory: dir, tokens: tokens, output: .bf16, log: printError)
            let modelDir = (dir as NSString).appendingPathComponent("model")
            let loaded = try LoadedModel.load(directory: modelDir)
            let load = loadAverage()
            let measured = try measure(model: loaded.model, info: try ModelInfo.read(directory: modelDir),
                                       options: SearchCostSetup.measureOptions(context: loaded.config.maxPositions),
                                       pool: ThreadPool(threads: threads))
            let latency = measured.decodeSecondsPerToken.median, energy = measured.energyJoulesPerToken.median
            out.append(FinalStudent(
                genes: member.genes, parameters: member.parameters, bytes: member.bytes,
                predictedEffectiveness: member.predictedEffectiveness, measuredEffectiveness: indicator.score(m),
                perplexity: m.perplexity, bitsPerByte: m.bitsPerByte, es: m.es, decodeSecondsPerToken: latency, joulesPerToken: energy,
                predictedDecodeSecondsPerToken: member.predictedCosts.first ?? .nan,
                predictedJoulesPerToken: member.predictedCosts.dropFirst().first ?? .nan,
                sizeRatio: Double(reference.bytesBF16) / Double(max(member.bytes, 1)),
                latencyRatio: latency > 0 ? reference.decodeSecondsPerToken / latency : .nan,
                energyRatio: energy > 0 ? reference.joulesPerToken / energy : .nan,
                esDelta: zip2(m.es, reference.es).map { $0 - $1 }, directory: modelDir, loadAverage: load))
            try atomicWrite(try jsonData(FinalRecord(configuration: member.configuration, tokens: tokens, student: out[out.count - 1])),
                            to: record)
        }
        return out
    }

    private static func zip2(_ a: Double?, _ b: Double?) -> (Double, Double)? {
        guard let a, let b else { return nil }
        return (a, b)
    }
}
