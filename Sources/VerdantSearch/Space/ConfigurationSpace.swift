import Foundation

/// The genes a student configuration is drawn from, and the architecture it is built in.
///
/// ```json
/// {"architecture": "llama", "qkv_bias": false,
///  "genes": [{"name": "layers", "range": [1, 12]},
///            {"name": "hidden_size", "range": [64, 768], "step": 32}, ...]}
/// ```
public struct ConfigurationSpace: Sendable, Equatable, Codable {
    public var architecture: ArchitectureFamily
    /// Bias on q/k/v (qwen2-style); gpt2 always has every bias.
    public var qkvBias: Bool
    /// Bias on the attention output projection (llama's attention_bias sets both).
    public var outputBias: Bool
    public var genes: [Gene]

    private enum CodingKeys: String, CodingKey {
        case architecture, genes
        case qkvBias = "qkv_bias"
        case outputBias = "output_bias"
    }

    public init(architecture: ArchitectureFamily = .llama, qkvBias: Bool = false, outputBias: Bool = false,
                genes: [Gene]) throws {
        self.architecture = architecture
        self.qkvBias = qkvBias
        self.outputBias = outputBias
        self.genes = genes
        try validate()
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        architecture = try c.decodeIfPresent(ArchitectureFamily.self, forKey: .architecture) ?? .llama
        qkvBias = try c.decodeIfPresent(Bool.self, forKey: .qkvBias) ?? false
        outputBias = try c.decodeIfPresent(Bool.self, forKey: .outputBias) ?? false
        genes = try c.decode([Gene].self, forKey: .genes)
        try validate()
    }

    /// Parses a space, turning every decoding failure into a message that names the field.
    public static func decode(_ data: Data) throws -> ConfigurationSpace {
        do {
            return try JSONDecoder().decode(ConfigurationSpace.self, from: data)
        } catch let e as SpaceError {
            throw e
        } catch let e as DecodingError {
            throw SpaceError.malformed(Self.explain(e))
        } catch {
            throw SpaceError.malformed(String(describing: error))
        }
    }

    public static func load(path: String) throws -> ConfigurationSpace {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SpaceError.unreadable("cannot read configuration space \(path)")
        }
        return try decode(data)
    }

    public func encoded() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }

    public func geneIndex(_ name: String) -> Int? { genes.firstIndex { $0.name == name } }

    public var geneCounts: [Int] { genes.map(\.count) }

    /// The number of configurations before constraints (saturating).
    public var unconstrainedCount: Int {
        genes.reduce(1) { acc, g in acc.multipliedReportingOverflow(by: g.count).overflow ? Int.max : acc * g.count }
    }

    func validate() throws {
        var seen = Set<String>()
        for g in genes {
            guard seen.insert(g.name).inserted else { throw SpaceError.malformed("gene '\(g.name)' is declared twice") }
        }
        for name in GeneName.requiredIntegers where !seen.contains(name) {
            throw SpaceError.malformed("missing gene '\(name)' (every space declares \(GeneName.requiredIntegers.joined(separator: ", ")))")
        }
        for name in GeneName.requiredIntegers + GeneName.optionalIntegers {
            guard let i = geneIndex(name) else { continue }
            let g = genes[i]
            guard g.isInteger else { throw SpaceError.malformed("gene '\(name)' must take integer values") }
            guard g.values.allSatisfy({ ($0.intValue ?? 0) >= 1 }) else {
                throw SpaceError.malformed("gene '\(name)' must take values ≥ 1")
            }
        }
        if let i = geneIndex(GeneName.tiedEmbeddings), !genes[i].values.allSatisfy({ $0.boolValue != nil }) {
            throw SpaceError.malformed("gene '\(GeneName.tiedEmbeddings)' must take true/false values")
        }
        if let i = geneIndex(GeneName.activation) {
            for v in genes[i].values where !GeneName.activations.contains(v.stringValue ?? "") {
                throw SpaceError.malformed("gene 'activation': unknown activation '\(v)' (known: \(GeneName.activations.joined(separator: ", ")))")
            }
        }
    }

    private static func explain(_ e: DecodingError) -> String {
        func path(_ c: [CodingKey]) -> String {
            let p = c.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return p.isEmpty ? "top level" : String(p.drop { $0 == "." })
        }
        switch e {
        case .keyNotFound(let k, let ctx): return "\(path(ctx.codingPath + [k])): required field is missing"
        case .typeMismatch(let t, let ctx): return "\(path(ctx.codingPath)): expected \(t)"
        case .valueNotFound(let t, let ctx): return "\(path(ctx.codingPath)): expected \(t), found null"
        case .dataCorrupted(let ctx):
            let under = (ctx.underlyingError as NSError?)?.localizedDescription
            return "\(path(ctx.codingPath)): \(ctx.debugDescription)\(under.map { " (\($0))" } ?? "")"
        @unknown default: return String(describing: e)
        }
    }
}
