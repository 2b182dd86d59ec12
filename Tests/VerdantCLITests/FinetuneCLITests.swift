import Foundation
import Testing

/// Bad input to `verdant finetune` is a clear error with a non-zero exit.
@Test(arguments: [
    (["--full", "--lora-rank", "4"], "--full"),
    (["--full", "--save-adapter"], "--full"),
    (["--lora-rank", "0"], "--lora-rank"),
    (["--lora-alpha", "-1"], "--lora-alpha"),
    (["--targets", "q,x"], "unknown LoRA target"),
    (["--lora-rank", "100000", "--context", "4"], "LoRA rank"),
    (["--full", "--lr", "0"], "--lr"),
    (["--full", "--lr", "5"], "--lr"),
    (["--full", "--lr", "nan"], "--lr"),
    (["--full", "--context", "32", "--batch-tokens", "40"], "--batch-tokens"),
    (["--full", "--weight-decay", "2"], "--weight-decay"),
    (["--full", "--accumulate", "0"], "--accumulate"),
    (["--full", "--context", "100000"], "positions"),
    (["--full", "--dtype", "q4"], "--dtype"),
    (["--full", "--context", "4", "--resume"], "no checkpoint"),
    (["--full", "--context", "32"], "too few for one sequence"),
    (["--full", "--hold-out", "1"], "--hold-out"),
])
func finetuneBadArgumentsAreClearErrors(_ extra: [String], _ mentions: String) throws {
    let demo = CLI.fixtures.appendingPathComponent("demo").path
    let data = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-ft-\(UUID().uuidString).jsonl")
    defer { try? FileManager.default.removeItem(at: data) }
    try Data(#"{"text": "def f(x):\n    return x + 1\n"}"#.utf8).write(to: data)
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-ft-out-\(UUID().uuidString)").path
    let r = try CLI.run(["finetune", demo, "--data", data.path, "--out", out] + extra)
    #expect(!r.crashed)
    #expect(r.status != 0)
    #expect(r.stderr.contains(mentions), "stderr: \(r.stderr)")
}

@Test func finetuneRejectsDataWithoutText() throws {
    let demo = CLI.fixtures.appendingPathComponent("demo").path
    let fm = FileManager.default
    let data = fm.temporaryDirectory.appendingPathComponent("verdant-ft-\(UUID().uuidString).jsonl")
    defer { try? fm.removeItem(at: data) }
    try Data("{\"text\": \"\"}\n{\"text\": \"\"}\n".utf8).write(to: data)
    let out = fm.temporaryDirectory.appendingPathComponent("verdant-ft-out-\(UUID().uuidString)").path
    let r = try CLI.run(["finetune", demo, "--data", data.path, "--out", out, "--full"])
    #expect(!r.crashed && r.status != 0 && r.stderr.contains("too few for one sequence"), "\(r.stderr)")
}

/// Two steps on the demo model: a loadable checkpoint in the source dtype; a
/// resumed run with more tokens continues from the saved step.
@Test func finetuneWritesALoadableModelAndResumes() throws {
    let fm = FileManager.default
    let demo = CLI.fixtures.appendingPathComponent("demo").path
    let dir = fm.temporaryDirectory.appendingPathComponent("verdant-ft-\(UUID().uuidString)")
    try fm.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? fm.removeItem(at: dir) }
    let data = dir.appendingPathComponent("train.jsonl")
    let text = (0..<40).map { #"{"text": "def f\#($0)(x):\n    return x * \#($0) + 1\n"}"# }.joined(separator: "\n")
    try Data(text.utf8).write(to: data)
    let out = dir.appendingPathComponent("out").path
    let common = ["finetune", demo, "--data", data.path, "--out", out, "--full", "--context", "16", "--batch-tokens", "32",
                  "--threads", "2", "--save-every", "1", "--seed", "3"]
    var r = try CLI.run(common + ["--tokens", "64"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("step 2/2"), "\(r.stderr)")
    #expect(fm.fileExists(atPath: out + ".checkpoints/step-0000002/optimizer.safetensors"))
    r = try CLI.run(["perplexity", out, "--data", data.path, "--context", "16"])
    #expect(r.status == 0 && r.stdout.contains("perplexity"), "\(r.stderr)")
    r = try CLI.run(["inspect", out])
    #expect(r.stdout.contains("BF16"), "\(r.stdout)")
    r = try CLI.run(common + ["--tokens", "64", "--resume", "--force"])
    #expect(r.status == 0 && r.stderr.contains("resumed") && !r.stderr.contains("step 1/"), "\(r.stderr)")
}

/// LoRA (the default): the merged output loads and is exactly what `--save-adapter`
/// followed by `verdant merge-adapter` gives.
@Test func finetuneLoRAMergedEqualsSavedAdapterMerged() throws {
    let fm = FileManager.default
    let demo = CLI.fixtures.appendingPathComponent("demo").path
    let dir = fm.temporaryDirectory.appendingPathComponent("verdant-lora-\(UUID().uuidString)")
    try fm.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? fm.removeItem(at: dir) }
    let data = dir.appendingPathComponent("train.jsonl")
    let text = (0..<40).map { #"{"text": "def f\#($0)(x):\n    return x * \#($0) + 1\n"}"# }.joined(separator: "\n")
    try Data(text.utf8).write(to: data)
    let merged = dir.appendingPathComponent("merged").path, adapter = dir.appendingPathComponent("adapter").path
    let common = ["finetune", demo, "--data", data.path, "--context", "16", "--batch-tokens", "32", "--threads", "2",
                  "--seed", "3", "--tokens", "64", "--lora-rank", "2", "--targets", "q,v,down", "--lr", "1e-2"]
    var r = try CLI.run(common + ["--out", merged])
    #expect(r.status == 0 && r.stderr.contains("LoRA r 2"), "\(r.stderr)")
    r = try CLI.run(common + ["--out", adapter, "--save-adapter"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(fm.fileExists(atPath: adapter + "/adapter_config.json") && fm.fileExists(atPath: adapter + "/adapter_model.safetensors"))
    let remerged = dir.appendingPathComponent("remerged").path
    r = try CLI.run(["merge-adapter", demo, adapter, "--out", remerged])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(fm.contents(atPath: merged + "/model.safetensors") == fm.contents(atPath: remerged + "/model.safetensors"))
    #expect(fm.contents(atPath: merged + "/model.safetensors") != fm.contents(atPath: demo + "/model.safetensors"))
    r = try CLI.run(["perplexity", merged, "--data", data.path, "--context", "16"])
    #expect(r.status == 0 && r.stdout.contains("perplexity"), "\(r.stderr)")
}
