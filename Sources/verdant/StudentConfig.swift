import Foundation
import VerdantModels

/// Reading and checking a distillation student's config.json against its teacher
/// (the directory its checkpoints and output reuse is VerdantCompress's StudentTemplate).
enum StudentConfig {
    /// Parses PATH and checks what distillation needs: same architecture family,
    /// a vocab_size equal to the vocabulary the data is tokenized with (the
    /// teacher's, or `vocabulary`'s from --student-vocab, named `vocabularySource`
    /// in errors), and a size whose f32 training state (weights, gradients, two
    /// AdamW moments: 16 bytes a parameter) fits in memory.
    static func read(path: String, teacher: ModelConfig, vocabulary: Int? = nil, vocabularySource: String? = nil) throws -> ModelConfig {
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw CLIError("cannot read the student config \(path)")
        }
        let config: ModelConfig
        do {
            config = try ModelRegistry.config(fromJSON: bytes)
        } catch {
            throw CLIError("student config \(path): \(error)")
        }
        guard config.family == teacher.family else {
            throw CLIError("student config \(path) is model_type '\(config.modelType)' (\(config.family.rawValue) family), the teacher is '\(teacher.modelType)' (\(teacher.family.rawValue) family): distillation needs the same family")
        }
        if let vocabulary, let vocabularySource {
            guard config.vocabSize == vocabulary else {
                throw CLIError("student vocab_size \(config.vocabSize) differs from the \(vocabulary) tokens of --student-vocab \(vocabularySource): set vocab_size to \(vocabulary) (or prune the vocabulary to \(config.vocabSize) tokens: `verdant prune TEACHER --vocab-corpus F --vocab-size \(config.vocabSize)`)")
            }
        } else {
            guard config.vocabSize == teacher.vocabSize else {
                throw CLIError("student vocab_size \(config.vocabSize) differs from the teacher's \(teacher.vocabSize): a student with its own vocabulary needs --student-vocab DIR (a subset of the teacher's, e.g. from `verdant prune TEACHER --vocab-corpus F --vocab-size \(config.vocabSize)`)")
            }
        }
        let parameters = estimatedParameters(config)
        let stateBytes = 16 * parameters
        let memory = Double(ProcessInfo.processInfo.physicalMemory)
        guard stateBytes < memory else {
            throw CLIError(String(format: "student config %@ has about %.3g parameters: its training state (%.3g GB) exceeds this machine's memory (%.3g GB)",
                                  path as NSString, parameters, stateBytes / 1e9, memory / 1e9))
        }
        return config
    }

    /// Approximate parameter count (Double: an absurd config must not overflow).
    static func estimatedParameters(_ c: ModelConfig) -> Double {
        let H = Double(c.hiddenSize), V = Double(c.vocabSize), I = Double(c.intermediateSize)
        let attention = H * Double(c.qDim + 2 * c.kvDim) + Double(c.qDim) * H
        let mlp = (c.family == .llama ? 3 : 2) * H * I
        let embeddings = V * H * (c.tieWordEmbeddings ? 1 : 2) + (c.family == .llama ? 0 : Double(c.maxPositions) * H)
        return embeddings + Double(c.numLayers) * (attention + mlp)
    }
}
