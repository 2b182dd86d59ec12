import ArgumentParser
import Foundation
import VerdantModels
import VerdantTokenizer

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Encode text to token ids (or decode ids to text) with a tokenizer.json.",
        discussion: """
            Encoding prints one line per document: the ids separated by spaces, or with --json a \
            JSON array of ids. A document is the --text value, the whole --file, or each line of \
            --jsonl (its --field string). No special tokens are added unless --special.

            With --decode the input (--text or --file) holds ids, one document per line, separated \
            by spaces or commas (a JSON array line is accepted too); each line is printed as text, \
            or with --json as a JSON string. --skip-special drops special tokens when decoding.

            --bench times encoding only (not loading, reading or printing) and reports bytes/s on \
            stderr; ids are then not printed.
            """)

    @Argument(help: "tokenizer.json, or a model directory containing it.")
    var tokenizer: String

    @Option(help: "Text to encode (or ids to decode with --decode).")
    var text: String?

    @Option(help: "File whose whole content is one document (with --decode: one id line per document); - for stdin.")
    var file: String?

    @Option(help: "JSON Lines file; each line is one document; - for stdin.")
    var jsonl: String?

    @Option(help: "Field of each JSONL object holding the text.")
    var field: String = "text"

    @Flag(help: "Add the post-processor's special tokens (e.g. BOS).")
    var special = false

    @Flag(help: "Print JSON (an array of ids per line, or a JSON string per line with --decode).")
    var json = false

    @Flag(help: "Decode ids to text instead of encoding.")
    var decode = false

    @Flag(help: "With --decode, drop special tokens.")
    var skipSpecial = false

    @Option(help: "Threads for encoding several documents.")
    var threads: Int = 1

    @Flag(help: "Report encoding throughput (bytes/s) on stderr instead of printing ids.")
    var bench = false

    func validate() throws {
        let sources = [text != nil, file != nil, jsonl != nil].filter { $0 }.count
        guard sources == 1 else { throw ValidationError("give exactly one of --text, --file, --jsonl") }
        if decode && jsonl != nil { throw ValidationError("--decode reads ids from --text or --file, not --jsonl") }
        guard threads >= 1 else { throw ValidationError("--threads must be ≥ 1") }
    }

    func run() throws {
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let tok: Tokenizer
        do { tok = try Tokenizer(contentsOf: tokenizer) } catch { throw CLIError("\(error)") }
        let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9
        var out = [UInt8]()
        if decode {
            let input = try text ?? readText(file ?? "")
            for (n, line) in input.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                if line.isEmpty && n > 0 && n == input.split(separator: "\n", omittingEmptySubsequences: false).count - 1 {
                    break  // trailing newline
                }
                var ids: [Int] = []
                for part in line.split(whereSeparator: { " ,\t\r[]".contains($0) }) {
                    guard let v = Int(part) else { throw CLIError("line \(n + 1): '\(part)' is not a token id") }
                    ids.append(v)
                }
                let s = tok.decode(ids, skipSpecialTokens: skipSpecial)
                out.append(contentsOf: (json ? jsonString(s) : s).utf8)
                out.append(0x0A)
            }
            writeStdout(out)
            return
        }
        var docs: [String] = []
        if let text { docs = [text] } else if let file { docs = [try readText(file)] } else if let jsonl {
            let content = try readText(jsonl)
            for (n, line) in content.split(separator: "\n").enumerated() where !line.allSatisfy(\.isWhitespace) {
                let value: JSONValue
                do { value = try JSONParser.parse(String(line)) } catch {
                    throw CLIError("\(jsonl):\(n + 1): \(error)")
                }
                guard let s = value[field]?.string else {
                    throw CLIError("\(jsonl):\(n + 1): no string field '\(field)'")
                }
                docs.append(s)
            }
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let encoded = tok.encodeBatch(docs, addSpecialTokens: special, threads: threads)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if bench {
            let bytes = docs.reduce(0) { $0 + $1.utf8.count }
            let tokens = encoded.reduce(0) { $0 + $1.count }
            FileHandle.standardError.write(Data(String(
                format: "load %.1f ms | %d docs, %d bytes, %d tokens in %.4f s | %.0f bytes/s | %d threads\n",
                loadSeconds * 1000, docs.count, bytes, tokens, seconds, Double(bytes) / max(seconds, 1e-9), threads).utf8))
            return
        }
        for ids in encoded {
            if json { out.append(0x5B) }
            for (k, id) in ids.enumerated() {
                if k > 0 { out.append(json ? 0x2C : 0x20) }
                out.append(contentsOf: String(id).utf8)
            }
            if json { out.append(0x5D) }
            out.append(0x0A)
        }
        writeStdout(out)
    }

    private func readText(_ path: String) throws -> String {
        if path == "-" || path == "/dev/stdin" {
            return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read \(path)") }
        return String(decoding: data, as: UTF8.self)
    }

    private func writeStdout(_ bytes: [UInt8]) {
        FileHandle.standardOutput.write(Data(bytes))
    }
}
