import Foundation
import Testing

@Suite struct TeacherCacheCLITests {
    static var demo: String { CLI.fixtures.appendingPathComponent("demo").path }

    static func corpus(_ lines: [String]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-cli-\(UUID().uuidString).jsonl").path
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static var goodCorpus: [String] {
        (0..<6).map { "{\"path\": \"m\($0).py\", \"text\": \"def f\($0)(x):\\n    return x * \($0)\\n\"}" }
    }

    @Test func badInputIsAClearError() throws {
        let data = try Self.corpus(Self.goodCorpus)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-cli-\(UUID().uuidString)").path
        let cases: [([String], String)] = [
            (["teacher-cache", Self.demo, "--data", data, "--out", out, "--top-k", "0"], "--top-k"),
            (["teacher-cache", Self.demo, "--data", data, "--out", out, "--temperature", "0"], "--temperature"),
            (["teacher-cache", Self.demo, "--data", data], "--out"),
            (["teacher-cache", Self.demo, "--data", "/nonexistent.jsonl", "--out", out], "/nonexistent.jsonl"),
            (["teacher-cache", Self.demo, "--data", try Self.corpus(["{\"path\": \"a\"}"]), "--out", out], "\"text\""),
            (["teacher-cache", Self.demo, "--data", try Self.corpus(["", " "]), "--out", out], "no documents"),
            (["teacher-cache", Self.demo, "--data", data, "--out", out, "--context", "4096"], "context"),
        ]
        for (arguments, needle) in cases {
            let r = try CLI.run(arguments)
            #expect(r.status != 0 && !r.crashed, "\(arguments)")
            #expect(r.stderr.contains(needle), "\(arguments): \(r.stderr)")
        }
    }

    @Test func cachesResumesAndRefusesOtherSettings() throws {
        let data = try Self.corpus(Self.goodCorpus)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-cli-\(UUID().uuidString)").path
        let base = ["teacher-cache", Self.demo, "--data", data, "--out", out, "--context", "8", "--top-k", "4", "--threads", "1"]
        let first = try CLI.run(base + ["--tokens", "16", "--json"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("\"sequences\":2"))
        let second = try CLI.run(base + ["--tokens", "32", "--json"])
        #expect(second.status == 0 && second.stdout.contains("\"resumed_from\":2") && second.stdout.contains("\"sequences\":4"))
        let other = try CLI.run(base + ["--temperature", "1"])
        #expect(other.status != 0 && other.stderr.contains("temperature"))
    }
}
