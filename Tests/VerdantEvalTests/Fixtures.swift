import Foundation

/// The tiny reference checkpoints of the models test target
/// (written by scripts/make_model_fixtures.py), shared rather than copied.
enum Fixtures {
    static let models = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("VerdantModelsTests/Fixtures/models")

    static func model(_ name: String) -> String { models.appendingPathComponent(name).path }

    /// A fresh empty directory under the system temporary directory.
    static func temporaryDirectory() throws -> String {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("verdant-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }
}
