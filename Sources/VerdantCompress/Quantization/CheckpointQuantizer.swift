import Foundation
import VerdantModels
import VerdantTensors

/// Float checkpoint → Verdant-quantized checkpoint: resolve each tensor's
/// format from the recipe, gather calibration statistics when the method needs
/// them, quantize matrix by matrix, and write a self-describing model
/// directory (safetensors + config.json with a `quantization` section +
/// tokenizer files) atomically.
public struct CheckpointQuantizer {
    public struct Options {
        public var recipe: QuantizationRecipe
        public var method: QuantizationMethod = .rtn
        /// Importance-weighted scale search from calibration E[x²] (imatrix-like).
        public var importance: Bool = true
        public var calibration: CalibrationSet?
        public var calibrationSource: String?
        public var threads: Int = 1
        /// GPTQ settings (used when method == .gptq).
        public var gptqDamping: Float = 0.01
        public var gptqActOrder: Bool = false
        /// GPTQ: collect block l's Hessians through the already quantized blocks < l.
        public var gptqSequential: Bool = false
        /// AWQ: calibration tokens (rows) the scale search measures output errors on.
        public var awqSampleTokens: Int = 512

        public init(recipe: QuantizationRecipe) { self.recipe = recipe }
    }

    public let directory: String
    public let options: Options

    public init(directory: String, options: Options) {
        self.directory = directory
        self.options = options
    }

    /// progress: human-readable lines (stage, tensor i of n).
    public func run(output: String, force: Bool, progress: @escaping (String) -> Void = { _ in }) throws -> QuantizationReport {
        let start = monotonicSeconds()
        let writer = ModelDirectoryWriter(destination: output, force: force)
        try writer.checkDestination()
        if QuantizationManifest.tensorsIn(directory: directory) {
            throw QuantizeError("\(directory) is already quantized; quantize the float checkpoint instead")
        }
        let loaded = try LoadedModel.load(directory: directory)
        let model = loaded.model
        let checkpoint = try Checkpoint(path: directory)
        let linearNames = Self.linearNames(of: model)
        let embeddingName = checkpoint.tensorNames.first { $0.hasSuffix("embed_tokens.weight") || $0.hasSuffix("wte.weight") }
        var quantizable = linearNames
        if let embeddingName { quantizable.insert(embeddingName) }
        let weights = FloatWeights(checkpoint: checkpoint, config: loaded.config, linearNames: linearNames)
        let pool = ThreadPool(threads: options.threads)

        // Calibration statistics, and what the method collects, in one pass.
        var stats: ActivationStatistics?
        var collected: ForwardObserver?
        var stageSeconds: [String: Double] = [:]
        let calibrationStart = monotonicSeconds()
        if options.method.needsCalibration || options.importance, let calibration = options.calibration {
            let s = ActivationStatistics()
            collected = makeCalibrationObserver(method: options.method, options: options, calibration: calibration, pool: pool)
            let observer: ForwardObserver = collected.map { FanOutObserver([s, $0]) } ?? s
            try calibration.run(model: model, observer: observer, pool: pool) { done, total in
                progress("calibration: sequence \(done)/\(total)")
            }
            stats = s
            stageSeconds["calibration"] = monotonicSeconds() - calibrationStart
            if let h = collected as? HessianCollector { stageSeconds["hessians"] = h.seconds }
        } else if options.method.needsCalibration {
            throw QuantizeError("--method \(options.method.rawValue) needs --calibration FILE")
        }
        let tiedHead = loaded.config.tieWordEmbeddings
        func importance(_ name: String) -> [Float]? {
            guard options.importance, let stats else { return nil }
            if name == "lm_head.weight" || (tiedHead && name == embeddingName) {
                return stats.channels[ActivationStatistics.outputKey]?.meanSquares
            }
            return stats.channel(for: name)?.meanSquares
        }

        let layerCount = loaded.config.numLayers
        /// The stored format of weight `name` under the recipe (nil: not a quantizable matrix).
        func target(_ name: String) -> WeightFormat? {
            guard quantizable.contains(name), checkpoint.info(name)?.shape.count == 2,
                  case .format(let f) = options.recipe.target(for: name, layerCount: layerCount) else { return nil }
            return f
        }

        // Method-specific preparation.
        let quantizer: MatrixQuantizer
        switch options.method {
        case .rtn:
            quantizer = RoundToNearest(importance: importance)
        case .gptq, .awq:
            guard let calibration = options.calibration else {
                throw QuantizeError("--method \(options.method.rawValue) needs --calibration FILE")
            }
            let prepareStart = monotonicSeconds()
            quantizer = try makeCalibratedQuantizer(method: options.method, model: model, weights: weights,
                                                    calibration: calibration, statistics: stats, collected: collected,
                                                    importance: importance, target: target, options: options,
                                                    pool: pool, progress: progress)
            collected = nil
            stageSeconds["prepare"] = monotonicSeconds() - prepareStart
        }
        var quantizeSeconds = 0.0

        // Tensors.
        var report = QuantizationReport(method: options.method, calibrationTokens: options.calibration?.tokenCount ?? 0)
        report.diskBytesBefore = checkpoint.totalBytes
        var out = SafetensorsWriter()
        var manifest = QuantizationManifest(tensors: [:])
        let names = checkpoint.tensorNames.sorted()
        for (i, name) in names.enumerated() {
            guard let info = checkpoint.info(name) else { continue }
            var entry = QuantizationReport.Tensor(name: name, format: info.dtype.rawValue.lowercased(), shape: info.shape,
                                                  bytesBefore: info.byteCount, bytesAfter: info.byteCount, note: nil)
            let target: QuantizationRecipe.Target = quantizable.contains(name) && info.shape.count == 2
                ? options.recipe.target(for: name, layerCount: layerCount) : .keep
            switch target {
            case .keep where weights.replaced[name] == nil:
                let view = try checkpoint.view(name)
                try out.add(name, dtype: info.dtype, shape: info.shape, fill: { dst in
                    withExtendedLifetime(view.owner) { dst.copyMemory(from: view.bytes) }
                })
            case .keep:
                // Rewritten by the method (e.g. an AWQ-scaled norm): same dtype as the source.
                try out.add(name, dtype: info.dtype, shape: info.shape, data: encode(try weights.storedValues(name), as: info.dtype))
                entry.note = "rescaled by \(options.method.rawValue)"
            case .format(let f) where !f.isQuantized:
                let dtype: DType = f == .f32 ? .f32 : f == .f16 ? .f16 : .bf16
                try out.add(name, dtype: dtype, shape: info.shape, data: encode(try weights.storedValues(name), as: dtype))
                entry.format = f.name
                entry.bytesAfter = info.elementCount * dtype.byteSize
            case .format(let f):
                progress("[\(i + 1)/\(names.count)] \(name) → \(f.name)")
                guard let shape = weights.matrixShape(name) else { throw ModelError.missingTensor(name) }
                var values = try weights.matrix(name)
                let rowBytes = f.rowBytes(cols: shape.cols)
                let buffer = OwnedBuffer(byteCount: shape.rows * rowBytes)
                let quantizeStart = monotonicSeconds()
                try values.withUnsafeMutableBufferPointer { v in
                    guard let w = v.baseAddress else { throw ModelError.missingTensor(name) }
                    try quantizer.quantize(name: name, weights: w, rows: shape.rows, cols: shape.cols,
                                           format: f, into: buffer.pointer, pool: pool)
                }
                quantizeSeconds += monotonicSeconds() - quantizeStart
                let matrix = WeightMatrix(format: f, rows: shape.rows, cols: shape.cols, data: UnsafeRawPointer(buffer.pointer), owner: buffer)
                try out.add(name, matrix: matrix)
                manifest.tensors[name] = QuantizedTensorEntry(format: f, rows: shape.rows, cols: shape.cols,
                                                              storedTransposed: weights.isConv1D(name))
                entry.format = f.name
                entry.bytesAfter = shape.rows * rowBytes
                var notes: [String] = []
                if f.paddedColumns(shape.cols) != shape.cols {
                    notes.append("rows padded from \(shape.cols) to \(f.paddedColumns(shape.cols)) columns")
                }
                if options.importance && stats != nil && importance(name) == nil && options.method == .rtn {
                    notes.append("no calibration statistics: plain round-to-nearest")
                }
                if let n = quantizer.note(for: name) { notes.append(n) }
                if !notes.isEmpty { entry.note = notes.joined(separator: "; ") }
            }
            report.tensors.append(entry)
        }

        stageSeconds["quantize"] = quantizeSeconds
        stageSeconds.merge(quantizer.stageSeconds) { a, _ in a }
        report.stageSeconds = stageSeconds

        // config.json: the source's keys plus the quantization section.
        var config = try ModelDirectoryWriter.readConfigObject(directory: directory)
        var section: [String: Any] = [
            "tool": "verdant",
            "scheme": options.recipe.defaultFormat.name,
            "method": options.method.rawValue,
            "importance_search": options.importance && stats != nil,
            "recipe": options.recipe.jsonObject,
            "bits_per_weight": report.bitsPerWeight,
            "tensors": manifest.tensorsJSON,
        ]
        if let c = options.calibration {
            section["calibration"] = ["file": options.calibrationSource ?? "", "tokens": c.tokenCount, "sequences": c.sequences.count]
        }
        if options.method == .gptq {
            section["gptq"] = ["damping": options.gptqDamping, "act_order": options.gptqActOrder, "sequential": options.gptqSequential]
        }
        if options.method == .awq { section["awq"] = ["sample_tokens": options.awqSampleTokens] }
        config["quantization"] = section
        try report.writeModel(config: config, weights: out, writer: writer, source: directory, output: output,
                              start: start, progress: progress)
        return report
    }

    /// Every tensor `model` uses as a linear weight (incl. lm_head / the tied embedding).
    static func linearNames(of model: DecoderModel) -> Set<String> {
        var names = Set<String>([model.lmHead.name])
        for layer in model.layers { names.formUnion(layer.linears.map(\.name)) }
        return names
    }

    /// Values in a float dtype, little-endian.
    func encode(_ values: [Float], as dtype: DType) -> [UInt8] {
        switch dtype {
        case .f32:
            return values.withUnsafeBytes { [UInt8]($0) }
        case .f16, .bf16:
            var out = [UInt8](repeating: 0, count: values.count * 2)
            for (i, v) in values.enumerated() {
                let bits = dtype == .f16 ? floatToF16(v) : floatToBF16(v)
                out[2 * i] = UInt8(bits & 0xFF)
                out[2 * i + 1] = UInt8(bits >> 8)
            }
            return out
        default:
            return values.withUnsafeBytes { [UInt8]($0) }
        }
    }
}

public struct QuantizeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

extension QuantizationManifest {
    /// True when MODEL_DIR's config.json has a quantization section.
    static func tensorsIn(directory: String) -> Bool {
        (try? QuantizationManifest.read(directory: directory)) != nil
    }
}
