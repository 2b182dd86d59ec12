import Foundation
import Testing
import VerdantModels
import VerdantTensors
import VerdantTokenizer
import VerdantTraining
@testable import VerdantCompress

@Suite struct TeacherCacheTests {
    static let teacherDir = Fixtures.model("demo")

    static func stream(seed: UInt64 = 3) throws -> TokenStream {
        let documents = (0..<10).map { i in
            TrainingDocument(path: "m\(i).py", text: "def f\(i)(x):\n    return x + \(i)\n\nprint(f\(i)(\(i * 7)))\n")
        }
        let tokenizer = try Tokenizer(contentsOf: teacherDir + "/tokenizer.json")
        return try TokenStream(documents: documents, dataHash: 1, tokenizer: tokenizer,
                               tokenizerHash: try tokenizerFingerprint(directory: teacherDir), eos: 0,
                               options: TokenStreamOptions(context: 16, seed: seed))
    }

    static func build(_ dir: String, stream: TokenStream, sequences: Int, temperature: Float = 2) throws -> TeacherCacheReport {
        let teacher = try LoadedModel.load(directory: teacherDir)
        return try TeacherCacheBuilder.build(directory: dir, teacher: teacher.model,
                                             teacherFingerprint: try teacherFingerprint(directory: teacherDir), stream: stream,
                                             sequences: sequences, content: .topK(8, temperature: temperature), pool: ThreadPool(threads: 2))
    }

    @Test func storesTheTeachersTopKForEverySequence() throws {
        let dir = try Fixtures.temporaryDirectory()
        let s = try Self.stream()
        let n = s.sequencesPerEpoch
        let report = try Self.build(dir, stream: s, sequences: n)
        #expect(report.sequences == n && report.resumedFrom == 0)
        let cache = try TeacherCache.open(directory: dir, teacherDirectory: Self.teacherDir, stream: s, temperature: 2)
        #expect(cache.completed == n && cache.layout.idBytes == 2)
        #expect(cache.bytesPerToken == Double(cache.layout.recordBytes) / 16)

        // Batch 1 of 3-sequence batches against the teacher run directly.
        let batches = try s.batches(tokens: nil, batchSequences: 3)
        let batch = batches.batch(1)
        let rows = try cache.rows(for: batch)
        #expect(rows.rows == 3 * 16 && rows.k == 8)
        let teacher = try LoadedModel.load(directory: Self.teacherDir).model
        let pool = ThreadPool(threads: 1)
        let kv = teacher.makeCache(capacity: 16), ws = Workspace(config: teacher.config)
        let V = teacher.vocabSize
        var logits = [Float](repeating: 0, count: 16 * V), scratch = [Float](repeating: 0, count: V)
        var ids = [Int32](repeating: 0, count: 8), p = [Float](repeating: 0, count: 8)
        for (n, sequence) in batch.sequences.enumerated() {
            try teacher.forward(Array(sequence.prefix(16)), cache: kv, workspace: ws, pool: pool)
            kv.reset()
            teacher.logits(workspace: ws, firstRow: 0, rows: 16, into: &logits, pool: pool)
            for r in 0..<16 {
                let tail = logits.withUnsafeBufferPointer {
                    teacherTopK(logits: $0.baseAddress! + r * V, vocab: V, k: 8, temperature: 2, ids: &ids, probabilities: &p, scratch: &scratch)
                }
                let row = n * 16 + r
                #expect(Array(rows.ids[(row * 8)..<(row * 8 + 8)]) == ids)
                for i in 0..<8 { #expect(abs(rows.probabilities[row * 8 + i] - p[i]) <= p[i] / 1024 + 1e-7) }
                #expect(rows.tailMass[row] == tail)
            }
        }
        #expect(throws: DistillationError.self) { try cache.rows(sequences: n..<(n + 1)) }
    }

    @Test func hiddenStatesGiveTheTeachersLogitsBack() throws {
        let dir = try Fixtures.temporaryDirectory()
        let s = try Self.stream()
        let teacher = try LoadedModel.load(directory: Self.teacherDir).model
        let pool = ThreadPool(threads: 2)
        let report = try TeacherCacheBuilder.build(directory: dir, teacher: teacher,
                                                   teacherFingerprint: try teacherFingerprint(directory: Self.teacherDir),
                                                   stream: s, sequences: 3, content: .hiddenStates, pool: pool)
        #expect(report.meanTailMass == nil && report.bytesPerToken == Double(teacher.hiddenSize * 2) + 8.0 / 16)
        let cache = try TeacherCache.open(directory: dir, teacherDirectory: Self.teacherDir, stream: s, temperature: 7)
        let hidden = try cache.hiddenStates(sequences: 2..<3)
        let V = teacher.vocabSize
        var cached = [Float](repeating: 0, count: 16 * V), direct = cached
        TeacherCache.logits(hidden: hidden, rows: 16, teacher: teacher, into: &cached, pool: pool)
        let kv = teacher.makeCache(capacity: 16), ws = Workspace(config: teacher.config)
        try teacher.forward(Array(s.sequence(2).prefix(16)), cache: kv, workspace: ws, pool: pool)
        teacher.logits(workspace: ws, firstRow: 0, rows: 16, into: &direct, pool: pool)
        let worst = zip(cached, direct).map { abs($0 - $1) }.max() ?? 0
        #expect(worst < 0.02)
        #expect(throws: DistillationError.self) { try cache.rows(sequences: 0..<1) }
    }

    @Test func resumesAndExtendsToTheSameBytes() throws {
        let s = try Self.stream()
        let n = s.sequencesPerEpoch
        let whole = try Fixtures.temporaryDirectory(), pieces = try Fixtures.temporaryDirectory()
        _ = try Self.build(whole, stream: s, sequences: n)
        _ = try Self.build(pieces, stream: s, sequences: 3)
        // A run killed mid-chunk: bytes of a half-written record beyond the completed count.
        let path = pieces + "/" + TeacherCache.fileName
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(repeating: 0xAB, count: 100))
        try handle.close()
        let report = try Self.build(pieces, stream: s, sequences: n)
        #expect(report.resumedFrom == 3 && report.sequences == n)
        #expect(FileManager.default.contents(atPath: path) == FileManager.default.contents(atPath: whole + "/" + TeacherCache.fileName))
    }

    @Test func refusesAnotherTeacherDataOrTemperature() throws {
        let dir = try Fixtures.temporaryDirectory()
        let s = try Self.stream()
        _ = try Self.build(dir, stream: s, sequences: 2)
        // Another teacher: the same weights with another config.json.
        let other = try Fixtures.temporaryDirectory() + "/teacher"
        try FileManager.default.copyItem(atPath: Self.teacherDir, toPath: other)
        let config = other + "/config.json"
        var text = try String(contentsOfFile: config, encoding: .utf8)
        text = text.replacingOccurrences(of: "{", with: "{\"note\": 1, ", options: [], range: text.range(of: "{"))
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        #expect(throws: DistillationError.self) { try TeacherCache.open(directory: dir, teacherDirectory: other, stream: s) }
        #expect(throws: DistillationError.self) { try TeacherCache.open(directory: dir, teacherDirectory: Self.teacherDir, stream: try Self.stream(seed: 4)) }
        #expect(throws: DistillationError.self) { try TeacherCache.open(directory: dir, teacherDirectory: Self.teacherDir, stream: s, temperature: 10) }
        // Building into it with other settings is refused too.
        #expect(throws: DistillationError.self) { try Self.build(dir, stream: s, sequences: 2, temperature: 1) }
    }

    @Test func detectsTruncationAndCorruption() throws {
        let dir = try Fixtures.temporaryDirectory()
        let s = try Self.stream()
        _ = try Self.build(dir, stream: s, sequences: 2)
        let path = dir + "/" + TeacherCache.fileName
        guard var bytes = FileManager.default.contents(atPath: path) else { Issue.record("no cache"); return }
        let cache = try TeacherCache(directory: dir)
        // A flipped byte inside record 1.
        bytes[cache.layout.recordOffset(1) + 5] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: path))
        let corrupt = try TeacherCache(directory: dir)
        _ = try corrupt.rows(sequences: 0..<1)
        do {
            _ = try corrupt.rows(sequences: 1..<2)
            Issue.record("corrupt record accepted")
        } catch { #expect("\(error)".contains("corrupt")) }
        // Cut short.
        try bytes.prefix(bytes.count - 10).write(to: URL(fileURLWithPath: path))
        do {
            _ = try TeacherCache(directory: dir)
            Issue.record("truncated cache accepted")
        } catch { #expect("\(error)".contains("truncated")) }
        try Data("not a cache".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: DistillationError.self) { try TeacherCache(directory: dir) }
    }
}

@Suite struct TeacherSourceTests {
    /// Distillation loss of the first sequence's rows 4..<12 against a teacher source.
    func loss(_ source: TeacherSource, stream: TokenStream, student: [Float], vocab: Int) throws -> DistillationLossValue {
        let tokens = stream.sequence(0)
        try source.prepare(sequence: 0, tokens: tokens)
        let targets = Array(tokens[5..<13])
        let loss = try DistillationLoss(temperature: 2, alpha: 0.8)
        return try source.withRows(first: 4, count: 8) { teacher in
            try loss.evaluate(student: student, teacher: teacher, targets: targets, rows: 8, vocab: vocab, gradient: nil)
        }
    }

    @Test func onlineAndCachedTeachersAgree() throws {
        let s = try TeacherCacheTests.stream()
        let teacher = try LoadedModel.load(directory: TeacherCacheTests.teacherDir).model
        let pool = ThreadPool(threads: 2)
        let V = teacher.vocabSize
        let student = (0..<(8 * V)).map { Float(($0 * 7919) % 13) / 13 - 0.5 }
        let online = try loss(try TeacherSource(online: teacher, context: 16, pool: pool), stream: s, student: student, vocab: V)
        let fingerprint = try teacherFingerprint(directory: TeacherCacheTests.teacherDir)
        let hiddenDir = try Fixtures.temporaryDirectory(), topDir = try Fixtures.temporaryDirectory()
        _ = try TeacherCacheBuilder.build(directory: hiddenDir, teacher: teacher, teacherFingerprint: fingerprint, stream: s,
                                          sequences: 1, content: .hiddenStates, pool: pool)
        _ = try TeacherCacheBuilder.build(directory: topDir, teacher: teacher, teacherFingerprint: fingerprint, stream: s,
                                          sequences: 1, content: .topK(V, temperature: 2), pool: pool)
        let hidden = try loss(try TeacherSource(cache: try TeacherCache(directory: hiddenDir), teacher: teacher, pool: pool),
                              stream: s, student: student, vocab: V)
        let top = try loss(try TeacherSource(cache: try TeacherCache(directory: topDir), teacher: nil, pool: pool),
                           stream: s, student: student, vocab: V)
        #expect(abs(hidden.loss - online.loss) < 1e-3 * online.loss)
        #expect(abs(top.loss - online.loss) < 1e-2 * online.loss)
        #expect(throws: DistillationError.self) { try TeacherSource(cache: try TeacherCache(directory: hiddenDir), teacher: nil, pool: pool) }
    }
}
