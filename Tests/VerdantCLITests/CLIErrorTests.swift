import Foundation
import Testing

/// Runs the `verdant` binary built next to this test bundle.
struct CLI {
    static var binary: URL {
        // The test bundle and the executable are both products of the same build directory.
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("verdant").path) && dir.path != "/" {
            dir.deleteLastPathComponent()
        }
        return dir.appendingPathComponent("verdant")
    }

    static var fixtures: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("VerdantModelsTests/Fixtures/models")
    }

    struct Result {
        var status: Int32
        var crashed: Bool
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String]) throws -> Result {
        let p = Process()
        p.executableURL = binary
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, crashed: p.terminationReason == .uncaughtSignal,
                      stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// A scratch copy of a fixture model that a test may damage.
    static func copyOfFixture(_ name: String) throws -> URL {
        let dst = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-cli-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent(name), to: dst)
        return dst
    }
}

/// Each bad input must give a clear message and a non-zero exit, never a crash.
@Test(arguments: [
    (["inspect", "/nonexistent/model"], "config.json"),
    (["generate", "FIXTURE", "--prompt", "x", "--max-tokens", "-3"], "--max-tokens"),
    (["generate", "FIXTURE", "--prompt", "x", "--top-p", "2"], "--top-p"),
    (["generate", "FIXTURE", "--prompt", "x", "--temperature", "nan"], "--temperature"),
    (["bench", "FIXTURE", "--threads", "0"], "--threads"),
    (["bench", "FIXTURE", "--runs", "0"], "--runs"),
    (["bench", "FIXTURE", "--prompt-tokens", "100000"], "context"),
    (["perplexity", "DEMO", "--data", "/nonexistent.jsonl"], "/nonexistent.jsonl"),
])
func badArgumentsAreClearErrors(_ arguments: [String], _ mentions: String) throws {
    let fixture = CLI.fixtures.appendingPathComponent("llama-gqa-f32").path
    let demo = CLI.fixtures.appendingPathComponent("demo").path
    let r = try CLI.run(arguments.map { $0 == "FIXTURE" ? fixture : $0 == "DEMO" ? demo : $0 })
    #expect(!r.crashed)
    #expect(r.status != 0)
    #expect(r.stderr.contains(mentions), "stderr: \(r.stderr)")
}

@Test func damagedCheckpointsAreClearErrors() throws {
    let fm = FileManager.default
    // Truncated weights.
    let truncated = try CLI.copyOfFixture("llama-gqa-f32")
    defer { try? fm.removeItem(at: truncated) }
    let st = truncated.appendingPathComponent("model.safetensors")
    let bytes = try Data(contentsOf: st)
    try bytes.prefix(bytes.count / 2).write(to: st)
    var r = try CLI.run(["inspect", truncated.path])
    #expect(!r.crashed && r.status != 0 && r.stderr.contains("model.safetensors"), "\(r.stderr)")

    // Malformed and unknown configs.
    let bad = try CLI.copyOfFixture("llama-gqa-f32")
    defer { try? fm.removeItem(at: bad) }
    try Data("{\"model_type\": ".utf8).write(to: bad.appendingPathComponent("config.json"))
    r = try CLI.run(["inspect", bad.path])
    #expect(!r.crashed && r.status != 0 && r.stderr.contains("JSON"), "\(r.stderr)")
    try Data(#"{"model_type": "rwkv"}"#.utf8).write(to: bad.appendingPathComponent("config.json"))
    r = try CLI.run(["generate", bad.path, "--prompt", "x"])
    #expect(!r.crashed && r.status != 0 && r.stderr.contains("rwkv"), "\(r.stderr)")

    // A config whose shapes disagree with the weights.
    let mismatch = try CLI.copyOfFixture("llama-gqa-f32")
    defer { try? fm.removeItem(at: mismatch) }
    let cfgURL = mismatch.appendingPathComponent("config.json")
    var cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: cfgURL)) as? [String: Any] ?? [:]
    cfg["intermediate_size"] = 999
    try JSONSerialization.data(withJSONObject: cfg).write(to: cfgURL)
    r = try CLI.run(["bench", mismatch.path, "--prompt-tokens", "4", "--gen-tokens", "2", "--runs", "1"])
    #expect(!r.crashed && r.status != 0 && r.stderr.contains("shape"), "\(r.stderr)")
}
