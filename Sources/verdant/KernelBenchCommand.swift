import ArgumentParser
import Foundation
import VerdantTensors

#if canImport(Glibc)
import Glibc
#endif

/// Machine limits and linear-layer kernel speed: the yardsticks the `bench`
/// numbers are read against (decode as a fraction of memory bandwidth, prefill
/// as a fraction of peak FMA rate).
struct KernelBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel-bench",
        abstract: "Memory bandwidth, peak FMA rate, thread-pool overhead and bf16 matmul speed on Qwen2.5-Coder-0.5B shapes.",
        discussion: """
        Decode (1 token) reads each weight once, so it is reported in GB/s against the measured read \
        bandwidth; weight copies are rotated so they come from DRAM, not L3. Prefill (512 tokens) is \
        reported in GFLOP/s against the measured peak. Every figure is the best of several runs.
        """)

    @Option(help: "Threads (default: available cores).")
    var threads: Int?

    @Option(help: "Bandwidth buffer size in MiB.")
    var bufferMib: Int = 1024

    @Option(help: "Tokens for the prefill measurement.")
    var prefillRows: Int = 512

    @Option(help: "Weight format: f32, f16, bf16, q8_0, q4_0, int4_g32/64/128, w8a8.")
    var format: String = "bf16"

    @Flag(help: "Print one JSON object instead of tables.")
    var json = false

    @Flag(help: "Instead: f32 training GEMM (sgemm) on pycoder-llama-19m's linears, forward and both backward products.")
    var sgemm = false

    @Option(help: "Tokens per training batch for --sgemm.")
    var tokens: Int = 2048

    @Option(help: "Timed runs per product for --sgemm (the median is reported).")
    var runs: Int = 7

    func validate() throws {
        if let t = threads, !(1...1024).contains(t) { throw ValidationError("--threads must be between 1 and 1024") }
        guard (64...65536).contains(bufferMib) else { throw ValidationError("--buffer-mib must be between 64 and 65536") }
        guard (2...8192).contains(prefillRows) else { throw ValidationError("--prefill-rows must be between 2 and 8192") }
        guard let f = WeightFormat(name: format), f.sparsePairs == nil else {
            throw ValidationError("unknown --format '\(format)' (the sparse 1x2 formats depend on the kept share: measure a pruned model with `verdant bench`)")
        }
        guard (1...65536).contains(tokens) else { throw ValidationError("--tokens must be between 1 and 65536") }
        guard (1...1000).contains(runs) else { throw ValidationError("--runs must be between 1 and 1000") }
    }

    struct Shape: Encodable {
        var name: String
        var out: Int
        var inFeatures: Int
        var decode_us: Double
        var decode_gbps: Double
        var decode_fraction_of_bandwidth: Double
        var prefill_ms: Double?
        var prefill_gflops: Double?
        var prefill_fraction_of_peak: Double?
    }

    struct Output: Encodable {
        var cpu: String
        var cpu_flags: [String]
        var logical_cores: Int
        var threads: Int
        var bandwidth_gbps: Double
        var bandwidth_1thread_gbps: Double
        var peak_gflops: Double
        var peak_gflops_per_thread: Double
        var pool_run_overhead_us: Double
        var dispatch_overhead_us: Double
        var prefill_rows: Int
        var shapes: [Shape]
    }

    func run() throws {
        if sgemm {
            try runSGEMM()
            return
        }
        let cpu = CPUInfo.current
        let n = threads ?? ProcessInfo.processInfo.activeProcessorCount
        let pool = ThreadPool(threads: n)
        let weightFormat = WeightFormat(name: format) ?? .bf16
        let single = ThreadPool(threads: 1)

        let bytes = bufferMib << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        defer { buffer.deallocate() }
        pool.run(n) { i in
            let chunk = bytes / n
            memset(buffer + i * chunk, 1, i == n - 1 ? bytes - i * chunk : chunk)
        }
        let bw1 = readBandwidth(buffer, bytes, pool: single)
        let bwN = readBandwidth(buffer, bytes, pool: pool)
        let peak1 = peakFMA(pool: single)
        let peakN = peakFMA(pool: pool)
        let poolUs = runOverhead(pool)
        let dispatchUs = dispatchOverhead(n)

        // Qwen2.5-Coder-0.5B: hidden 896, 14 q heads / 2 kv heads of 64, FFN 4864, vocab 151936.
        let shapes: [(String, Int, Int)] = [("q_proj", 896, 896), ("k_proj/v_proj", 128, 896), ("o_proj", 896, 896),
                                            ("gate/up_proj", 4864, 896), ("down_proj", 896, 4864), ("lm_head", 151936, 896)]
        var results: [Shape] = []
        for (name, out, inF) in shapes {
            let d = decodeSpeed(weightFormat, out: out, cols: inF, pool: pool)
            var s = Shape(name: name, out: out, inFeatures: inF, decode_us: d.seconds * 1e6, decode_gbps: d.gbps,
                          decode_fraction_of_bandwidth: d.gbps / bwN)
            // Prefill computes logits for the last token only, so lm_head is decode-shaped.
            if name != "lm_head" {
                let p = prefillSpeed(weightFormat, out: out, cols: inF, rows: prefillRows, pool: pool)
                s.prefill_ms = p.seconds * 1e3
                s.prefill_gflops = p.gflops
                s.prefill_fraction_of_peak = p.gflops / peakN
            }
            results.append(s)
        }

        let out = Output(cpu: cpu.modelName, cpu_flags: cpu.flags, logical_cores: cpu.logicalCores, threads: n,
                         bandwidth_gbps: bwN, bandwidth_1thread_gbps: bw1, peak_gflops: peakN,
                         peak_gflops_per_thread: peak1, pool_run_overhead_us: poolUs, dispatch_overhead_us: dispatchUs,
                         prefill_rows: prefillRows, shapes: results)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(out), as: UTF8.self))
            return
        }
        print("cpu       \(cpu.modelName), \(cpu.logicalCores) logical cores, \(n) threads")
        print("flags     \(cpu.flagSummary)")
        print(String(format: "bandwidth %.1f GB/s (1 thread %.1f)   peak f32 FMA %.1f GFLOP/s (1 thread %.1f)",
                     bwN, bw1, peakN, peak1))
        print(String(format: "pool.run  %.2f µs overhead per call of %d×5 µs tasks (Dispatch concurrentPerform %.2f µs)", poolUs, n, dispatchUs))
        print("")
        print("\(weightFormat.name) matmul".padding(toLength: 18, withPad: " ", startingAt: 0) + "out×in        decode µs   GB/s  ×bw   | prefill \(prefillRows) ms  GFLOP/s  ×peak")
        for s in results {
            var line = s.name.padding(toLength: 16, withPad: " ", startingAt: 0)
            line += String(format: " %6d×%-6d %10.1f %6.1f %5.2f |", s.out,
                           s.inFeatures, s.decode_us, s.decode_gbps, s.decode_fraction_of_bandwidth)
            if let ms = s.prefill_ms, let g = s.prefill_gflops, let f = s.prefill_fraction_of_peak {
                line += String(format: " %14.2f %8.1f %6.2f", ms, g, f)
            } else {
                line += "              —"
            }
            print(line)
        }
    }
}

private func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Shared result slots for pool tasks (one per task, no sharing).
private final class Sink: @unchecked Sendable {
    let p: UnsafeMutablePointer<Float>
    init(_ n: Int) { p = .allocate(capacity: n); p.initialize(repeating: 0, count: n) }
    deinit { p.deallocate() }
}

/// Best-of-5 streaming read of the whole buffer, split evenly over the pool's threads.
private func readBandwidth(_ buffer: UnsafeMutableRawPointer, _ bytes: Int, pool: ThreadPool) -> Double {
    let t = pool.threads
    let sink = Sink(t)
    let chunk = bytes / t / 256 * 256
    var best = 0.0
    for _ in 0..<5 {
        let start = now()
        pool.run(t) { i in sink.p[i] += sumStream(UnsafeRawPointer(buffer + i * chunk), chunk) }
        best = max(best, Double(chunk * t) / (now() - start) / 1e9)
    }
    return best
}

@inline(never)
private func sumStream(_ p: UnsafeRawPointer, _ bytes: Int) -> Float {
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
    var off = 0
    while off + 256 <= bytes {
        a0 += p.load(fromByteOffset: off, as: SIMD16<Float>.self)
        a1 += p.load(fromByteOffset: off + 64, as: SIMD16<Float>.self)
        a2 += p.load(fromByteOffset: off + 128, as: SIMD16<Float>.self)
        a3 += p.load(fromByteOffset: off + 192, as: SIMD16<Float>.self)
        off += 256
    }
    return ((a0 + a1) + (a2 + a3)).sum()
}

/// GFLOP/s of 12 independent SIMD16 FMA chains (enough to cover 2 ports × 4-cycle latency), best of 5.
private func peakFMA(pool: ThreadPool) -> Double {
    let t = pool.threads
    let sink = Sink(t)
    let iterations = 20_000_000
    var best = 0.0
    for _ in 0..<5 {
        let start = now()
        pool.run(t) { i in sink.p[i] += fmaLoop(iterations, seed: Float(i) * 1e-9) }
        best = max(best, Double(t) * Double(iterations) * 12 * 16 * 2 / (now() - start) / 1e9)
    }
    return best
}

@inline(never)
private func fmaLoop(_ n: Int, seed: Float) -> Float {
    let m = SIMD16<Float>(repeating: 0.999_999), b = SIMD16<Float>(repeating: 1e-7 + seed)
    var a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b, a8 = b, a9 = b, a10 = b, a11 = b
    for _ in 0..<n {
        a0 = b.addingProduct(a0, m); a1 = b.addingProduct(a1, m); a2 = b.addingProduct(a2, m)
        a3 = b.addingProduct(a3, m); a4 = b.addingProduct(a4, m); a5 = b.addingProduct(a5, m)
        a6 = b.addingProduct(a6, m); a7 = b.addingProduct(a7, m); a8 = b.addingProduct(a8, m)
        a9 = b.addingProduct(a9, m); a10 = b.addingProduct(a10, m); a11 = b.addingProduct(a11, m)
    }
    return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).sum()
}

/// Iterations of a dependent scalar chain taking about `micros` µs on one thread.
private func calibrateSpin(micros: Double) -> Int {
    let n = 1_000_000
    var best = Double.infinity
    var keep: Float = 0
    for i in 0..<3 {
        let start = now()
        keep += spinWork(n, seed: Float(i))
        best = min(best, now() - start)
    }
    // Use the result so the calls cannot be dropped as dead code.
    if keep.isNaN { print("") }
    return max(1, min(100_000_000, Int(Double(n) * micros * 1e-6 / max(best, 1e-6))))
}

@inline(never)
private func spinWork(_ n: Int, seed: Float) -> Float {
    var a = seed
    for _ in 0..<n { a = a * 0.999_999 + 1e-7 }
    return a
}

/// Median per-call cost of `threads` tasks of ~5 µs each, minus the 5 µs an ideal
/// parallel run takes: what every parallel kernel call pays for dispatch and join.
/// Tasks do real work so a scheduler cannot run them all on the caller for free.
private func measureOverhead(threads: Int, workMicros: Double = 5, _ run: (Int, (Int) -> Void) -> Void) -> Double {
    let iterations = calibrateSpin(micros: workMicros)
    let sink = Sink(threads)
    var samples: [Double] = []
    for _ in 0..<15 {
        let start = now()
        for _ in 0..<200 { run(threads) { i in sink.p[i] += spinWork(iterations, seed: Float(i)) } }
        samples.append((now() - start) / 200 * 1e6 - workMicros)
    }
    return samples.sorted()[samples.count / 2]
}

private func runOverhead(_ pool: ThreadPool) -> Double {
    measureOverhead(threads: pool.threads) { n, body in pool.run(n, body) }
}

private func dispatchOverhead(_ threads: Int) -> Double {
    measureOverhead(threads: threads) { n, body in
        withoutActuallyEscaping(body) { body in
            let b = BodyBox(body)
            DispatchQueue.concurrentPerform(iterations: n) { i in b.value(i) }
        }
    }
}

private struct BodyBox: @unchecked Sendable {
    let value: (Int) -> Void
    init(_ value: @escaping (Int) -> Void) { self.value = value }
}

/// Random weights in [-1, 1) stored in `format`: low-entropy bit patterns would not change speed.
private func randomWeights(_ format: WeightFormat, rows: Int, cols: Int, seed: UInt64) -> WeightMatrix {
    let rowBytes = format.rowBytes(cols: cols)
    let buffer = OwnedBuffer(byteCount: rows * rowBytes)
    var s = seed | 1
    var row = [Float](repeating: 0, count: cols)
    for r in 0..<rows {
        for c in 0..<cols {
            s ^= s >> 12; s ^= s << 25; s ^= s >> 27
            row[c] = Float((s &* 2685821657736338717) >> 40) / Float(1 << 23) - 1
        }
        let dst = buffer.pointer + r * rowBytes
        switch format {
        case .f32: dst.copyMemory(from: row, byteCount: cols * 4)
        case .bf16: for c in 0..<cols { dst.storeBytes(of: floatToBF16(row[c]), toByteOffset: 2 * c, as: UInt16.self) }
        case .f16: for c in 0..<cols { dst.storeBytes(of: floatToF16(row[c]), toByteOffset: 2 * c, as: UInt16.self) }
        default: row.withUnsafeBufferPointer { format.codec.quantizeRow($0.baseAddress!, cols: cols, into: dst) }
        }
    }
    return WeightMatrix(format: format, rows: rows, cols: cols, data: buffer.pointer, owner: buffer)
}

/// Best per-call time for one token, cycling through enough copies of the matrix
/// (≥ 256 MiB in total) that the weights stream from DRAM as in a real model.
private func decodeSpeed(_ format: WeightFormat, out: Int, cols: Int, pool: ThreadPool) -> (seconds: Double, gbps: Double) {
    let bytes = out * format.rowBytes(cols: cols)
    let copies = max(1, (256 << 20) / bytes)
    let first = randomWeights(format, rows: out, cols: cols, seed: 7)
    // Copies of one random matrix: generating (and quantizing) each would take longer than the benchmark.
    let ws = [first] + (1..<copies).map { _ in first.permutingRows(Array(0..<out)) }
    let x = (0..<cols).map { Float(($0 % 17) - 8) * 0.01 }
    var y = [Float](repeating: 0, count: out)
    var best = Double.infinity
    x.withUnsafeBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { yp in
            for _ in 0..<5 {
                let start = now()
                for w in ws { matmul(xp.baseAddress!, rows: 1, w, yp.baseAddress!, pool: pool) }
                best = min(best, (now() - start) / Double(copies))
            }
        }
    }
    return (best, Double(bytes) / best / 1e9)
}

private func prefillSpeed(_ format: WeightFormat, out: Int, cols: Int, rows: Int, pool: ThreadPool) -> (seconds: Double, gflops: Double) {
    let w = randomWeights(format, rows: out, cols: cols, seed: 99)
    let x = (0..<(rows * cols)).map { Float(($0 % 29) - 14) * 0.01 }
    var y = [Float](repeating: 0, count: rows * out)
    var best = Double.infinity
    x.withUnsafeBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { yp in
            for _ in 0..<3 {
                let start = now()
                matmul(xp.baseAddress!, rows: rows, w, yp.baseAddress!, pool: pool)
                best = min(best, now() - start)
            }
        }
    }
    return (best, 2 * Double(rows) * Double(out) * Double(cols) / best / 1e9)
}

// MARK: - Training GEMM (--sgemm)

extension KernelBenchCommand {
    struct SGEMMProduct: Encodable {
        var layer: String
        var product: String      // "forward", "dX" or "dW"
        var transA: Bool
        var transB: Bool
        var accumulate: Bool
        var m: Int
        var n: Int
        var k: Int
        var median_ms: Double
        var gflops: Double
        var fraction_of_peak: Double
    }

    struct SGEMMOutput: Encodable {
        var cpu: String
        var threads: Int
        var tokens: Int
        var runs: Int
        var peak_gflops: Double
        var peak_gflops_per_thread: Double
        var implied_clock_ghz: Double
        var products: [SGEMMProduct]
    }

    /// pycoder-llama-19m (../shared/models/pycoder-llama-19m/config.json): hidden 384, 6 query heads and
    /// 2 key/value heads of 64, intermediate 1024, vocab 16384 with the embedding tied as lm_head.
    /// (name, out features, in features); layers with equal shapes are measured once.
    static let pycoderLinears: [(String, Int, Int)] = [
        ("q_proj/o_proj", 384, 384), ("k_proj/v_proj", 128, 384), ("gate_proj/up_proj", 1024, 384),
        ("down_proj", 384, 1024), ("lm_head", 16384, 384),
    ]

    /// For a linear y = x·Wᵀ with x [T, in], W [out, in] (row-major, as stored):
    /// forward  Y[T, out]  = X · Wᵀ        (transB)
    /// dX       dX[T, in]  = dY · W        (no transposes)
    /// dW       dW[out, in] += dYᵀ · X     (transA, accumulate)
    func runSGEMM() throws {
        let cpu = CPUInfo.current
        let n = threads ?? ProcessInfo.processInfo.activeProcessorCount
        let pool = ThreadPool(threads: n)
        let peak1 = peakFMA(pool: ThreadPool(threads: 1))
        let peakN = peakFMA(pool: pool)
        let t = tokens
        var products: [SGEMMProduct] = []
        for (layer, out, inF) in Self.pycoderLinears {
            // x [T, in], w [out, in], dy [T, out], y [T, out], dx [T, in], dw [out, in]
            let x = benchValues(t * inF, seed: 1), w = benchValues(out * inF, seed: 2)
            let dy = benchValues(t * out, seed: 3)
            let y = UnsafeMutablePointer<Float>.allocate(capacity: t * out)
            let dx = UnsafeMutablePointer<Float>.allocate(capacity: t * inF)
            let dw = UnsafeMutablePointer<Float>.allocate(capacity: out * inF)
            dw.initialize(repeating: 0, count: out * inF)
            defer {
                for p in [x, w, dy] { UnsafeMutableRawPointer(p).deallocate() }
                y.deallocate(); dx.deallocate(); dw.deallocate()
            }
            let cases: [(String, Bool, Bool, Int, Int, Int, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int,
                         UnsafeMutablePointer<Float>, Int, Bool)] = [
                ("forward", false, true, t, out, inF, UnsafePointer(x), inF, UnsafePointer(w), inF, y, out, false),
                ("dX", false, false, t, inF, out, UnsafePointer(dy), out, UnsafePointer(w), inF, dx, inF, false),
                ("dW", true, false, out, inF, t, UnsafePointer(dy), out, UnsafePointer(x), inF, dw, inF, true),
            ]
            for (product, ta, tb, m, nn, k, a, lda, b, ldb, c, ldc, acc) in cases {
                var samples: [Double] = []
                for r in 0...runs {
                    let start = now()
                    VerdantTensors.sgemm(transA: ta, transB: tb, m: m, n: nn, k: k, a: a, lda: lda, b: b, ldb: ldb,
                                         c: c, ldc: ldc, accumulate: acc, pool: pool)
                    // Run 0 is the warm-up (page faults, scratch allocation).
                    if r > 0 { samples.append(now() - start) }
                }
                let median = samples.sorted()[samples.count / 2]
                let gflops = 2 * Double(m) * Double(nn) * Double(k) / median / 1e9
                products.append(SGEMMProduct(layer: layer, product: product, transA: ta, transB: tb, accumulate: acc,
                                             m: m, n: nn, k: k, median_ms: median * 1e3, gflops: gflops,
                                             fraction_of_peak: gflops / peakN))
            }
        }
        // Peak = cores × 2 FMA ports × 16 lanes × 2 flops × clock, so the measured
        // single-thread FMA rate over 64 flops/cycle is the clock the FMA units ran at.
        let out = SGEMMOutput(cpu: cpu.modelName, threads: n, tokens: t, runs: runs, peak_gflops: peakN,
                              peak_gflops_per_thread: peak1, implied_clock_ghz: peak1 / 64, products: products)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(out), as: UTF8.self))
            return
        }
        print("cpu       \(cpu.modelName), \(cpu.logicalCores) logical cores, \(n) threads")
        print(String(format: "peak f32 FMA %.1f GFLOP/s (1 thread %.1f = 64 flops/cycle × %.2f GHz)",
                     peakN, peak1, peak1 / 64))
        print("sgemm, \(t) tokens, median of \(runs) runs")
        print("layer              product  tA tB acc      m      n      k        ms  GFLOP/s  ×peak")
        for p in products {
            var line = p.layer.padding(toLength: 18, withPad: " ", startingAt: 0) + " "
            line += p.product.padding(toLength: 8, withPad: " ", startingAt: 0)
            line += " " + (p.transA ? " T" : " N") + " " + (p.transB ? " T" : " N") + " " + (p.accumulate ? " +=" : "  =")
            line += String(format: " %6d %6d %6d %9.2f %8.1f %6.2f", p.m, p.n, p.k, p.median_ms, p.gflops,
                           p.fraction_of_peak)
            print(line)
        }
    }
}

/// count floats in [-1, 1), 64-byte aligned; the caller deallocates.
private func benchValues(_ count: Int, seed: UInt64) -> UnsafeMutablePointer<Float> {
    let p = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64).bindMemory(to: Float.self, capacity: count)
    var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    for i in 0..<count {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27
        p[i] = Float((s &* 2685821657736338717) >> 40) / Float(1 << 23) - 1
    }
    return p
}
