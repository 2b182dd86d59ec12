#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VerdantTensors

extension ParameterStore {
    /// Random initialisation as transformers does it: every ≥ 2-D tensor
    /// normal(0, initializerRange), norm weights 1, biases 0; deterministic for a
    /// seed. The tensor names and shapes come from the architecture itself
    /// (`WeightSource.expect` during a build), so there is no second description of
    /// the layout. (GPT-2's extra 1/√(2·layers) scaling of c_proj is not applied.)
    public convenience init(randomFor config: ModelConfig, seed: UInt64, initializerRange: Float = 0.02) throws {
        let source = RandomInitSource(config: config, seed: seed, range: initializerRange)
        _ = try DecoderModel.build(config: config, weights: source)
        self.init(config: config, tensors: source.created.map { ($0.name, $0.shape, .f32, $0.values) })
    }
}

/// Creates each tensor (in checkpoint layout) the first time the architecture expects it.
private final class RandomInitSource: WeightSource {
    var created: [(name: String, shape: [Int], values: [Float])] = []
    var index: [String: Int] = [:]
    var rng: RandomSource
    let range: Float

    init(config: ModelConfig, seed: UInt64, range: Float) {
        rng = RandomSource(seed: seed)
        self.range = range
        if config.family == .gpt2 {
            // GPT-2 checkpoints carry the "transformer." prefix; the architecture asks for it first.
            expect("transformer.wte.weight", shape: [config.vocabSize, config.hiddenSize])
        }
    }

    func expect(_ name: String, shape: [Int]) {
        guard index[name] == nil else { return }
        let count = shape.reduce(1, *)
        var values = [Float](repeating: 0, count: count)
        if shape.count >= 2 {
            for i in 0..<count { values[i] = range * normal() }
        } else if !name.hasSuffix(".bias") {
            values = [Float](repeating: 1, count: count)
        }
        index[name] = created.count
        created.append((name, shape, values))
    }

    /// Box–Muller from two uniforms.
    func normal() -> Float {
        let u1 = max(rng.nextUnitFloat(), 1e-12), u2 = rng.nextUnitFloat()
        return (-2 * logf(u1)).squareRoot() * cosf(2 * Float.pi * u2)
    }

    func shape(of name: String) -> [Int]? { index[name].map { created[$0].shape } }

    func matrix(_ name: String) throws -> WeightMatrix {
        guard let i = index[name] else { throw ModelError.missingTensor(name) }
        let t = created[i]
        return WeightMatrix.f32(rows: t.shape[0], cols: t.shape[1], values: t.values)
    }

    func vector(_ name: String) throws -> [Float] {
        guard let i = index[name] else { throw ModelError.missingTensor(name) }
        return created[i].values
    }
}
