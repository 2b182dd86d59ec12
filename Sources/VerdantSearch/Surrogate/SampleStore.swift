import Foundation

/// The surrogate's training samples, saved after each one so a killed search resumes from
/// its finished (expensive: each is a distillation) evaluations instead of repeating them.
public struct SampleStore: Sendable, Codable, Equatable {
    public struct Sample: Sendable, Codable, Equatable {
        public var configuration: Configuration
        public var score: Double

        public init(configuration: Configuration, score: Double) {
            self.configuration = configuration
            self.score = score
        }
    }

    /// The configurations chosen for training, fixed on the first run: a resumed run reuses
    /// them rather than re-selecting (the solver's models may differ between runs).
    public var planned: [Configuration] = []
    public var samples: [Sample] = []

    public init() {}

    public static func load(path: String) throws -> SampleStore {
        guard FileManager.default.fileExists(atPath: path) else { return SampleStore() }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SpaceError.unreadable("cannot read surrogate samples \(path)")
        }
        do { return try JSONDecoder().decode(SampleStore.self, from: data) } catch {
            throw SpaceError.unreadable("surrogate samples \(path) are corrupt: \(error)")
        }
    }

    /// Written to a temporary file and renamed, so a kill mid-write keeps the previous file.
    public func save(path: String) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        let tmp = path + ".tmp"
        try e.encode(self).write(to: URL(fileURLWithPath: tmp))
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        try FileManager.default.moveItem(atPath: tmp, toPath: path)
    }

    public func score(of c: Configuration) -> Double? { samples.first { $0.configuration == c }?.score }
}
