import VerdantTensors

extension QuantCodec {
    /// x̂ of a row as `quantizeRow` would store it (same groups and fits), in floats.
    func roundTrip(_ src: UnsafePointer<Float>, cols: Int, into dst: UnsafeMutablePointer<Float>,
                   importance: UnsafePointer<Float>? = nil) {
        let g = parameterGroup(cols: cols)
        var start = 0
        while start < cols {
            let n = min(g, cols - start)
            let p = fit(src + start, count: n, importance: importance.map { $0 + start })
            for j in start..<(start + n) { dst[j] = value(code(src[j], p), p) }
            start += g
        }
    }
}
