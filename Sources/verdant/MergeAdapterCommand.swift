import ArgumentParser
import Foundation
import VerdantModels
import VerdantTensors
import VerdantTraining

struct MergeAdapterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge-adapter",
        abstract: "Merge a PEFT LoRA adapter into a model: W + (α/r)·B·A, written as a normal checkpoint.",
        discussion: """
        ADAPTER_DIR holds adapter_config.json and adapter_model.safetensors (what `verdant finetune \
        --save-adapter` and PEFT write). Every adapter must sit on a linear of MODEL_DIR with matching \
        shapes. OUT gets MODEL_DIR's config and tokenizer files and the merged weights in the source \
        dtype (or --dtype), written atomically.
        """)

    @Argument(help: "Base model directory (Hugging Face layout).")
    var modelDir: String

    @Argument(help: "PEFT LoRA adapter directory.")
    var adapterDir: String

    @Option(help: "Output model directory.")
    var out: String

    @Option(help: "Weights dtype of the output: source, f32, bf16 or f16.")
    var dtype: String = "source"

    @Flag(help: "Replace an existing non-empty OUT.")
    var force = false

    func validate() throws {
        guard ["source", "f32", "bf16", "f16"].contains(dtype) else {
            throw ValidationError("--dtype must be source, f32, bf16 or f16, got \(dtype)")
        }
    }

    func run() throws {
        let writer = ModelDirectoryWriter(destination: out, force: force)
        try writer.checkDestination()
        let store = try LoRAAdapterDirectory.load(adapterDir, onto: try ParameterStore(directory: modelDir))
        let outputDType: DType? = dtype == "source" ? nil : DType(rawValue: dtype.uppercased())
        try writer.write(config: try ModelDirectoryWriter.readConfigObject(directory: modelDir),
                         weights: try TrainingCheckpoint.modelWriter(store, dtype: outputDType), copyFrom: modelDir)
        printError("merged \(store.adapters.count) adapters into \(out)")
    }
}
