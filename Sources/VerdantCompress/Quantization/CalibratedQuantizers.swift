import Foundation
import VerdantModels
import VerdantTensors

/// What the calibration-driven methods need from the one calibration pass
/// CheckpointQuantizer runs (next to the activation statistics): GPTQ's
/// Hessians, AWQ's sampled inputs. Sequential GPTQ runs its own passes.
func makeCalibrationObserver(method: QuantizationMethod, options: CheckpointQuantizer.Options,
                             calibration: CalibrationSet, pool: ThreadPool) -> ForwardObserver? {
    switch method {
    case .rtn: return nil
    case .gptq: return options.gptqSequential ? nil : HessianCollector(pool: pool)
    case .awq:
        let rows = max(1, options.awqSampleTokens)
        return ActivationSampler(stride: max(1, calibration.tokenCount / rows), capacity: rows)
    }
}

/// Builds the quantizer for the calibration-driven methods (GPTQ, AWQ). AWQ
/// rewrites `weights` (channel scales folded into norms and matrices) before
/// returning the round-to-nearest quantizer that finishes the job.
/// collected: what `makeCalibrationObserver` returned, after the pass.
/// target: each weight's format under the recipe (nil: not quantized).
func makeCalibratedQuantizer(method: QuantizationMethod, model: DecoderModel, weights: FloatWeights,
                             calibration: CalibrationSet, statistics: ActivationStatistics?, collected: ForwardObserver?,
                             importance: @escaping (String) -> [Float]?, target: @escaping (String) -> WeightFormat?,
                             options: CheckpointQuantizer.Options, pool: ThreadPool,
                             progress: (String) -> Void) throws -> MatrixQuantizer {
    let rtn = RoundToNearest(importance: importance)
    switch method {
    case .rtn:
        return rtn
    case .gptq:
        // Block parameters by GGUF's rule (see GPTQ.useImportance); --importance still
        // applies to the matrices GPTQ leaves to round-to-nearest (output / embedding).
        let gptq = GPTQ(damping: options.gptqDamping, actOrder: options.gptqActOrder)
        if options.gptqSequential {
            return try SequentialGPTQ.run(gptq: gptq, model: model, weights: weights, calibration: calibration,
                                          target: target, fallback: rtn, pool: pool, progress: progress)
        }
        guard let hessians = collected as? HessianCollector else {
            throw QuantizeError("GPTQ: the calibration pass collected no Hessians")
        }
        return GPTQQuantizer(gptq: gptq, hessians: hessians, fallback: rtn,
                             willQuantize: { target($0)?.isQuantized ?? false })
    case .awq:
        guard let sampler = collected as? ActivationSampler, let statistics else {
            throw QuantizeError("AWQ: the calibration pass collected no activations")
        }
        return try AWQQuantizer.prepare(model: model, weights: weights, statistics: statistics, sampler: sampler,
                                        importance: importance, target: target,
                                        awq: AWQ(sampleRows: options.awqSampleTokens), pool: pool, progress: progress)
    }
}

/// Round-to-nearest on AWQ-rescaled weights. The importance (E[x²] of each
/// input channel) follows the scaling: a channel whose weights were
/// multiplied by s now sees inputs divided by s, so E[x²]/s².
final class AWQQuantizer: MatrixQuantizer {
    private let rtn: RoundToNearest
    private let notes: [String: String]

    private init(rtn: RoundToNearest, notes: [String: String]) {
        self.rtn = rtn
        self.notes = notes
    }

    static func prepare(model: DecoderModel, weights: FloatWeights, statistics: ActivationStatistics,
                        sampler: ActivationSampler, importance: @escaping (String) -> [Float]?,
                        target: (String) -> WeightFormat?, awq: AWQ, pool: ThreadPool,
                        progress: (String) -> Void) throws -> AWQQuantizer {
        let (groups, _) = AWQ.groups(model: model, weights: weights)
        var inputScales: [String: [Float]] = [:]
        var notes: [String: String] = [:]
        for (i, group) in groups.enumerated() {
            let formats = group.linears.map { target($0) ?? .f32 }
            guard formats.contains(where: \.isQuantized),
                  let x = sampler.samples[group.site], let n = sampler.counts[group.site], n > 0,
                  let meanAbs = statistics.channel(for: group.site)?.meanAbs, meanAbs.count == group.inFeatures else { continue }
            progress("AWQ [\(i + 1)/\(groups.count)] \(group.linears.joined(separator: ", "))")
            var members: [AWQ.Member] = []
            for (name, format) in zip(group.linears, formats) {
                guard let shape = weights.matrixShape(name) else { throw ModelError.missingTensor(name) }
                members.append(AWQ.Member(weights: try weights.matrix(name), rows: shape.rows, format: format,
                                          importance: importance(name)))
            }
            let result = awq.search(x: x, rows: n, meanAbs: meanAbs, members: members, pool: pool)
            let gain = (result.errors.first ?? 0) > 0 ? (result.errors.min() ?? 0) / (result.errors.first ?? 1) : 1
            let summary = "AWQ α=\(result.alpha), output error ×\(String(format: "%.3f", gain)) of unscaled"
            for name in group.linears { notes[name] = summary }
            guard result.alpha > 0 else { continue }
            try AWQ.fold(group, scales: result.scales, into: weights)
            for name in group.linears { inputScales[name] = result.scales }
            switch group.previous {
            case .norm: break
            case .rows(let matrix, _, _):
                notes[matrix] = (notes[matrix].map { $0 + "; " } ?? "") + "rows rescaled for \(group.site)"
            }
        }
        let scaledImportance: (String) -> [Float]? = { name in
            guard let imp = importance(name) else { return nil }
            guard let s = inputScales[name], s.count == imp.count else { return imp }
            return (0..<imp.count).map { imp[$0] / (s[$0] * s[$0]) }
        }
        return AWQQuantizer(rtn: RoundToNearest(importance: scaledImportance), notes: notes)
    }

    func quantize(name: String, weights: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
                  format: WeightFormat, into dst: UnsafeMutableRawPointer, pool: ThreadPool) throws {
        try rtn.quantize(name: name, weights: weights, rows: rows, cols: cols, format: format, into: dst, pool: pool)
    }

    func note(for name: String) -> String? { notes[name] }
}

/// Passes every forward-pass event to each observer in turn.
final class FanOutObserver: ForwardObserver {
    let observers: [ForwardObserver]

    init(_ observers: [ForwardObserver]) { self.observers = observers }

    func blockInput(layer: Int, x: UnsafePointer<Float>, rows: Int, cols: Int) {
        for o in observers { o.blockInput(layer: layer, x: x, rows: rows, cols: cols) }
    }
    func blockOutput(layer: Int, x: UnsafePointer<Float>, rows: Int, cols: Int) {
        for o in observers { o.blockOutput(layer: layer, x: x, rows: rows, cols: cols) }
    }
    func linearInput(layer: Int, linears: [Linear], x: UnsafePointer<Float>, rows: Int) {
        for o in observers { o.linearInput(layer: layer, linears: linears, x: x, rows: rows) }
    }
    func finalHidden(x: UnsafePointer<Float>, rows: Int, cols: Int) {
        for o in observers { o.finalHidden(x: x, rows: rows, cols: cols) }
    }
}
