import Foundation
import Testing

/// `verdant export-gguf`: a working export, and bad input as a clear error with a non-zero exit.
@Test func exportGGUFWritesAFile() throws {
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-cli-\(UUID().uuidString).gguf")
    defer { try? FileManager.default.removeItem(at: out) }
    let r = try CLI.run(["export-gguf", CLI.fixtures.appendingPathComponent("demo").path, "--out", out.path, "--type", "q8_0"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("wrote") && r.stderr.contains("q8_0"))
    let head = try FileHandle(forReadingFrom: out).readData(ofLength: 4)
    #expect(head == Data("GGUF".utf8))
    // inspect reads it back.
    let i = try CLI.run(["inspect", out.path, "--json"])
    #expect(i.status == 0, "\(i.stderr)")
    #expect(i.stdout.contains("\"architecture\":\"llama\"") && i.stdout.contains("\"q8_0\":15") && i.stdout.contains("\"vocab_size\":512"), "\(i.stdout)")
}

@Test(arguments: [
    (["--type", "q5_k"], "--type"),
    ([], "tokenizer.json"),                        // llama-gqa-f32 has no tokenizer
    (["--no-vocab", "--out-dir-missing"], "/nonexistent-dir"),
    (["--no-vocab", "--model", "rwkv"], "rwkv"),
])
func exportGGUFBadInputs(_ extra: [String], _ mentions: String) throws {
    let fm = FileManager.default
    var model = CLI.fixtures.appendingPathComponent("llama-gqa-f32").path
    var out = fm.temporaryDirectory.appendingPathComponent("verdant-cli-\(UUID().uuidString).gguf").path
    var args = extra
    var scratch: URL? = nil
    defer { if let scratch { try? fm.removeItem(at: scratch) } }
    if let i = args.firstIndex(of: "--out-dir-missing") {
        args.remove(at: i)
        out = "/nonexistent-dir/model.gguf"
    }
    if let i = args.firstIndex(of: "--model") {
        let copy = try CLI.copyOfFixture("llama-gqa-f32")
        scratch = copy
        try Data(#"{"model_type": "\#(args[i + 1])"}"#.utf8).write(to: copy.appendingPathComponent("config.json"))
        model = copy.path
        args.removeSubrange(i...(i + 1))
    }
    let r = try CLI.run(["export-gguf", model, "--out", out] + args)
    #expect(!r.crashed)
    #expect(r.status != 0)
    #expect(r.stderr.contains(mentions), "stderr: \(r.stderr)")
    #expect(!fm.fileExists(atPath: out))
}

/// `generate --prompt-ids` (what scripts/check_gguf_llamacpp.py compares llama.cpp against).
@Test func generateFromTokenIds() throws {
    let fixture = CLI.fixtures.appendingPathComponent("llama-gqa-f32").path
    var r = try CLI.run(["generate", fixture, "--prompt-ids", "209,169,219,110,113,24", "--max-tokens", "4", "--json", "--threads", "1"])
    #expect(r.status == 0, "\(r.stderr)")
    // transformers' greedy continuation (reference.json of the fixture).
    #expect(r.stdout.contains("\"token_ids\":[50,4,33,148]"), "\(r.stdout)")
    for bad in [["--prompt-ids", "1,x", "--json"], ["--prompt-ids", "1", "--prompt", "a", "--json"], ["--prompt-ids", "1"]] {
        r = try CLI.run(["generate", fixture] + bad)
        #expect(!r.crashed && r.status != 0 && r.stderr.contains("--"), "\(bad): \(r.stderr)")
    }
}
