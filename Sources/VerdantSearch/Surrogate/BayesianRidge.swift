import Foundation

/// Bayesian ridge regression as scikit-learn's BayesianRidge fits it (Avatar's surrogate):
/// weights with a Gaussian prior of precision λ, noise of precision α, both re-estimated
/// by evidence maximisation (MacKay's fixed point, Gamma(1e-6, 1e-6) hyper-priors) until
/// the weights stop moving; centred inputs and target for the intercept.
public struct BayesianRidge: Regressor {
    public var maxIterations = 300
    public var tolerance = 1e-3
    public var alpha1 = 1e-6, alpha2 = 1e-6, lambda1 = 1e-6, lambda2 = 1e-6
    public private(set) var coefficients: [Double] = []
    public private(set) var intercept = 0.0
    /// Noise precision and weight precision at convergence.
    public private(set) var alpha = 1.0, lambda = 1.0

    public init() {}
    public var name: String { "bayesian-ridge" }

    public mutating func fit(_ x: [[Double]], _ y: [Double]) throws {
        let d = try validateSamples(x, y, minimum: 2)
        let n = x.count
        let xMean = (0..<d).map { j in x.reduce(0) { $0 + $1[j] } / Double(n) }
        let yMean = y.reduce(0, +) / Double(n)
        let xc = x.map { row in zip(row, xMean).map { $0 - $1 } }
        let yc = y.map { $0 - yMean }
        var gram = [Double](repeating: 0, count: d * d)
        var xty = [Double](repeating: 0, count: d)
        for (row, t) in zip(xc, yc) {
            for i in 0..<d {
                xty[i] += row[i] * t
                for j in 0..<d { gram[i * d + j] += row[i] * row[j] }
            }
        }
        let (eig, v) = LinearAlgebra.symmetricEigen(gram, n: d)
        let eigen = eig.map { max($0, 0) }
        // Xᵀy in the eigenbasis: coef = V diag(1 / (e + λ/α)) Vᵀ Xᵀy.
        let projected = (0..<d).map { k in (0..<d).reduce(0) { $0 + v[$1 * d + k] * xty[$1] } }
        func coefficients(alpha: Double, lambda: Double) -> [Double] {
            let scaled = (0..<d).map { projected[$0] / (eigen[$0] + lambda / alpha) }
            return (0..<d).map { i in (0..<d).reduce(0) { $0 + v[i * d + $1] * scaled[$1] } }
        }
        let variance = yc.reduce(0) { $0 + $1 * $1 } / Double(n)
        var alpha = 1 / (variance + Double.ulpOfOne)
        var lambda = 1.0
        var coef = [Double](repeating: 0, count: d)
        var previous: [Double]?
        for _ in 0..<maxIterations {
            coef = coefficients(alpha: alpha, lambda: lambda)
            let sse = zip(xc, yc).reduce(0.0) { acc, p in
                let r = p.1 - zip(p.0, coef).reduce(0) { $0 + $1.0 * $1.1 }
                return acc + r * r
            }
            let gamma = eigen.reduce(0) { $0 + alpha * $1 / (lambda + alpha * $1) }
            lambda = (gamma + 2 * lambda1) / (coef.reduce(0) { $0 + $1 * $1 } + 2 * lambda2)
            alpha = (Double(n) - gamma + 2 * alpha1) / (sse + 2 * alpha2)
            if let p = previous, zip(p, coef).reduce(0, { $0 + abs($1.0 - $1.1) }) < tolerance { break }
            previous = coef
        }
        coef = coefficients(alpha: alpha, lambda: lambda)
        self.coefficients = coef
        self.alpha = alpha
        self.lambda = lambda
        intercept = yMean - zip(xMean, coef).reduce(0) { $0 + $1.0 * $1.1 }
    }

    public func predict(_ x: [Double]) -> Double {
        intercept + zip(x, coefficients).reduce(0) { $0 + $1.0 * $1.1 }
    }
}
