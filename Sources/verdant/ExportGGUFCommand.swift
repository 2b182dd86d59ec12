import ArgumentParser
import Foundation
import VerdantModels

struct ExportGGUFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-gguf",
        abstract: "Write a model directory (float or Verdant-quantized) as a GGUF file for llama.cpp.",
        discussion: """
        Norms and biases are written as f32, 2-D weights in --type (a tensor whose rows are not a multiple \
        of 32 falls back to f16 for the block types). A Verdant-quantized tensor already in the GGUF layout \
        (q8_0, q4_0, int4_g32 as q4_1) is copied byte for byte; other formats are dequantized and quantized \
        again, with a warning. Without --type the checkpoint's own format is kept when GGUF has it, else f16.
        """)

    @Argument(help: "Model directory (Hugging Face layout).")
    var modelDir: String

    @Option(help: "Output file (written atomically).")
    var out: String

    @Option(help: "Type of the 2-D weights: f32, f16, bf16, q8_0, q4_0 or q4_1.")
    var type: String?

    @Flag(help: "Write no vocabulary (for checkpoints without tokenizer.json); llama.cpp can then only run the file from token ids.")
    var noVocab = false

    func validate() throws {
        if let type, GGMLType(name: type) == nil {
            throw ValidationError("--type must be one of f32, f16, bf16, q8_0, q4_0, q4_1; got '\(type)'")
        }
    }

    func run() throws {
        let options = GGUFExportOptions(type: type.flatMap { GGMLType(name: $0) }, includeVocabulary: !noVocab)
        let start = Date()
        let s = try GGUFExporter.export(modelDirectory: modelDir, to: URL(fileURLWithPath: out), options: options,
                                        log: { printError($0) })
        var line = String(format: "wrote %@: %@, %d tensors, %@ weights, %.1f MiB in %.1f s", out, s.architecture.rawValue,
                          s.tensors, s.type.name, Double(s.fileBytes) / 1_048_576, Date().timeIntervalSince(start))
        if !s.copiedExactly.isEmpty { line += "; \(s.copiedExactly.count) quantized tensors copied bit-exactly" }
        if !s.requantized.isEmpty { line += "; \(s.requantized.count) requantized" }
        if !s.f16Fallbacks.isEmpty { line += "; \(s.f16Fallbacks.count) as f16" }
        printError(line)
    }
}
