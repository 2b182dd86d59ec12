import Foundation
import VerdantModels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a pruned model directory atomically: everything goes into a hidden
/// temporary directory next to the destination, which is renamed into place
/// only when complete. An existing non-empty destination is replaced only with
/// `force` (and only after the new one is complete).
public enum PrunedCheckpointWriter {
    /// Files that would be stale copies of the original weights.
    static func isWeightFile(_ name: String) -> Bool {
        let weightSuffixes = [".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx", ".gguf", ".ot"]
        return weightSuffixes.contains { name.hasSuffix($0) } || name == Checkpoint.indexFileName
            || name == "pytorch_model.bin.index.json" || name.hasSuffix(".safetensors.index.json")
    }

    /// Tokenizer files in formats Verdant does not rewrite: stale after vocabulary pruning.
    static let legacyTokenizerFiles: Set<String> = ["vocab.json", "merges.txt", "vocab.txt", "tokenizer.model",
                                                     "spiece.model", "sentencepiece.bpe.model"]

    public struct Outcome: Sendable {
        /// Source files copied unchanged.
        public var copied: [String]
        /// Source files left out (weights in other formats, stale tokenizer files).
        public var skipped: [String]
    }

    /// Checks `out` can be written before any work is done.
    public static func checkDestination(_ out: String, force: Bool) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: out, isDirectory: &isDir) {
            guard isDir.boolValue else { throw PruningError.output("\(out) exists and is not a directory") }
            let contents = (try? fm.contentsOfDirectory(atPath: out)) ?? []
            if !contents.isEmpty && !force {
                throw PruningError.output("\(out) exists and is not empty (use --force to replace it)")
            }
        }
        let parent = (absolute(out) as NSString).deletingLastPathComponent
        guard fm.fileExists(atPath: parent, isDirectory: &isDir), isDir.boolValue else {
            throw PruningError.output("the parent directory \(parent) does not exist")
        }
        guard fm.isWritableFile(atPath: parent) else { throw PruningError.output("\(parent) is not writable") }
    }

    static func absolute(_ path: String) -> String {
        let standardized = (path as NSString).standardizingPath
        if standardized.hasPrefix("/") { return standardized }
        return (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(standardized)
    }

    /// Which files of `source` are copied unchanged and which are left out
    /// (weights in any format; with `vocabularyPruned`, stale tokenizer files).
    /// `rewritten`: files the caller writes itself.
    public static func plannedCopies(source: String, rewritten: Set<String>, vocabularyPruned: Bool) -> Outcome {
        let fm = FileManager.default
        var outcome = Outcome(copied: [], skipped: [])
        for file in ((try? fm.contentsOfDirectory(atPath: source)) ?? []).sorted() where !rewritten.contains(file) {
            var isDir: ObjCBool = false
            let path = (source as NSString).appendingPathComponent(file)
            guard !file.hasPrefix("."), fm.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else { continue }
            if isWeightFile(file) || (vocabularyPruned && legacyTokenizerFiles.contains(file)) || file == PruningReport.fileName {
                outcome.skipped.append(file)
            } else {
                outcome.copied.append(file)
            }
        }
        return outcome
    }

    /// Writes the pruned weights as one model.safetensors, the JSON files
    /// (`files`: name → JSON), `extra` files (name → bytes) and copies of `copy`
    /// from `source`; `check` runs on the complete temporary directory before it
    /// is moved into place.
    public static func write(weights: PrunedWeights, source: String, files: [String: OrderedJSON], extra: [String: Data],
                             copy: [String], to out: String, force: Bool,
                             check: ((String) throws -> Void)? = nil) throws {
        try checkDestination(out, force: force)
        let fm = FileManager.default
        let destination = absolute(out)
        let parent = (destination as NSString).deletingLastPathComponent
        let name = (destination as NSString).lastPathComponent
        let temp = (parent as NSString).appendingPathComponent(".\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do { try fm.createDirectory(atPath: temp, withIntermediateDirectories: false) } catch {
            throw PruningError.output("cannot create \(temp): \(error.localizedDescription)")
        }
        var committed = false
        defer { if !committed { try? fm.removeItem(atPath: temp) } }

        var writer = SafetensorsWriter(metadata: ["format": "pt"])
        for entry in weights.entries {
            try writer.add(entry.name, dtype: entry.source.dtype, shape: entry.shape) { buffer in
                try weights.fill(entry, into: buffer)
            }
        }
        try writer.write(to: URL(fileURLWithPath: (temp as NSString).appendingPathComponent(Checkpoint.singleFileName)))
        for file in copy {
            do {
                try fm.copyItem(atPath: (source as NSString).appendingPathComponent(file),
                                toPath: (temp as NSString).appendingPathComponent(file))
            } catch {
                throw PruningError.output("cannot copy \(file): \(error.localizedDescription)")
            }
        }
        for (file, json) in files {
            try writeFile(Data(json.serialized().utf8), to: (temp as NSString).appendingPathComponent(file))
        }
        for (file, data) in extra {
            try writeFile(data, to: (temp as NSString).appendingPathComponent(file))
        }
        try check?(temp)

        // Swap into place.
        var isDir: ObjCBool = false
        var old: String? = nil
        if fm.fileExists(atPath: destination, isDirectory: &isDir) {
            let contents = (try? fm.contentsOfDirectory(atPath: destination)) ?? []
            if contents.isEmpty {
                try? fm.removeItem(atPath: destination)
            } else {
                let trash = (parent as NSString).appendingPathComponent(".\(name).old-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
                guard rename(destination, trash) == 0 else {
                    throw PruningError.output("cannot move the old \(destination) aside: \(String(cString: strerror(errno)))")
                }
                old = trash
            }
        }
        guard rename(temp, destination) == 0 else {
            let reason = String(cString: strerror(errno))
            if let old { _ = rename(old, destination) }
            throw PruningError.output("cannot rename \(temp) to \(destination): \(reason)")
        }
        committed = true
        if let old { try? fm.removeItem(atPath: old) }
        let dfd = open(parent, O_RDONLY)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    static func writeFile(_ data: Data, to path: String) throws {
        do { try data.write(to: URL(fileURLWithPath: path)) } catch {
            throw PruningError.output("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
