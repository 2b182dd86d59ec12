import Foundation

/// A self-contained SVG scatter plot with labelled points (no scripts, no external
/// resources), for reports: e.g. effectiveness against size.
public struct ScatterChart: Sendable {
    public struct Point: Sendable {
        public var label: String
        public var x: Double
        public var y: Double
        /// Drawn in the accent colour (the base model).
        public var highlighted: Bool

        public init(label: String, x: Double, y: Double, highlighted: Bool = false) {
            self.label = label
            self.x = x
            self.y = y
            self.highlighted = highlighted
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var points: [Point]
    /// Logarithmic x axis (chosen automatically when the x values span more than 20×).
    public var logX: Bool?
    public var width = 640.0
    public var height = 420.0

    public init(title: String, xLabel: String, yLabel: String, points: [Point], logX: Bool? = nil) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.points = points
        self.logX = logX
    }

    public var svg: String {
        let finite = points.filter { $0.x.isFinite && $0.y.isFinite }
        let left = 70.0, right = 30.0, top = 40.0, bottom = 55.0
        let plotW = width - left - right, plotH = height - top - bottom
        let xs = finite.map(\.x), ys = finite.map(\.y)
        let positive = xs.allSatisfy { $0 > 0 }
        let useLog = positive && (logX ?? ((xs.max() ?? 1) / max(xs.min() ?? 1, .leastNonzeroMagnitude) > 20))
        let (x0, x1, xTicks) = useLog ? Self.logAxis(xs) : Self.linearAxis(xs)
        let (y0, y1, yTicks) = Self.linearAxis(ys)
        func px(_ x: Double) -> Double {
            let t = useLog ? (log10(x) - log10(x0)) / (log10(x1) - log10(x0)) : (x - x0) / (x1 - x0)
            return left + t * plotW
        }
        func py(_ y: Double) -> Double { top + (1 - (y - y0) / (y1 - y0)) * plotH }

        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(width / 2))" y="22" text-anchor="middle" font-size="15" font-weight="bold">\(Self.escape(title))</text>

        """
        // Grid and ticks.
        for t in xTicks {
            let x = px(t)
            s += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(top + plotH))\" stroke=\"#e5e5e5\"/>\n"
            s += "<text x=\"\(f(x))\" y=\"\(f(top + plotH + 16))\" text-anchor=\"middle\">\(Self.escape(Self.tickLabel(t)))</text>\n"
        }
        for t in yTicks {
            let y = py(t)
            s += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + plotW))\" y2=\"\(f(y))\" stroke=\"#e5e5e5\"/>\n"
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(Self.escape(Self.tickLabel(t)))</text>\n"
        }
        s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#333\"/>\n"
        s += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 12))\" text-anchor=\"middle\">\(Self.escape(xLabel + (useLog ? " (log scale)" : "")))</text>\n"
        s += "<text x=\"16\" y=\"\(f(top + plotH / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(f(top + plotH / 2)))\">\(Self.escape(yLabel))</text>\n"
        if finite.contains(where: \.highlighted) && finite.contains(where: { !$0.highlighted }) {
            // Legend: which colour is the base.
            let lx = left + plotW - 150, ly = top + plotH - 38
            s += "<rect x=\"\(f(lx))\" y=\"\(f(ly))\" width=\"142\" height=\"32\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>\n"
            s += "<circle cx=\"\(f(lx + 12))\" cy=\"\(f(ly + 10))\" r=\"5\" fill=\"#d62728\"/><text x=\"\(f(lx + 22))\" y=\"\(f(ly + 14))\">base</text>\n"
            s += "<circle cx=\"\(f(lx + 12))\" cy=\"\(f(ly + 24))\" r=\"5\" fill=\"#1f77b4\"/><text x=\"\(f(lx + 22))\" y=\"\(f(ly + 28))\">candidates</text>\n"
        }
        for p in finite {
            let x = px(p.x), y = py(p.y)
            let colour = p.highlighted ? "#d62728" : "#1f77b4"
            s += "<circle cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"6\" fill=\"\(colour)\" fill-opacity=\"0.85\"><title>\(Self.escape("\(p.label): \(Self.tickLabel(p.x)), \(Self.tickLabel(p.y))"))</title></circle>\n"
            let anchor = x > left + plotW * 0.75 ? "end" : "start"
            let dx = anchor == "end" ? -9.0 : 9.0
            s += "<text x=\"\(f(x + dx))\" y=\"\(f(y - 8))\" text-anchor=\"\(anchor)\">\(Self.escape(p.label))</text>\n"
        }
        s += "</svg>\n"
        return s
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }

    /// A padded range with "nice" tick values (1, 2, 5 × 10^k steps).
    static func linearAxis(_ values: [Double]) -> (Double, Double, [Double]) {
        var lo = values.min() ?? 0, hi = values.max() ?? 1
        if hi - lo < 1e-12 {
            let d = abs(lo) > 0 ? abs(lo) * 0.1 : 1
            lo -= d; hi += d
        }
        let nonNegative = lo >= 0
        let pad = (hi - lo) * 0.12
        lo -= pad; hi += pad
        if nonNegative { lo = max(lo, 0) }  // sizes and energies never go below 0
        let raw = (hi - lo) / 6
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        let start = (lo / step).rounded(.up) * step
        let ticks = stride(from: start, through: hi + step * 1e-9, by: step).map { abs($0) < step * 1e-9 ? 0 : $0 }
        return (lo, hi, ticks)
    }

    static func logAxis(_ values: [Double]) -> (Double, Double, [Double]) {
        let lo = (values.min() ?? 1) / 1.5, hi = (values.max() ?? 10) * 1.5
        var ticks: [Double] = []
        var decade = pow(10, floor(log10(lo)))
        while decade <= hi {
            for m in [1.0, 2, 5] where decade * m >= lo && decade * m <= hi { ticks.append(decade * m) }
            decade *= 10
        }
        return (lo, hi, ticks)
    }

    static func tickLabel(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e4 || a < 1e-3 { return String(format: "%.3g", v) }
        if a >= 100 || v == v.rounded() { return String(format: "%.0f", v) }
        if a >= 10 { return String(format: "%.1f", v) }
        return String(format: "%.3g", v)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
