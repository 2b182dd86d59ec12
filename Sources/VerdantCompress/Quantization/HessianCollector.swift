import VerdantModels
import VerdantTensors

/// Σ x·xᵀ over the calibration inputs of every linear layer: GPTQ's Hessian
/// H = 2/N·Σ x·xᵀ without the factor 2/N, which GPTQ is invariant to (damping
/// is relative to mean(diag H), and every update is a ratio of H⁻¹ entries).
/// Layers sharing an input (q/k/v, gate/up) share one matrix.
///
/// Accumulated in Float: each call adds one sequence's XᵀX (a GEMM over at most
/// a few hundred rows, summed in f32 by the kernel), so the running sum is a
/// sum of a few dozen partial sums — relative error ~1e-6, far below what the
/// 1% damping changes.
public final class HessianCollector: ForwardObserver {
    /// One input site: the n×n sum (lower triangle while collecting; both
    /// after `finish`) and the rows seen.
    public final class Site {
        public let key: String
        public let size: Int
        public let sum: UnsafeMutablePointer<Float>
        public internal(set) var rows = 0
        public internal(set) var consumers: [String]
        var symmetric = false

        init(key: String, size: Int, consumers: [String]) {
            self.key = key
            self.size = size
            self.consumers = consumers
            sum = .allocate(capacity: size * size)
            sum.initialize(repeating: 0, count: size * size)
        }

        deinit { sum.deallocate() }

        /// Mirrors the lower triangle into the upper one (once).
        func finish() {
            guard !symmetric else { return }
            symmetric = true
            let n = size
            for i in 0..<n {
                for j in 0..<i { sum[j * n + i] = sum[i * n + j] }
            }
        }

        /// diag(H): per-input-channel Σx² (the importance RTN uses, up to 1/N).
        public var diagonal: [Float] { (0..<size).map { sum[$0 * size + $0] } }
    }

    let pool: ThreadPool
    /// Layers to observe (nil: all): the sequential mode collects one layer per pass.
    let layers: Set<Int>?
    public private(set) var sites: [String: Site] = [:]
    /// Weight name → site key.
    public private(set) var siteOf: [String: String] = [:]
    /// Wall seconds spent accumulating (part of the calibration pass).
    public private(set) var seconds = 0.0
    private var transposed: [Float] = []
    private var product: [Float] = []

    public init(pool: ThreadPool, layers: Set<Int>? = nil) {
        self.pool = pool
        self.layers = layers
    }

    public func linearInput(layer: Int, linears: [Linear], x: UnsafePointer<Float>, rows: Int) {
        guard layers?.contains(layer) ?? true, let first = linears.first, rows > 0 else { return }
        let key = first.name
        let site: Site
        if let s = sites[key] {
            site = s
        } else {
            site = Site(key: key, size: first.inFeatures, consumers: linears.map(\.name))
            sites[key] = site
            for l in linears { siteOf[l.name] = key }
        }
        accumulate(site, x: x, rows: rows)
    }

    /// sum += XᵀX for x: [rows, n], lower block triangle only: with Xt = Xᵀ
    /// ([n, rows]), rows c0..<c1 of XᵀX up to column c1 are Xt[c0..<c1]·Xt[0..<c1]ᵀ.
    func accumulate(_ site: Site, x: UnsafePointer<Float>, rows: Int) {
        let start = monotonicSeconds()
        defer { seconds += monotonicSeconds() - start }
        let n = site.size
        if transposed.count < n * rows { transposed = [Float](repeating: 0, count: n * rows) }
        let chunk = DenseMatrix.triangleChunk
        if product.count < min(chunk, n) * n { product = [Float](repeating: 0, count: min(chunk, n) * n) }
        let pool = self.pool
        transposed.withUnsafeMutableBufferPointer { tb in
            product.withUnsafeMutableBufferPointer { pb in
                guard let xt = tb.baseAddress, let prod = pb.baseAddress else { return }
                // Blocked transpose (keeps both sides in cache).
                let tile = 32
                for r0 in stride(from: 0, to: rows, by: tile) {
                    for c0 in stride(from: 0, to: n, by: tile) {
                        for r in r0..<min(rows, r0 + tile) {
                            for c in c0..<min(n, c0 + tile) { xt[c * rows + r] = x[r * n + c] }
                        }
                    }
                }
                var c0 = 0
                while c0 < n {
                    let c1 = min(n, c0 + chunk)
                    DenseMatrix.multiplyTransposed(xt + c0 * rows, rows: c1 - c0, xt, rows: c1, depth: rows,
                                                   into: prod, pool: pool)
                    let count = c1 - c0
                    let tasks = min(count, pool.threads * 4)
                    let sum = site.sum
                    pool.run(tasks) { t in
                        for i in (t * count / tasks)..<((t + 1) * count / tasks) {
                            let dst = sum + (c0 + i) * n
                            let src = prod + i * c1
                            for j in 0...(c0 + i) { dst[j] += src[j] }
                        }
                    }
                    c0 = c1
                }
            }
        }
        site.rows += rows
    }

    /// The finished (symmetric) Hessian of the input of weight `name`.
    public func site(for name: String) -> Site? {
        guard let key = siteOf[name], let s = sites[key] else { return nil }
        s.finish()
        return s
    }

    /// Drops a site's matrix (n² floats) once nothing needs it any more.
    public func release(site key: String) {
        sites[key] = nil
    }
}
