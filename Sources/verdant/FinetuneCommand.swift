import ArgumentParser
import Foundation
import VerdantEval
import VerdantModels
import VerdantTensors
import VerdantTraining

extension LearningRateSchedule.Decay: ExpressibleByArgument {}

struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Causal-LM fine-tuning on CPU: LoRA adapters by default, every weight with --full.",
        discussion: """
        LoRA (default): the model's weights are frozen and each --targets linear gets \
        y += (α/r)·(x·Aᵀ)·Bᵀ, A [r, in] kaiming-uniform from --seed, B [out, r] zero (as PEFT). \
        On GPT-2 / bigcode any of q,k,v adapts the fused attn.c_attn, o is attn.c_proj, up is \
        mlp.c_fc, down is mlp.c_proj (no gate). OUT gets the adapters merged into the weights \
        (W + (α/r)·B·A) as a normal checkpoint, or with --save-adapter a PEFT adapter directory \
        (see `verdant merge-adapter`).
        Documents are tokenized without special tokens and joined with EOS; the stream is cut into \
        windows of --context + 1 tokens, visited in a seeded shuffled order (epoch after epoch): the \
        stream `verdant teacher-cache` and `verdant distill` read for the same --context, --seed and --hold-out. Each \
        optimizer step predicts --batch-tokens × --accumulate tokens (mean cross-entropy), clips the \
        global gradient norm, and applies AdamW (decoupled decay on ≥ 2-D weights only) with warm-up \
        then the --schedule decay. Weights, gradients and optimizer state are f32. A run is \
        deterministic for a --seed and --threads. Checkpoints go to OUT.checkpoints/step-N every \
        --save-every steps (the two newest are kept); --resume continues from the newest one exactly. \
        OUT is a Hugging Face checkpoint in the source dtype (or --dtype), written atomically at the end.
        """)

    @Argument(help: "Model directory (Hugging Face layout, with tokenizer.json).")
    var modelDir: String

    @Option(help: "Training text: JSONL with a `text` field per line, or a plain text file.")
    var data: String

    @Option(help: "Output model directory.")
    var out: String

    @OptionGroup var training: TrainingRunOptions

    @Flag(help: "Full fine-tuning: every parameter is trained (no LoRA).")
    var full = false

    @Option(help: "LoRA rank r (default 8).")
    var loraRank: Int?

    @Option(help: "LoRA α: the adapter output is scaled by α / r (default 2·r).")
    var loraAlpha: Float?

    @Option(help: "Linears that get adapters: some of q,k,v,o,gate,up,down (default all the architecture has).")
    var targets: String?

    @Flag(help: "Write a PEFT adapter directory to OUT instead of the merged model.")
    var saveAdapter = false




    @Option(help: "Peak learning rate.")
    var lr: Float = 1e-4





    @Option(help: "Micro-batches per optimizer step.")
    var accumulate: Int = 1




    @Option(help: "Weights dtype of the output: source (as the input checkpoint), f32, bf16 or f16.")
    var dtype: String = "source"



    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard lr.isFinite, lr > 0, lr <= 1 else { throw ValidationError("--lr must lie in (0, 1], got \(lr)") }
        guard (1...65536).contains(accumulate) else { throw ValidationError("--accumulate must lie in [1, 65536], got \(accumulate)") }
        if full && (loraRank != nil || loraAlpha != nil || targets != nil || saveAdapter) {
            throw ValidationError("--full trains every weight: --lora-rank, --lora-alpha, --targets and --save-adapter are LoRA options")
        }
        if let r = loraRank, r < 1 { throw ValidationError("--lora-rank must be ≥ 1, got \(r)") }
        if let a = loraAlpha, !(a.isFinite && a > 0) { throw ValidationError("--lora-alpha must be > 0, got \(a)") }
        if let t = targets { _ = try LoRATarget.parse(t) }
        guard ["source", "f32", "bf16", "f16"].contains(dtype) else {
            throw ValidationError("--dtype must be source, f32, bf16 or f16, got \(dtype)")
        }
    }

    func run() throws {
        let outputDType: DType? = dtype == "source" ? nil : DType(rawValue: dtype.uppercased())
        let writer = ModelDirectoryWriter(destination: out, force: training.force)
        try writer.checkDestination()
        let rank = loraRank ?? 8, alpha = loraAlpha ?? 2 * Float(loraRank ?? 8)
        let store = try makeStore(rank: rank, alpha: alpha)
        let pool = runtime.makePool()
        let run = try TrainingRun(store: store, modelDir: modelDir, data: data, out: out, lr: lr, accumulate: accumulate,
                                  training: training, pool: pool)
        printError(String(format: "finetune: %d trainable parameters (%@), %d tokens of data, %d steps × %d tokens, activations %.0f MB, %d threads",
                          store.trainableCount, full ? "full" : "LoRA r \(rank), α \(alpha) on \(store.adapters.count) linears",
                          run.streamTokens, run.steps, run.perStep, Double(run.trainer.activationBytes) / 1e6, pool.threads))
        try run.run(training: training, source: modelDir, dtype: outputDType)
        if saveAdapter {
            try LoRAAdapterDirectory.write(store, alpha: alpha, baseModel: modelDir, to: out, force: training.force)
        } else {
            // LoRA: adapters merged into the weights (modelWriter), in the source dtype.
            try writer.write(config: try ModelDirectoryWriter.readConfigObject(directory: modelDir),
                             weights: try TrainingCheckpoint.modelWriter(store, dtype: outputDType), copyFrom: modelDir)
        }
        printError("wrote \(out) (checkpoints in \(run.checkpointRoot))")
    }
}

extension FinetuneCommand {
    /// The model's parameters: all trainable (--full), or frozen with LoRA adapters.
    func makeStore(rank: Int, alpha: Float) throws -> ParameterStore {
        let base = try ParameterStore(directory: modelDir)
        if full { return base }
        let all: [LoRATarget] = base.config.family == .gpt2 ? [.q, .k, .v, .o, .up, .down] : LoRATarget.allCases
        return try ParameterStore(base: base, rank: rank, alpha: alpha,
                                  targets: try targets.map(LoRATarget.parse) ?? all, seed: training.seed)
    }
}
