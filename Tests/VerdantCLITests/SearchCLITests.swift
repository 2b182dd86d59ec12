import Foundation
import Testing

/// `verdant search` on the demo teacher (llama, V = 512, hidden 64): a space of students a
/// few tens of kilobytes large, a few hundred tokens each, so a whole search takes seconds.
private struct SearchFixture {
    let dir: URL
    var data: String { dir.appendingPathComponent("train.jsonl").path }
    var tasks: String { dir.appendingPathComponent("tasks.jsonl").path }
    var space: String { dir.appendingPathComponent("space.json").path }
    let teacher = CLI.fixtures.appendingPathComponent("demo").path

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-search-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let text = (0..<60).map { #"{"text": "def f\#($0)(x):\n    return x * \#($0) + 1\n", "path": "f\#($0).py"}"# }
        try Data(text.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: data))
        let taskLines = (0..<3).map { #"{"context": "def f\#($0)(x):\n", "target": "return x * \#($0) + 1"}"# }
        try Data(taskLines.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: tasks))
        let spaceJSON = #"""
            {"architecture": "llama", "genes": [
              {"name": "layers", "range": [1, 2]}, {"name": "hidden_size", "range": [32, 64], "step": 32},
              {"name": "attention_heads", "range": [1, 2]}, {"name": "kv_heads", "range": [1, 2]},
              {"name": "head_size", "choices": [16, 32]}, {"name": "intermediate_size", "range": [32, 128], "step": 32},
              {"name": "activation", "choices": ["silu", "relu"]}, {"name": "vocab_size", "choices": [300, 512]},
              {"name": "context_length", "choices": [64, 128]}, {"name": "tied_embeddings", "choices": [true, false]},
              {"name": "learning_rate", "choices": [0.001, 0.003]}, {"name": "batch_size", "choices": [2, 4]}]}
            """#
        try Data(spaceJSON.utf8).write(to: URL(fileURLWithPath: space))
    }

    func arguments(out: String, samples: Int = 3, budget: String = "0.12", space: String? = nil) -> [String] {
        ["search", teacher, "--budget-mb", budget, "--data", data, "--space", space ?? self.space, "--samples", "\(samples)",
         "--generations", "2", "--population", "4", "--tokens-per-sample", "128", "--context", "32", "--tasks", tasks,
         "--tasks-limit", "2", "--eval-tokens", "48", "--cost-points", "5", "--hold-out", "0.2", "--threads", "2", "--out", out]
    }

    /// A space of 12 students whose only choices are layers, FFN width and the vocabulary
    /// (300 pruned ids or the teacher's 512): farthest-point sampling takes both vocabularies
    /// by its second sample, and the smallest student — on every front, as size is an
    /// objective — has the pruned one.
    func vocabularySpace() throws -> String {
        let path = dir.appendingPathComponent("vocab-space.json").path
        let json = #"""
            {"architecture": "llama", "genes": [
              {"name": "layers", "range": [1, 2]}, {"name": "hidden_size", "choices": [32]},
              {"name": "attention_heads", "choices": [2]}, {"name": "kv_heads", "choices": [1]},
              {"name": "head_size", "choices": [16]}, {"name": "intermediate_size", "range": [32, 96], "step": 32},
              {"name": "activation", "choices": ["silu"]}, {"name": "vocab_size", "choices": [300, 512]},
              {"name": "context_length", "choices": [64]}, {"name": "tied_embeddings", "choices": [true]},
              {"name": "learning_rate", "choices": [0.003]}, {"name": "batch_size", "choices": [2]}]}
            """#
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func front(_ out: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: out).appendingPathComponent("front.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}

@Suite(.serialized) struct SearchCLITests {
    /// A whole search: samples distilled and scored, a front whose every member keeps the shape
    /// rules and the budget, the report with its two plots.
    @Test func searchesEndToEnd() throws {
        let f = try SearchFixture()
        defer { try? FileManager.default.removeItem(at: f.dir) }
        let out = f.dir.appendingPathComponent("out").path
        let r = try CLI.run(f.arguments(out: out))
        #expect(r.status == 0, "\(r.stderr)")
        let front = try f.front(out)
        let search = try #require(front["search"] as? [String: Any])
        let members = try #require(search["front"] as? [[String: Any]])
        #expect(!members.isEmpty)
        for m in members {
            let genes = try #require(m["genes"] as? [String: String])
            func int(_ k: String) -> Int { Int(genes[k] ?? "") ?? -1 }
            #expect((m["bytes"] as? Int ?? .max) <= 120_000)
            #expect(int("hidden_size") == int("attention_heads") * int("head_size"))
            #expect(int("attention_heads") % int("kv_heads") == 0)
            #expect([300, 512].contains(int("vocab_size")))
        }
        #expect((front["samples"] as? [Any])?.count == 3)
        #expect((search["surrogate"] as? [Any])?.count == 2)
        let report = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
        #expect(report.contains("](front-size.svg)") && report.contains("](front-energy.svg)"))
        #expect(FileManager.default.fileExists(atPath: out + "/front-size.svg"))
    }

    /// The vocab_size gene realised: samples in both vocabularies (the pruned one built once in
    /// OUT with its own teacher cache), bits per byte recorded for all, and a final student
    /// whose checkpoint loads and carries the pruned tokenizer. A rerun reuses everything.
    @Test func vocabularyGeneIsRealisedByPruning() throws {
        let f = try SearchFixture()
        defer { try? FileManager.default.removeItem(at: f.dir) }
        let out = f.dir.appendingPathComponent("out").path
        let args = f.arguments(out: out, space: try f.vocabularySpace()) + ["--distill-top", "2", "--final-tokens", "128", "--indicator", "bpb"]
        let r = try CLI.run(args)
        #expect(r.status == 0, "\(r.stderr)")
        let front = try f.front(out)
        let samples = try #require(front["samples"] as? [[String: Any]])
        let vocabularies = Set(samples.compactMap { ($0["genes"] as? String)?.firstMatch(of: /vocab_size=(\d+)/).map { String($0.1) } })
        #expect(vocabularies == ["300", "512"], "\(samples.map { $0["genes"] ?? "" })")
        for s in samples { #expect(((s["metrics"] as? [String: Any])?["bitsPerByte"] as? Double ?? 0) > 0) }
        let fm = FileManager.default
        #expect(fm.fileExists(atPath: out + "/vocab-300/tokenizer.json") && fm.fileExists(atPath: out + "/teacher-cache-v300"))
        #expect(!fm.fileExists(atPath: out + "/vocab-512"), "the teacher's own vocabulary is not pruned")
        let finals = try #require(front["finals"] as? [[String: Any]])
        let pruned = finals.filter { ($0["genes"] as? [String: String])?["vocab_size"] == "300" }
        #expect(!pruned.isEmpty, "\(finals)")
        for x in finals {
            let dir = try #require(x["directory"] as? String)
            let size = Int((x["genes"] as? [String: String])?["vocab_size"] ?? "") ?? -1
            let inspect = try CLI.run(["inspect", dir, "--json"])
            #expect(inspect.status == 0 && inspect.stdout.contains("\"vocab_size\":\(size)"), "\(inspect.stdout) \(inspect.stderr)")
            let tokenizer = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/tokenizer.json"))) as? [String: Any]
            let model = tokenizer?["model"] as? [String: Any]
            let ids = Set(((model?["vocab"] as? [String: Int]) ?? [:]).values)
                .union(((tokenizer?["added_tokens"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? Int })
            #expect(ids.count == size, "\(dir): \(ids.count) tokens")
            let generate = try CLI.run(["generate", dir, "--prompt", "def f(", "--max-tokens", "4", "--threads", "1"])
            #expect(generate.status == 0, "\(generate.stderr)")
        }
        // A rerun reuses the samples, the vocabulary and the final students.
        let again = try CLI.run(args)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(!again.stderr.contains("sample 1/") && !again.stderr.contains("pruning the teacher") && !again.stderr.contains("final 1/"), "\(again.stderr)")
    }

    /// --init from-teacher: the search runs with every student cut from the teacher (the
    /// solver admits only cut-able ones), and a resume with another --init is refused.
    @Test func fromTeacherInitialisationIsHeldToTheTeacherAndRecorded() throws {
        let f = try SearchFixture()
        defer { try? FileManager.default.removeItem(at: f.dir) }
        let out = f.dir.appendingPathComponent("out").path
        let args = f.arguments(out: out) + ["--init", "from-teacher", "--init-calibration-tokens", "64", "--indicator", "bpb"]
        let r = try CLI.run(args)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("init from teacher"), "\(r.stderr)")
        let front = try f.front(out)
        let members = ((front["search"] as? [String: Any])?["front"] as? [[String: Any]]) ?? []
        let samples = (front["samples"] as? [[String: Any]]) ?? []
        #expect(!members.isEmpty)
        // The demo teacher: 2 layers, hidden 64, 4 heads over 2 KV heads of 16, FFN 128, silu, tied, 512 ids.
        let genes = members.compactMap { $0["genes"] as? [String: String] }
            + samples.compactMap { s in (s["genes"] as? String).map { g in
                Dictionary(uniqueKeysWithValues: g.split(separator: " ").compactMap { kv -> (String, String)? in
                    let p = kv.split(separator: "=", maxSplits: 1).map(String.init)
                    return p.count == 2 ? (p[0], p[1]) : nil
                }) } }
        #expect(genes.count == members.count + 3)
        for g in genes {
            func int(_ k: String) -> Int { Int(g[k] ?? "") ?? -1 }
            #expect(int("head_size") == 16 && g["activation"] == "silu" && g["tied_embeddings"] == "true", "\(g)")
            #expect(int("layers") <= 2 && int("hidden_size") <= 64 && int("intermediate_size") <= 128, "\(g)")
            #expect(int("attention_heads") <= 2 * int("kv_heads") && int("kv_heads") <= 2, "\(g)")
        }
        let other = try CLI.run(f.arguments(out: out) + ["--indicator", "bpb"])
        #expect(other.status != 0 && !other.crashed)
        #expect(other.stderr.contains("other settings") && other.stderr.contains("init"), "\(other.stderr)")
    }

    /// A search stopped after 3 of 4 samples and resumed finds what an uninterrupted one finds
    /// (the cost calibration, a timing, is shared so only the search itself is compared).
    @Test func resumedSearchEqualsUninterrupted() throws {
        let f = try SearchFixture()
        defer { try? FileManager.default.removeItem(at: f.dir) }
        let whole = f.dir.appendingPathComponent("whole").path, resumed = f.dir.appendingPathComponent("resumed").path
        let a = try CLI.run(f.arguments(out: whole, samples: 4))
        #expect(a.status == 0, "\(a.stderr)")
        try FileManager.default.createDirectory(atPath: resumed, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: whole + "/cost-calibration.json", toPath: resumed + "/cost-calibration.json")
        let first = try CLI.run(f.arguments(out: resumed, samples: 3))
        #expect(first.status == 0, "\(first.stderr)")
        let second = try CLI.run(f.arguments(out: resumed, samples: 4))
        #expect(second.status == 0, "\(second.stderr)")
        // Only the fourth sample is distilled on the resume.
        #expect(!second.stderr.contains("sample 1/4") && second.stderr.contains("sample 4/4"), "\(second.stderr)")
        func summary(_ out: String) throws -> (String, String) {
            let front = try f.front(out)
            let search = front["search"] as? [String: Any] ?? [:]
            let configurations = (search["front"] as? [[String: Any]] ?? []).map { "\($0["configuration"] ?? "")" }
            let samples = (front["samples"] as? [[String: Any]] ?? []).map { s -> String in
                let m = s["metrics"] as? [String: Any] ?? [:]
                return "\(s["configuration"] ?? "") \(m["perplexity"] ?? "") \(m["es"] ?? "")"
            }
            return (configurations.joined(separator: ";"), samples.joined(separator: ";"))
        }
        let (wf, ws) = try summary(whole), (rf, rs) = try summary(resumed)
        #expect(wf == rf)
        #expect(ws == rs)
    }

    /// Bad input is a clear error with a non-zero exit, never a crash.
    @Test(arguments: [
        ("BUDGET:0.001", "smallest configuration"),
        ("DATA:missing", "no such file"),
        ("SPACE:malformed", "is empty"),
        ("SPACE:missing", "no such file"),
        ("--samples=1", "--samples"),
        ("--format=q3", "--format"),
        ("--indicator=es-without-tasks", "--indicator es needs --tasks"),
        ("--indicator=log-ppl", "bpb"),
        ("--init=magic", "--init"),
        ("SPACE:tiny-vocab", "vocab_size 100"),
    ])
    func badInputIsAClearError(_ change: String, _ mentions: String) throws {
        let f = try SearchFixture()
        defer { try? FileManager.default.removeItem(at: f.dir) }
        var args = f.arguments(out: f.dir.appendingPathComponent("out").path)
        func set(_ flag: String, _ value: String) {
            if let i = args.firstIndex(of: flag) { args[i + 1] = value } else { args += [flag, value] }
        }
        switch change {
        case "BUDGET:0.001": set("--budget-mb", "0.001")
        case "DATA:missing": set("--data", f.dir.appendingPathComponent("nope.jsonl").path)
        case "SPACE:malformed":
            try Data(#"{"genes": [{"name": "layers", "range": [3, 1]}]}"#.utf8).write(to: URL(fileURLWithPath: f.space))
        case "SPACE:missing": set("--space", f.dir.appendingPathComponent("nope.json").path)
        case "SPACE:tiny-vocab":
            // Below the 256 byte tokens every pruned vocabulary keeps: refused when first needed.
            let space = try String(contentsOfFile: try f.vocabularySpace(), encoding: .utf8).replacingOccurrences(of: "[300, 512]", with: "[100]")
            try Data(space.utf8).write(to: URL(fileURLWithPath: f.space))
        case "--indicator=es-without-tasks":
            if let i = args.firstIndex(of: "--tasks") { args.removeSubrange(i...(i + 1)) }
            set("--indicator", "es")
        default:
            let parts = change.split(separator: "=").map(String.init)
            set(parts[0], parts[1])
        }
        let r = try CLI.run(args)
        #expect(r.status != 0 && !r.crashed)
        #expect(r.stderr.contains(mentions), "\(r.stderr)")
    }

    /// A resumed search must be the same search: other settings in the same OUT are refused.
    @Test func otherSettingsInTheSameDirectoryAreRefused() throws {
        let f = try SearchFixture()
        defer { try? FileManager.default.removeItem(at: f.dir) }
        let out = f.dir.appendingPathComponent("out").path
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var settings = f.arguments(out: out)
        if let i = settings.firstIndex(of: "--tokens-per-sample") { settings[i + 1] = "64" }
        let data = #"{"budgetBytes": 1, "context": 32, "data": "x", "evalTokens": 48, "format": "bf16", "holdOut": 0.2, "seed": 1, "space": "", "pool": 400, "tasksLimit": 2, "teacher": "t", "temperature": 10, "tokensPerSample": 64}"#
        try Data(data.utf8).write(to: URL(fileURLWithPath: out + "/settings.json"))
        let r = try CLI.run(settings)
        #expect(r.status != 0 && !r.crashed)
        #expect(r.stderr.contains("other settings"), "\(r.stderr)")
    }
}
