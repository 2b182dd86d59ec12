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
              {"name": "activation", "choices": ["silu", "relu"]}, {"name": "vocab_size", "choices": [256, 512]},
              {"name": "context_length", "choices": [64, 128]}, {"name": "tied_embeddings", "choices": [true, false]},
              {"name": "learning_rate", "choices": [0.001, 0.003]}, {"name": "batch_size", "choices": [2, 4]}]}
            """#
        try Data(spaceJSON.utf8).write(to: URL(fileURLWithPath: space))
    }

    func arguments(out: String, samples: Int = 3, budget: String = "0.12") -> [String] {
        ["search", teacher, "--budget-mb", budget, "--data", data, "--space", space, "--samples", "\(samples)",
         "--generations", "2", "--population", "4", "--tokens-per-sample", "128", "--context", "32", "--tasks", tasks,
         "--tasks-limit", "2", "--eval-tokens", "48", "--cost-points", "5", "--hold-out", "0.2", "--threads", "2", "--out", out]
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
            #expect(int("vocab_size") == 512, "the vocabulary gene is the teacher's until pruned vocabularies distil")
        }
        #expect((front["samples"] as? [Any])?.count == 3)
        #expect((search["surrogate"] as? [Any])?.count == 2)
        let report = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
        #expect(report.contains("](front-size.svg)") && report.contains("](front-energy.svg)"))
        #expect(FileManager.default.fileExists(atPath: out + "/front-size.svg"))
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
