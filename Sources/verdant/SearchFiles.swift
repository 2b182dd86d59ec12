import Foundation
import VerdantSearch

/// The files of a search directory. Every one is written atomically (temporary file + rename),
/// so a search killed at any moment resumes from the last complete state.
struct SearchFiles {
    let root: String

    func path(_ name: String) -> String { (root as NSString).appendingPathComponent(name) }
    var settings: String { path("settings.json") }
    var space: String { path("space.json") }
    var samples: String { path("samples.json") }
    var metrics: String { path("sample-metrics.json") }
    var costCalibration: String { path("cost-calibration.json") }
    var teacherReference: String { path("teacher-reference.json") }
    /// The teacher cache over the teacher's own vocabulary (nil) or a pruned one of `vocabulary` ids.
    func teacherCache(vocabulary: Int?) -> String { vocabulary.map { path("teacher-cache-v\($0)") } ?? path("teacher-cache") }
    /// A pruned vocabulary of `size` ids: a vocabulary-pruned copy of the teacher, as `verdant prune` writes it.
    func vocabularyDirectory(_ size: Int) -> String { path("vocab-\(size)") }
    var front: String { path("front.json") }
    var report: String { path("report.md") }
    func sampleDirectory(_ i: Int) -> String { path(String(format: "samples/%03d", i)) }
    func finalDirectory(_ i: Int) -> String { path(String(format: "final/%03d", i)) }

    /// A resumed search must be the same search: the samples' scores only compare when every
    /// one was distilled and scored the same way. (--samples, --generations, --population and
    /// --distill-top may change: farthest-point selection is greedy, so a longer plan extends
    /// a shorter one.)
    func checkSettings(_ s: SearchSettings) throws {
        if let data = FileManager.default.contents(atPath: settings) {
            guard let old = try? searchJSONDecoder().decode(SearchSettings.self, from: data) else {
                throw CLIError("\(settings) is corrupt: remove it (or choose another --out) to start a new search")
            }
            guard old.resolved == s.resolved else {
                throw CLIError("\(root) holds a search with other settings (\(old.difference(s))): use another --out, or the same options to resume")
            }
            return
        }
        try atomicWrite(try jsonData(s), to: settings)
    }

    func loadMetrics() throws -> [SampleRecord] {
        guard let data = FileManager.default.contents(atPath: metrics) else { return [] }
        do { return try searchJSONDecoder().decode([SampleRecord].self, from: data) } catch {
            throw CLIError("\(metrics) is corrupt: \(error)")
        }
    }

    func saveMetrics(_ m: [SampleRecord]) throws { try atomicWrite(try jsonData(m), to: metrics) }
}

struct SearchSettings: Codable, Equatable {
    var teacher: String
    var data: String
    var budgetBytes: Int
    var format: String
    var tokensPerSample: Int
    var context: Int
    var seed: UInt64
    var holdOut: Double
    var dev: String?
    var evalTokens: Int
    var tasks: String?
    var tasksLimit: Int
    var temperature: Float
    /// The candidate pool the samples are chosen from (another pool plans other samples).
    var pool: Int
    var space: String
    /// How samples and finalists start: "random", or "from-teacher" with its options (nil in
    /// searches made before the option existed, which started at random).
    var initialisation: String?

    /// Missing fields as the search that wrote them meant them.
    var resolved: SearchSettings {
        var s = self
        s.initialisation = initialisation ?? "random"
        return s
    }

    func difference(_ o: SearchSettings) -> String {
        var d: [String] = []
        if teacher != o.teacher { d.append("teacher") }
        if data != o.data { d.append("data") }
        if budgetBytes != o.budgetBytes { d.append("budget") }
        if format != o.format { d.append("format") }
        if tokensPerSample != o.tokensPerSample { d.append("tokens per sample") }
        if context != o.context { d.append("context") }
        if seed != o.seed { d.append("seed") }
        if holdOut != o.holdOut || dev != o.dev || evalTokens != o.evalTokens { d.append("held-out data") }
        if tasks != o.tasks || tasksLimit != o.tasksLimit { d.append("tasks") }
        if temperature != o.temperature { d.append("temperature") }
        if pool != o.pool { d.append("pool") }
        if space != o.space { d.append("space") }
        if resolved.initialisation != o.resolved.initialisation { d.append("init") }
        return "different " + d.joined(separator: ", ")
    }
}

/// One distilled sample as recorded: its configuration and everything measured on it.
struct SampleRecord: Codable, Equatable {
    var index: Int
    var genes: String
    var configuration: Configuration
    var metrics: SampleMetrics
}

func jsonData<T: Encodable>(_ value: T) throws -> Data {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys]
    // A prediction can be undefined (no energy counter, a ratio of zero): JSON has no NaN.
    e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return try e.encode(value)
}

/// Reads what `jsonData` writes (undefined numbers as "nan" / "inf").
func searchJSONDecoder() -> JSONDecoder {
    let d = JSONDecoder()
    d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return d
}

/// Writes to PATH.tmp and renames over PATH: readers see the old or the new file, never half.
func atomicWrite(_ data: Data, to path: String) throws {
    let tmp = path + ".tmp"
    try data.write(to: URL(fileURLWithPath: tmp))
    guard rename(tmp, path) == 0 else { throw CLIError("cannot rename \(tmp) to \(path): \(String(cString: strerror(errno)))") }
}

/// The 1-minute load average (/proc/loadavg), recorded beside every timing taken under load.
func loadAverage() -> Double? {
    guard let s = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
    return s.split(separator: " ").first.flatMap { Double($0) }
}
