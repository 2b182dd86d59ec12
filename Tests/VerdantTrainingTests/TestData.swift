import Foundation
import VerdantTraining

/// Fixture models (shared with the models test target) and generated corpora.
enum TestData {
    static let models = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("VerdantModelsTests/Fixtures/models")

    static func model(_ name: String) -> String { models.appendingPathComponent(name).path }

    static func temporaryDirectory() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    /// A small code-shaped corpus: `count` files of a few lines each.
    static func documents(_ count: Int = 12) -> [TrainingDocument] {
        (0..<count).map { i in
            TrainingDocument(path: "pkg\(i % 3)/mod\(i).py",
                             text: "def f\(i)(x):\n    return x * \(i) + \(i * i)\n\nclass C\(i):\n    pass\n")
        }
    }

    static func jsonl(_ documents: [TrainingDocument]) throws -> [UInt8] {
        var out: [UInt8] = []
        for d in documents {
            var object: [String: String] = ["text": d.text]
            if let p = d.path { object["path"] = p }
            out += Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
            out.append(0x0A)
        }
        return out
    }

    /// Writes `bytes` to a new file named `name` in a fresh directory.
    static func write(_ bytes: [UInt8], name: String) throws -> String {
        let path = (try temporaryDirectory() as NSString).appendingPathComponent(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}
