import ArgumentParser
import Foundation
import VerdantModels
import VerdantTensors
import VerdantTokenizer

/// Options every command that runs a model shares.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "Worker threads (default: available cores).")
    var threads: Int?

    func validate() throws {
        if let t = threads, !(1...1024).contains(t) {
            throw ValidationError("--threads must be between 1 and 1024, got \(t)")
        }
    }

    func makePool() -> ThreadPool {
        ThreadPool(threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
    }
}

/// A failure reported to the user as one line on stderr with exit code 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

func loadTokenizer(directory: String) throws -> Tokenizer {
    let path = (directory as NSString).appendingPathComponent("tokenizer.json")
    guard FileManager.default.fileExists(atPath: path) else {
        throw CLIError("\(directory) has no tokenizer.json; this command needs the model's tokenizer")
    }
    return try Tokenizer(contentsOf: path)
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = try encoder.encode(value)
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write(Data("\n".utf8))
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Peak resident set size of this process, in bytes.
func peakRSSBytes() -> Int {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024  // kilobytes on Linux
    #else
    getrusage(RUSAGE_SELF, &usage)
    return Int(usage.ru_maxrss)  // bytes on Darwin
    #endif
}

func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return 0 }
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Writes text to stdout immediately (generation streams token by token).
func writeStdout(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

