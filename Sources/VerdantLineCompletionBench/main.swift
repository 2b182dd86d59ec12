// Benchmark-only line-completion edit similarity, used by scripts/bench_pruning.py to measure
// pruned models (`verdant eval --task line-completion` is the project's tool once it lands).
//
//   VerdantLineCompletionBench MODEL_DIR TASKS.jsonl [--threads N] [--limit N] [--json OUT]
//
// Protocol: the task's `context` is tokenized without special tokens and left-truncated to its
// last 448 tokens; greedy decoding until the first token containing a newline (or EOS), at most 64
// new tokens; the prediction is the decoded text before the first newline, stripped;
// ES = 100 × (1 − Levenshtein(prediction, target) / max(len)) over characters, target stripped;
// EM = exact match. Prints {"es", "em", "tasks", "seconds", "predictions"} as JSON.
import Foundation
import VerdantModels
import VerdantTensors
import VerdantTokenizer

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(1)
}

func levenshtein(_ a: [Character], _ b: [Character]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

func editSimilarity(_ p: String, _ t: String) -> Double {
    let a = Array(p), b = Array(t)
    if a.isEmpty && b.isEmpty { return 100 }
    return 100 * (1 - Double(levenshtein(a, b)) / Double(max(a.count, b.count)))
}

var args = Array(CommandLine.arguments.dropFirst())
@MainActor func option(_ name: String) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    let v = args[i + 1]
    args.removeSubrange(i...(i + 1))
    return v
}
let threads = Int(option("--threads") ?? "") ?? ProcessInfo.processInfo.activeProcessorCount
let limit = Int(option("--limit") ?? "")
let jsonOut = option("--json")
guard args.count == 2 else { fail("usage: VerdantLineCompletionBench MODEL_DIR TASKS.jsonl [--threads N] [--limit N] [--json OUT]") }

do {
    let loaded = try LoadedModel.load(directory: args[0])
    let tokenizer = try Tokenizer(contentsOf: args[0])
    let model = loaded.model
    var stops = Set(loaded.config.eosTokenIds)
    for id in 0..<model.vocabSize where tokenizer.decode([id]).contains("\n") { stops.insert(id) }
    guard let data = FileManager.default.contents(atPath: args[1]), let text = String(data: data, encoding: .utf8) else {
        fail("cannot read \(args[1])")
    }
    var tasks: [(String, String)] = []
    for line in text.split(separator: "\n") where !line.isEmpty {
        guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let c = o["context"] as? String, let t = o["target"] as? String else { fail("bad task line in \(args[1])") }
        tasks.append((c, t))
    }
    if let limit { tasks = Array(tasks.prefix(limit)) }
    let pool = ThreadPool(threads: threads)
    let start = Date()
    var es = 0.0, em = 0
    var predictions: [String] = []
    for (context, target) in tasks {
        let ids = Array(tokenizer.encode(context).suffix(448))
        let result = try model.generate(prompt: ids, maxTokens: 64, sampling: SamplingOptions(), stopTokens: stops, pool: pool)
        let full = tokenizer.decode(result.tokens)
        let prediction = String(full.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            .trimmingCharacters(in: .whitespaces)
        let t = target.trimmingCharacters(in: .whitespaces)
        es += editSimilarity(prediction, t)
        if prediction == t { em += 1 }
        predictions.append(prediction)
    }
    let out: [String: Any] = ["es": es / Double(tasks.count), "em": 100 * Double(em) / Double(tasks.count),
                              "tasks": tasks.count, "seconds": Date().timeIntervalSince(start), "predictions": predictions]
    let json = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
    if let jsonOut { try json.write(to: URL(fileURLWithPath: jsonOut)) }
    print(String(format: "ES %.2f  EM %.2f  (%d tasks, %.0f s)", es / Double(tasks.count), 100 * Double(em) / Double(tasks.count),
                 tasks.count, Date().timeIntervalSince(start)))
} catch {
    fail("error: \(error)")
}
