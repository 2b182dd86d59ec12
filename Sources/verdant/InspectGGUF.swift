import Foundation
import VerdantModels

/// `verdant inspect FILE.gguf`: what a GGUF file holds, read with `GGUFFile`.
struct GGUFReport: Encodable {
    var format = "gguf"
    var version: Int
    var architecture: String
    var name: String
    var tensors: Int
    var tensor_types: [String: Int]
    var bytes_on_disk: Int
    var hyperparameters: [String: String]
    var tokenizer_model: String
    var tokenizer_pre: String
    var vocab_size: Int

    init(_ f: GGUFFile) {
        version = Int(f.version)
        architecture = f["general.architecture"]?.stringValue ?? "?"
        name = f["general.name"]?.stringValue ?? ""
        tensors = f.tensors.count
        var types: [String: Int] = [:]
        for t in f.tensors { types[t.type?.name ?? "ggml_type \(t.rawType)", default: 0] += 1 }
        tensor_types = types
        bytes_on_disk = f.fileSize
        var h: [String: String] = [:]
        for (k, v) in f.metadata where k.hasPrefix(architecture + ".") {
            h[String(k.dropFirst(architecture.count + 1))] = v.floatValue.map { v.intValue != nil ? String(Int($0)) : String($0) } ?? v.stringValue ?? "…"
        }
        hyperparameters = h
        tokenizer_model = f["tokenizer.ggml.model"]?.stringValue ?? ""
        tokenizer_pre = f["tokenizer.ggml.pre"]?.stringValue ?? ""
        vocab_size = f["tokenizer.ggml.tokens"]?.arrayValue?.count ?? f[architecture + ".vocab_size"]?.intValue ?? 0
    }

    var text: String {
        let types = tensor_types.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        let hp = hyperparameters.sorted { $0.key < $1.key }.map { "  \($0.key) = \($0.value)" }.joined(separator: "\n")
        return """
        format          GGUF v\(version)
        architecture    \(architecture) (\(name))
        tensors         \(tensors) (\(types))
        bytes on disk   \(bytes_on_disk) (\(String(format: "%.1f", Double(bytes_on_disk) / 1_048_576)) MiB)
        tokenizer       \(tokenizer_model)\(tokenizer_pre.isEmpty ? "" : " / pre \(tokenizer_pre)"), \(vocab_size) tokens
        hyperparameters
        \(hp)
        """
    }
}
