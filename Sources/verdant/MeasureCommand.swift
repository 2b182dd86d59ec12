import ArgumentParser
import Foundation
import VerdantEval
import VerdantModels
import VerdantTensors

/// Where the carbon intensity comes from (shared by measure and compare).
struct CarbonOptions: ParsableArguments {
    @Option(help: "Grid of this country (ISO 3166-1 alpha-3, e.g. FRA, USA, DEU) for carbon figures.")
    var region: String?

    @Option(help: "Grid carbon intensity in gCO2e/kWh (instead of --region).")
    var carbonIntensity: Double?

    func validate() throws {
        if region != nil && carbonIntensity != nil {
            throw ValidationError("give either --region or --carbon-intensity, not both")
        }
        if let c = carbonIntensity, !(c.isFinite && c >= 0 && c <= 5000) {
            throw ValidationError("--carbon-intensity must be between 0 and 5000 gCO2e/kWh, got \(c)")
        }
        if let r = region, CarbonIntensity.country(r) == nil {
            throw ValidationError("unknown --region '\(r)': give an ISO 3166-1 alpha-3 code such as FRA, USA, DEU, CHN, IND")
        }
    }

    var intensity: CarbonIntensity {
        if let c = carbonIntensity { return CarbonIntensity(gramsPerKWh: c, source: "given on the command line") }
        if let r = region, let c = CarbonIntensity.country(r) { return c }
        return .worldAverage
    }
}

/// The measurement protocol options (shared by measure and compare).
struct MeasureProtocolOptions: ParsableArguments {
    @Option(help: "Prompt length prefilled in one pass.")
    var promptTokens: Int = 256

    @Option(help: "Greedy decode steps measured after the prompt.")
    var genTokens: Int = 64

    @Option(help: "Measured runs (median and min/max reported).")
    var runs: Int = 5

    @Flag(help: "Use the CPU power model even where RAPL counters are readable.")
    var noRapl = false

    func validate() throws {
        guard (1...1_000_000).contains(promptTokens) else { throw ValidationError("--prompt-tokens must be ≥ 1, got \(promptTokens)") }
        guard (1...1_000_000).contains(genTokens) else { throw ValidationError("--gen-tokens must be ≥ 1, got \(genTokens)") }
        guard (1...1000).contains(runs) else { throw ValidationError("--runs must be between 1 and 1000, got \(runs)") }
    }
}

struct MeasureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "measure",
        abstract: "Size, FLOPs, latency, memory, energy and carbon of a model on this machine.",
        discussion: """
        A warm-up, then --runs times: --prompt-tokens pseudo-random ids prefilled in one pass, then \
        --gen-tokens greedy decode steps. Latencies are medians with min/max. FLOPs per token are analytic \
        (2 per multiply-add of every linear layer and the output projection, plus attention scores and values \
        at the measured context). Energy comes from RAPL counters when readable (whole machine), otherwise \
        from a CPU power model (TDP per core × CPU time + DRAM), and the output says which. Carbon = energy × \
        grid intensity (--region, --carbon-intensity, default world average 475 g/kWh).
        """)

    @Argument(help: "Model directory (Hugging Face layout).")
    var modelDir: String

    @OptionGroup var measurement: MeasureProtocolOptions

    @OptionGroup var carbon: CarbonOptions

    @OptionGroup var runtime: RuntimeOptions

    @Flag(help: "Print JSON on stdout.")
    var json = false

    func run() throws {
        let info = try ModelInfo.read(directory: modelDir)
        let loaded = try LoadedModel.load(directory: modelDir)
        let options = MeasureOptions(promptTokens: measurement.promptTokens, genTokens: measurement.genTokens,
                                     runs: measurement.runs, carbonIntensity: carbon.intensity)
        let bar = ProgressBar("measuring", total: options.runs)
        let m = try measure(model: loaded.model, info: info, options: options, pool: runtime.makePool(),
                            meter: EnergyMeter(allowRAPL: !measurement.noRapl)) { done, _ in bar.update(done) }
        bar.finish()
        let output = MeasureOutput(m, modelDir: modelDir, modelType: loaded.config.modelType)
        if json { try printJSON(output); return }
        print(output.text)
    }
}

/// The JSON `verdant measure --json` prints (and `compare` reads back).
struct MeasureOutput: Codable {
    struct Range: Codable {
        var median: Double
        var min: Double
        var max: Double
        init(_ s: Spread) { median = s.median; min = s.min; max = s.max }
    }
    var model: String
    var model_type: String
    var parameters: Int
    var disk_bytes: Int
    var weight_bytes_per_token: Int
    var flops_per_token: Double
    var prefill_tokens_per_s: Double
    var decode_tokens_per_s: Double
    var time_to_first_token_s: Double
    var peak_rss_bytes: Int
    var energy_joules_per_token: Double
    var prefill_energy_joules_per_token: Double
    var energy_method: String
    var energy_model: String
    var carbon_g_per_1k_tokens: Double
    var carbon_intensity_g_per_kwh: Double
    var carbon_intensity_source: String
    var prompt_tokens: Int
    var gen_tokens: Int
    var runs: Int
    var threads: Int
    var cpu: String
    var prefill_s: Range
    var decode_s_per_token: Range
    var time_to_first_token_range_s: Range
    var energy_joules_per_token_range: Range

    init(_ m: ModelMeasurement, modelDir: String, modelType: String) {
        model = modelDir
        model_type = modelType
        parameters = m.parameters
        disk_bytes = m.diskBytes
        weight_bytes_per_token = m.weightBytesPerToken
        flops_per_token = m.flopsPerToken
        prefill_tokens_per_s = m.prefillTokensPerSecond
        decode_tokens_per_s = m.decodeTokensPerSecond
        time_to_first_token_s = m.timeToFirstToken.median
        peak_rss_bytes = m.peakRSSBytes
        energy_joules_per_token = m.energyJoulesPerToken.median
        prefill_energy_joules_per_token = m.prefillEnergyJoulesPerToken.median
        energy_method = m.energyMethod.rawValue
        energy_model = m.energyDescription
        carbon_g_per_1k_tokens = m.carbonGramsPer1kTokens
        carbon_intensity_g_per_kwh = m.carbonIntensity.gramsPerKWh
        carbon_intensity_source = m.carbonIntensity.source
        prompt_tokens = m.promptTokens
        gen_tokens = m.genTokens
        runs = m.runs
        threads = m.threads
        cpu = m.cpu
        prefill_s = Range(m.prefillSeconds)
        decode_s_per_token = Range(m.decodeSecondsPerToken)
        time_to_first_token_range_s = Range(m.timeToFirstToken)
        energy_joules_per_token_range = Range(m.energyJoulesPerToken)
    }

    var text: String {
        func ms(_ r: Range) -> String { String(format: "%.2f ms (min %.2f, max %.2f)", r.median * 1e3, r.min * 1e3, r.max * 1e3) }
        return """
            model             \(model) (\(model_type))
            parameters        \(parameters.formatted()) (\(String(format: "%.1f", Double(disk_bytes) / 1e6)) MB on disk, \(String(format: "%.1f", Double(weight_bytes_per_token) / 1e6)) MB of weights read per token)
            FLOPs per token   \(String(format: "%.4g", flops_per_token)) (context \(prompt_tokens)+\(gen_tokens))
            prefill           \(String(format: "%.1f", prefill_tokens_per_s)) tokens/s; \(ms(prefill_s)) for \(prompt_tokens) tokens
            decode            \(String(format: "%.2f", decode_tokens_per_s)) tokens/s; \(ms(decode_s_per_token)) per token
            first token       \(ms(time_to_first_token_range_s))
            peak RSS          \(String(format: "%.1f", Double(peak_rss_bytes) / 1_048_576)) MiB
            energy            \(String(format: "%.4g", energy_joules_per_token)) J per generated token, \(String(format: "%.4g", prefill_energy_joules_per_token)) J per prompt token [\(energy_method)] \(energy_model)
            carbon            \(String(format: "%.4g", carbon_g_per_1k_tokens)) gCO2e per 1000 generated tokens at \(String(format: "%g", carbon_intensity_g_per_kwh)) g/kWh (\(carbon_intensity_source))
            machine           \(cpu), \(threads) threads; \(runs) runs
            """
    }
}
