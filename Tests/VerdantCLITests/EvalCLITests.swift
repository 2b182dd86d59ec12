import Foundation
import Testing

/// Scratch files for one test.
struct Scratch {
    let dir: URL

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    func file(_ name: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: dir) }
}

/// Runs the CLI on its own thread, so that the test runner's few cooperative threads
/// stay free while the process runs.
func runCLI(_ arguments: [String]) async throws -> CLI.Result {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try CLI.run(arguments) }) }.start()
    }
}

func json(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not one JSON object: \(text)")
}

let problemsJSONL = """
{"task_id": "t/add", "prompt": "def add(a, b):\\n", "test": "def check(candidate):\\n    assert candidate(2, 3) == 5\\n", "entry_point": "add"}
{"task_id": "t/neg", "prompt": "def neg(x):\\n", "test": "def check(candidate):\\n    assert candidate(4) == -4\\n", "entry_point": "neg"}

"""

/// Each bad input: a clear message naming the problem, a non-zero exit, no crash.
@Test func evalCommandsRejectBadInput() async throws {
    let s = try Scratch()
    defer { s.remove() }
    let demo = CLI.fixtures.appendingPathComponent("demo").path
    let noTokenizer = CLI.fixtures.appendingPathComponent("llama-gqa-f32").path
    let tasks = try s.file("tasks.jsonl", "{\"context\": \"x = 1\\n\", \"target\": \"y = 2\"}\n")
    let malformed = try s.file("bad.jsonl", "{\"context\": \"x\", \"target\": \"y\"}\n{\"context\": 3, \"target\": \"y\"}\n")
    let problems = try s.file("problems.jsonl", problemsJSONL)
    let strangers = try s.file("strangers.jsonl", "{\"task_id\": \"t/add\", \"completion\": \"\"}\n{\"task_id\": \"t/zzz\", \"completion\": \"\"}\n")
    let cases: [([String], String)] = [
        (["eval", demo, "--task", "summarize", "--data", tasks], "--task"),
        (["eval", demo, "--task", "line-completion", "--data", tasks, "--limit", "0"], "--limit"),
        (["eval", demo, "--task", "line-completion", "--data", s.path("missing.jsonl")], "missing.jsonl"),
        (["eval", demo, "--task", "line-completion", "--data", malformed], "bad.jsonl:2"),
        (["eval", demo, "--task", "line-completion", "--data", tasks, "--context-tokens", "100000"], "context length"),
        (["eval", demo, "--task", "line-completion", "--data", tasks, "--context-tokens", "0"], "--context-tokens"),
        (["eval", noTokenizer, "--task", "line-completion", "--data", tasks], "tokenizer.json"),
        (["eval", demo, "--task", "humaneval", "--data", tasks], "task_id"),
        (["eval", demo, "--task", "line-completion", "--data", tasks, "--predictions", s.path("no/dir/p.jsonl")], "does not exist"),
        (["eval", demo, "--task", "line-completion", "--data", s.dir.path], "is a directory"),
        (["eval", demo, "--task", "humaneval", "--data", problems, "--samples", "0"], "--samples"),
        (["eval-samples", "--problems", s.path("none.jsonl"), "--samples", problems], "none.jsonl"),
        (["eval-samples", "--problems", problems, "--samples", strangers], "strangers.jsonl:2: task_id 't/zzz'"),
        (["eval-samples", "--problems", problems, "--samples", strangers, "--timeout", "0"], "--timeout"),
        (["measure", noTokenizer, "--runs", "0"], "--runs"),
        (["measure", noTokenizer, "--region", "XYZ"], "XYZ"),
        (["measure", noTokenizer, "--region", "FRA", "--carbon-intensity", "50"], "either"),
        (["measure", noTokenizer, "--prompt-tokens", "100000"], "context length"),
        (["measure", "/nonexistent/model"], "config.json"),
        (["compare", demo], "candidate"),
        (["compare", demo, demo, "--report", s.path("report.txt")], ".md"),
        (["compare", demo, "/nonexistent/model"], "/nonexistent/model"),
        (["compare", demo, demo, "--report", s.path("no/such/dir/r.md")], "does not exist"),
    ]
    // Run the cases concurrently: each is a separate process.
    var results: [CLI.Result?] = []
    for r in try await withThrowingTaskGroup(of: (Int, CLI.Result).self, body: { group in
        for (i, c) in cases.enumerated() { group.addTask { (i, try await runCLI(c.0)) } }
        var out = [(Int, CLI.Result)]()
        for try await r in group { out.append(r) }
        return out
    }).sorted(by: { $0.0 < $1.0 }) { results.append(r.1) }
    for ((arguments, mention), result) in zip(cases, results) {
        let r = try #require(result, "\(arguments) did not run")
        #expect(!r.crashed, "\(arguments)")
        #expect(r.status != 0, "\(arguments)")
        #expect(r.stderr.contains(mention), "\(arguments): \(r.stderr)")
        #expect(r.stdout.isEmpty, "\(arguments): stdout \(r.stdout)")
    }
}

@Test func evalSamplesJSON() async throws {
    let s = try Scratch()
    defer { s.remove() }
    let problems = try s.file("problems.jsonl", problemsJSONL)
    let samples = try s.file("samples.jsonl", """
        {"task_id": "t/neg", "completion": "    return -x\\n"}
        {"task_id": "t/add", "completion": "    return a * b\\n"}
        {"task_id": "t/add", "completion": "    while True:\\n        pass\\n"}
        {"task_id": "t/add", "completion": "    return a + b\\n"}
        {"task_id": "t/neg", "completion": "    import os\\n    os.abort()\\n"}
        """)
    let r = try await runCLI(["eval-samples", "--problems", problems, "--samples", samples, "--json", "--timeout", "2"])
    #expect(r.status == 0, "\(r.stderr)")
    let out = try json(r.stdout)
    let results = try #require(out["results"] as? [[String: Any]])
    #expect(results.map { $0["task_id"] as? String } == ["t/neg", "t/add", "t/add", "t/add", "t/neg"])
    #expect(results.map { $0["status"] as? String } == ["passed", "failed", "timeout", "passed", "error"])
    #expect(results.map { $0["passed"] as? Bool } == [true, false, false, true, false])
    let passAtK = try #require(out["pass_at_k"] as? [String: Double])
    #expect(passAtK.keys.sorted() == ["1"])
    // t/add: 1 of 3, t/neg: 1 of 2 → (1/3 + 1/2) / 2
    #expect(abs((passAtK["1"] ?? 0) - (1.0 / 3 + 0.5) / 2) < 1e-9)
    #expect((out["isolation"] as? String)?.isEmpty == false)
    #expect(r.stderr.contains("isolation:"))
}

@Test func lineCompletionJSON() async throws {
    let s = try Scratch()
    defer { s.remove() }
    let demo = CLI.fixtures.appendingPathComponent("demo").path
    let tasks = try s.file("tasks.jsonl", """
        {"context": "import os\\n\\ndef main():\\n    ", "target": "print(os.getcwd())"}
        {"context": "x = 1\\n", "target": "y = 2"}
        """)
    let predictions = s.path("predictions.jsonl")
    let r = try await runCLI(["eval", demo, "--task", "line-completion", "--data", tasks, "--context-tokens", "32",
                         "--limit", "1", "--json", "--predictions", predictions])
    #expect(r.status == 0, "\(r.stderr)")
    let out = try json(r.stdout)
    #expect(out["n"] as? Int == 1)
    #expect(out.keys.sorted() == ["em", "es", "n"])
    let es = try #require(out["es"] as? Double)
    #expect(es >= 0 && es <= 100)
    let lines = try String(contentsOfFile: predictions, encoding: .utf8).split(separator: "\n")
    #expect(lines.count == 1)
    #expect(try json(String(lines[0]))["target"] as? String == "print(os.getcwd())")
}

@Test func measureJSONHasTheIssueKeys() async throws {
    let model = CLI.fixtures.appendingPathComponent("gpt2").path
    let r = try await runCLI(["measure", model, "--prompt-tokens", "8", "--gen-tokens", "4", "--runs", "2", "--json", "--region", "SWE"])
    #expect(r.status == 0, "\(r.stderr)")
    let out = try json(r.stdout)
    for key in ["parameters", "disk_bytes", "flops_per_token", "prefill_tokens_per_s", "decode_tokens_per_s",
                "time_to_first_token_s", "peak_rss_bytes", "energy_joules_per_token", "energy_method", "carbon_g_per_1k_tokens"] {
        #expect(out[key] != nil, "missing \(key)")
    }
    #expect(["rapl", "estimate"].contains(out["energy_method"] as? String ?? ""))
    #expect((out["carbon_intensity_source"] as? String)?.contains("Sweden") == true)
}

@Test func compareWritesAReport() async throws {
    let s = try Scratch()
    defer { s.remove() }
    let demo = CLI.fixtures.appendingPathComponent("demo").path
    let tasks = try s.file("tasks.jsonl", "{\"context\": \"def f():\\n    \", \"target\": \"return 1\"}\n")
    let report = s.path("cmp.md")
    let r = try await runCLI(["compare", demo, demo, "--data", tasks, "--context-tokens", "16", "--prompt-tokens", "8",
                         "--gen-tokens", "2", "--runs", "1", "--report", report, "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let out = try json(r.stdout)
    #expect((out["models"] as? [Any])?.count == 2)
    let ratios = try #require(out["ratios"] as? [[String: Any]])
    #expect(ratios.first?["size"] as? Double == 1)
    let md = try String(contentsOfFile: report, encoding: .utf8)
    #expect(md.contains("## Relative to demo"))
    #expect(md.contains("![ES vs size](cmp-size.svg)"))
    for svg in ["cmp-size.svg", "cmp-energy.svg"] {
        let text = try String(contentsOfFile: s.path(svg), encoding: .utf8)
        #expect(text.hasPrefix("<svg") && text.hasSuffix("</svg>\n"))
    }
    // Only the report and its charts were written (no temporary files left).
    let files = try FileManager.default.contentsOfDirectory(atPath: s.dir.path).sorted()
    #expect(files == ["cmp-energy.svg", "cmp-size.svg", "cmp.md", "tasks.jsonl"])
}

@Test func humanEvalGeneratesAndScores() async throws {
    let s = try Scratch()
    defer { s.remove() }
    let demo = CLI.fixtures.appendingPathComponent("demo").path
    let problems = try s.file("problems.jsonl", problemsJSONL)
    let out = s.path("samples.jsonl")
    let r = try await runCLI(["eval", demo, "--task", "humaneval", "--data", problems, "--samples", "2", "--temperature", "0.8",
                         "--max-tokens", "8", "--timeout", "3", "--samples-out", out, "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let result = try json(r.stdout)
    let passAtK = try #require(result["pass_at_k"] as? [String: Double])
    #expect(passAtK.keys.sorted() == ["1"])
    #expect(result["samples"] as? Int == 4)
    let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
    #expect(lines.count == 4)
    #expect(try lines.map { try json(String($0))["task_id"] as? String } == ["t/add", "t/add", "t/neg", "t/neg"])
    // The saved samples score the same through eval-samples.
    let again = try await runCLI(["eval-samples", "--problems", problems, "--samples", out, "--json", "--timeout", "3"])
    #expect(try json(again.stdout)["pass_at_k"] as? [String: Double] == passAtK)
}
