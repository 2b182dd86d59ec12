import ArgumentParser
import Foundation
import VerdantModels

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a checkpoint: architecture, parameters, dtypes, size on disk, context length.")

    @Argument(help: "Model directory (Hugging Face layout), or a .gguf file.")
    var modelDir: String

    @Flag(help: "Print JSON.")
    var json = false

    struct Report: Encodable {
        var model_type: String
        var family: String
        var parameters: Int
        var dtypes: [String: Int]
        var bytes_on_disk: Int
        var tensors: Int
        var context_length: Int
        var vocab_size: Int
        var hidden_size: Int
        var layers: Int
        var attention_heads: Int
        var kv_heads: Int
        var head_dim: Int
        var intermediate_size: Int
        var activation: String
        var positions: String
        var tie_word_embeddings: Bool
        var bos_token_ids: [Int]
        var eos_token_ids: [Int]
    }

    func run() throws {
        if modelDir.hasSuffix(".gguf") {
            let report = GGUFReport(try GGUFFile(path: modelDir))
            if json { try printJSON(report) } else { print(report.text) }
            return
        }
        let info = try ModelInfo.read(directory: modelDir)
        let c = info.config
        let positions: String
        if let r = c.rope {
            switch r.scaling {
            case .none: positions = "rope(theta=\(r.theta))"
            case .linear(let f): positions = "rope(theta=\(r.theta), linear x\(f))"
            case .llama3(let f, _, _, let o): positions = "rope(theta=\(r.theta), llama3 x\(f) from \(o))"
            }
        } else {
            positions = "learned"
        }
        let report = Report(
            model_type: c.modelType, family: c.family.rawValue, parameters: info.parameterCount,
            dtypes: info.parametersByDType, bytes_on_disk: info.bytesOnDisk, tensors: info.tensorCount,
            context_length: c.maxPositions, vocab_size: c.vocabSize, hidden_size: c.hiddenSize,
            layers: c.numLayers, attention_heads: c.numHeads, kv_heads: c.numKVHeads, head_dim: c.headDim,
            intermediate_size: c.intermediateSize, activation: c.activation.rawValue, positions: positions,
            tie_word_embeddings: c.tieWordEmbeddings, bos_token_ids: c.bosTokenIds, eos_token_ids: c.eosTokenIds)
        if json { try printJSON(report); return }
        let dtypes = report.dtypes.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        print("""
        model_type      \(c.modelType) (\(c.family.rawValue) family)
        parameters      \(info.parameterCount) (\(String(format: "%.2f", Double(info.parameterCount) / 1e6)) M)
        dtypes          \(dtypes)
        bytes on disk   \(info.bytesOnDisk) (\(String(format: "%.1f", Double(info.bytesOnDisk) / 1_048_576)) MiB, \(info.tensorCount) tensors)
        context length  \(c.maxPositions)
        layers          \(c.numLayers), hidden \(c.hiddenSize), intermediate \(c.intermediateSize)
        attention       \(c.numHeads) heads / \(c.numKVHeads) kv heads, head_dim \(c.headDim)
        vocabulary      \(c.vocabSize), tied embeddings: \(c.tieWordEmbeddings)
        positions       \(positions)
        activation      \(c.activation.rawValue)
        bos / eos       \(c.bosTokenIds) / \(c.eosTokenIds)
        """)
    }
}
