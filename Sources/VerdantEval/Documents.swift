import Foundation

/// A data file that cannot be used, with the reason (path and line included).
public struct DataError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The documents of a data file: JSONL (one object per line, the string field
/// `field`, "text" by default) when the name ends in .jsonl or the file starts
/// with "{"; otherwise the whole file is one plain-text document.
public func readDocuments(path: String, field: String = "text") throws -> [String] {
    guard let data = FileManager.default.contents(atPath: path) else { throw DataError("cannot read \(path)") }
    guard let text = String(data: data, encoding: .utf8) else { throw DataError("\(path) is not UTF-8 text") }
    let firstChar = text.first { !$0.isWhitespace }
    let looksJSONL = path.hasSuffix(".jsonl") || firstChar == "{"
    if !looksJSONL { return [text] }
    var documents: [String] = []
    for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        if line.allSatisfy(\.isWhitespace) { continue }
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw DataError("\(path):\(n + 1): not a JSON object")
        }
        guard let value = object[field] as? String else {
            throw DataError("\(path):\(n + 1): no string field '\(field)'")
        }
        documents.append(value)
    }
    if documents.isEmpty { throw DataError("\(path) holds no documents") }
    return documents
}
