// Single-thread sgemm rate by CPU time, for comparing kernel variants on a shared
// machine (wall time there measures the other jobs). Build against a copy of the
// kernel and the pool, pin to one core, interleave variants and take the best run:
//
//   swiftc -O -wmo -target-cpu cascadelake -enforce-exclusivity=unchecked -o /tmp/sgemm1 \
//       scripts/sgemm_single_thread/main.swift Sources/VerdantTensors/Kernels/SGEMM.swift \
//       Sources/VerdantTensors/Kernels/Prefetch.swift Sources/VerdantTensors/ThreadPool.swift
//   taskset -c 1 /tmp/sgemm1 1            # threads; optional second argument: shape prefix
//   taskset -c 1 /work/venv/bin/python scripts/sgemm_single_thread/torch_single_thread.py
//
// Prints per pycoder shape the forward / dX / dW GFLOP/s from the best of 9 calls'
// CPU time ("cpu") and wall time ("wall"). head128/head512: the output layer at the
// trainer's loss-chunk sizes.
#if canImport(Glibc)
import Glibc
#endif

func cpuNow() -> Double { var t = timespec(); clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }
func wallNow() -> Double { var t = timespec(); clock_gettime(CLOCK_MONOTONIC, &t); return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }
func vals(_ n: Int, _ seed: UInt64) -> UnsafeMutablePointer<Float> {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: n); var s = seed &* 0x9E3779B97F4A7C15 | 1
    for i in 0..<n { s ^= s << 13; s ^= s >> 7; s ^= s << 17; p[i] = Float(s >> 40) / Float(1 << 24) * 2 - 1 }
    return p
}
let args = CommandLine.arguments
let threads = args.count > 1 ? Int(args[1])! : 1
let filter = args.count > 2 ? args[2] : ""
let runs = 9
let pool = ThreadPool(threads: threads)
let T = 2048
let shapes: [(String, Int, Int, Int)] = [("q", 384, 384, T), ("kv", 128, 384, T), ("gate", 1024, 384, T), ("down", 384, 1024, T), ("head", 16384, 384, T), ("head128", 16384, 384, 128), ("head512", 16384, 384, 512)]
var logsum = 0.0, cnt = 0
for (name, out, inF, t) in shapes {
    if !filter.isEmpty && !name.hasPrefix(filter) { continue }
    let x = UnsafePointer(vals(t * inF, 1)), w = UnsafePointer(vals(out * inF, 2)), dy = UnsafePointer(vals(t * out, 3))
    let y = vals(t * out, 4), dx = vals(t * inF, 5), dw = vals(out * inF, 6)
    let cases: [(String, Bool, Bool, Int, Int, Int, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, Int, Bool)] = [
        ("fwd", false, true, t, out, inF, x, inF, w, inF, y, out, false),
        ("dX", false, false, t, inF, out, dy, out, w, inF, dx, inF, false),
        ("dW", true, false, out, inF, t, dy, out, x, inF, dw, inF, true)]
    var line = name + String(repeating: " ", count: 8 - name.count)
    for (p, ta, tb, m, n, k, a, lda, b, ldb, c, ldc, acc) in cases {
        var bestC = 1e9, bestW = 1e9
        for r in 0...runs {
            let c0 = cpuNow(), w0 = wallNow()
            sgemm(transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: acc, pool: pool)
            let dc = cpuNow() - c0, dwl = wallNow() - w0
            if r > 0 { bestC = min(bestC, dc); bestW = min(bestW, dwl) }
        }
        let fl = 2 * Double(m) * Double(n) * Double(k)
        let g = fl / bestC / 1e9 * Double(threads)  // cpu-time based rate scaled to threads
        logsum += log(g); cnt += 1
        line += " \(p) cpu \(String(Int(g))) wall \(String(Int(fl / bestW / 1e9)))  "
    }
    print(line)
}
print("geomean(cpu-based)", exp(logsum / Double(cnt)))
