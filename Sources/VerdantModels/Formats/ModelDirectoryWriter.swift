import Foundation

/// Writes a whole model directory atomically: everything goes into a sibling
/// temporary directory which is renamed to the destination only when complete,
/// so a killed run never leaves a half model where a model is expected.
public struct ModelDirectoryWriter {
    public let destination: String
    public let force: Bool

    public init(destination: String, force: Bool = false) {
        self.destination = destination
        self.force = force
    }

    /// Fails early (before hours of work) when the destination cannot be used.
    public func checkDestination() throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: destination, isDirectory: &isDir) {
            guard isDir.boolValue else { throw CheckpointError.writeFailed(path: destination, reason: "exists and is not a directory") }
            let contents = (try? fm.contentsOfDirectory(atPath: destination)) ?? []
            if !contents.isEmpty && !force {
                throw CheckpointError.writeFailed(path: destination, reason: "exists and is not empty (use --force to replace it)")
            }
        }
        // The nearest existing ancestor must be writable (missing parents are created).
        var parentPath = (destination as NSString).deletingLastPathComponent
        while !parentPath.isEmpty && parentPath != "/" && !fm.fileExists(atPath: parentPath) {
            parentPath = (parentPath as NSString).deletingLastPathComponent
        }
        if parentPath.isEmpty { parentPath = "." }
        guard fm.isWritableFile(atPath: parentPath) else { throw CheckpointError.writeFailed(path: destination, reason: "cannot write in \(parentPath)") }
    }

    /// Runs `fill` on an empty sibling staging directory, then renames it over the
    /// destination; on any error the staging directory is removed and nothing else
    /// changes.
    public func stage(_ fill: (_ staging: String) throws -> Void) throws {
        try checkDestination()
        let fm = FileManager.default
        let temp = destination.hasSuffix("/") ? String(destination.dropLast()) : destination
        let staging = temp + ".partial-\(getpid())"
        try? fm.removeItem(atPath: staging)
        do {
            try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
            try fill(staging)
            if fm.fileExists(atPath: destination) { try fm.removeItem(atPath: destination) }
            try fm.moveItem(atPath: staging, toPath: temp)
        } catch {
            try? fm.removeItem(atPath: staging)
            throw error
        }
    }

    /// config: the config.json object. files: extra files (name → bytes).
    /// copyFrom: a source model directory whose tokenizer and generation files
    /// (every regular file that is not weights or config.json) are copied.
    /// extraWeights: more safetensors files (name → writer) written into the same
    /// staging directory (a training checkpoint's optimizer state).
    public func write(config: [String: Any], weights: SafetensorsWriter, files: [String: Data] = [:],
                      extraWeights: [String: SafetensorsWriter] = [:], copyFrom source: String?) throws {
        try stage { staging in
            let fm = FileManager.default
            if let source {
                for name in (try? fm.contentsOfDirectory(atPath: source)) ?? [] {
                    if name == "config.json" || name.hasSuffix(".safetensors") || name == Checkpoint.indexFileName
                        || name.hasSuffix(".bin") || name.hasSuffix(".gguf") || files[name] != nil { continue }
                    let from = (source as NSString).appendingPathComponent(name)
                    var isDir: ObjCBool = false
                    guard fm.fileExists(atPath: from, isDirectory: &isDir), !isDir.boolValue else { continue }
                    try fm.copyItem(atPath: from, toPath: (staging as NSString).appendingPathComponent(name))
                }
            }
            let json = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
            try json.write(to: URL(fileURLWithPath: (staging as NSString).appendingPathComponent("config.json")))
            try Self.write(files: files, weightFiles: extraWeights.merging([Checkpoint.singleFileName: weights]) { a, _ in a },
                           into: staging)
        }
    }

    /// A directory of other files (e.g. a PEFT adapter: adapter_config.json +
    /// adapter_model.safetensors), staged and renamed into place the same way.
    public func write(files: [String: Data], weightFiles: [String: SafetensorsWriter]) throws {
        try stage { staging in try Self.write(files: files, weightFiles: weightFiles, into: staging) }
    }

    private static func write(files: [String: Data], weightFiles: [String: SafetensorsWriter], into staging: String) throws {
        for (name, data) in files {
            try data.write(to: URL(fileURLWithPath: (staging as NSString).appendingPathComponent(name)))
        }
        for (name, writer) in weightFiles.sorted(by: { $0.key < $1.key }) {
            try writer.write(to: URL(fileURLWithPath: (staging as NSString).appendingPathComponent(name)))
        }
    }

    /// config.json of `directory` as a JSON object (to modify and write back).
    public static func readConfigObject(directory: String) throws -> [String: Any] {
        let path = (directory as NSString).appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: path) else { throw ConfigError.missingFile(path) }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ConfigError.malformed("\(path) is not a JSON object")
        }
        return object
    }
}
