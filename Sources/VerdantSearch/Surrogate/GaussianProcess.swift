import Foundation

/// Gaussian-process regression on normalised genes: a stationary kernel (RBF or Matérn 5/2)
/// plus observation noise, on the standardised target; kernel, length scale and noise ratio
/// chosen by the log marginal likelihood over a small grid, the signal variance by its
/// closed-form optimum (no gradient optimiser: with ~20 samples a grid is cheap and cannot
/// diverge).
public struct GaussianProcess: Regressor {
    public enum Kernel: String, Sendable, Codable, CaseIterable { case rbf, matern52 }

    public struct Hyperparameters: Sendable, Equatable, Codable {
        public var kernel: Kernel
        public var lengthScale: Double
        public var signalVariance: Double
        public var noiseVariance: Double
    }

    public var lengthScales: [Double] = [0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2.5, 4]
    /// Noise variance as a fraction of the signal variance; the signal variance itself is
    /// set to its likelihood-maximising value for each grid point (it has a closed form).
    public var noiseRatios: [Double] = [1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5, 1]
    public var kernels: [Kernel] = Kernel.allCases

    public private(set) var hyperparameters: Hyperparameters?
    public private(set) var logMarginalLikelihood = -Double.infinity
    private var xs: [[Double]] = []
    private var weights: [Double] = []
    private var yMean = 0.0, yScale = 1.0

    public init() {}
    public var name: String { "gaussian-process" }

    static func k(_ a: [Double], _ b: [Double], _ h: Hyperparameters) -> Double {
        let r2 = zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        switch h.kernel {
        case .rbf: return h.signalVariance * exp(-r2 / (2 * h.lengthScale * h.lengthScale))
        case .matern52:
            let s = (5 * r2).squareRoot() / h.lengthScale
            return h.signalVariance * (1 + s + s * s / 3) * exp(-s)
        }
    }

    public mutating func fit(_ x: [[Double]], _ y: [Double]) throws {
        _ = try validateSamples(x, y, minimum: 2)
        let n = x.count
        yMean = y.reduce(0, +) / Double(n)
        let sd = (y.reduce(0) { $0 + ($1 - yMean) * ($1 - yMean) } / Double(n)).squareRoot()
        yScale = sd > 0 ? sd : 1
        // Equal scores (e.g. every sample at ES 0 after a tiny budget) leave no signal to fit:
        // the posterior mean is their value, as with an infinite length scale.
        guard sd > 0 else {
            hyperparameters = nil
            logMarginalLikelihood = -.infinity
            weights = []
            xs = []
            return
        }
        let t = y.map { ($0 - yMean) / yScale }
        var best: (Double, Hyperparameters, [Double])?
        for kernel in kernels {
            for l in lengthScales {
                // The correlation matrix R of unit signal variance, shared by every noise ratio.
                let unit = Hyperparameters(kernel: kernel, lengthScale: l, signalVariance: 1, noiseVariance: 0)
                var correlation = [Double](repeating: 0, count: n * n)
                for i in 0..<n { for j in 0...i {
                    let k = Self.k(x[i], x[j], unit)
                    correlation[i * n + j] = k
                    correlation[j * n + i] = k
                } }
                for ratio in noiseRatios {
                    // K = s·(R + ratio·I); with A = R + ratio·I the best s is tᵀA⁻¹t / n and the
                    // log marginal likelihood is −n/2 − ½·log|A| − n/2·log s − n/2·log 2π.
                    var a = correlation
                    for i in 0..<n { a[i * n + i] += ratio }
                    guard let chol = try? LinearAlgebra.cholesky(a, n: n) else { continue }
                    let solved = LinearAlgebra.choleskySolve(chol, n: n, t)
                    let q = zip(t, solved).reduce(0) { $0 + $1.0 * $1.1 }
                    guard q > 0 else { continue }
                    let signal = q / Double(n)
                    let logDetA = (0..<n).reduce(0) { $0 + log(chol[$1 * n + $1]) }
                    let lml = -0.5 * Double(n) - logDetA - 0.5 * Double(n) * log(signal) - 0.5 * Double(n) * log(2 * Double.pi)
                    let h = Hyperparameters(kernel: kernel, lengthScale: l, signalVariance: signal, noiseVariance: ratio * signal)
                    if lml > (best?.0 ?? -.infinity) { best = (lml, h, solved.map { $0 / signal }) }
                }
            }
        }
        guard let (lml, h, a) = best else { throw RegressionError.badSamples("no kernel of the grid gives a positive-definite Gram matrix") }
        hyperparameters = h
        logMarginalLikelihood = lml
        weights = a
        xs = x
    }

    /// Posterior mean.
    public func predict(_ x: [Double]) -> Double {
        guard let h = hyperparameters else { return yMean }
        let m = zip(xs, weights).reduce(0) { $0 + Self.k($1.0, x, h) * $1.1 }
        return yMean + yScale * m
    }
}
