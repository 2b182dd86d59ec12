import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VerdantModels
import VerdantTensors
import VerdantTraining

/// The top-k teacher rows of some positions, ready for `DistillationLoss`
/// (`DistillationTeacher.topK`): ids [rows, k], probabilities at the cache's
/// temperature [rows, k], remaining mass [rows].
public struct TeacherRows: Sendable, Equatable {
    public var rows: Int
    public var k: Int
    public var ids: [Int32]
    public var probabilities: [Float]
    public var tailMass: [Float]
}

/// A teacher cache opened for reading (memory-mapped). Row r of sequence g is the
/// teacher's prediction after input position r of sequence g of the token stream,
/// i.e. for target token sequence[r + 1].
public final class TeacherCache: @unchecked Sendable {
    public static let fileName = "teacher-cache.bin"

    public let path: String
    public let layout: TeacherCacheLayout
    /// Sequences the cache holds (0..<completed).
    public let completed: Int
    /// Sequences the run that wrote it set out to cover.
    public let target: Int
    private let base: UnsafeMutableRawPointer
    private let mappedBytes: Int

    public var bytesPerToken: Double { layout.bytesPerToken }

    /// Opens DIR/teacher-cache.bin and checks its structure (header, size).
    public init(directory: String) throws {
        path = (directory as NSString).appendingPathComponent(Self.fileName)
        let fd = openFile(path, O_RDONLY)
        guard fd >= 0 else { throw DistillationError("cannot open teacher cache \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw DistillationError("cannot stat \(path)") }
        let size = Int(info.st_size)
        guard size >= TeacherCacheLayout.headerBytes else {
            throw DistillationError("\(path) is truncated: \(size) bytes, shorter than the \(TeacherCacheLayout.headerBytes)-byte header")
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw DistillationError("cannot map \(path): \(String(cString: strerror(errno)))")
        }
        base = p
        mappedBytes = size
        let header: TeacherCacheHeader
        do {
            header = try TeacherCacheHeader.decode(UnsafeRawBufferPointer(start: p, count: size), path: path)
        } catch {
            munmap(p, size)
            throw error
        }
        layout = header.layout
        completed = header.completed
        target = header.target
        let needed = layout.recordOffset(completed)
        guard size >= needed else {
            munmap(p, size)
            throw DistillationError("\(path) is truncated: it claims \(completed) sequences (\(needed) bytes) but has \(size) bytes")
        }
    }

    deinit { munmap(base, mappedBytes) }

    /// Opens the cache and checks that it was made by this teacher (fingerprint of
    /// TEACHER_DIR) for this token stream, at `temperature` when given.
    public static func open(directory: String, teacherDirectory: String, stream: TokenStream,
                            temperature: Float? = nil) throws -> TeacherCache {
        let cache = try TeacherCache(directory: directory)
        try cache.validate(teacherFingerprint: try VerdantCompress.teacherFingerprint(directory: teacherDirectory),
                           dataFingerprint: stream.fingerprint, context: stream.context, temperature: temperature)
        return cache
    }

    public func validate(teacherFingerprint: String, dataFingerprint: String, context: Int, temperature: Float?) throws {
        guard layout.teacherFingerprint == teacherFingerprint else {
            throw DistillationError("\(path) was made by another teacher (fingerprint \(layout.teacherFingerprint), this teacher is \(teacherFingerprint))")
        }
        guard layout.context == context else {
            throw DistillationError("\(path) was made with context \(layout.context), this run uses \(context)")
        }
        guard layout.dataFingerprint == dataFingerprint else {
            throw DistillationError("\(path) was made for other training data (stream fingerprint \(layout.dataFingerprint), this run's is \(dataFingerprint)): different data file, tokenizer, seed or split")
        }
        if let temperature, let stored = layout.temperature, temperature != stored {
            throw DistillationError("\(path) holds teacher probabilities at temperature \(stored), this run uses \(temperature)")
        }
    }

    /// The record of sequence g, its checksum verified.
    private func record(_ g: Int) throws -> UnsafeRawBufferPointer {
        guard g >= 0 && g < completed else {
            throw DistillationError("\(path) holds \(completed) sequences; sequence \(g) was asked for (the run needs more tokens than were cached: extend it with `verdant teacher-cache --tokens`)")
        }
        let record = UnsafeRawBufferPointer(start: base + layout.recordOffset(g), count: layout.recordBytes)
        let stored = readLittleEndian(record, layout.hashOffset)
        guard recordHash(UnsafeRawBufferPointer(rebasing: record[0..<layout.hashOffset])) == stored else {
            throw DistillationError("\(path): record of sequence \(g) is corrupt (checksum mismatch)")
        }
        return record
    }

    /// The teacher's final hidden states of sequences `sequences` ([n · context,
    /// hidden]) from a hidden-state cache. `TeacherCache.logits` turns rows of them
    /// into the teacher's logits.
    public func hiddenStates(sequences: Range<Int>) throws -> [Float] {
        guard layout.content == .hiddenStates else { throw DistillationError("\(path) holds top-k rows, not hidden states") }
        let count = layout.context * layout.hiddenSize
        var out = [Float](repeating: 0, count: sequences.count * count)
        for (n, g) in sequences.enumerated() {
            let record = try record(g)
            for i in 0..<count {
                out[n * count + i] = f16ToFloat(record.loadUnaligned(fromByteOffset: layout.hiddenOffset + 2 * i, as: UInt16.self).littleEndian)
            }
        }
        return out
    }

    /// The teacher's logits [rows, vocab] of cached hidden states [rows, hidden]:
    /// its output layer, as in inference.
    public static func logits(hidden: UnsafePointer<Float>, rows: Int, teacher: DecoderModel,
                              into out: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        teacher.lmHead(hidden, rows: rows, out, pool: pool)
    }

    /// The teacher rows of sequences `sequences` (each `context` rows), in order.
    public func rows(sequences: Range<Int>) throws -> TeacherRows {
        guard layout.content == .topK else { throw DistillationError("\(path) holds hidden states, not top-k rows") }
        let k = layout.topK, C = layout.context
        var out = TeacherRows(rows: sequences.count * C, k: k,
                              ids: [Int32](repeating: 0, count: sequences.count * C * k),
                              probabilities: [Float](repeating: 0, count: sequences.count * C * k),
                              tailMass: [Float](repeating: 0, count: sequences.count * C))
        for (n, g) in sequences.enumerated() {
            let record = try record(g)
            let count = C * k
            let idBase = n * count
            if layout.idBytes == 2 {
                for i in 0..<count { out.ids[idBase + i] = Int32(record.loadUnaligned(fromByteOffset: layout.idsOffset + 2 * i, as: UInt16.self).littleEndian) }
            } else {
                for i in 0..<count { out.ids[idBase + i] = Int32(bitPattern: record.loadUnaligned(fromByteOffset: layout.idsOffset + 4 * i, as: UInt32.self).littleEndian) }
            }
            for i in 0..<count {
                out.probabilities[idBase + i] = f16ToFloat(record.loadUnaligned(fromByteOffset: layout.probabilitiesOffset + 2 * i, as: UInt16.self).littleEndian)
            }
            for r in 0..<C {
                out.tailMass[n * C + r] = Float(bitPattern: record.loadUnaligned(fromByteOffset: layout.tailOffset + 4 * r, as: UInt32.self).littleEndian)
            }
        }
        return out
    }

    /// The teacher rows of a batch of the token stream.
    public func rows(for batch: TokenBatch) throws -> TeacherRows {
        try rows(sequences: batch.firstSequence..<(batch.firstSequence + batch.sequences.count))
    }
}

/// open(2), out of reach of the static `open` above.
func openFile(_ path: String, _ flags: Int32) -> Int32 { open(path, flags) }
