import Foundation
import Testing

/// A student of the demo teacher (llama, V = 512): 1 layer, hidden 32.
private func studentConfig(_ changes: [String: Any] = [:]) -> [String: Any] {
    var c: [String: Any] = [
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu", "hidden_size": 32,
        "intermediate_size": 64, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16,
        "num_hidden_layers": 1, "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "tie_word_embeddings": true, "vocab_size": 512,
    ]
    for (k, v) in changes { c[k] = v }
    return c
}

private func distillFixture(student changes: [String: Any] = [:]) throws -> (dir: URL, student: String, data: String) {
    let fm = FileManager.default
    let dir = fm.temporaryDirectory.appendingPathComponent("verdant-distill-\(UUID().uuidString)")
    try fm.createDirectory(at: dir, withIntermediateDirectories: true)
    let student = dir.appendingPathComponent("student.json")
    try JSONSerialization.data(withJSONObject: studentConfig(changes)).write(to: student)
    let data = dir.appendingPathComponent("train.jsonl")
    let text = (0..<40).map { #"{"text": "def f\#($0)(x):\n    return x * \#($0) + 1\n"}"# }.joined(separator: "\n")
    try Data(text.utf8).write(to: data)
    return (dir, student.path, data.path)
}

/// Bad input to `verdant distill` is a clear error with a non-zero exit.
@Test(arguments: [
    (["--alpha", "1.5"], "--alpha"),
    (["--alpha", "-0.1"], "--alpha"),
    (["--temperature", "0"], "--temperature"),
    (["--temperature", "-2"], "--temperature"),
    (["--lr", "0"], "--lr"),
    (["--context", "16", "--batch-tokens", "20"], "--batch-tokens"),
    (["--context", "100000"], "positions"),
    (["--init", "from-teacher", "--context", "16", "STUDENT:headdim"], "head_dim 8 differs from the teacher's 16"),
    (["--init", "from-teacher", "--context", "16", "STUDENT:wide"], "larger than the teacher's"),
    (["--context", "16", "--student-vocab", "/nonexistent-vocab"], "tokenizer.json"),
    (["--init", "magic"], "--init"),
    (["--context", "16", "--resume"], "no checkpoint"),
    (["--context", "16", "--teacher-cache", "/nonexistent-cache"], "cannot open teacher cache"),
    (["STUDENT:missing"], "cannot read the student config"),
    (["STUDENT:gpt2"], "family"),
    (["STUDENT:vocab"], "vocab_size"),
    (["STUDENT:huge"], "memory"),
    (["STUDENT:broken"], "student config"),
    (["DATA:missing", "--context", "16"], "no such file"),
    (["DATA:empty", "--context", "16"], "too few for one sequence"),
])
func distillBadInputIsAClearError(_ extra: [String], _ mentions: String) throws {
    let demo = CLI.fixtures.appendingPathComponent("demo").path
    let f = try distillFixture()
    defer { try? FileManager.default.removeItem(at: f.dir) }
    var student = f.student, data = f.data
    var args: [String] = []
    for a in extra {
        switch a {
        case "STUDENT:missing": student = f.dir.appendingPathComponent("nope.json").path
        case "STUDENT:gpt2", "STUDENT:vocab", "STUDENT:huge", "STUDENT:broken", "STUDENT:headdim", "STUDENT:wide":
            student = f.dir.appendingPathComponent("bad.json").path
            let bad: Data
            switch a {
            case "STUDENT:gpt2":
                bad = try JSONSerialization.data(withJSONObject: ["model_type": "gpt2", "n_embd": 32, "n_head": 2, "n_layer": 1,
                                                                  "n_positions": 64, "vocab_size": 512])
            case "STUDENT:vocab": bad = try JSONSerialization.data(withJSONObject: studentConfig(["vocab_size": 300]))
            case "STUDENT:headdim": bad = try JSONSerialization.data(withJSONObject: studentConfig(["head_dim": 8]))
            case "STUDENT:wide": bad = try JSONSerialization.data(withJSONObject: studentConfig(["hidden_size": 96, "num_attention_heads": 6, "num_key_value_heads": 3]))
            case "STUDENT:huge":
                bad = try JSONSerialization.data(withJSONObject: studentConfig(["hidden_size": 1 << 20, "num_hidden_layers": 4096,
                                                                                "head_dim": 1 << 19, "intermediate_size": 1 << 22]))
            default: bad = Data("{not json".utf8)
            }
            try bad.write(to: URL(fileURLWithPath: student))
        case "DATA:missing": data = f.dir.appendingPathComponent("nope.jsonl").path
        case "DATA:empty":
            data = f.dir.appendingPathComponent("empty.jsonl").path
            try Data("{\"text\": \"\"}\n".utf8).write(to: URL(fileURLWithPath: data))
        default: args.append(a)
        }
    }
    let out = f.dir.appendingPathComponent("out").path
    let r = try CLI.run(["distill", demo, "--student", student, "--data", data, "--out", out, "--threads", "2"] + args)
    #expect(!r.crashed)
    #expect(r.status != 0)
    #expect(r.stderr.contains(mentions), "stderr: \(r.stderr)")
}

/// A few steps online and from a hidden-state cache: a loadable checkpoint; a
/// resumed run continues from the saved step; a top-k cache at another
/// temperature is refused.
@Test func distillWritesALoadableStudentAndResumes() throws {
    let fm = FileManager.default
    let demo = CLI.fixtures.appendingPathComponent("demo").path
    let f = try distillFixture()
    defer { try? fm.removeItem(at: f.dir) }
    let out = f.dir.appendingPathComponent("out").path
    let common = ["distill", demo, "--student", f.student, "--data", f.data, "--out", out, "--context", "16",
                  "--batch-tokens", "32", "--threads", "2", "--save-every", "1", "--seed", "3", "--temperature", "2"]
    var r = try CLI.run(common + ["--tokens", "64"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("step 2/2") && r.stderr.contains("online teacher"), "\(r.stderr)")
    #expect(fm.fileExists(atPath: out + ".checkpoints/step-0000002/optimizer.safetensors"))
    #expect(fm.fileExists(atPath: out + "/tokenizer.json"))
    r = try CLI.run(["perplexity", out, "--data", f.data, "--context", "16"])
    #expect(r.status == 0 && r.stdout.contains("perplexity"), "\(r.stderr)")
    r = try CLI.run(common + ["--tokens", "96", "--resume", "--force"])
    #expect(r.status == 0 && r.stderr.contains("resumed") && r.stderr.contains("step 3/3") && !r.stderr.contains("step 1/"), "\(r.stderr)")

    r = try CLI.run(common + ["--tokens", "64", "--force", "--alpha", "0"])
    #expect(r.status == 0 && r.stderr.contains("cross-entropy only"), "\(r.stderr)")

    let hidden = f.dir.appendingPathComponent("hidden").path
    r = try CLI.run(["teacher-cache", demo, "--data", f.data, "--out", hidden, "--context", "16", "--seed", "3",
                     "--hidden-states", "--tokens", "64"])
    #expect(r.status == 0, "\(r.stderr)")
    r = try CLI.run(common + ["--tokens", "64", "--force", "--teacher-cache", hidden])
    #expect(r.status == 0 && r.stderr.contains("cached-hidden-states"), "\(r.stderr)")
    r = try CLI.run(common + ["--tokens", "128", "--force", "--teacher-cache", hidden])
    #expect(r.status != 0 && r.stderr.contains("extend it"), "\(r.stderr)")

    let topK = f.dir.appendingPathComponent("topk").path
    r = try CLI.run(["teacher-cache", demo, "--data", f.data, "--out", topK, "--context", "16", "--seed", "3",
                     "--temperature", "10", "--tokens", "64"])
    #expect(r.status == 0, "\(r.stderr)")
    r = try CLI.run(common + ["--tokens", "64", "--force", "--teacher-cache", topK])
    #expect(r.status != 0 && r.stderr.contains("temperature"), "\(r.stderr)")
}

/// A vocabulary-pruned student built from the teacher: `prune --vocab-size` makes
/// the vocabulary, `distill --student-vocab --init from-teacher` trains on it (online
/// and from a cache recorded for that vocabulary), and the result carries the
/// student's tokenizer.
@Test func distillsAVocabularyPrunedStudentFromTheTeacher() throws {
    let fm = FileManager.default
    let demo = CLI.fixtures.appendingPathComponent("demo").path
    let f = try distillFixture(student: ["vocab_size": 300])
    defer { try? fm.removeItem(at: f.dir) }
    let vocab = f.dir.appendingPathComponent("vocab").path
    var r = try CLI.run(["prune", demo, "--vocab-corpus", f.data, "--vocab-size", "300", "--out", vocab])
    #expect(r.status == 0 && r.stdout.contains("limited to 300"), "\(r.stdout) \(r.stderr)")
    let out = f.dir.appendingPathComponent("out").path
    let common = ["distill", demo, "--student", f.student, "--data", f.data, "--out", out, "--context", "16",
                  "--batch-tokens", "32", "--threads", "2", "--seed", "3", "--temperature", "2", "--tokens", "64", "--force"]
    r = try CLI.run(common + ["--student-vocab", vocab, "--init", "from-teacher", "--init-calibration-tokens", "64"])
    #expect(r.status == 0 && r.stderr.contains("init from teacher") && r.stderr.contains("step 2/2"), "\(r.stderr)")
    #expect(fm.fileExists(atPath: out + ".checkpoints/init/pruning_report.json"))
    let tokenizer = try String(contentsOfFile: out + "/tokenizer.json", encoding: .utf8)
    #expect(tokenizer == (try String(contentsOfFile: vocab + "/tokenizer.json", encoding: .utf8)))
    r = try CLI.run(["perplexity", out, "--data", f.data, "--context", "16", "--json"])
    #expect(r.status == 0 && r.stdout.contains("bits_per_byte"), "\(r.stderr)")

    // Without --student-vocab the 300-token student is refused, naming the option.
    r = try CLI.run(common)
    #expect(r.status != 0 && r.stderr.contains("--student-vocab"), "\(r.stderr)")

    let cache = f.dir.appendingPathComponent("cache").path
    r = try CLI.run(["teacher-cache", demo, "--data", f.data, "--out", cache, "--context", "16", "--seed", "3",
                     "--hidden-states", "--tokens", "64", "--student-vocab", vocab])
    #expect(r.status == 0, "\(r.stderr)")
    r = try CLI.run(common + ["--student-vocab", vocab, "--teacher-cache", cache])
    #expect(r.status == 0 && r.stderr.contains("cached-hidden-states"), "\(r.stderr)")
}
