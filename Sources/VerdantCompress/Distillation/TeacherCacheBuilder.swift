import Foundation
import VerdantModels
import VerdantTensors
import VerdantTraining

/// What building (or extending) a teacher cache did.
public struct TeacherCacheReport: Sendable, Encodable {
    public var path: String
    public var sequences: Int
    /// Sequences the cache already held when this run started.
    public var resumedFrom: Int
    public var tokens: Int
    public var bytesPerToken: Double
    public var fileBytes: Int
    public var teacherSeconds: Double
    /// Teacher positions per second in this run (forward, logits, top-k, write).
    public var tokensPerSecond: Double
    /// Mean teacher probability mass outside the top k over this run's positions
    /// (nil for hidden states): how much of the soft labels the cache cannot hold.
    public var meanTailMass: Double?

    enum CodingKeys: String, CodingKey {
        case path, sequences, tokens
        case resumedFrom = "resumed_from", bytesPerToken = "bytes_per_token", fileBytes = "file_bytes"
        case teacherSeconds = "teacher_seconds", tokensPerSecond = "tokens_per_s", meanTailMass = "mean_tail_mass"
    }
}

/// What a teacher cache stores per position.
public enum TeacherCacheContent: Sendable, Equatable {
    /// The k most probable ids, their probabilities at `temperature`, the rest's mass.
    case topK(Int, temperature: Float)
    /// The final hidden state (f16): the exact full logits row again through the
    /// teacher's output layer, at any temperature.
    case hiddenStates
}

public enum TeacherCacheBuilder {
    /// Runs `teacher` over sequences 0..<sequences of `stream` (inputs only: the
    /// first `context` tokens of each) and stores `content` for every position in
    /// DIR/teacher-cache.bin, continuing a cache DIR already holds for the same
    /// teacher, data and settings. progress(done, total) after each chunk.
    /// `vocabulary`: the stream holds a student vocabulary's ids; the teacher reads
    /// them mapped, top-k rows rank the student's ids (the teacher renormalised
    /// over them), and the map's fingerprint goes into the header.
    public static func build(directory: String, teacher: DecoderModel, teacherFingerprint: String, stream: TokenStream,
                             sequences: Int, content: TeacherCacheContent, pool: ThreadPool,
                             vocabulary: StudentVocabulary? = nil,
                             progress: ((Int, Int) -> Void)? = nil) throws -> TeacherCacheReport {
        let V = vocabulary?.count ?? teacher.vocabSize, C = stream.context, H = teacher.hiddenSize
        let head = try vocabulary?.restrictedHead(of: teacher) ?? teacher.lmHead
        let mapFingerprint = vocabulary?.fingerprint
        let layout: TeacherCacheLayout
        var topK = 0
        var temperature: Float = 1
        switch content {
        case .topK(let k, let t):
            guard k >= 1 && k <= V else { throw DistillationError("--top-k must lie in 1...\(V) (the teacher's vocabulary), got \(k)") }
            guard t.isFinite && t > 0 else { throw DistillationError("--temperature must be a positive number, got \(t)") }
            topK = k
            temperature = t
            layout = .topK(teacherFingerprint: teacherFingerprint, dataFingerprint: stream.fingerprint,
                           context: C, k: k, temperature: t, vocabSize: V, vocabularyFingerprint: mapFingerprint)
        case .hiddenStates:
            layout = .hiddenStates(teacherFingerprint: teacherFingerprint, dataFingerprint: stream.fingerprint,
                                   context: C, hiddenSize: H, vocabSize: V, vocabularyFingerprint: mapFingerprint)
        }
        guard C <= teacher.config.maxPositions else {
            throw DistillationError("context \(C) exceeds the teacher's \(teacher.config.maxPositions) positions")
        }
        guard sequences >= 1 else { throw DistillationError("nothing to cache: 0 sequences") }
        if let bad = stream.tokens.first(where: { $0 < 0 || Int($0) >= V }) {
            throw DistillationError("token id \(bad) of the data is outside the \(vocabulary == nil ? "teacher's" : "student's") vocabulary of \(V) (another tokenizer?)")
        }
        let writer = try TeacherCacheWriter(directory: directory, layout: layout, target: sequences)
        let resumedFrom = writer.completed
        let start = monotonicSeconds()

        let kvCache = teacher.makeCache(capacity: C)
        let workspace = Workspace(config: teacher.config)
        let block = 32
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: block * V)
        defer { logits.deallocate() }
        let chunk = 8
        let records = UnsafeMutableRawPointer.allocate(byteCount: chunk * layout.recordBytes, alignment: 64)
        defer { records.deallocate() }
        let scratchBytes = (V + 2 * topK) * 4

        var g = writer.completed
        var tailSum = 0.0
        progress?(g, sequences)
        while g < sequences {
            let n = min(chunk, sequences - g)
            for s in 0..<n {
                let record = records + s * layout.recordBytes
                memset(record, 0, layout.recordBytes)
                let studentInputs = Array(stream.sequence(g + s).prefix(C))
                let inputs = vocabulary?.teacherSequence(studentInputs) ?? studentInputs
                kvCache.reset()
                try teacher.forward(inputs, cache: kvCache, workspace: workspace, pool: pool)
                if content == .hiddenStates {
                    let hidden = workspace.hiddenStates
                    for i in 0..<(C * H) {
                        record.storeBytes(of: floatToF16(hidden[i]).littleEndian, toByteOffset: layout.hiddenOffset + 2 * i, as: UInt16.self)
                    }
                } else {
                    var row = 0
                    while row < C {
                        let rows = min(block, C - row)
                        head(workspace.hiddenStates + row * H, rows: rows, logits, pool: pool)
                        let first = row
                        pool.runWorkers(rows) { r, w in
                            let scratch = pool.scratch(worker: w, bytes: scratchBytes).assumingMemoryBound(to: Float.self)
                            let ids = UnsafeMutableRawPointer(scratch + V).assumingMemoryBound(to: Int32.self)
                            let probabilities = scratch + V + topK
                            let tail = teacherTopK(logits: logits + r * V, vocab: V, k: topK, temperature: temperature,
                                                   ids: ids, probabilities: probabilities, scratch: scratch)
                            let p = first + r
                            for i in 0..<topK {
                                let at = p * topK + i
                                if layout.idBytes == 2 {
                                    record.storeBytes(of: UInt16(truncatingIfNeeded: ids[i]).littleEndian, toByteOffset: layout.idsOffset + 2 * at, as: UInt16.self)
                                } else {
                                    record.storeBytes(of: UInt32(bitPattern: ids[i]).littleEndian, toByteOffset: layout.idsOffset + 4 * at, as: UInt32.self)
                                }
                                record.storeBytes(of: floatToF16(probabilities[i]).littleEndian, toByteOffset: layout.probabilitiesOffset + 2 * at, as: UInt16.self)
                            }
                            record.storeBytes(of: tail.bitPattern.littleEndian, toByteOffset: layout.tailOffset + 4 * p, as: UInt32.self)
                        }
                        row += rows
                    }
                }
                if content != .hiddenStates {
                    for p in 0..<C {
                        tailSum += Double(Float(bitPattern: UInt32(littleEndian: record.load(fromByteOffset: layout.tailOffset + 4 * p, as: UInt32.self))))
                    }
                }
                let hash = recordHash(UnsafeRawBufferPointer(start: record, count: layout.hashOffset))
                for (i, b) in littleEndian(hash).enumerated() { record.storeBytes(of: b, toByteOffset: layout.hashOffset + i, as: UInt8.self) }
            }
            try writer.append(UnsafeRawBufferPointer(start: records, count: n * layout.recordBytes), count: n)
            g += n
            progress?(g, sequences)
        }
        let seconds = monotonicSeconds() - start
        let computed = (writer.completed - resumedFrom) * C
        return TeacherCacheReport(path: writer.path, sequences: writer.completed, resumedFrom: resumedFrom,
                                  tokens: writer.completed * C, bytesPerToken: layout.bytesPerToken,
                                  fileBytes: layout.recordOffset(writer.completed), teacherSeconds: seconds,
                                  tokensPerSecond: seconds > 0 ? Double(computed) / seconds : 0,
                                  meanTailMass: content == .hiddenStates || computed == 0 ? nil : tailSum / Double(computed))
    }
}
