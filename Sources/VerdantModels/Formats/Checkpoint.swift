import Foundation
import VerdantTensors

/// The weights of a Hugging Face model directory: `model.safetensors`, or
/// shards listed in `model.safetensors.index.json` (the single file wins when
/// both exist, as in transformers).
public final class Checkpoint: @unchecked Sendable {
    public struct DTypeStats: Sendable, Equatable {
        public var tensors: Int
        public var parameters: Int
        public var bytes: Int
    }

    public let directory: URL
    /// One file, or the shards in the order their names sort.
    public let files: [SafetensorsFile]
    /// The index file when sharded.
    public let indexPath: String?
    /// Every tensor across all files, sorted by name.
    public let tensors: [TensorInfo]

    private let location: [String: (file: Int, info: TensorInfo)]

    public static let singleFileName = "model.safetensors"
    public static let indexFileName = "model.safetensors.index.json"

    public convenience init(path: String) throws(CheckpointError) {
        try self.init(directory: URL(fileURLWithPath: path))
    }

    public init(directory: URL) throws(CheckpointError) {
        self.directory = directory
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDir), isDir.boolValue else {
            throw .directoryNotFound(path: directory.path)
        }
        let single = directory.appendingPathComponent(Self.singleFileName).path
        let indexURL = directory.appendingPathComponent(Self.indexFileName)
        var files: [SafetensorsFile]
        if fm.fileExists(atPath: single) {
            files = [try SafetensorsFile(path: single)]
            indexPath = nil
        } else if fm.fileExists(atPath: indexURL.path) {
            files = try Self.loadShards(index: indexURL)
            indexPath = indexURL.path
        } else {
            let bin = fm.fileExists(atPath: directory.appendingPathComponent("pytorch_model.bin").path)
                || fm.fileExists(atPath: directory.appendingPathComponent("pytorch_model.bin.index.json").path)
            throw .noSafetensors(directory: directory.path, hasPytorchBin: bin)
        }

        var location: [String: (file: Int, info: TensorInfo)] = [:]
        for (i, f) in files.enumerated() {
            for t in f.tensors {
                if let previous = location[t.name] {
                    throw .tensorInMultipleShards(tensor: t.name, firstShard: files[previous.file].path, secondShard: f.path)
                }
                location[t.name] = (i, t)
            }
        }
        self.files = files
        self.location = location
        self.tensors = location.values.map(\.info).sorted { $0.name < $1.name }
    }

    /// Opens every shard the index names and checks the index against them.
    private static func loadShards(index url: URL) throws(CheckpointError) -> [SafetensorsFile] {
        let indexPath = url.path
        let bytes: [UInt8]
        do { bytes = [UInt8](try Data(contentsOf: url)) } catch {
            throw .malformedIndex(path: indexPath, reason: "cannot read: \(error.localizedDescription)")
        }
        let root: OrderedJSON
        do { root = try OrderedJSON.parse(bytes) } catch {
            throw .malformedIndex(path: indexPath, reason: "invalid JSON: \(error.description)")
        }
        guard case .object(let top) = root else {
            throw .malformedIndex(path: indexPath, reason: "top level is a \(root.kindName), expected an object")
        }
        guard let mapValue = top.first(where: { $0.key == "weight_map" })?.value else {
            throw .malformedIndex(path: indexPath, reason: "no \"weight_map\"")
        }
        guard case .object(let entries) = mapValue else {
            throw .malformedIndex(path: indexPath, reason: "\"weight_map\" is a \(mapValue.kindName), expected an object")
        }
        var byShard: [String: [String]] = [:]
        var seen = Set<String>()
        for entry in entries {
            let tensor = entry.key, value = entry.value
            guard case .string(let shard) = value else {
                throw .malformedIndex(path: indexPath, reason: "shard of '\(tensor)' is a \(value.kindName), expected a file name")
            }
            // Shards live next to the index; a path could escape the model directory.
            guard !shard.isEmpty, !shard.contains("/"), shard != ".", shard != ".." else {
                throw .malformedIndex(path: indexPath, reason: "shard name '\(shard)' of '\(tensor)' is not a plain file name")
            }
            guard seen.insert(tensor).inserted else {
                throw .malformedIndex(path: indexPath, reason: "tensor '\(tensor)' is listed twice")
            }
            byShard[shard, default: []].append(tensor)
        }
        guard !byShard.isEmpty else { throw .malformedIndex(path: indexPath, reason: "\"weight_map\" is empty") }

        let directory = url.deletingLastPathComponent()
        var files: [SafetensorsFile] = []
        for shard in byShard.keys.sorted() {
            let shardPath = directory.appendingPathComponent(shard).path
            guard FileManager.default.fileExists(atPath: shardPath) else {
                throw .missingShard(index: indexPath, shard: shard)
            }
            let file = try SafetensorsFile(path: shardPath)
            for tensor in byShard[shard] ?? [] where file.info(tensor) == nil {
                throw .tensorMissingFromShard(index: indexPath, tensor: tensor, shard: shard)
            }
            files.append(file)
        }
        return files
    }

    public var isSharded: Bool { indexPath != nil }
    public var tensorNames: [String] { tensors.map(\.name) }

    public func info(_ name: String) -> TensorInfo? { location[name]?.info }

    /// The file holding `name`.
    public func file(containing name: String) -> SafetensorsFile? {
        guard let l = location[name] else { return nil }
        return files[l.file]
    }

    public func view(_ name: String) throws(CheckpointError) -> TensorView {
        guard let f = file(containing: name) else { throw .tensorNotFound(tensor: name, location: directory.path) }
        return try f.view(name)
    }

    /// See `SafetensorsFile.weightMatrix`.
    public func weightMatrix(_ name: String) throws(CheckpointError) -> WeightMatrix {
        try view(name).weightMatrix()
    }

    /// See `SafetensorsFile.floats`.
    public func floats(_ name: String) throws(CheckpointError) -> [Float] {
        try view(name).floats()
    }

    /// Size of the safetensors files on disk (headers included).
    public var totalBytes: Int { files.reduce(0) { $0 &+ $1.fileSize } }

    /// Elements over all tensors; a tied weight stored once counts once.
    public var parameterCount: Int { tensors.reduce(0) { $0 &+ $1.elementCount } }

    public var dtypeHistogram: [DType: DTypeStats] {
        var h: [DType: DTypeStats] = [:]
        for t in tensors {
            var s = h[t.dtype] ?? DTypeStats(tensors: 0, parameters: 0, bytes: 0)
            s.tensors += 1
            s.parameters &+= t.elementCount
            s.bytes &+= t.byteCount
            h[t.dtype] = s
        }
        return h
    }

    /// `__metadata__` of all files merged (the first file wins on a conflict).
    public var metadata: [String: String] {
        var m: [String: String] = [:]
        for f in files { m.merge(f.metadata) { old, _ in old } }
        return m
    }
}
