import Foundation
import Testing
@testable import VerdantSearch

@Suite struct SpaceTests {
    @Test func defaultSpaceRoundTrips() throws {
        let space = ConfigurationSpace.defaultDecoder()
        #expect(space.genes.count == 12)
        try space.validate()
        let again = try ConfigurationSpace.decode(try space.encoded())
        #expect(again == space)
    }

    @Test func decodesRangesAndTypedChoices() throws {
        let json = """
        {"architecture": "gpt2", "genes": [
          {"name": "layers", "range": [1, 4]},
          {"name": "hidden_size", "range": [32, 128], "step": 32},
          {"name": "attention_heads", "choices": [1, 2, 4]},
          {"name": "head_size", "choices": [32]},
          {"name": "intermediate_size", "range": [64, 256], "step": 64},
          {"name": "vocab_size", "choices": [1000]},
          {"name": "context_length", "choices": [128]},
          {"name": "tied_embeddings", "choices": [true]},
          {"name": "learning_rate", "choices": [0.001, 5e-5]},
          {"name": "dropout", "range": [0, 5]}
        ]}
        """
        let space = try ConfigurationSpace.decode(Data(json.utf8))
        #expect(space.architecture == .gpt2)
        #expect(space.genes[1].values == [.int(32), .int(64), .int(96), .int(128)])
        #expect(space.genes[7].values == [.bool(true)])
        #expect(space.genes[8].values == [.double(0.001), .double(5e-5)])
        #expect(space.geneIndex(GeneName.kvHeads) == nil)
    }

    static let badSpaces: [(String, String)] = [
        ("{", "invalid configuration space"),
        (#"{"genes": 3}"#, "genes"),
        (#"{"genes": [{"name": "layers", "range": [4, 1]}]}"#, "is empty"),
        (#"{"genes": [{"name": "layers", "range": [1, 4], "step": 0}]}"#, "step must be positive"),
        (#"{"genes": [{"name": "layers"}]}"#, "needs a range or choices"),
        (#"{"genes": [{"name": "layers", "range": [1, 2], "choices": [1]}]}"#, "not both"),
        (#"{"genes": [{"name": "layers", "choices": []}]}"#, "must not be empty"),
        (#"{"genes": [{"name": "layers", "range": [1, 2]}]}"#, "missing gene 'hidden_size'"),
        (#"{"architecture": "bert", "genes": []}"#, "architecture"),
    ]

    @Test(arguments: badSpaces)
    func malformedSpacesGiveClearErrors(_ json: String, _ fragment: String) {
        do {
            _ = try ConfigurationSpace.decode(Data(json.utf8))
            Issue.record("accepted \(json)")
        } catch let e as SpaceError {
            #expect(e.description.contains(fragment), "\(e.description)")
        } catch {
            Issue.record("unexpected error type \(error)")
        }
    }

    @Test func rejectsNonIntegerShapeGenes() throws {
        var genes = ConfigurationSpace.defaultDecoder().genes
        genes[0] = try .choices(GeneName.layers, [.string("four")])
        #expect(throws: SpaceError.self) { try ConfigurationSpace(genes: genes) }
    }

    @Test func configurationByValues() throws {
        let space = ConfigurationSpace.defaultDecoder()
        var v = space.values(of: Configuration([Int](repeating: 0, count: space.genes.count)))
        v[GeneName.layers] = .int(3)
        let c = try space.configuration(v)
        #expect(space.values(of: c)[GeneName.layers] == .int(3))
        v[GeneName.layers] = .int(99)
        #expect(throws: SpaceError.self) { try space.configuration(v) }
    }
}
