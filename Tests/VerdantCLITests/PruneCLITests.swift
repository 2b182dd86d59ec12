import Foundation
import Testing

enum PruneCLI {
    static var corpus: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("VerdantCompressTests/Fixtures/corpus.txt").path
    }

    static func scratch() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-prune-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }
}

/// Bad pruning requests: a clear message naming the problem, exit code ≠ 0, no crash, no output left.
@Test(arguments: [
    (["--ffn-ratio", "1"], "--ffn-ratio"),
    (["--heads-ratio", "-0.5"], "--heads-ratio"),
    (["--ffn-ratio", "nan"], "--ffn-ratio"),
    (["--drop-layers", "2", "--criterion", "last"], "--drop-layers"),
    (["--drop-layers", "-1"], "--drop-layers"),
    (["--drop-layers", "1"], "--calibration"),
    (["--ffn-ratio", "0.5"], "--calibration"),
    (["--drop-layers", "1", "--criterion", "cosine", "--calibration", "CORPUS"], "criterion"),
    (["--ffn-ratio", "0.5", "--ffn-allocation", "sideways", "--calibration", "CORPUS"], "ffn-allocation"),
    (["--heads-ratio", "0.5", "--calibration", "/nonexistent/calib.jsonl"], "/nonexistent/calib.jsonl"),
    (["--vocab-corpus", "/nonexistent/corpus.txt"], "/nonexistent/corpus.txt"),
    ([String](), "nothing to prune"),
    (["--heads-ratio", "0.9", "--heads-criterion", "random"], "--heads-ratio"),
    (["--heads-ratio", "0.1", "--heads-criterion", "random"], "removes nothing"),
    (["--heads-ratio", "0.5", "--heads-unit", "row", "--heads-criterion", "random"], "heads-unit"),
    (["--plan", "/nonexistent/report.json"], "/nonexistent/report.json"),
    (["--plan", "CORPUS"], "not a pruning plan"),
    (["--plan", "CORPUS", "--drop-layers", "1"], "--plan"),
    (["--calibration-tokens", "0", "--drop-layers", "1"], "--calibration-tokens"),
])
func badPruneRequestsAreClearErrors(_ arguments: [String], _ mentions: String) throws {
    let dir = try PruneCLI.scratch()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let demo = CLI.fixtures.appendingPathComponent("demo").path
    let args = ["prune", demo, "--out", dir + "/out"] + arguments.map { $0 == "CORPUS" ? PruneCLI.corpus : $0 }
    let r = try CLI.run(args)
    #expect(!r.crashed)
    #expect(r.status != 0)
    #expect(r.stderr.contains(mentions), "stderr: \(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
}

@Test func pruneRefusesUnsafeOutputsAndModelsItCannotHandle() throws {
    let dir = try PruneCLI.scratch()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let demo = CLI.fixtures.appendingPathComponent("demo").path
    let gpt2 = CLI.fixtures.appendingPathComponent("gpt2").path
    let base = ["--drop-layers", "1", "--criterion", "last"]

    // A non-empty --out is kept unless --force.
    try FileManager.default.createDirectory(atPath: dir + "/full", withIntermediateDirectories: false)
    try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/full/keep.txt"))
    var r = try CLI.run(["prune", demo, "--out", dir + "/full"] + base)
    #expect(!r.crashed && r.status != 0 && r.stderr.contains("--force"), "\(r.stderr)")
    #expect(FileManager.default.fileExists(atPath: dir + "/full/keep.txt"))
    r = try CLI.run(["prune", demo, "--out", dir + "/full", "--force"] + base)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir + "/full/keep.txt"))

    r = try CLI.run(["prune", demo, "--out", dir + "/missing/parent/out"] + base)
    #expect(!r.crashed && r.status != 0 && r.stderr.contains("parent directory"), "\(r.stderr)")

    // Vocabulary pruning and calibration need the model's tokenizer.
    r = try CLI.run(["prune", gpt2, "--out", dir + "/g", "--vocab-corpus", PruneCLI.corpus])
    #expect(!r.crashed && r.status != 0 && r.stderr.contains("tokenizer.json"), "\(r.stderr)")
    r = try CLI.run(["prune", gpt2, "--out", dir + "/g", "--ffn-ratio", "0.5", "--calibration", PruneCLI.corpus])
    #expect(!r.crashed && r.status != 0 && r.stderr.contains("tokenizer.json"), "\(r.stderr)")
    r = try CLI.run(["prune", "/nonexistent/model", "--out", dir + "/g"] + base)
    #expect(!r.crashed && r.status != 0 && r.stderr.contains("/nonexistent/model"), "\(r.stderr)")
    // A plan that does not fit the model.
    try Data(#"{"kept_layers": [0, 9]}"#.utf8).write(to: URL(fileURLWithPath: dir + "/plan.json"))
    r = try CLI.run(["prune", demo, "--out", dir + "/p", "--plan", dir + "/plan.json"])
    #expect(!r.crashed && r.status != 0 && r.stderr.contains("kept_layers"), "\(r.stderr)")
}

@Test func pruneComposesAllFourAndPrintsTheReport() throws {
    let dir = try PruneCLI.scratch()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let demo = CLI.fixtures.appendingPathComponent("demo").path
    let r = try CLI.run(["prune", demo, "--out", dir + "/out", "--vocab-corpus", PruneCLI.corpus, "--drop-layers", "1",
                         "--heads-ratio", "0.5", "--ffn-ratio", "0.25", "--ffn-allocation", "global",
                         "--calibration", PruneCLI.corpus, "--calibration-tokens", "128", "--calibration-length", "64",
                         "--threads", "1", "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let report = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    #expect((report["removed_fraction"] as? Double ?? 0) > 0.3)
    // One layer is left, so global allocation has nothing to balance: no zero padding.
    #expect(report["zeroed_parameters"] as? Int == 0)
    #expect(report["vocabulary"] != nil && report["layers"] != nil && report["heads"] != nil && report["ffn"] != nil)
    let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/out")
    for f in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "pruning_report.json"] {
        #expect(files.contains(f), "missing \(f)")
    }
    // The pruned model runs.
    let g = try CLI.run(["generate", dir + "/out", "--prompt", "def f(", "--max-tokens", "5", "--temperature", "0"])
    #expect(g.status == 0, "\(g.stderr)")
    // Progress went to stderr, the summary form works too.
    #expect(r.stderr.contains("ffn (activation)"))
    let s = try CLI.run(["prune", demo, "--out", dir + "/out2", "--ffn-ratio", "0.5", "--ffn-criterion", "random",
                         "--heads-ratio", "0.5", "--heads-unit", "query-head", "--heads-criterion", "random"])
    #expect(s.status == 0 && s.stdout.contains("128 → 64") && s.stdout.contains("2 of 4 query heads"), "\(s.stdout)\(s.stderr)")
}
