/// One dimension of the configuration space: an integer range with a step, or a list of choices.
///
/// JSON: `{"name": "hidden_size", "range": [64, 512], "step": 32}` or
/// `{"name": "activation", "choices": ["silu", "gelu"]}`. A configuration holds, per gene,
/// the index of its value in `values`, so crossover, mutation and distances work alike on
/// every gene and an integer range stays linear for the solver (value = low + step · index).
public struct Gene: Sendable, Equatable {
    public enum Domain: Sendable, Equatable {
        case range(low: Int, high: Int, step: Int)
        case choices([GeneValue])
    }

    /// Ranges larger than this would make an index space no search can cover.
    public static let maxValues = 1_000_000

    public var name: String
    public var domain: Domain

    public init(name: String, domain: Domain) throws {
        self.name = name
        self.domain = domain
        try validate()
    }

    public static func range(_ name: String, _ low: Int, _ high: Int, step: Int = 1) throws -> Gene {
        try Gene(name: name, domain: .range(low: low, high: high, step: step))
    }

    public static func choices(_ name: String, _ values: [GeneValue]) throws -> Gene {
        try Gene(name: name, domain: .choices(values))
    }

    public var count: Int {
        switch domain {
        case .range(let lo, let hi, let step): return (hi - lo) / step + 1
        case .choices(let v): return v.count
        }
    }

    public func value(at index: Int) -> GeneValue {
        switch domain {
        case .range(let lo, _, let step): return .int(lo + step * index)
        case .choices(let v): return v[index]
        }
    }

    public var values: [GeneValue] { (0..<count).map(value(at:)) }

    /// Every value is an integer (ranges always are).
    public var isInteger: Bool { values.allSatisfy { $0.intValue != nil } }

    public func index(of value: GeneValue) -> Int? {
        switch domain {
        case .range(let lo, let hi, let step):
            guard let v = value.intValue, v >= lo, v <= hi, (v - lo) % step == 0 else { return nil }
            return (v - lo) / step
        case .choices(let vs): return vs.firstIndex(of: value)
        }
    }

    func validate() throws {
        guard !name.isEmpty else { throw SpaceError.malformed("a gene has an empty name") }
        switch domain {
        case .range(let lo, let hi, let step):
            guard step > 0 else { throw SpaceError.malformed("gene '\(name)': step must be positive, got \(step)") }
            guard lo <= hi else { throw SpaceError.malformed("gene '\(name)': range [\(lo), \(hi)] is empty") }
            guard (hi - lo) / step < Self.maxValues else {
                throw SpaceError.malformed("gene '\(name)': more than \(Self.maxValues) values; use a larger step")
            }
        case .choices(let vs):
            guard !vs.isEmpty else { throw SpaceError.malformed("gene '\(name)': choices must not be empty") }
            guard Set(vs).count == vs.count else { throw SpaceError.malformed("gene '\(name)': choices repeat a value") }
        }
    }
}

extension Gene: Codable {
    private enum Keys: String, CodingKey { case name, range, step, choices }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let name = try c.decode(String.self, forKey: .name)
        let range = try c.decodeIfPresent([Int].self, forKey: .range)
        let choices = try c.decodeIfPresent([GeneValue].self, forKey: .choices)
        switch (range, choices) {
        case (let r?, nil):
            guard r.count == 2 else { throw SpaceError.malformed("gene '\(name)': range must be [low, high]") }
            let step = try c.decodeIfPresent(Int.self, forKey: .step) ?? 1
            try self.init(name: name, domain: .range(low: r[0], high: r[1], step: step))
        case (nil, let v?):
            if c.contains(.step) { throw SpaceError.malformed("gene '\(name)': step applies to a range, not to choices") }
            try self.init(name: name, domain: .choices(v))
        case (nil, nil): throw SpaceError.malformed("gene '\(name)': needs a range or choices")
        case (_?, _?): throw SpaceError.malformed("gene '\(name)': give a range or choices, not both")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(name, forKey: .name)
        switch domain {
        case .range(let lo, let hi, let step):
            try c.encode([lo, hi], forKey: .range)
            try c.encode(step, forKey: .step)
        case .choices(let v): try c.encode(v, forKey: .choices)
        }
    }
}
