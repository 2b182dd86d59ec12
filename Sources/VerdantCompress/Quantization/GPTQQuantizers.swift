import Foundation
import VerdantModels
import VerdantTensors

/// One-pass GPTQ: every layer's Hessian comes from the float model, collected
/// in the single calibration pass. Matrices without a Hessian (the output /
/// tied embedding matrix) fall back to round-to-nearest, as the reference
/// implementation leaves lm_head to plain rounding too.
final class GPTQQuantizer: MatrixQuantizer {
    let gptq: GPTQ
    let hessians: HessianCollector
    let fallback: RoundToNearest
    /// Per site, the weights still to be quantized with it; its n² floats are freed after the last.
    private var pending: [String: Set<String>] = [:]
    private var notes: [String: String] = [:]
    private var seconds = 0.0

    var stageSeconds: [String: Double] { ["gptq": seconds] }

    init(gptq: GPTQ, hessians: HessianCollector, fallback: RoundToNearest, willQuantize: (String) -> Bool) {
        self.gptq = gptq
        self.hessians = hessians
        self.fallback = fallback
        for (key, site) in hessians.sites { pending[key] = Set(site.consumers.filter(willQuantize)) }
    }

    func quantize(name: String, weights: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
                  format: WeightFormat, into dst: UnsafeMutableRawPointer, pool: ThreadPool) throws {
        guard let site = hessians.site(for: name), site.size == cols else {
            try fallback.quantize(name: name, weights: weights, rows: rows, cols: cols, format: format, into: dst, pool: pool)
            notes[name] = "GPTQ: no calibration Hessian (output / embedding matrix), round-to-nearest"
            return
        }
        let start = monotonicSeconds()
        defer { seconds += monotonicSeconds() - start }
        let result = try gptq.quantize(UnsafePointer(weights), rows: rows, cols: cols, hessian: site.sum, format: format, pool: pool)
        result.encode(into: dst, pool: pool)
        notes[name] = GPTQ.note(result, ratio: gptq.errorRatio(result, weights: weights, hessian: site.sum, pool: pool),
                                requested: gptq.damping)
        pending[site.key]?.remove(name)
        if pending[site.key]?.isEmpty ?? true { hessians.release(site: site.key) }
    }

    func note(for name: String) -> String? { notes[name] }
}

/// Sequential GPTQ, as the paper's reference code runs it: block l's Hessians
/// are collected from calibration inputs that went through the already
/// quantized blocks < l (with their real integer kernels), so block l also
/// compensates what quantizing the earlier blocks changed in its input.
/// Within a block all linears see float inputs (no "true sequential").
///
/// Costs L·(L+1)/2 block forwards instead of L: each pass re-runs the model up
/// to block l (the model API starts from tokens), fine for small models.
enum SequentialGPTQ {
    static func run(gptq: GPTQ, model: DecoderModel, weights: FloatWeights, calibration: CalibrationSet,
                    target: (String) -> WeightFormat?, fallback: RoundToNearest, pool: ThreadPool,
                    progress: (String) -> Void) throws -> PrecomputedQuantizer {
        let quantizer = PrecomputedQuantizer(fallback: fallback)
        let source = RewrittenWeights(weights)
        for l in 0..<model.layers.count {
            let prefix = try DecoderModel.build(config: model.config, weights: source).keepingLayers(Array(0...l))
            let collector = HessianCollector(pool: pool, layers: [l])
            try withoutActuallyEscaping(progress) { report in
                try calibration.run(model: prefix, observer: collector, pool: pool) { done, total in
                    report("GPTQ block \(l + 1)/\(model.layers.count): calibration \(done)/\(total)")
                }
            }
            for linear in model.layers[l].linears {
                let name = linear.name
                guard let format = target(name), format.isQuantized, let site = collector.site(for: name),
                      let shape = weights.matrixShape(name), shape.cols == site.size else { continue }
                progress("GPTQ block \(l + 1)/\(model.layers.count): \(name)")
                let values = try weights.matrix(name)
                let result = try values.withUnsafeBufferPointer { v -> GPTQ.Result in
                    guard let w = v.baseAddress, v.count == shape.rows * shape.cols else { throw ModelError.missingTensor(name) }
                    return try gptq.quantize(w, rows: shape.rows, cols: shape.cols, hessian: site.sum, format: format, pool: pool)
                }
                let buffer = OwnedBuffer(byteCount: shape.rows * format.rowBytes(cols: shape.cols))
                result.encode(into: buffer.pointer, pool: pool)
                let matrix = WeightMatrix(format: format, rows: shape.rows, cols: shape.cols,
                                          data: UnsafeRawPointer(buffer.pointer), owner: buffer)
                source.matrices[name] = matrix
                quantizer.done[name] = matrix
                let ratio = values.withUnsafeBufferPointer { v in
                    v.baseAddress.map { gptq.errorRatio(result, weights: $0, hessian: site.sum, pool: pool) } ?? 1
                }
                quantizer.notes[name] = GPTQ.note(result, ratio: ratio, requested: gptq.damping)
            }
        }
        return quantizer
    }
}

/// Hands out matrices quantized ahead of time; anything else (a format the
/// recipe gives that was not precomputed, the output matrix) goes to `fallback`.
final class PrecomputedQuantizer: MatrixQuantizer {
    var done: [String: WeightMatrix] = [:]
    var notes: [String: String] = [:]
    let fallback: MatrixQuantizer

    init(fallback: MatrixQuantizer) { self.fallback = fallback }

    func quantize(name: String, weights: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
                  format: WeightFormat, into dst: UnsafeMutableRawPointer, pool: ThreadPool) throws {
        if let m = done[name], m.format == format, m.rows == rows, m.cols == cols {
            dst.copyMemory(from: m.data, byteCount: m.byteCount)
            done[name] = nil
            return
        }
        try fallback.quantize(name: name, weights: weights, rows: rows, cols: cols, format: format, into: dst, pool: pool)
        if notes[name] == nil { notes[name] = "GPTQ: no calibration Hessian (output / embedding matrix), round-to-nearest" }
    }

    func note(for name: String) -> String? { notes[name] ?? fallback.note(for: name) }
}

extension GPTQ {
    /// The report's line for a GPTQ-quantized matrix.
    static func note(_ result: Result, ratio: Double, requested: Float) -> String {
        var s = "GPTQ: calibration output error ×" + String(format: "%.3f", ratio) + " of round-to-nearest"
        if result.damping != requested { s += "; damping raised to \(result.damping)" }
        return s
    }
}

extension DecoderLayer {
    /// Every linear of the block, in forward order.
    var linears: [Linear] {
        var out: [Linear] = []
        switch attention {
        case .separate(let q, let k, let v): out += [q, k, v]
        case .fused(let qkv): out.append(qkv)
        }
        out.append(output)
        switch mlp {
        case .gated(let g, let u, let d): out += [g, u, d]
        case .plain(let u, let d): out += [u, d]
        }
        return out
    }
}
