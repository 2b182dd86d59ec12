/// One point of a configuration space: per gene, the index of its value.
public struct Configuration: Sendable, Hashable, Codable, Comparable {
    public var indices: [Int]

    public init(_ indices: [Int]) { self.indices = indices }

    public static func < (a: Configuration, b: Configuration) -> Bool { a.indices.lexicographicallyPrecedes(b.indices) }
}

extension ConfigurationSpace {
    /// The gene values of `c` by gene name.
    public func values(of c: Configuration) -> [String: GeneValue] {
        var out: [String: GeneValue] = [:]
        for (g, i) in zip(genes, c.indices) { out[g.name] = g.value(at: i) }
        return out
    }

    public func contains(_ c: Configuration) -> Bool {
        c.indices.count == genes.count && zip(genes, c.indices).allSatisfy { $0.count > $1 && $1 >= 0 }
    }

    /// Coordinates in [0, 1] per gene (index / (count − 1)): the space where "spread out"
    /// and the surrogate's kernels measure distance, so a 64-value range and a 3-value
    /// choice weigh the same.
    public func normalised(_ c: Configuration) -> [Double] {
        zip(genes, c.indices).map { g, i in g.count > 1 ? Double(i) / Double(g.count - 1) : 0 }
    }

    /// The configuration whose genes take these values (names not in the space are an error).
    public func configuration(_ values: [String: GeneValue]) throws -> Configuration {
        for name in values.keys where geneIndex(name) == nil { throw SpaceError.malformed("no gene named '\(name)'") }
        return Configuration(try genes.map { g in
            guard let v = values[g.name] else { throw SpaceError.malformed("no value for gene '\(g.name)'") }
            guard let i = g.index(of: v) else { throw SpaceError.malformed("gene '\(g.name)' cannot take the value \(v)") }
            return i
        })
    }

    /// A readable one-line description: `layers=4 hidden_size=256 ...`.
    public func describe(_ c: Configuration) -> String {
        zip(genes, c.indices).map { "\($0.name)=\($0.value(at: $1))" }.joined(separator: " ")
    }
}
