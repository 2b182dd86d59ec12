import Foundation
import VerdantTensors

/// A PEFT LoRA adapter directory: adapter_config.json (r, lora_alpha,
/// target_modules, base_model_name_or_path, …) and adapter_model.safetensors with
/// "base_model.model.<module>.lora_A.weight" [r, in] and "….lora_B.weight" [out, r]
/// (f32, checkpoint row order). What `peft.PeftModel.from_pretrained` loads.
public enum LoRAAdapterDirectory {
    public static let configFile = "adapter_config.json"
    public static let weightsFile = "adapter_model.safetensors"

    /// PEFT's tensor name for a store adapter tensor: the module path inside the
    /// transformers model (GPT-2/bigcode modules live under "transformer.", which
    /// some checkpoints omit from their tensor names).
    public static func peftName(_ storeName: String, config: ModelConfig) -> String {
        let module = config.family == .gpt2 && !storeName.hasPrefix("transformer.") ? "transformer." + storeName : storeName
        return "base_model.model." + module
    }

    /// target_modules entries: the module's last name (q_proj), or the last two on
    /// GPT-2/bigcode where c_proj alone would match both attn.c_proj and mlp.c_proj.
    static func targetModule(_ module: String, config: ModelConfig) -> String {
        let parts = module.split(separator: ".")
        return parts.suffix(config.family == .gpt2 ? 2 : 1).joined(separator: ".")
    }

    /// Writes `store`'s adapters as a PEFT directory at `destination` (atomically).
    public static func write(_ store: ParameterStore, alpha: Float, baseModel: String, to destination: String,
                             force: Bool) throws {
        let adapters = store.adapters.values.sorted { $0.base < $1.base }
        guard let rank = adapters.first?.rank else { throw LoRAError("the store holds no LoRA adapters to save") }
        var w = SafetensorsWriter(metadata: ["format": "pt"])
        for ad in adapters {
            for name in [ad.a, ad.b] {
                guard let p = store.parameter(name), let v = store.checkpointValues(name) else { throw ModelError.missingTensor(name) }
                try w.add(peftName(name, config: store.config), floats: v, shape: p.shape)
            }
        }
        let config: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": Double(alpha),
            "target_modules": Set(adapters.map { targetModule($0.module, config: store.config) }).sorted(),
            "base_model_name_or_path": baseModel, "bias": "none", "lora_dropout": 0.0,
            "fan_in_fan_out": store.config.modelType == "gpt2", "inference_mode": true,
        ]
        let json = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try ModelDirectoryWriter(destination: destination, force: force).write(files: [configFile: json], weightFiles: [weightsFile: w])
    }

    /// `base` plus the adapters of the PEFT directory `directory` (checked against
    /// the model's linears and shapes).
    public static func load(_ directory: String, onto base: ParameterStore) throws -> ParameterStore {
        let configPath = (directory as NSString).appendingPathComponent(configFile)
        guard let data = FileManager.default.contents(atPath: configPath) else {
            throw LoRAError("\(configPath) not found (not a PEFT adapter directory)")
        }
        guard let cfg = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw LoRAError("\(configPath) is not a JSON object")
        }
        if let type = cfg["peft_type"] as? String, type != "LORA" { throw LoRAError("\(configPath): peft_type \(type), only LORA is supported") }
        guard let r = (cfg["r"] as? NSNumber)?.intValue, r >= 1 else { throw LoRAError("\(configPath): missing or bad r") }
        guard let alpha = (cfg["lora_alpha"] as? NSNumber)?.floatValue, alpha.isFinite, alpha > 0 else {
            throw LoRAError("\(configPath): missing or bad lora_alpha")
        }
        if let p = cfg["rank_pattern"] as? [String: Any], !p.isEmpty { throw LoRAError("\(configPath): rank_pattern is not supported") }
        if let p = cfg["alpha_pattern"] as? [String: Any], !p.isEmpty { throw LoRAError("\(configPath): alpha_pattern is not supported") }
        let rs = (cfg["use_rslora"] as? Bool) ?? false
        let scale = rs ? alpha / Float(r).squareRoot() : alpha / Float(r)

        let file = try SafetensorsFile(path: (directory as NSString).appendingPathComponent(weightsFile))
        var linears: [String: Linear] = [:]
        for l in try base.model().adaptableLinears {
            linears[peftName(String(l.name.dropLast(".weight".count)), config: base.config)] = l
        }
        var inits: [LoRAInit] = []
        for name in file.names.sorted() where name.hasSuffix(".lora_A.weight") {
            let module = String(name.dropLast(".lora_A.weight".count))
            guard let l = linears[module] else {
                throw LoRAError("adapter tensor \(name) targets no linear of the model (the adapter belongs to another model?)")
            }
            let bName = module + ".lora_B.weight"
            guard let aInfo = file.info(name), let bInfo = file.info(bName) else { throw LoRAError("\(directory): \(bName) missing") }
            guard aInfo.shape == [r, l.inFeatures], bInfo.shape == [l.outFeatures, r] else {
                throw LoRAError("\(module): adapter A \(aInfo.shape), B \(bInfo.shape) do not fit the model's [\(l.outFeatures), \(l.inFeatures)] weight at r \(r)")
            }
            inits.append(LoRAInit(base: l.name, inFeatures: l.inFeatures, outFeatures: l.outFeatures, rank: r, scale: scale,
                                  a: try file.floats(name), b: try file.floats(bName)))
        }
        guard !inits.isEmpty else { throw LoRAError("\(directory) holds no lora_A tensors") }
        return try ParameterStore(base: base, adapters: inits)
    }
}
