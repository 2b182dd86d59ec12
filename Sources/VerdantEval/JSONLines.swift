import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One object of a JSON Lines file with its 1-based line number (for error messages).
public struct JSONLine {
    public let number: Int
    public let object: [String: Any]

    /// The string field `name`, or a DataError naming the file and line.
    public func string(_ name: String, path: String) throws -> String {
        guard let value = object[name] as? String else {
            throw DataError("\(path):\(number): no string field '\(name)'")
        }
        return value
    }
}

/// The objects of a JSON Lines file. Blank lines are skipped; a line that is not a
/// JSON object is an error naming the file and line; so is a file with no objects.
public func readJSONLines(path: String) throws -> [JSONLine] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw DataError("\(path): no such file")
    }
    guard !isDirectory.boolValue else { throw DataError("\(path) is a directory, not a JSONL file") }
    guard let data = FileManager.default.contents(atPath: path) else { throw DataError("cannot read \(path)") }
    guard let text = String(data: data, encoding: .utf8) else { throw DataError("\(path) is not UTF-8 text") }
    var lines: [JSONLine] = []
    for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        if line.allSatisfy(\.isWhitespace) { continue }
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw DataError("\(path):\(n + 1): not a JSON object")
        }
        lines.append(JSONLine(number: n + 1, object: object))
    }
    if lines.isEmpty { throw DataError("\(path) holds no JSON objects") }
    return lines
}

/// Writes `data` to `path` atomically: a temporary file in the same directory,
/// then rename, so a reader never sees a half-written file.
public func writeAtomically(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let directory = url.deletingLastPathComponent()
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw DataError("cannot write \(path): directory \(directory.path) does not exist")
    }
    let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
    do {
        try data.write(to: temporary)
        // rename(2) replaces the destination in one step.
        guard rename(temporary.path, url.path) == 0 else {
            throw DataError(String(cString: strerror(errno)))
        }
    } catch {
        try? FileManager.default.removeItem(at: temporary)
        throw DataError("cannot write \(path): \(error)")
    }
}
