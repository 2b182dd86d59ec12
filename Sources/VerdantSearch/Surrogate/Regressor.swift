/// A regression model from normalised gene coordinates to a score.
public protocol Regressor {
    var name: String { get }
    mutating func fit(_ x: [[Double]], _ y: [Double]) throws
    func predict(_ x: [Double]) -> Double
}

public enum RegressionError: Error, CustomStringConvertible, Equatable {
    case tooFewSamples(Int, needed: Int)
    case badSamples(String)

    public var description: String {
        switch self {
        case .tooFewSamples(let n, let k): return "\(n) samples are too few to fit a surrogate (at least \(k))"
        case .badSamples(let m): return m
        }
    }
}

/// Leave-one-out error of a regressor family: each sample predicted by a model fitted
/// (hyper-parameters included) on all the others.
public struct LeaveOneOut: Sendable, Codable, Equatable {
    public var model: String
    public var rmse: Double
    public var meanAbsoluteError: Double
    public var predictions: [Double]

    public static func evaluate<R: Regressor>(_ make: () -> R, x: [[Double]], y: [Double]) throws -> LeaveOneOut {
        guard x.count >= 3 else { throw RegressionError.tooFewSamples(x.count, needed: 3) }
        var predictions: [Double] = []
        var name = ""
        for i in x.indices {
            var r = make()
            name = r.name
            var xs = x, ys = y
            xs.remove(at: i)
            ys.remove(at: i)
            try r.fit(xs, ys)
            predictions.append(r.predict(x[i]))
        }
        let errors = zip(predictions, y).map { $0 - $1 }
        let mse = errors.reduce(0) { $0 + $1 * $1 } / Double(errors.count)
        let mae = errors.reduce(0) { $0 + abs($1) } / Double(errors.count)
        return LeaveOneOut(model: name, rmse: mse.squareRoot(), meanAbsoluteError: mae, predictions: predictions)
    }
}

func validateSamples(_ x: [[Double]], _ y: [Double], minimum: Int) throws -> Int {
    guard x.count == y.count else { throw RegressionError.badSamples("\(x.count) inputs but \(y.count) targets") }
    guard x.count >= minimum else { throw RegressionError.tooFewSamples(x.count, needed: minimum) }
    let d = x[0].count
    guard x.allSatisfy({ $0.count == d }) else { throw RegressionError.badSamples("inputs of different lengths") }
    guard y.allSatisfy(\.isFinite), x.allSatisfy({ $0.allSatisfy(\.isFinite) }) else {
        throw RegressionError.badSamples("samples contain NaN or infinity")
    }
    return d
}
