/// Which documents of a corpus a run trains on. Splits go by whole file (`path`),
/// so that no held-out file leaks into training through a shared window.
public enum DataSplit: Sendable, Equatable, Codable {
    public enum Part: String, Sendable, Codable { case train, heldOut = "held-out" }

    case all
    /// The fraction of files held out: those whose path hashes lowest (stable under
    /// reordering the file), rounded to whole files.
    case holdOutFraction(Double, keep: Part)
    /// These paths held out.
    case holdOutPaths([String], keep: Part)

    /// Part of the stream fingerprint.
    public var fingerprint: String {
        switch self {
        case .all: return "all"
        case .holdOutFraction(let f, let keep): return "fraction:\(f):\(keep.rawValue)"
        case .holdOutPaths(let paths, let keep): return "paths:\(paths.sorted().joined(separator: "\n")):\(keep.rawValue)"
        }
    }

    /// The documents this split keeps, in corpus order.
    public func select(_ documents: [TrainingDocument]) throws -> [TrainingDocument] {
        let heldOut: Set<Int>
        let keep: Part
        switch self {
        case .all:
            return documents
        case .holdOutFraction(let fraction, let k):
            guard fraction.isFinite, fraction > 0, fraction < 1 else {
                throw TrainingError.invalidArgument("held-out fraction must lie strictly between 0 and 1, got \(fraction)")
            }
            let keyed = try documents.indices.map { i -> (UInt64, Int) in
                guard let path = documents[i].path else {
                    throw TrainingError.data("document \(i + 1) has no \"path\"; splitting by path needs one on every line")
                }
                var h = ContentHash()
                h.update(path)
                return (h.value, i)
            }.sorted { $0 < $1 }
            let count = Int((fraction * Double(documents.count)).rounded())
            heldOut = Set(keyed.prefix(count).map { $0.1 })
            keep = k
        case .holdOutPaths(let paths, let k):
            let wanted = Set(paths)
            let present = Set(documents.compactMap(\.path))
            let unknown = wanted.subtracting(present).sorted()
            if !unknown.isEmpty {
                throw TrainingError.data("held-out path\(unknown.count == 1 ? "" : "s") not in the corpus: \(unknown.prefix(5).joined(separator: ", "))")
            }
            heldOut = Set(documents.indices.filter { documents[$0].path.map(wanted.contains) ?? false })
            keep = k
        }
        let kept = documents.indices.filter { heldOut.contains($0) == (keep == .heldOut) }.map { documents[$0] }
        if kept.isEmpty { throw TrainingError.data("the \(keep.rawValue) part of the split holds no documents") }
        return kept
    }
}
