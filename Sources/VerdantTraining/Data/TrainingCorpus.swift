import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One training document: its `path` (used to split by file) and `text`.
public struct TrainingDocument: Sendable, Equatable {
    public var path: String?
    public var text: String

    public init(path: String?, text: String) {
        self.path = path
        self.text = text
    }
}

/// The documents of a JSON Lines file (`{"path", "text"}` per line), plain or
/// xz-compressed, with a hash of its uncompressed bytes: the same text compressed
/// or not has the same hash.
public struct TrainingCorpus: Sendable {
    public let documents: [TrainingDocument]
    public let contentHash: UInt64
    /// Uncompressed bytes read.
    public let bytes: Int

    public init(documents: [TrainingDocument], contentHash: UInt64, bytes: Int) {
        self.documents = documents
        self.contentHash = contentHash
        self.bytes = bytes
    }

    /// Reads `path`; xz is recognised by its magic bytes, not by the name. Errors name
    /// the file and line: corrupt or truncated xz, a line that is not a JSON object, a
    /// missing or non-string "text", no documents at all.
    public static func read(path: String) throws -> TrainingCorpus {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TrainingError.data("\(path): no such file")
        }
        guard !isDirectory.boolValue else { throw TrainingError.data("\(path) is a directory, not a JSONL file") }
        guard let file = fopen(path, "rb") else { throw TrainingError.data("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { fclose(file) }

        var hash = ContentHash()
        var total = 0
        var documents: [TrainingDocument] = []
        var lines = LineSplitter()
        let consume: (UnsafeRawBufferPointer) throws -> Void = { chunk in
            hash.update(chunk)
            total += chunk.count
            try lines.feed(chunk) { number, line in
                if let d = try parseLine(line, number: number, path: path) { documents.append(d) }
            }
        }

        var input = [UInt8](repeating: 0, count: 1 << 20)
        var decoder: XZDecoder?
        var first = true
        var ended = false
        while true {
            let n = input.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if ferror(file) != 0 { throw TrainingError.data("cannot read \(path): \(String(cString: strerror(errno)))") }
            let last = n < input.count
            if first {
                first = false
                let magic: [UInt8] = [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]
                if n >= 6 && Array(input[0..<6]) == magic { decoder = try XZDecoder() }
            }
            try input.withUnsafeBytes { buffer in
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
                if let decoder {
                    if ended {
                        if n > 0 { throw TrainingError.data("\(path): unexpected bytes after the end of the xz data") }
                    } else {
                        ended = try decoder.decode(chunk, last: last, path: path, sink: consume)
                    }
                } else {
                    try consume(chunk)
                }
            }
            if last { break }
        }
        if decoder != nil && !ended { throw TrainingError.data("\(path): the xz data is truncated") }
        try lines.finish { number, line in
            if let d = try parseLine(line, number: number, path: path) { documents.append(d) }
        }
        if documents.isEmpty { throw TrainingError.data("\(path) holds no documents (empty corpus)") }
        return TrainingCorpus(documents: documents, contentHash: hash.value, bytes: total)
    }
}

/// A JSONL line as a document; nil for a blank line.
private func parseLine(_ line: UnsafeRawBufferPointer, number: Int, path: String) throws -> TrainingDocument? {
    if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return nil }
    guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
        throw TrainingError.data("\(path):\(number): not a JSON object")
    }
    guard let text = object["text"] as? String else {
        throw TrainingError.data("\(path):\(number): no string field \"text\"")
    }
    return TrainingDocument(path: object["path"] as? String, text: text)
}

/// Cuts a byte stream that arrives in arbitrary chunks into lines (numbered from 1).
struct LineSplitter {
    private var pending: [UInt8] = []
    private var number = 0

    mutating func feed(_ chunk: UnsafeRawBufferPointer,
                       _ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        var start = 0
        for i in 0..<chunk.count where chunk[i] == 0x0A {
            number += 1
            if pending.isEmpty {
                try body(number, UnsafeRawBufferPointer(rebasing: chunk[start..<i]))
            } else {
                pending.append(contentsOf: chunk[start..<i])
                try pending.withUnsafeBytes { try body(number, $0) }
                pending.removeAll(keepingCapacity: true)
            }
            start = i + 1
        }
        pending.append(contentsOf: chunk[start..<chunk.count])
    }

    mutating func finish(_ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        guard !pending.isEmpty else { return }
        number += 1
        try pending.withUnsafeBytes { try body(number, $0) }
        pending.removeAll()
    }
}
