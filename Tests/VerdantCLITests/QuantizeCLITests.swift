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

/// The seed's prune-then-quantize pipeline with 1×2 tiles: the sparse bf16 output of
/// `prune --group-lasso --group 1x2` quantizes to int8 tiles that keep its sparsity.
@Test func groupLasso1x2OutputQuantizesToSparseInt8() throws {
    let demo = CLI.fixtures.appendingPathComponent("demo").path
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-q-\(UUID().uuidString)").path
    let sparse = base + "-sparse", q8 = base + "-q8", text = base + ".txt"
    defer { for p in [sparse, q8, text, base + "-q4"] { try? FileManager.default.removeItem(atPath: p) } }
    try "def add(a, b):\n    return a + b\n\nclass Point:\n    def __init__(self, x):\n        self.x = x\n".write(toFile: text, atomically: true, encoding: .utf8)
    var r = try CLI.run(["prune", demo, "--group-lasso", "--group", "1x2", "--sparsity", "0.5", "--out", sparse])
    #expect(r.status == 0, "\(r.stderr)")
    r = try CLI.run(["quantize", sparse, "--scheme", "q8_0", "--out", q8, "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    let tensors = report?["tensors"] as? [[String: Any]] ?? []
    let down = tensors.first { ($0["name"] as? String)?.hasSuffix("layers.0.mlp.down_proj.weight") == true }
    #expect(down?["format"] as? String == "q8_sparse1x2")
    // Half the tiles: 8 bits per kept weight + 1 bit of mask and scale per weight ≈ 5 bits (+ row starts),
    // against ≈ 8.6 for the same tiles in bf16 and 8.5 for dense q8_0.
    let before = down?["bytes_before"] as? Int ?? 0, after = down?["bytes_after"] as? Int ?? 0
    let weights = (down?["shape"] as? [Int] ?? [0]).reduce(1, *)
    let bits = Double(8 * after) / Double(max(1, weights))
    #expect(after > 0 && after < before && bits < 5.5, "\(before) → \(after) bytes, \(bits) bits per weight")
    #expect(tensors.contains { ($0["name"] as? String)?.hasSuffix("embed_tokens.weight") == true && $0["format"] as? String == "q8_0" })
    let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: q8 + "/config.json"))) as? [String: Any]
    let section = config?["quantization"] as? [String: Any]
    #expect((section?["tensors"] as? [String: Any])?.count ?? 0 >= 15)
    // Same model up to int8 rounding: perplexities within a few percent.
    func perplexity(_ dir: String) throws -> Double {
        let r = try CLI.run(["perplexity", dir, "--data", text, "--context", "32", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        return (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["perplexity"] as? Double ?? .nan
    }
    let ps = try perplexity(sparse), pq = try perplexity(q8)
    #expect(abs(pq - ps) <= 0.05 * ps, "\(ps) vs \(pq)")
    r = try CLI.run(["generate", q8, "--prompt", "def main(", "--max-tokens", "8", "--temperature", "0"])
    #expect(r.status == 0 && !r.stdout.isEmpty, "\(r.stderr)")
    // What the sparse tiles cannot become is refused, with no output left behind.
    for args in [["--scheme", "q4_0"], ["--scheme", "q8_0", "--method", "gptq", "--calibration", text]] {
        r = try CLI.run(["quantize", sparse] + args + ["--out", base + "-q4"])
        #expect(r.status != 0 && !r.crashed && r.stderr.contains("sparse"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: base + "-q4"))
    }
    // An already-int8 sparse checkpoint is not quantized again.
    r = try CLI.run(["quantize", q8, "--scheme", "q8_0", "--out", base + "-q4"])
    #expect(r.status != 0 && !r.crashed, "\(r.stderr)")
}
