#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The CPU this process runs on, detected at run time, for benchmark tables and
/// for choosing kernels beyond the compile-time baseline (AVX-512 BF16, AMX, ...).
public struct CPUInfo: Sendable, Equatable {
    /// Marketing name, e.g. "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz".
    public var modelName: String
    /// Logical processors online.
    public var logicalCores: Int
    /// Feature flags of interest that are present, in `CPUInfo.knownFlags` order.
    public var flags: [String]

    /// The flags the kernels care about (Linux /proc/cpuinfo spelling).
    public static let knownFlags = ["fma", "f16c", "avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                                    "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8"]

    public init(modelName: String, logicalCores: Int, flags: [String]) {
        self.modelName = modelName
        self.logicalCores = logicalCores
        self.flags = flags
    }

    public func has(_ flag: String) -> Bool { flags.contains(flag) }

    /// "avx512f avx512_vnni fma f16c ..." or "none".
    public var flagSummary: String { flags.isEmpty ? "none" : flags.joined(separator: " ") }

    /// Detected once per process.
    public static let current: CPUInfo = detect()

    static func detect() -> CPUInfo {
        let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #if os(Linux)
        if let text = readSmallFile("/proc/cpuinfo") {
            return parseProcCPUInfo(text, logicalCores: cores)
        }
        return CPUInfo(modelName: "unknown", logicalCores: cores, flags: [])
        #elseif canImport(Darwin)
        var size = 0
        var name = "unknown"
        if sysctlbyname("machdep.cpu.brand_string", nil, &size, nil, 0) == 0, size > 0 {
            var buf = [CChar](repeating: 0, count: size)
            if sysctlbyname("machdep.cpu.brand_string", &buf, &size, nil, 0) == 0 {
                name = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        return CPUInfo(modelName: name, logicalCores: cores, flags: [])
        #else
        return CPUInfo(modelName: "unknown", logicalCores: cores, flags: [])
        #endif
    }

    /// Model name and flags from the first processor block of /proc/cpuinfo text.
    static func parseProcCPUInfo(_ text: String, logicalCores: Int) -> CPUInfo {
        var model = "unknown"
        var present = Set<String>()
        var gotModel = false, gotFlags = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingSpaces()
            let value = line[line.index(after: colon)...].trimmingSpaces()
            if !gotModel && key == "model name" {
                model = String(value); gotModel = true
            } else if !gotFlags && (key == "flags" || key == "Features") {
                present = Set(value.split(separator: " ").map(String.init)); gotFlags = true
            }
            if gotModel && gotFlags { break }
        }
        return CPUInfo(modelName: model, logicalCores: logicalCores, flags: knownFlags.filter(present.contains))
    }
}

private extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}

#if os(Linux)
/// Whole file via read(2); /proc files report size 0, so read until EOF.
private func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY)
    if fd < 0 { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 65536) }
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
        if bytes.count > (16 << 20) { break }
    }
    return String(decoding: bytes, as: UTF8.self)
}
#endif
