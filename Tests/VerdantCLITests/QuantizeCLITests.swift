import Foundation
import Testing

@Test(arguments: [
    (["quantize", "DEMO", "--scheme", "q5_k", "--out", "OUT"], "--scheme"),
    (["quantize", "DEMO", "--scheme", "int4", "--group-size", "48", "--out", "OUT"], "--group-size"),
    (["quantize", "DEMO", "--scheme", "q4_0", "--method", "gptq", "--out", "OUT"], "--calibration"),
    (["quantize", "DEMO", "--scheme", "q4_0", "--method", "magic", "--out", "OUT"], "--method"),
    (["quantize", "DEMO", "--scheme", "q4_0", "--calibration", "/nonexistent.jsonl", "--out", "OUT"], "/nonexistent.jsonl"),
    (["quantize", "DEMO", "--scheme", "q4_0", "--calibration-tokens", "0", "--out", "OUT"], "--calibration-tokens"),
    (["quantize", "DEMO", "--scheme", "q4_0", "--override", "nonsense", "--out", "OUT"], "PATTERN=FORMAT"),
    (["quantize", "DEMO", "--scheme", "q4_0", "--recipe", "/nonexistent-recipe.json", "--out", "OUT"], "recipe"),
    (["quantize", "/nonexistent/model", "--scheme", "q4_0", "--out", "OUT"], "config.json"),
    (["quantize", "DEMO", "--scheme", "q4_0", "--method", "awq", "--calibration", "/nonexistent.jsonl", "--awq-sample-tokens", "0", "--out", "OUT"], "--awq-sample-tokens"),
    (["kernel-bench", "--format", "q9"], "--format"),
])
func badQuantizeArgumentsAreClearErrors(_ arguments: [String], _ mentions: String) throws {
    let demo = CLI.fixtures.appendingPathComponent("demo").path
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-q-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: out) }
    let r = try CLI.run(arguments.map { $0 == "DEMO" ? demo : $0 == "OUT" ? out : $0 })
    #expect(!r.crashed)
    #expect(r.status != 0)
    #expect(r.stderr.contains(mentions), "stderr: \(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: out), "no output on failure")
}

@Test func quantizedModelRunsThroughEveryCommand() throws {
    let demo = CLI.fixtures.appendingPathComponent("demo").path
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-q-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: out) }
    let calib = out + "-calib.txt"
    try "def add(a, b):\n    return a + b\n\nclass Point:\n    pass\n".write(toFile: calib, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: calib) }
    var r = try CLI.run(["quantize", demo, "--scheme", "int4", "--group-size", "32", "--calibration", calib,
                         "--calibration-tokens", "64", "--override", "*down_proj*=q8_0", "--out", out, "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    let tensors = report?["tensors"] as? [[String: Any]] ?? []
    #expect(tensors.contains { ($0["name"] as? String)?.hasSuffix("down_proj.weight") == true && $0["format"] as? String == "q8_0" })
    #expect(tensors.contains { ($0["name"] as? String)?.hasSuffix("up_proj.weight") == true && $0["format"] as? String == "int4_g32" })
    r = try CLI.run(["generate", out, "--prompt", "def main(", "--max-tokens", "8", "--temperature", "0"])
    #expect(r.status == 0 && !r.stdout.isEmpty, "\(r.stderr)")
    r = try CLI.run(["perplexity", out, "--data", calib, "--context", "16"])
    #expect(r.status == 0 && r.stdout.contains("perplexity"), "\(r.stderr)")
    r = try CLI.run(["inspect", out])
    #expect(r.status == 0, "\(r.stderr)")
    // Existing output is not overwritten without --force.
    r = try CLI.run(["quantize", demo, "--scheme", "q8_0", "--out", out])
    #expect(r.status != 0 && r.stderr.contains("--force"), "\(r.stderr)")
}

@Test(arguments: [["--method", "gptq", "--act-order"], ["--method", "gptq", "--gptq-sequential"], ["--method", "awq", "--no-importance"]])
func calibratedMethodsRunFromTheCommandLine(_ method: [String]) throws {
    let demo = CLI.fixtures.appendingPathComponent("demo").path
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-q-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: out) }
    let calib = out + "-calib.txt"
    try "def add(a, b):\n    return a + b\n\nclass Point:\n    def __init__(self, x):\n        self.x = x\n".write(toFile: calib, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: calib) }
    var r = try CLI.run(["quantize", demo, "--scheme", "q4_0", "--calibration", calib, "--calibration-tokens", "64",
                         "--out", out, "--json"] + method)
    #expect(r.status == 0, "\(r.stderr)")
    let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    #expect(report?["method"] as? String == method[1])
    let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/config.json"))) as? [String: Any]
    let section = config?["quantization"] as? [String: Any]
    #expect(section?["method"] as? String == method[1])
    r = try CLI.run(["perplexity", out, "--data", calib, "--context", "16"])
    #expect(r.status == 0 && r.stdout.contains("perplexity"), "\(r.stderr)")
}
