import Foundation
import Testing
@testable import VerdantEval
import VerdantModels
import VerdantTensors

/// A fake /sys/class/powercap tree.
struct FakePowercap {
    let root: String

    init() throws {
        root = try Fixtures.temporaryDirectory()
        try zone("intel-rapl:0", name: "package-0", energy: 1_000_000, range: 262_143_328_850)
        try zone("intel-rapl:0:0", name: "core", energy: 500_000, range: 262_143_328_850)
        try zone("intel-rapl:0:1", name: "dram", energy: 2_000_000, range: 65_712_999_613)
        try zone("intel-rapl-mmio:0", name: "package-0", energy: 7, range: 262_143_328_850)
    }

    func zone(_ dir: String, name: String, energy: UInt64, range: UInt64) throws {
        let d = (root as NSString).appendingPathComponent(dir)
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        try "\(name)\n".write(toFile: d + "/name", atomically: true, encoding: .utf8)
        try "\(range)\n".write(toFile: d + "/max_energy_range_uj", atomically: true, encoding: .utf8)
        try set(dir, energy)
    }

    func set(_ dir: String, _ energy: UInt64) throws {
        try "\(energy)\n".write(toFile: (root as NSString).appendingPathComponent(dir) + "/energy_uj", atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }
}

@Test func raplCountsPackageAndDRAMAndHandlesWraparound() throws {
    let fake = try FakePowercap()
    defer { fake.remove() }
    let meter = EnergyMeter(powercapRoot: fake.root)
    #expect(meter.method == .rapl)
    #expect(meter.zones.map(\.name) == ["intel-rapl:0 package-0", "intel-rapl:0:1 dram"])
    let a = meter.read()
    // The package counter advances 3 J; the DRAM counter wraps: 2 J before the wrap point… plus 0.5 J after.
    try fake.set("intel-rapl:0", 4_000_000)
    try fake.set("intel-rapl:0:1", 500_000)
    try fake.set("intel-rapl:0:0", 9_999_999)  // a sub-zone of the package: not added again
    let b = meter.read()
    let expected = 3.0 + Double(65_712_999_613 - 2_000_000 + 500_000) * 1e-6
    #expect(abs(meter.joules(from: a, to: b, residentBytes: 0) - expected) < 1e-6)
}

@Test func unreadableOrMissingRAPLFallsBackToTheEstimate() throws {
    let fake = try FakePowercap()
    defer { fake.remove() }
    try FileManager.default.removeItem(atPath: fake.root + "/intel-rapl:0")  // DRAM alone is not enough
    #expect(EnergyMeter(powercapRoot: fake.root).method == .estimate)
    #expect(EnergyMeter(powercapRoot: "/nonexistent").method == .estimate)
    let full = try FakePowercap()
    defer { full.remove() }
    #expect(EnergyMeter(powercapRoot: full.root, allowRAPL: false).method == .estimate)
}

@Test func estimateIsCPUTimeTimesPowerPerCorePlusDRAM() {
    // 2 CPU-seconds at 7.5 W per core + 0.3725 W/GB × 0.5 GB × 4 s
    let j = EnergyMeter.estimate(cpuSeconds: 2, wallSeconds: 4, residentBytes: 500_000_000, wattsPerCore: 7.5)
    #expect(abs(j - (15 + 0.3725 * 0.5 * 4)) < 1e-12)
    let meter = EnergyMeter(powercapRoot: "/nonexistent", cpuName: "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz")
    #expect(meter.cpuPower.wattsPerCore == 7.5)
    #expect(meter.description.contains("Xeon Gold 6248"))
}

@Test func counterDeltaWraps() {
    #expect(EnergyMeter.counterDelta(from: 10, to: 25, maxRange: 100) == 15)
    #expect(EnergyMeter.counterDelta(from: 90, to: 5, maxRange: 100) == 15)
}

@Test func cpuModelsAreMatchedByWholeName() {
    #expect(CPUPower.lookup("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz").wattsPerCore == 150.0 / 20)
    #expect(CPUPower.lookup("AMD EPYC 7763 64-Core Processor").wattsPerCore == 280.0 / 64)
    #expect(CPUPower.lookup("Intel(R) Xeon(R) CPU E5-2670 v2 @ 2.50GHz").wattsPerCore == 115.0 / 10)  // not E5-2670
    #expect(CPUPower.lookup("Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz").wattsPerCore == 115.0 / 8)
    #expect(CPUPower.lookup("Intel(R) Core(TM) i9-10900KF CPU @ 3.70GHz").description.hasPrefix("Core i9-10900KF"))
    #expect(CPUPower.lookup("Intel(R) Core(TM) i3-9100T CPU").matched == false)  // i3-9100 ≠ i3-9100T
    let unknown = CPUPower.lookup("Intel(R) Xeon(R) Processor @ 2.50GHz")
    #expect(!unknown.matched && unknown.wattsPerCore == 12)
}

@Test func carbonIntensityTable() throws {
    #expect(CarbonIntensity.worldAverage.gramsPerKWh == 475)
    let france = try #require(CarbonIntensity.country("fra"))
    #expect(france.region == "FRA")
    #expect(france.source.contains("2023"))
    #expect(france.gramsPerKWh < CarbonIntensity.country("POL")?.gramsPerKWh ?? 0)
    #expect(CarbonIntensity.country("XYZ") == nil)
    #expect(CarbonIntensity.countryCodes.count > 200)
    #expect(Set(CarbonIntensity.countryCodes).count == CarbonIntensity.countryCodes.count)
    // 3.6 MJ = 1 kWh
    #expect(abs(CarbonIntensity.worldAverage.grams(joules: 3.6e6) - 475) < 1e-9)
}

@Test func measureReportsEveryFigure() throws {
    let directory = Fixtures.model("llama-gqa-f32")
    let loaded = try VerdantModels.LoadedModel.load(directory: directory)
    let info = try VerdantModels.ModelInfo.read(directory: directory)
    let m = try measure(model: loaded.model, info: info, options: MeasureOptions(promptTokens: 8, genTokens: 4, runs: 3),
                        pool: VerdantTensors.ThreadPool(threads: 1), meter: EnergyMeter(powercapRoot: "/nonexistent"))
    #expect(m.parameters == info.parameterCount && m.diskBytes == info.bytesOnDisk)
    #expect(m.flopsPerToken == FLOPs.perGeneratedToken(loaded.model, prompt: 8, generated: 4))
    #expect(m.prefillSeconds.min <= m.prefillSeconds.median && m.prefillSeconds.median <= m.prefillSeconds.max)
    #expect(m.timeToFirstToken.median >= m.prefillSeconds.min)
    #expect(m.decodeTokensPerSecond > 0 && m.prefillTokensPerSecond > 0)
    #expect(m.energyMethod == .estimate && m.energyJoulesPerToken.median > 0)
    #expect(abs(m.carbonGramsPer1kTokens - m.energyJoulesPerToken.median * 1000 / 3.6e6 * 475) < 1e-12)
    #expect(throws: MeasureError.self) {
        _ = try measure(model: loaded.model, info: info, options: MeasureOptions(promptTokens: 120, genTokens: 20, runs: 1),
                        pool: VerdantTensors.ThreadPool(threads: 1))
    }
}
