import Foundation
import Testing
import VerdantModels
import VerdantTensors
import VerdantTokenizer
import VerdantTraining
@testable import VerdantCompress

/// Vocabulary-pruned students: frequency-limited vocabularies, the student → teacher
/// id map, the restricted teacher and its caches.
@Suite struct StudentVocabularyTests {
    static let teacherDir = Fixtures.model("demo")

    /// The demo teacher pruned to `size` tokens by frequency on the corpus fixture.
    static func prunedVocabulary(size: Int) throws -> String {
        let dir = try Fixtures.temporaryDirectory() + "/vocab"
        var options = PruningOptions()
        options.vocabularyCorpus = PruningFixtures.corpus
        options.vocabularySize = size
        let pruner = try Pruner(directory: teacherDir)
        let (plan, report) = try pruner.makePlan(options, pool: ThreadPool(threads: 1))
        _ = try pruner.write(plan: plan, report: report, to: dir, force: false)
        return dir
    }

    @Test func frequencyLimitedVocabularyHasTheExactSizeAndKeepsMergeChains() throws {
        let json = try VocabularyPrunerTests.json()
        let tokenizer = try Tokenizer(contentsOf: VocabularyPrunerTests.tokenizerPath)
        let documents = try VocabularyPrunerTests.corpus()
        let full = try VocabularyPruner.select(tokenizerJSON: json, tokenizer: tokenizer, documents: documents, requiredIds: [0], rows: 512, threads: 1)
        let limited = try VocabularyPruner.select(tokenizerJSON: json, tokenizer: tokenizer, documents: documents, requiredIds: [0],
                                                  rows: 512, threads: 1, maxTokens: 300)
        #expect(limited.keptIds.count == 300 && limited.stats.sizeLimit == 300)
        #expect((limited.stats.droppedCorpusTokens ?? 0) > 0 && full.keptIds.count > 300)
        let vocab = try VocabularyPruner.Vocabulary(model: try #require(json["model"]))
        let kept = Set(limited.keptIds)
        #expect(VocabularyPruner.mergeClosure(of: kept, vocab: vocab).isSubset(of: kept))
        // The most frequent corpus token survives; the pruned tokenizer still covers any text.
        var counts: [Int: Int] = [:]
        for ids in tokenizer.encodeBatch(documents, addSpecialTokens: false, threads: 1) { for i in ids { counts[i, default: 0] += 1 } }
        #expect(kept.contains(try #require(counts.max { $0.value < $1.value }?.key)))
        #expect(throws: PruningError.self) {
            try VocabularyPruner.select(tokenizerJSON: json, tokenizer: tokenizer, documents: documents, requiredIds: [0], rows: 512, threads: 1, maxTokens: 10)
        }
    }

    @Test func studentIdsMapToTheTeachersByTokenString() throws {
        let dir = try Self.prunedVocabulary(size: 300)
        defer { try? FileManager.default.removeItem(atPath: (dir as NSString).deletingLastPathComponent) }
        let plan = try PruningReport.loadPlan(path: dir + "/pruning_report.json")
        let vocabulary = try StudentVocabulary.load(directory: dir, teacherDirectory: Self.teacherDir, teacherRows: 512)
        #expect(vocabulary.teacherIds.map(Int.init) == plan.vocabulary)
        #expect(vocabulary.isAscending && vocabulary.count == 300)
        // Any text: the student's tokens, mapped, decode to the same text with the teacher's tokenizer.
        let student = try Tokenizer(contentsOf: dir + "/tokenizer.json")
        let teacher = try Tokenizer(contentsOf: Self.teacherDir + "/tokenizer.json")
        let text = "def unusual_name(zeta):\n    return {'k': zeta ** 3}\n"
        #expect(teacher.decode(vocabulary.teacherSequence(student.encode(text, addSpecialTokens: false)), skipSpecialTokens: false) == text)

        // A token the teacher does not have is refused by name.
        var json = try String(contentsOfFile: dir + "/tokenizer.json", encoding: .utf8)
        let bad = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: bad) }
        json = json.replacingOccurrences(of: "\"def\":", with: "\"d€f\":")
        try json.write(toFile: bad + "/tokenizer.json", atomically: true, encoding: .utf8)
        #expect(throws: DistillationError.self) { try StudentVocabulary.load(directory: bad, teacherDirectory: Self.teacherDir, teacherRows: 512) }
    }

    /// Stream of the fixture documents tokenized with the student's tokenizer.
    static func stream(vocabularyDir dir: String, eos: Int) throws -> TokenStream {
        let documents = (0..<10).map { i in
            TrainingDocument(path: "m\(i).py", text: "def f\(i)(x):\n    return x + \(i)\n\nprint(f\(i)(\(i * 7)))\n")
        }
        return try TokenStream(documents: documents, dataHash: 1, tokenizer: try Tokenizer(contentsOf: dir + "/tokenizer.json"),
                               tokenizerHash: try tokenizerFingerprint(directory: dir), eos: eos,
                               options: TokenStreamOptions(context: 16, seed: 3))
    }

    @Test func restrictedTeacherIsTheTeacherRenormalisedOverTheStudentsIds() throws {
        let dir = try Self.prunedVocabulary(size: 300)
        defer { try? FileManager.default.removeItem(atPath: (dir as NSString).deletingLastPathComponent) }
        let vocabulary = try StudentVocabulary.load(directory: dir, teacherDirectory: Self.teacherDir, teacherRows: 512)
        let teacher = try LoadedModel.load(directory: Self.teacherDir).model
        let pool = ThreadPool(threads: 1)
        let stream = try Self.stream(vocabularyDir: dir, eos: try #require(vocabulary.studentId(ofTeacherId: 0)))
        let sequence = stream.sequence(0)
        let C = 16, Vs = vocabulary.count, V = teacher.vocabSize

        // The full teacher on the mapped sequence, its kept columns gathered.
        let kv = teacher.makeCache(capacity: C), ws = Workspace(config: teacher.config)
        try teacher.forward(vocabulary.teacherSequence(Array(sequence.prefix(C))), cache: kv, workspace: ws, pool: pool)
        var full = [Float](repeating: 0, count: C * V)
        teacher.logits(workspace: ws, firstRow: 0, rows: C, into: &full, pool: pool)
        let source = try TeacherSource(online: teacher, context: C, pool: pool, vocabulary: vocabulary)
        #expect(source.vocabSize == Vs)
        try source.prepare(sequence: 0, tokens: sequence)
        let restricted: [Float] = try source.withRows(first: 0, count: C) { rows in
            guard case .logits(let p) = rows else { return [] }
            return Array(UnsafeBufferPointer(start: p, count: C * Vs))
        }
        var worst: Float = 0
        for r in 0..<C { for (i, t) in vocabulary.teacherIds.enumerated() { worst = max(worst, abs(restricted[r * Vs + i] - full[r * V + Int(t)])) } }
        #expect(worst < 1e-5)

        // The loss on those rows is KL(renormalised teacher ‖ student) · T², gradient T·(p_s − q).
        let T: Float = 2
        let loss = try DistillationLoss(temperature: T, alpha: 1)
        var rng = RandomSource(seed: 5)
        let z = (0..<(C * Vs)).map { _ in rng.nextUnitFloat() * 4 - 2 }
        let targets = Array(sequence.dropFirst().prefix(C))
        var gradient = [Float](repeating: 0, count: C * Vs)
        let value = try restricted.withUnsafeBufferPointer { t in
            try loss.evaluate(student: z, teacher: .logits(t.baseAddress!), targets: targets, rows: C, vocab: Vs, gradient: &gradient)
        }
        var kl = 0.0, gradientError = 0.0
        for r in 0..<C {
            let kept = vocabulary.teacherIds.map { Double(full[r * V + Int($0)]) / Double(T) }
            let q = softmax(kept), p = softmax((0..<Vs).map { Double(z[r * Vs + $0]) / Double(T) })
            for j in 0..<Vs where q[j] > 0 { kl += q[j] * (log(q[j]) - log(p[j])) }
            for j in 0..<Vs { gradientError = max(gradientError, abs(Double(gradient[r * Vs + j]) - Double(T) * (p[j] - q[j]))) }
        }
        #expect(abs(value.kl - kl) <= 1e-4 * max(1, kl))
        #expect(abs(value.loss - Double(T * T) * kl) <= 1e-4 * max(1, value.loss))
        #expect(gradientError < 1e-5)
    }

    func softmax(_ x: [Double]) -> [Double] {
        let m = x.max() ?? 0
        let e = x.map { exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    @Test func teacherCachesRecordTheStudentVocabulary() throws {
        let dir = try Self.prunedVocabulary(size: 300)
        let cacheDir = try Fixtures.temporaryDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: (dir as NSString).deletingLastPathComponent)
            try? FileManager.default.removeItem(atPath: cacheDir)
        }
        let vocabulary = try StudentVocabulary.load(directory: dir, teacherDirectory: Self.teacherDir, teacherRows: 512)
        let teacher = try LoadedModel.load(directory: Self.teacherDir).model
        let pool = ThreadPool(threads: 1)
        let stream = try Self.stream(vocabularyDir: dir, eos: try #require(vocabulary.studentId(ofTeacherId: 0)))
        let fingerprint = try teacherFingerprint(directory: Self.teacherDir)
        _ = try TeacherCacheBuilder.build(directory: cacheDir, teacher: teacher, teacherFingerprint: fingerprint, stream: stream,
                                          sequences: 2, content: .hiddenStates, pool: pool, vocabulary: vocabulary)
        let cache = try TeacherCache.open(directory: cacheDir, teacherDirectory: Self.teacherDir, stream: stream)
        #expect(cache.layout.vocabularyFingerprint == vocabulary.fingerprint)
        // Read without the map (the teacher's own vocabulary) or with another: refused.
        #expect(throws: DistillationError.self) { try TeacherSource(cache: cache, teacher: teacher, pool: pool) }
        let other = StudentVocabulary(teacherIds: Array(vocabulary.teacherIds.dropLast()) + [511])
        #expect(throws: DistillationError.self) { try TeacherSource(cache: cache, teacher: teacher, pool: pool, vocabulary: other) }
        // Extending it for another vocabulary is refused too.
        #expect(throws: DistillationError.self) {
            try TeacherCacheBuilder.build(directory: cacheDir, teacher: teacher, teacherFingerprint: fingerprint, stream: stream,
                                          sequences: 3, content: .hiddenStates, pool: pool, vocabulary: other)
        }

        // Cached rows = online rows up to the f16 rounding of the hidden states.
        let cached = try TeacherSource(cache: cache, teacher: teacher, pool: pool, vocabulary: vocabulary)
        let online = try TeacherSource(online: teacher, context: 16, pool: pool, vocabulary: vocabulary)
        for source in [cached, online] { try source.prepare(sequence: 1, tokens: stream.sequence(1)) }
        func rows(_ s: TeacherSource) throws -> [Float] {
            try s.withRows(first: 0, count: 16) { r in
                guard case .logits(let p) = r else { return [] }
                return Array(UnsafeBufferPointer(start: p, count: 16 * 300))
            }
        }
        let a = try rows(cached), b = try rows(online)
        let scale = b.map(abs).max() ?? 1
        #expect(zip(a, b).map { abs($0 - $1) }.max() ?? 1 < 1e-2 * scale)
    }
}
