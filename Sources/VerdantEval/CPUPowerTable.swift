/// Thermal design power of CPU models, for the energy estimate used when RAPL
/// counters cannot be read. Power of one busy core = TDP / cores.
///
/// Sources: rows marked GA are from the Green Algorithms calculator's TDP table
/// (Lannelongue, Grealey & Inouye, "Green Algorithms: Quantifying the Carbon Footprint of
/// Computation", Advanced Science 2021; github.com/GreenAlgorithms/green-algorithms-tool,
/// data/latest/TDP_cpu.csv as of 2025-02, which cites Intel ARK, AMD and techpowerup.com); the other rows
/// are the manufacturers' specification pages (Intel ARK "Processor Base Power"/TDP, AMD
/// product pages "Default TDP"). The fallback for an unknown CPU is Green Algorithms'
/// "Any" row, 12 W per core. DRAM: 0.3725 W per GB (Green Algorithms v2.2 reference value,
/// from Karyakin & Salem 2017).
public struct CPUPower: Sendable, Equatable {
    /// Watts drawn by one fully busy core.
    public var wattsPerCore: Double
    /// What was matched, for reports: e.g. "Xeon Gold 6248: 150 W TDP / 20 cores (Intel ARK)".
    public var description: String
    public var matched: Bool

    public static let defaultWattsPerCore = 12.0
    public static let dramWattsPerGB = 0.3725

    /// The row whose model name occurs in `cpuName` (the longest such name, ending
    /// at a word boundary), after removing "(R)", "(TM)" and "CPU".
    public static func lookup(_ cpuName: String) -> CPUPower {
        let name = " " + cpuName.replacingOccurrences(of: "(R)", with: "").replacingOccurrences(of: "(TM)", with: "")
            .replacingOccurrences(of: "(tm)", with: "").replacingOccurrences(of: " CPU ", with: " ")
            .split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") + " "
        let candidates = table.filter { row in
            guard let r = name.range(of: " " + row.model) else { return false }
            let after = name[r.upperBound...].first
            return after.map { !$0.isLetter && !$0.isNumber } ?? true
        }
        if let row = candidates.max(by: { $0.model.count < $1.model.count }) {
            return CPUPower(wattsPerCore: row.tdp / Double(row.cores),
                            description: "\(row.model): \(Int(row.tdp)) W TDP / \(row.cores) cores (\(row.source))",
                            matched: true)
        }
        return CPUPower(wattsPerCore: defaultWattsPerCore,
                        description: "'\(cpuName)' not in the TDP table: \(Int(defaultWattsPerCore)) W per core (Green Algorithms default)",
                        matched: false)
    }

    /// (model, TDP in W, cores, source)
    static let table: [(model: String, tdp: Double, cores: Int, source: String)] = [
        ("A8-7680", 45, 4, "GA"), ("A9-9425", 15, 2, "GA"), ("Athlon 3000G", 35, 2, "GA"),
        ("Core 2 Quad Q6600", 95, 4, "GA"), ("Core i3-10100", 65, 4, "GA"), ("Core i3-10300", 62, 4, "GA"),
        ("Core i3-10320", 91, 4, "GA"), ("Core i3-10350K", 91, 4, "GA"), ("Core i3-9100", 65, 4, "GA"),
        ("Core i3-9100F", 65, 4, "GA"), ("Core i5-10400", 65, 6, "GA"), ("Core i5-10400F", 65, 6, "GA"),
        ("Core i5-10500", 65, 6, "GA"), ("Core i5-10600", 65, 6, "GA"), ("Core i5-10600K", 95, 6, "GA"),
        ("Core i5-1135G7", 28, 4, "Intel ARK"), ("Core i5-1145G7", 28, 4, "GA"), ("Core i5-3570K", 77, 4, "GA"),
        ("Core i5-4460", 84, 4, "GA"), ("Core i5-9400", 65, 6, "GA"), ("Core i5-9400F", 65, 6, "GA"),
        ("Core i5-9600KF", 95, 6, "GA"), ("Core i7-10700", 65, 8, "GA"), ("Core i7-10700K", 125, 8, "GA"),
        ("Core i7-1165G7", 28, 4, "Intel ARK"), ("Core i7-12700K", 125, 12, "Intel ARK"),
        ("Core i7-4790", 84, 4, "GA"), ("Core i7-4930K", 130, 6, "GA"), ("Core i7-6700K", 95, 4, "GA"),
        ("Core i7-8700K", 95, 6, "GA"), ("Core i7-9700F", 65, 8, "GA"), ("Core i7-9700K", 95, 8, "GA"),
        ("Core i9-10900K", 125, 10, "GA"), ("Core i9-10900KF", 105, 10, "GA"), ("Core i9-10900XE", 165, 10, "GA"),
        ("Core i9-10920XE", 165, 12, "GA"), ("Core i9-12900K", 125, 16, "GA"),
        ("Core i9-13900K", 125, 24, "Intel ARK"), ("Core i9-9900K", 95, 8, "GA"), ("EPYC 7251", 120, 8, "GA"),
        ("EPYC 7313", 155, 16, "AMD"), ("EPYC 7343", 190, 16, "GA"), ("EPYC 7513", 200, 32, "GA"),
        ("EPYC 7543", 225, 32, "AMD"), ("EPYC 7552", 200, 48, "GA"), ("EPYC 7642", 225, 48, "GA"),
        ("EPYC 7742", 225, 64, "AMD"), ("EPYC 7763", 280, 64, "GA"), ("EPYC 7773X", 280, 64, "GA"),
        ("EPYC 7H12", 280, 64, "GA"), ("EPYC 7V73X", 280, 64, "GA"), ("EPYC 9554", 360, 64, "AMD"),
        ("EPYC 9654", 360, 96, "AMD"), ("FX-6300", 95, 6, "GA"), ("FX-8350", 125, 8, "GA"),
        ("Ryzen 3 2200G", 65, 4, "GA"), ("Ryzen 3 3200G", 65, 4, "GA"), ("Ryzen 3 3200U", 15, 2, "GA"),
        ("Ryzen 5 1600", 65, 6, "GA"), ("Ryzen 5 2600", 65, 6, "GA"), ("Ryzen 5 3400G", 65, 4, "GA"),
        ("Ryzen 5 3500U", 15, 4, "GA"), ("Ryzen 5 3600", 65, 6, "GA"), ("Ryzen 5 3600X", 95, 6, "GA"),
        ("Ryzen 7 2700X", 105, 8, "GA"), ("Ryzen 7 3700X", 65, 8, "GA"), ("Ryzen 7 3800X", 105, 8, "GA"),
        ("Ryzen 7 5800X", 105, 8, "AMD"), ("Ryzen 7 7700X", 105, 8, "AMD"), ("Ryzen 9 3900X", 125, 12, "GA"),
        ("Ryzen 9 3950X", 105, 16, "GA"), ("Ryzen 9 5950X", 105, 16, "AMD"), ("Ryzen 9 7950X", 170, 16, "AMD"),
        ("Ryzen Threadripper 2990WX", 250, 32, "GA"), ("Ryzen Threadripper 3990X", 280, 64, "GA"),
        ("Xeon E5-2650 v2", 95, 8, "GA"), ("Xeon E5-2660 v3", 105, 10, "GA"), ("Xeon E5-2665", 115, 8, "GA"),
        ("Xeon E5-2670", 115, 8, "GA"), ("Xeon E5-2670 v2", 115, 10, "GA"), ("Xeon E5-2680 v3", 120, 12, "GA"),
        ("Xeon E5-2680 v4", 120, 14, "Intel ARK"), ("Xeon E5-2683 v4", 120, 16, "GA"),
        ("Xeon E5-2690 v2", 130, 10, "GA"), ("Xeon E5-2690 v3", 135, 12, "GA"),
        ("Xeon E5-2690 v4", 135, 14, "Intel ARK"), ("Xeon E5-2695 v3", 120, 14, "GA"),
        ("Xeon E5-2695 v4", 120, 18, "GA"), ("Xeon E5-2697 v4", 145, 18, "GA"), ("Xeon E5-2699 v3", 145, 18, "GA"),
        ("Xeon E5-2699 v4", 145, 22, "GA"), ("Xeon E5-4610 v4", 105, 10, "GA"), ("Xeon E5-4620", 95, 8, "GA"),
        ("Xeon E5-4650L", 115, 8, "GA"), ("Xeon E7-4850 v2", 105, 12, "GA"), ("Xeon E7-8867 v3", 165, 16, "GA"),
        ("Xeon E7-8880 v4", 150, 22, "GA"), ("Xeon Gold 6130", 125, 16, "Intel ARK"),
        ("Xeon Gold 6142", 150, 16, "GA"), ("Xeon Gold 6148", 150, 20, "GA"),
        ("Xeon Gold 6230", 125, 20, "Intel ARK"), ("Xeon Gold 6248", 150, 20, "GA"),
        ("Xeon Gold 6252", 150, 24, "GA"), ("Xeon Gold 6338", 205, 32, "Intel ARK"), ("Xeon L5640", 60, 6, "GA"),
        ("Xeon Phi 5110P", 225, 60, "GA"), ("Xeon Platinum 8168", 205, 24, "Intel ARK"),
        ("Xeon Platinum 8260", 165, 24, "GA"), ("Xeon Platinum 8268", 205, 24, "GA"),
        ("Xeon Platinum 8280", 205, 28, "Intel ARK"), ("Xeon Platinum 8380", 270, 40, "Intel ARK"),
        ("Xeon Platinum 8480+", 350, 56, "Intel ARK"), ("Xeon Platinum 8592+", 350, 64, "Intel ARK"),
        ("Xeon Platinum 9282", 400, 56, "GA"), ("Xeon X3430", 95, 4, "GA"), ("Xeon X5660", 95, 6, "GA"),
    ]
}
