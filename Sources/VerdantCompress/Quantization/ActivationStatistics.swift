import VerdantModels

/// Per-input-channel statistics of every linear layer's input over a
/// calibration run: mean x² (the importance matrix diagonal llama.cpp's
/// imatrix uses: E[x_c²] weighs the squared error of column c) and mean |x|
/// (AWQ's activation salience). Layers sharing an input (q/k/v, gate/up)
/// share one entry.
public final class ActivationStatistics: ForwardObserver {
    public struct Channel: Sendable {
        public var sumSquares: [Double]
        public var sumAbs: [Double]
        public var rows: Int

        public var meanSquares: [Float] { sumSquares.map { Float($0 / Double(max(rows, 1))) } }
        public var meanAbs: [Float] { sumAbs.map { Float($0 / Double(max(rows, 1))) } }
    }

    /// Keyed by the input's first consumer; `site[name]` maps every consumer to it.
    public private(set) var channels: [String: Channel] = [:]
    public private(set) var site: [String: String] = [:]

    public init() {}

    public func linearInput(layer: Int, linears: [Linear], x: UnsafePointer<Float>, rows: Int) {
        guard let first = linears.first else { return }
        let key = first.name
        for l in linears { site[l.name] = key }
        let cols = first.inFeatures
        var c = channels[key] ?? Channel(sumSquares: [Double](repeating: 0, count: cols),
                                         sumAbs: [Double](repeating: 0, count: cols), rows: 0)
        c.sumSquares.withUnsafeMutableBufferPointer { sq in
            c.sumAbs.withUnsafeMutableBufferPointer { ab in
                for r in 0..<rows {
                    let row = x + r * cols
                    for j in 0..<cols {
                        let v = Double(row[j])
                        sq[j] += v * v
                        ab[j] += abs(v)
                    }
                }
            }
        }
        c.rows += rows
        channels[key] = c
    }

    /// Statistics of the input of the linear layer whose weight is `name`.
    public func channel(for name: String) -> Channel? {
        site[name].flatMap { channels[$0] }
    }

    /// The lm_head input (final hidden states) is observed too, under this key.
    public static let outputKey = "<final-hidden>"

    public func finalHidden(x: UnsafePointer<Float>, rows: Int, cols: Int) {
        var c = channels[Self.outputKey] ?? Channel(sumSquares: [Double](repeating: 0, count: cols),
                                                    sumAbs: [Double](repeating: 0, count: cols), rows: 0)
        for r in 0..<rows {
            for j in 0..<cols {
                let v = Double(x[r * cols + j])
                c.sumSquares[j] += v * v
                c.sumAbs[j] += abs(v)
            }
        }
        c.rows += rows
        channels[Self.outputKey] = c
    }
}
