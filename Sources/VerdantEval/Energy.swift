import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VerdantTensors

/// How an energy figure was obtained; every report states it.
public enum EnergyMethod: String, Sendable, Codable {
    /// Intel/AMD RAPL counters (/sys/class/powercap/intel-rapl*): package (+ DRAM) energy of the
    /// whole machine while the work ran — other processes' share included.
    case rapl
    /// A model: CPU power per busy core (TDP / cores, `CPUPower`) × this process's CPU time,
    /// plus DRAM at 0.3725 W/GB × resident memory × wall time.
    case estimate
}

/// One RAPL energy counter.
public struct RAPLZone: Sendable, Equatable {
    public var name: String
    /// .../energy_uj
    public var path: String
    /// The counter wraps to 0 after this many µJ.
    public var maxRange: UInt64
}

/// A reading to subtract from a later one.
public struct EnergyReading: Sendable {
    public var wallSeconds: Double
    public var cpuSeconds: Double
    /// µJ per zone, in the meter's zone order (empty for an estimate).
    public var microjoules: [UInt64]
}

/// Energy of a stretch of work, by RAPL when readable, else by the CPU power model.
public struct EnergyMeter: Sendable {
    public let method: EnergyMethod
    public let zones: [RAPLZone]
    public let cpuPower: CPUPower

    /// Uses RAPL if at least one package counter under `powercapRoot` can be read
    /// (and `allowRAPL`); otherwise the estimate for `cpuName`.
    public init(powercapRoot: String = "/sys/class/powercap", allowRAPL: Bool = true,
                cpuName: String = CPUInfo.current.modelName) {
        cpuPower = CPUPower.lookup(cpuName)
        let found = allowRAPL ? Self.readableZones(powercapRoot) : []
        zones = found
        method = found.isEmpty ? .estimate : .rapl
    }

    /// One line for reports.
    public var description: String {
        switch method {
        case .rapl:
            return "RAPL counters (\(zones.map(\.name).joined(separator: ", "))), whole machine"
        case .estimate:
            return String(format: "estimate: %.2f W per busy core (%@) × process CPU time + %.4f W/GB DRAM × RSS",
                          cpuPower.wattsPerCore, cpuPower.description, CPUPower.dramWattsPerGB)
        }
    }

    public func read() -> EnergyReading {
        EnergyReading(wallSeconds: monotonicNow(), cpuSeconds: processCPUSeconds(),
                      microjoules: zones.map { Self.readCounter($0.path) ?? 0 })
    }

    /// Joules spent between two readings. `residentBytes` is the memory the estimate charges DRAM power for.
    public func joules(from a: EnergyReading, to b: EnergyReading, residentBytes: Int) -> Double {
        switch method {
        case .rapl:
            var total = 0.0
            for (i, zone) in zones.enumerated() where i < a.microjoules.count && i < b.microjoules.count {
                total += Double(Self.counterDelta(from: a.microjoules[i], to: b.microjoules[i], maxRange: zone.maxRange)) * 1e-6
            }
            return total
        case .estimate:
            return Self.estimate(cpuSeconds: b.cpuSeconds - a.cpuSeconds, wallSeconds: b.wallSeconds - a.wallSeconds,
                                 residentBytes: residentBytes, wattsPerCore: cpuPower.wattsPerCore)
        }
    }

    /// The counter difference, allowing for one wraparound at `maxRange`.
    public static func counterDelta(from a: UInt64, to b: UInt64, maxRange: UInt64) -> UInt64 {
        b >= a ? b - a : (maxRange > a ? maxRange - a + b : b)
    }

    /// CPU: wattsPerCore × CPU seconds (all threads of the process); DRAM: 0.3725 W/GB × GB resident × wall seconds.
    public static func estimate(cpuSeconds: Double, wallSeconds: Double, residentBytes: Int, wattsPerCore: Double) -> Double {
        max(0, cpuSeconds) * wattsPerCore + CPUPower.dramWattsPerGB * Double(residentBytes) / 1e9 * max(0, wallSeconds)
    }

    /// Top-level package zones (intel-rapl:N, also used by AMD's driver) and their DRAM
    /// sub-zones (not counted in the package), each readable; mmio duplicates skipped.
    public static func readableZones(_ root: String) -> [RAPLZone] {
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: root) else { return [] }
        var zones: [RAPLZone] = []
        for entry in entries.sorted() where entry.hasPrefix("intel-rapl:") {
            let parts = entry.dropFirst("intel-rapl:".count).split(separator: ":")
            let directory = (root as NSString).appendingPathComponent(entry)
            let name = (try? String(contentsOfFile: directory + "/name", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? entry
            let isPackage = parts.count == 1
            let isDRAM = parts.count == 2 && name == "dram"
            guard isPackage || isDRAM else { continue }
            let path = directory + "/energy_uj"
            guard readCounter(path) != nil else { continue }
            let range = (try? String(contentsOfFile: directory + "/max_energy_range_uj", encoding: .utf8))
                .flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
            zones.append(RAPLZone(name: "\(entry) \(name)", path: path, maxRange: range))
        }
        // Without a package counter the DRAM ones alone would be misleading.
        return zones.contains { $0.name.split(separator: " ").first?.split(separator: ":").count == 2 } ? zones : []
    }

    static func readCounter(_ path: String) -> UInt64? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// User + system CPU seconds of this process (all threads).
public func processCPUSeconds() -> Double {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) * 1e-6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) * 1e-6
}

/// Resident set size now, in bytes (/proc/self/statm; the peak RSS where that is unavailable).
public func currentRSSBytes() -> Int {
    #if os(Linux)
    if let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
        let fields = text.split(separator: " ")
        if fields.count > 1, let pages = Int(fields[1]) { return pages * Int(sysconf(Int32(_SC_PAGESIZE))) }
    }
    #endif
    return peakRSS()
}

/// Peak resident set size of this process, in bytes.
public func peakRSS() -> Int {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024
    #else
    getrusage(RUSAGE_SELF, &usage)
    return Int(usage.ru_maxrss)
    #endif
}
