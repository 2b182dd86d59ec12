import Foundation
import Testing
@testable import VerdantEval

@Test func levenshteinDistances() {
    #expect(levenshtein("kitten", "sitting") == 3)
    #expect(levenshtein("", "abc") == 3)
    #expect(levenshtein("abc", "") == 3)
    #expect(levenshtein("flaw", "lawn") == 2)
    #expect(levenshtein("same", "same") == 0)
    // Code points, as Python counts them: "é" precomposed is one, decomposed two.
    #expect(levenshtein("caf\u{E9}", "cafe\u{301}") == 2)
    #expect(levenshtein("日本語", "日本") == 1)
}

@Test func editSimilarityIsAPercentage() {
    #expect(editSimilarity("", "") == 100)
    #expect(editSimilarity("abc", "abc") == 100)
    #expect(editSimilarity("abc", "xyz") == 0)
    #expect(abs(editSimilarity("abc", "abd") - 100 * (1 - 1.0 / 3)) < 1e-12)
    #expect(abs(editSimilarity("return x", "return y + 1") - 100 * (1 - 5.0 / 12)) < 1e-12)
    // 🙂 is one code point (two UTF-16 units, four UTF-8 bytes).
    #expect(editSimilarity("a🙂", "a") == 50)
}

@Test func predictionIsTheStrippedFirstLine() {
    #expect(firstLine(of: "  return x  \n    y = 2") == "return x")
    #expect(firstLine(of: "a\r\nb") == "a")  // "\r\n" is cut at "\n", then "\r" stripped
    #expect(firstLine(of: "\nfoo") == "")
    #expect(firstLine(of: "no newline ") == "no newline")
    #expect(pythonStrip("\u{1C}\u{A0} x \u{3000}\t") == "x")
    #expect(pythonStrip(" \u{200B}x") == "\u{200B}x")  // zero-width space is not whitespace for Python
}

@Test func exactMatchAndEditSimilarityScores() {
    let score = LineCompletionScore(predictions: ["a = 1", "b", ""], targets: ["a = 1", "c", ""])
    #expect(score.n == 3)
    #expect(abs(score.em - 200.0 / 3) < 1e-12)
    #expect(abs(score.es - 200.0 / 3) < 1e-12)
}

@Test func passAtKIsTheUnbiasedEstimator() {
    func binomial(_ n: Int, _ k: Int) -> Double {
        if k < 0 || k > n { return 0 }
        var r = 1.0
        for i in 0..<k { r = r * Double(n - i) / Double(i + 1) }
        return r
    }
    for (n, c, k) in [(10, 3, 1), (20, 7, 10), (200, 13, 100), (5, 0, 1), (5, 5, 5), (12, 2, 10), (12, 1, 12)] {
        let expected = 1 - binomial(n - c, k) / binomial(n, k)
        #expect(abs(passAtK(n: n, c: c, k: k) - expected) < 1e-9, "n \(n) c \(c) k \(k)")
    }
    #expect(passAtK(n: 10, c: 3, k: 1) == 0.3000000000000001 || abs(passAtK(n: 10, c: 3, k: 1) - 0.3) < 1e-15)
    // k only where every problem has enough samples.
    let mean = meanPassAtK([(n: 12, c: 3), (n: 10, c: 0), (n: 0, c: 0)])
    #expect(mean.keys.sorted() == [1, 10])
    #expect(abs((mean[1] ?? -1) - (3.0 / 12 + 0) / 2) < 1e-12)
}

@Test func stopSequencesEndACompletion() {
    #expect(truncateAtStopSequence("    return 1\n\ndef other():\n    pass") == "    return 1\n")
    #expect(truncateAtStopSequence("    x = 1\n    # inner comment\n    return x\n# top") == "    x = 1\n    # inner comment\n    return x")
    #expect(truncateAtStopSequence("    return 2\nif __name__ == '__main__':") == "    return 2")
    #expect(truncateAtStopSequence("    return 3") == "    return 3")
}

@Test func programIsAssembledAsHumanEvalDoes() {
    let p = CodeProblem(taskID: "x", prompt: "def f():\n", test: "def check(c):\n    assert c() == 1\n", entryPoint: "f")
    #expect(p.program(completion: "    return 1") == "def f():\n    return 1\ndef check(c):\n    assert c() == 1\n\ncheck(f)\n")
}

@Test func badDataFilesNameTheLine() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    func file(_ name: String, _ text: String) throws -> String {
        let path = (dir as NSString).appendingPathComponent(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }
    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }
    let tasks = try file("tasks.jsonl", "{\"context\": \"a\", \"target\": \"b\"}\n\n{\"context\": \"a\"}\n")
    #expect(message { _ = try readLineCompletionTasks(path: tasks) }.contains("tasks.jsonl:3: no string field 'target'"))
    let broken = try file("broken.jsonl", "{\"context\": \"a\", \"target\": \"b\"}\n{not json\n")
    #expect(message { _ = try readLineCompletionTasks(path: broken) }.contains("broken.jsonl:2: not a JSON object"))
    let empty = try file("empty.jsonl", "\n\n")
    #expect(message { _ = try readLineCompletionTasks(path: empty) }.contains("holds no JSON objects"))
    #expect(message { _ = try readLineCompletionTasks(path: dir + "/missing.jsonl") }.contains("missing.jsonl: no such file"))

    let line = "{\"task_id\": \"a\", \"prompt\": \"def f():\\n\", \"test\": \"\", \"entry_point\": \"f\"}\n"
    let twice = try file("twice.jsonl", line + line)
    #expect(message { _ = try readCodeProblems(path: twice) }.contains("twice.jsonl:2: task_id 'a' appears twice"))
    let badEntry = try file("entry.jsonl", line.replacingOccurrences(of: "\"f\"}", with: "\"f); import os; (\"}"))
    #expect(message { _ = try readCodeProblems(path: badEntry) }.contains("not a Python identifier"))
    let problems = try readCodeProblems(path: try file("problems.jsonl", line))
    let samples = try file("samples.jsonl", "{\"task_id\": \"a\", \"completion\": \"\"}\n{\"task_id\": \"b\", \"completion\": \"\"}\n")
    #expect(message { _ = try readCodeSamples(path: samples, problems: problems) }.contains("samples.jsonl:2: task_id 'b' is not in the problems file"))
}
