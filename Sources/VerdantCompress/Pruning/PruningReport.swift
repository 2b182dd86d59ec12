import Foundation
import VerdantModels

/// What a pruning run removed and why: written as `pruning_report.json` into
/// the output directory. Keys are snake_case; `plan` can be applied again with
/// `verdant prune --plan`.
public struct PruningReport: Codable, Sendable {
    public static let fileName = "pruning_report.json"

    public struct Shape: Codable, Sendable, Equatable {
        public var layers: Int
        public var hidden: Int
        public var intermediate: Int
        public var heads: Int
        public var kvHeads: Int
        public var headDim: Int
        public var vocabulary: Int

        public init(_ c: ModelConfig) {
            layers = c.numLayers
            hidden = c.hiddenSize
            intermediate = c.intermediateSize
            heads = c.numHeads
            kvHeads = c.numKVHeads
            headDim = c.headDim
            vocabulary = c.vocabSize
        }
    }

    public struct Calibration: Codable, Sendable {
        public var file: String
        public var tokens: Int
        public var sequences: Int
        public var sequenceLength: Int
    }

    public struct Vocabulary: Codable, Sendable {
        public var corpus: String?
        public var stats: VocabularyPruner.Stats?
        public var mergesBefore: Int?
        public var mergesAfter: Int?
        /// The corpus re-tokenized with the pruned tokenizer gives the same tokens.
        public var tokenizationVerified: Bool?
        /// Files rewritten with new ids.
        public var rewrittenFiles: [String]?
    }

    public struct Layers: Codable, Sendable {
        public var criterion: LayerCriterion
        /// Original indices, in removal order.
        public var removed: [Int]
        /// Scores of the remaining blocks before each removal (greedy steps).
        public var steps: [LayerPruner.Step]
    }

    public struct Heads: Codable, Sendable {
        public var criterion: UnitCriterion
        public var ratio: Double
        public var unit: HeadPruner.Unit
        /// "removed", or "zeroed" where the architecture's config cannot express fewer heads.
        public var mode: String
        public var unitsPerLayer: Int
        public var removedPerLayer: Int
        public var layers: [HeadPruner.LayerResult]
        public var note: String?
    }

    public struct FFN: Codable, Sendable {
        public var criterion: UnitCriterion
        public var allocation: FFNAllocation
        public var ratio: Double
        public var intermediateBefore: Int
        /// Width stored in the file (= config intermediate_size).
        public var intermediateAfter: Int
        /// Neurons each layer really keeps (differs from the stored width only with global allocation).
        public var effectivePerLayer: [Int]
        public var layers: [FFNPruner.LayerResult]
        public var note: String?
    }

    public var source: String
    public var modelType: String
    public var parametersBefore: Int
    public var parametersAfter: Int
    /// 1 − after / before.
    public var removedFraction: Double
    /// Parameters still in the file but zeroed (GPT-2-family heads, global FFN padding).
    public var zeroedParameters: Int
    public var shapeBefore: Shape
    public var shapeAfter: Shape
    public var calibration: Calibration?
    public var vocabulary: Vocabulary?
    public var layers: Layers?
    public var heads: Heads?
    public var ffn: FFN?
    public var plan: PruningPlan
    public var copiedFiles: [String]?
    public var skippedFiles: [String]?
    public var scoringSeconds: Double

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var data = try encoder.encode(self)
        data.append(contentsOf: Array("\n".utf8))
        return data
    }

    /// A plan from a pruning report (its `plan`) or a bare plan file.
    public static func loadPlan(path: String) throws -> PruningPlan {
        guard let data = FileManager.default.contents(atPath: path) else { throw PruningError.input("cannot read \(path)") }
        struct Wrapper: Decodable { var plan: PruningPlan? }
        do {
            if let plan = try JSONDecoder().decode(Wrapper.self, from: data).plan { return plan }
            return try JSONDecoder().decode(PruningPlan.self, from: data)
        } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty {
            throw PruningError.input("\(path) is not a pruning plan or report: not valid JSON")
        } catch let e as DecodingError {
            let reason: String
            switch e {
            case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
                reason = "'\(c.codingPath.map(\.stringValue).joined(separator: "."))': \(c.debugDescription)"
            case .keyNotFound(let k, _): reason = "missing '\(k.stringValue)'"
            @unknown default: reason = "\(e)"
            }
            throw PruningError.input("\(path) is not a pruning plan or report: \(reason)")
        }
    }
}
