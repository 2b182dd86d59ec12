/// Latency or energy per decoded token as a function of the configuration, calibrated on
/// measured students rather than assumed proportional to FLOPs (Avatar's proxy): decoding
/// on a CPU is bound by the bytes it streams, so the model is
///
///     cost = c₀ + c_w · weight MB read + c_kv · KV-cache MB read + c_l · layers
///
/// (fixed overhead, weight streaming, attention over the cache, per-layer synchronisation),
/// fitted by least squares with non-negative coefficients — a negative one would let a
/// bigger model be predicted cheaper.
public struct CostModel: Sendable, Codable, Equatable {
    public static let featureNames = ["constant", "weight_mb", "kv_mb", "layers"]

    /// What is predicted: "decode_seconds_per_token", "joules_per_token", ...
    public var target: String
    public var coefficients: [Double]
    /// Decode context the KV term is evaluated at (positions attended per token).
    public var span: Int
    public var storageName: String
    /// Root-mean-square and largest relative error on the fitting points.
    public var rmse: Double
    public var maxRelativeError: Double

    public static func features(_ s: StudentShape, storage: StorageFormat, span: Int) -> [Double] {
        let kvRead = 2 * s.layers * s.kvDim * min(span, s.context) * 4
        return [1, Double(s.weightBytesPerToken(storage)) / 1e6, Double(kvRead) / 1e6, Double(s.layers)]
    }

    public func predict(_ s: StudentShape, storage: StorageFormat) -> Double {
        zip(Self.features(s, storage: storage, span: span), coefficients).reduce(0) { $0 + $1.0 * $1.1 }
    }

    /// Fits on measured (shape, value) points; needs at least as many points as features.
    public static func fit(_ points: [(shape: StudentShape, value: Double)], storage: StorageFormat, span: Int,
                           target: String) throws -> CostModel {
        let k = featureNames.count
        guard points.count >= k else { throw RegressionError.tooFewSamples(points.count, needed: k) }
        guard points.allSatisfy({ $0.value.isFinite && $0.value >= 0 }) else {
            throw RegressionError.badSamples("cost measurements must be finite and non-negative")
        }
        let x = points.map { features($0.shape, storage: storage, span: span) }
        let y = points.map(\.value)
        let coef = try nonNegativeLeastSquares(x, y)
        let predictions = x.map { zip($0, coef).reduce(0) { $0 + $1.0 * $1.1 } }
        let residuals = zip(predictions, y).map { $0 - $1 }
        let rmse = (residuals.reduce(0) { $0 + $1 * $1 } / Double(y.count)).squareRoot()
        let rel = zip(residuals, y).map { $1 > 0 ? abs($0) / $1 : 0 }.max() ?? 0
        return CostModel(target: target, coefficients: coef, span: span, storageName: storage.name,
                         rmse: rmse, maxRelativeError: rel)
    }

    /// Least squares under coefficients ≥ 0 by a small active-set method: solve on the free
    /// features, fix the most negative at zero, repeat (exact for the handful of features here).
    static func nonNegativeLeastSquares(_ x: [[Double]], _ y: [Double]) throws -> [Double] {
        let k = x[0].count
        var free = Array(0..<k)
        while !free.isEmpty {
            let m = free.count
            var gram = [Double](repeating: 0, count: m * m)
            var xty = [Double](repeating: 0, count: m)
            for (row, t) in zip(x, y) {
                for a in 0..<m {
                    xty[a] += row[free[a]] * t
                    for b in 0..<m { gram[a * m + b] += row[free[a]] * row[free[b]] }
                }
            }
            // A whisper of ridge keeps collinear features (e.g. one layer count) solvable.
            let scale = (0..<m).map { gram[$0 * m + $0] }.max() ?? 1
            for a in 0..<m { gram[a * m + a] += 1e-10 * max(scale, 1e-300) }
            let l = try LinearAlgebra.cholesky(gram, n: m)
            let sol = LinearAlgebra.choleskySolve(l, n: m, xty)
            if let worst = sol.indices.min(by: { sol[$0] < sol[$1] }), sol[worst] < 0 {
                free.remove(at: worst)
                continue
            }
            var coef = [Double](repeating: 0, count: k)
            for (a, f) in free.enumerated() { coef[f] = sol[a] }
            return coef
        }
        return [Double](repeating: 0, count: k)
    }
}
