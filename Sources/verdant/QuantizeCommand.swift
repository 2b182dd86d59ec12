import ArgumentParser
import Foundation
import VerdantCompress
import VerdantModels
import VerdantTensors

struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Post-training quantization to q8_0, q4_0, int4 (group-wise) or w8a8.",
        discussion: """
        Writes a self-describing checkpoint (safetensors + config.json with a `quantization` section + \
        tokenizer files) that every Verdant command loads. The recipe decides each tensor's format: \
        the default is --scheme for every linear weight, with the token embedding / output matrix at q8_0 \
        for 4-bit schemes; --recipe FILE or --override PATTERN=FORMAT change it (see README). Norms, \
        biases and position embeddings stay as they are. With --calibration, block scales are searched \
        to minimise the error weighted by the calibration activations' E[x²] (disable: --no-importance). \
        --method gptq compensates each column's rounding error in the columns not yet quantized \
        (calibration Hessian, --damping, --act-order, --gptq-sequential); --method awq searches \
        per-channel scales from the calibration activations and folds them into the preceding norm or \
        linear before rounding. Both need --calibration.
        """)

    @Argument(help: "Float model directory (Hugging Face layout).")
    var modelDir: String

    @Option(help: "q8_0, q4_0, int4 or w8a8.")
    var scheme: String

    @Option(help: "int4 group size: 32, 64 or 128.")
    var groupSize: Int = 128

    @Option(help: "rtn (round to nearest), gptq or awq (both need --calibration).")
    var method: String = "rtn"

    @Option(help: "Calibration text: JSONL with a `text` field, or plain text.")
    var calibration: String?

    @Option(help: "Calibration tokens to run through the model.")
    var calibrationTokens: Int = 16384

    @Option(help: "Calibration sequence length in tokens.")
    var calibrationSequence: Int = 512

    @Flag(inversion: .prefixedNo, help: "Importance-weighted scale search from calibration statistics.")
    var importance = true

    @Option(name: .customLong("recipe"), help: "Recipe JSON file (default format + per-tensor overrides).")
    var recipeFile: String?

    @Option(name: .customLong("override"), help: "PATTERN=FORMAT, e.g. '*down_proj*=q8_0' (repeatable; applied after the recipe).")
    var overrides: [String] = []

    @Option(help: "GPTQ damping, as a fraction of the mean Hessian diagonal.")
    var damping: Float = 0.01

    @Flag(help: "GPTQ: quantize columns in order of decreasing Hessian diagonal.")
    var actOrder = false

    @Flag(help: "GPTQ: collect each block's Hessians through the already quantized blocks (slower: L·(L+1)/2 block passes).")
    var gptqSequential = false

    @Option(help: "AWQ: calibration tokens the scale search measures output errors on.")
    var awqSampleTokens = 512

    @Option(help: "Output directory.")
    var out: String

    @Flag(help: "Replace --out if it exists.")
    var force = false

    @OptionGroup var runtime: RuntimeOptions

    @Flag(help: "Print the report as JSON on stdout.")
    var json = false

    @Flag(help: "List every tensor's format (always recorded in OUT/quantization_report.json).")
    var verbose = false

    func validate() throws {
        guard WeightFormat.int4GroupSizes.contains(groupSize) else {
            throw ValidationError("--group-size must be 32, 64 or 128 (got \(groupSize))")
        }
        guard let f = WeightFormat(name: scheme, defaultGroup: groupSize), f.isQuantized else {
            throw ValidationError("--scheme must be q8_0, q4_0, int4 or w8a8 (got '\(scheme)')")
        }
        guard QuantizationMethod(rawValue: method) != nil else {
            throw ValidationError("--method must be rtn, gptq or awq (got '\(method)')")
        }
        guard (1...100_000_000).contains(calibrationTokens) else {
            throw ValidationError("--calibration-tokens must be between 1 and 100000000")
        }
        guard (2...1 << 20).contains(calibrationSequence) else {
            throw ValidationError("--calibration-sequence must be at least 2")
        }
        guard damping > 0 && damping < 10 else { throw ValidationError("--damping must be in (0, 10)") }
        guard (1...1_000_000).contains(awqSampleTokens) else { throw ValidationError("--awq-sample-tokens must be between 1 and 1000000") }
        if QuantizationMethod(rawValue: method)?.needsCalibration == true && calibration == nil {
            throw ValidationError("--method \(method) needs --calibration FILE")
        }
    }

    func run() throws {
        guard let format = WeightFormat(name: scheme, defaultGroup: groupSize),
              let method = QuantizationMethod(rawValue: method) else { throw CLIError("bad --scheme or --method") }
        var recipe = QuantizationRecipe.standard(format)
        if let path = recipeFile {
            recipe = try QuantizationRecipe.load(path: path, groupSize: groupSize)
        }
        for o in overrides { recipe.overrides.append(try QuantizationRecipe.parseOverride(o, groupSize: groupSize)) }

        if SparsePairQuantizer.applies(directory: modelDir) {
            guard method == .rtn, calibration == nil else {
                throw CLIError("\(modelDir) holds bf16_sparse1x2 tensors (prune --group-lasso --group 1x2): their tiles are quantized by --method rtn without --calibration")
            }
            let interactive = isatty(2) != 0
            let report = try SparsePairQuantizer.run(directory: modelDir, recipe: recipe, output: out, force: force,
                                                     threads: runtime.makePool().threads) { line in
                if interactive { printErrorInline("\r\u{1B}[K" + line) }
            }
            if interactive { printErrorInline("\r\u{1B}[K") }
            try printReport(report, method: method)
            return
        }
        var options = CheckpointQuantizer.Options(recipe: recipe)
        options.method = method
        options.importance = importance
        options.threads = runtime.makePool().threads
        options.gptqDamping = damping
        options.gptqActOrder = actOrder
        options.gptqSequential = gptqSequential
        options.awqSampleTokens = awqSampleTokens
        if let calibration {
            let tokenizer = try loadTokenizer(directory: modelDir)
            let config = try ModelRegistry.config(directory: modelDir)
            options.calibration = try CalibrationSet.load(path: calibration, tokenizer: tokenizer, tokens: calibrationTokens,
                                                          sequenceLength: min(calibrationSequence, config.maxPositions),
                                                          threads: options.threads)
            options.calibrationSource = calibration
        }
        let interactive = isatty(2) != 0
        let report = try CheckpointQuantizer(directory: modelDir, options: options).run(output: out, force: force) { line in
            if interactive { printErrorInline("\r\u{1B}[K" + line) }
        }
        if interactive { printErrorInline("\r\u{1B}[K") }
        try printReport(report, method: method)
    }

    func printReport(_ report: QuantizationReport, method: QuantizationMethod) throws {
        if json {
            let data = try JSONSerialization.data(withJSONObject: report.jsonObject, options: [.sortedKeys])
            writeStdout(String(decoding: data, as: UTF8.self) + "\n")
            return
        }
        var byFormat: [String: (count: Int, bytes: Int)] = [:]
        for t in report.tensors {
            if verbose || t.note != nil {
                print("  \(t.name) \(t.shape): \(t.format)" + (t.note.map { " (\($0))" } ?? ""))
            }
            byFormat[t.format, default: (0, 0)].count += 1
            byFormat[t.format, default: (0, 0)].bytes += t.bytesAfter
        }
        for (f, v) in byFormat.sorted(by: { $0.key < $1.key }) {
            print(String(format: "  %-10@ %4d tensors  %10.2f MB", f as NSString, v.count, Double(v.bytes) / 1e6))
        }
        print("per-tensor formats: \((out as NSString).appendingPathComponent("quantization_report.json"))")
        print(String(format: "%@ → %@: %.2f MB → %.2f MB on disk (%.2f×), %.2f bits per parameter, %@ in %.1f s",
                     modelDir as NSString, out as NSString, Double(report.diskBytesBefore) / 1e6, Double(report.diskBytesAfter) / 1e6,
                     Double(report.diskBytesBefore) / Double(max(report.diskBytesAfter, 1)), report.bitsPerWeight,
                     method.rawValue as NSString, report.seconds))
    }
}
