import Foundation
import VerdantTensors

/// Which storage format every weight matrix of a model gets: a default scheme
/// plus overrides, each selecting tensors by a name pattern and/or layer
/// indices. Declarative, so a recipe file states the whole policy instead of
/// code branching on tensor names. The last matching override wins.
///
/// JSON form (`--recipe FILE`):
///   {"default": "q4_0",
///    "overrides": [{"match": "*embed_tokens*", "format": "q8_0"},
///                  {"layers": [0, -1], "match": "*mlp.down_proj*", "format": "q8_0"},
///                  {"match": "lm_head.weight", "format": "keep"}]}
/// `match` is a glob (`*` any run of characters, `?` one); `layers` lists block
/// indices (negative: from the end) and selects tensors named `…layers.N.…`
/// or `…h.N.…`; `format` is any WeightFormat name or "keep" (stored as in the source).
public struct QuantizationRecipe: Sendable, Equatable {
    public enum Target: Sendable, Equatable {
        case keep
        case format(WeightFormat)

        public var name: String {
            switch self {
            case .keep: return "keep"
            case .format(let f): return f.name
            }
        }
    }

    public struct Override: Sendable, Equatable {
        public var match: String
        public var layers: [Int]?
        public var target: Target

        public init(match: String = "*", layers: [Int]? = nil, target: Target) {
            self.match = match
            self.layers = layers
            self.target = target
        }
    }

    public var defaultFormat: WeightFormat
    public var overrides: [Override]

    public init(defaultFormat: WeightFormat, overrides: [Override] = []) {
        self.defaultFormat = defaultFormat
        self.overrides = overrides
    }

    /// The built-in policy for a scheme: 4-bit schemes keep the token embedding
    /// / output matrix at q8_0 (the most sensitive tensor, as llama.cpp's
    /// k-quant mixes keep the output at 6 bits); 8-bit schemes quantize all.
    public static func standard(_ scheme: WeightFormat) -> QuantizationRecipe {
        switch scheme {
        case .q4_0, .int4:
            return QuantizationRecipe(defaultFormat: scheme, overrides: [
                Override(match: "*embed_tokens.weight", target: .format(.q8_0)),
                Override(match: "*wte.weight", target: .format(.q8_0)),
                Override(match: "lm_head.weight", target: .format(.q8_0)),
            ])
        default:
            return QuantizationRecipe(defaultFormat: scheme)
        }
    }

    /// The format of tensor `name` in a model of `layerCount` blocks.
    public func target(for name: String, layerCount: Int) -> Target {
        var result = Target.format(defaultFormat)
        let layer = Self.layerIndex(of: name)
        for o in overrides {
            guard Self.glob(o.match, matches: name) else { continue }
            if let layers = o.layers {
                guard let layer else { continue }
                let wanted = layers.map { $0 < 0 ? layerCount + $0 : $0 }
                guard wanted.contains(layer) else { continue }
            }
            result = o.target
        }
        return result
    }

    /// N in "...layers.N..." or "...h.N..." (the block index), if any.
    public static func layerIndex(of name: String) -> Int? {
        let parts = name.split(separator: ".")
        for (i, p) in parts.enumerated() where (p == "layers" || p == "h" || p == "blocks") && i + 1 < parts.count {
            if let n = Int(parts[i + 1]) { return n }
        }
        return nil
    }

    /// Glob with `*` and `?` over the whole string.
    public static func glob(_ pattern: String, matches text: String) -> Bool {
        let p = Array(pattern.utf8), t = Array(text.utf8)
        var pi = 0, ti = 0, star = -1, mark = 0
        while ti < t.count {
            if pi < p.count && (p[pi] == UInt8(ascii: "?") || p[pi] == t[ti]) {
                pi += 1; ti += 1
            } else if pi < p.count && p[pi] == UInt8(ascii: "*") {
                star = pi; mark = ti; pi += 1
            } else if star >= 0 {
                pi = star + 1; mark += 1; ti = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }

    // MARK: parsing

    public static func parseTarget(_ s: String, groupSize: Int) throws -> Target {
        if s.lowercased() == "keep" { return .keep }
        // The sparse 1x2 formats come from `prune --group-lasso --group 1x2` (and q8_0 of its
        // output), not from a recipe target.
        guard let f = WeightFormat(name: s, defaultGroup: groupSize), f.sparsePairs == nil else {
            throw RecipeError("unknown format '\(s)' (expected f32, f16, bf16, q8_0, q4_0, int4, int4_g32/64/128, w8a8 or keep)")
        }
        return .format(f)
    }

    /// A recipe JSON file; `groupSize` resolves a bare "int4".
    public static func load(path: String, groupSize: Int) throws -> QuantizationRecipe {
        guard let data = FileManager.default.contents(atPath: path) else { throw RecipeError("cannot read recipe \(path)") }
        return try parse(data, groupSize: groupSize, source: path)
    }

    public static func parse(_ data: Data, groupSize: Int, source: String = "recipe") throws -> QuantizationRecipe {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw RecipeError("\(source): not a JSON object")
        }
        let known: Set<String> = ["default", "overrides", "comment"]
        if let unknown = root.keys.first(where: { !known.contains($0) }) {
            throw RecipeError("\(source): unknown key '\(unknown)' (expected default, overrides)")
        }
        guard let d = root["default"] as? String else { throw RecipeError("\(source): missing string 'default'") }
        guard case .format(let defaultFormat) = try parseTarget(d, groupSize: groupSize) else {
            throw RecipeError("\(source): 'default' must be a format, not keep")
        }
        var overrides: [Override] = []
        if let list = root["overrides"] {
            guard let list = list as? [[String: Any]] else { throw RecipeError("\(source): 'overrides' must be a list of objects") }
            for (i, o) in list.enumerated() {
                let allowed: Set<String> = ["match", "layers", "format", "comment"]
                if let unknown = o.keys.first(where: { !allowed.contains($0) }) {
                    throw RecipeError("\(source): overrides[\(i)]: unknown key '\(unknown)'")
                }
                guard let f = o["format"] as? String else { throw RecipeError("\(source): overrides[\(i)] needs a string 'format'") }
                let match = o["match"].map { $0 as? String } ?? "*"
                guard let match else { throw RecipeError("\(source): overrides[\(i)].match must be a string") }
                var layers: [Int]?
                if let l = o["layers"] {
                    guard let ints = l as? [Int] else { throw RecipeError("\(source): overrides[\(i)].layers must be a list of integers") }
                    layers = ints
                }
                if o["match"] == nil && layers == nil {
                    throw RecipeError("\(source): overrides[\(i)] selects nothing: give 'match' and/or 'layers'")
                }
                overrides.append(Override(match: match, layers: layers, target: try parseTarget(f, groupSize: groupSize)))
            }
        }
        return QuantizationRecipe(defaultFormat: defaultFormat, overrides: overrides)
    }

    /// `PATTERN=FORMAT` from the command line.
    public static func parseOverride(_ s: String, groupSize: Int) throws -> Override {
        guard let eq = s.lastIndex(of: "="), eq != s.startIndex else {
            throw RecipeError("override '\(s)' must look like PATTERN=FORMAT (e.g. '*down_proj*=q8_0')")
        }
        return Override(match: String(s[..<eq]), target: try parseTarget(String(s[s.index(after: eq)...]), groupSize: groupSize))
    }

    /// JSON for the output's metadata.
    public var jsonObject: [String: Any] {
        ["default": defaultFormat.name,
         "overrides": overrides.map { o -> [String: Any] in
             var d: [String: Any] = ["match": o.match, "format": o.target.name]
             if let l = o.layers { d["layers"] = l }
             return d
         }]
    }
}

public struct RecipeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
