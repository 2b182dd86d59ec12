import VerdantTensors
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything that can be wrong with a checkpoint on disk. Every case names the
/// file (full path) and, where there is one, the tensor, so a user can act on it.
public enum CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    case fileNotFound(path: String)
    case directoryNotFound(path: String)
    /// A system call failed; `errno` is kept for the message.
    case io(path: String, operation: String, errno: Int32)
    case fileTooSmall(path: String, size: Int)
    case invalidHeaderLength(path: String, length: UInt64, fileSize: Int)
    case malformedHeader(path: String, reason: String)
    case unknownDType(path: String, tensor: String, dtype: String)
    case invalidShape(path: String, tensor: String, reason: String)
    case invalidOffsets(path: String, tensor: String, reason: String)
    case sizeMismatch(path: String, tensor: String, expectedBytes: Int, actualBytes: Int)
    case overlappingTensors(path: String, first: String, second: String)
    case duplicateTensor(path: String, tensor: String)
    case tensorNotFound(tensor: String, location: String)
    case unsupportedTensor(tensor: String, reason: String)
    case noSafetensors(directory: String, hasPytorchBin: Bool)
    case malformedIndex(path: String, reason: String)
    case missingShard(index: String, shard: String)
    case tensorMissingFromShard(index: String, tensor: String, shard: String)
    case tensorInMultipleShards(tensor: String, firstShard: String, secondShard: String)
    case invalidTensorForWriting(tensor: String, reason: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let p):
            return "\(p): file not found"
        case .directoryNotFound(let p):
            return "\(p): model directory not found"
        case .io(let p, let op, let e):
            return "\(p): \(op) failed: \(String(cString: strerror(e)))"
        case .fileTooSmall(let p, let s):
            return "\(p): not a safetensors file (\(s) bytes, shorter than the 8-byte header length)"
        case .invalidHeaderLength(let p, let n, let size):
            return "\(p): not a safetensors file or truncated (header length \(n) does not fit a file of \(size) bytes)"
        case .malformedHeader(let p, let r):
            return "\(p): malformed safetensors header JSON: \(r)"
        case .unknownDType(let p, let t, let d):
            return "\(p): tensor '\(t)' has unknown dtype '\(d)' (known: \(DType.allCases.map(\.rawValue).joined(separator: " ")))"
        case .invalidShape(let p, let t, let r):
            return "\(p): tensor '\(t)' has an invalid shape: \(r)"
        case .invalidOffsets(let p, let t, let r):
            return "\(p): tensor '\(t)' has invalid data_offsets (file truncated or corrupt?): \(r)"
        case .sizeMismatch(let p, let t, let e, let a):
            return "\(p): tensor '\(t)' occupies \(a) bytes but its shape and dtype need \(e)"
        case .overlappingTensors(let p, let a, let b):
            return "\(p): tensors '\(a)' and '\(b)' overlap in the data section"
        case .duplicateTensor(let p, let t):
            return "\(p): tensor '\(t)' is listed twice"
        case .tensorNotFound(let t, let where_):
            return "\(where_): no tensor named '\(t)'"
        case .unsupportedTensor(let t, let r):
            return "tensor '\(t)': \(r)"
        case .noSafetensors(let d, let bin):
            return bin
                ? "\(d): only pytorch_model.bin found; Verdant requires safetensors weights (convert with `save_pretrained(..., safe_serialization=True)`)"
                : "\(d): no model.safetensors or model.safetensors.index.json in this directory"
        case .malformedIndex(let p, let r):
            return "\(p): malformed shard index: \(r)"
        case .missingShard(let i, let s):
            return "\(i): shard '\(s)' listed in the index does not exist"
        case .tensorMissingFromShard(let i, let t, let s):
            return "\(i): the index puts tensor '\(t)' in '\(s)', but that shard has no such tensor"
        case .tensorInMultipleShards(let t, let a, let b):
            return "tensor '\(t)' is stored in two shards: \(a) and \(b)"
        case .invalidTensorForWriting(let t, let r):
            return "cannot write tensor '\(t)': \(r)"
        case .writeFailed(let p, let r):
            return "\(p): write failed: \(r)"
        }
    }
}
