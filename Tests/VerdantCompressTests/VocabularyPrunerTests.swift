import Foundation
import Testing
@testable import VerdantCompress
import VerdantEval
import VerdantModels
import VerdantTensors
import VerdantTokenizer

@Suite struct VocabularyPrunerTests {
    static let tokenizerPath = Fixtures.model("demo") + "/tokenizer.json"

    static func json() throws -> OrderedJSON {
        try OrderedJSON.parse([UInt8](try Data(contentsOf: URL(fileURLWithPath: tokenizerPath))))
    }

    static func corpus() throws -> [String] { try readDocuments(path: PruningFixtures.corpus) }

    @Test func corpusTokenizesIdenticallyModuloTheIdMap() throws {
        let original = try Tokenizer(contentsOf: Self.tokenizerPath)
        let documents = try Self.corpus()
        let selection = try VocabularyPruner.select(tokenizerJSON: Self.json(), tokenizer: original, documents: documents,
                                                    requiredIds: [0], rows: 512, threads: 1)
        let kept = selection.keptIds
        #expect(kept.count < 512 && kept.count == selection.stats.tokensAfter)
        #expect(kept == kept.sorted() && Set(kept).count == kept.count)
        // The parts a used token is built from must stay, or the corpus would tokenize differently.
        #expect(selection.stats.addedForMerges > 0)
        let rebuilt = try VocabularyPruner.rebuild(Self.json(), keptIds: kept)
        let pruned = try Tokenizer(jsonString: rebuilt.json.serialized())
        #expect(pruned.vocabSize == kept.count)
        #expect(VocabularyPruner.verify(original: original, pruned: pruned, keptIds: kept, documents: documents, threads: 1) == nil)

        // Explicitly: ids map one to one, and text round-trips.
        let text = documents[0]
        let a = original.encode(text), b = pruned.encode(text)
        #expect(b == a.map { kept.firstIndex(of: $0) ?? -1 })
        #expect(pruned.decode(b) == text)
    }

    @Test func keepingOnlyUsedTokensWithoutTheirPartsWouldBreakTokenization() throws {
        // The closure matters: drop the merge-only tokens and the corpus tokenizes differently.
        let original = try Tokenizer(contentsOf: Self.tokenizerPath)
        let documents = try Self.corpus()
        let selection = try VocabularyPruner.select(tokenizerJSON: Self.json(), tokenizer: original, documents: documents,
                                                    requiredIds: [0], rows: 512, threads: 1)
        var used = Set(original.encodeBatch(documents).flatMap { $0 })
        used.insert(0)
        for (token, id) in original.vocab where token.unicodeScalars.count == 1 { used.insert(id) }
        let naive = used.sorted()
        #expect(naive.count < selection.keptIds.count)
        let rebuilt = try VocabularyPruner.rebuild(Self.json(), keptIds: naive)
        let pruned = try Tokenizer(jsonString: rebuilt.json.serialized())
        #expect(VocabularyPruner.verify(original: original, pruned: pruned, keptIds: naive, documents: documents, threads: 1) != nil)
    }

    @Test func anyTextStillTokenizesAndRoundTrips() throws {
        let original = try Tokenizer(contentsOf: Self.tokenizerPath)
        let selection = try VocabularyPruner.select(tokenizerJSON: Self.json(), tokenizer: original, documents: ["x = 1\n"],
                                                    requiredIds: [], rows: 512, threads: 1)
        let pruned = try Tokenizer(jsonString: VocabularyPruner.rebuild(Self.json(), keptIds: selection.keptIds).json.serialized())
        for text in ["naïve café — 日本語 🙂", "def quux(zeta):\n\treturn zeta ** 2\n", "<|endoftext|>tail"] {
            let ids = pruned.encode(text)
            #expect(ids.allSatisfy { $0 >= 0 && $0 < selection.keptIds.count })
            #expect(pruned.decode(ids) == text)
        }
        // Special tokens survive with their new id.
        #expect(pruned.encode("<|endoftext|>") == [0])
    }

    @Test func mergesAreKeptExactlyWhenBothPartsAndResultAre() throws {
        let json = try Self.json()
        let kept = Array(0..<300)
        let rebuilt = try VocabularyPruner.rebuild(json, keptIds: kept)
        let vocab = try VocabularyPruner.Vocabulary(model: #require(json["model"]))
        let expected = vocab.merges.filter { m in m.map { $0.0 < 300 && $0.1 < 300 && $0.2 < 300 } ?? false }.count
        #expect(rebuilt.mergesAfter == expected && rebuilt.mergesBefore == vocab.merges.count)
        let newVocab = try #require(rebuilt.json["model"]?["vocab"]?.members)
        #expect(newVocab.map { $0.value.intValue } == (0..<300).map { $0 })
        for m in rebuilt.json["model"]?["merges"]?.items ?? [] {
            let (a, b) = try #require(VocabularyPruner.mergeParts(m))
            #expect(newVocab.contains { $0.key == a } && newVocab.contains { $0.key == b } && newVocab.contains { $0.key == a + b })
        }
    }

    @Test func postProcessorAndPaddingIdsAreRenumbered() throws {
        let text = """
        {"added_tokens": [{"id": 5, "content": "<s>", "special": true}, {"id": 9, "content": "</s>", "special": true}],
         "padding": {"pad_id": 9, "pad_token": "</s>"},
         "post_processor": {"type": "Sequence", "processors": [
           {"type": "ByteLevel"},
           {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [5], "tokens": ["<s>"]}}},
           {"type": "RobertaProcessing", "sep": ["</s>", 9], "cls": ["<s>", 5]}]},
         "model": {"type": "BPE", "vocab": {"a": 1, "b": 2, "ab": 3, "<s>": 5, "</s>": 9}, "merges": ["a b"]}}
        """
        let json = try OrderedJSON.parse(Array(text.utf8))
        let out = try VocabularyPruner.rebuild(json, keptIds: [1, 2, 3, 5, 9]).json
        #expect(out["added_tokens"]?.items?.map { $0["id"]?.intValue } == [3, 4])
        #expect(out["padding"]?["pad_id"]?.intValue == 4)
        let processors = try #require(out["post_processor"]?["processors"]?.items)
        #expect(processors[1]["special_tokens"]?["<s>"]?["ids"]?.items?.first?.intValue == 3)
        #expect(processors[2]["sep"]?.items?[1].intValue == 4 && processors[2]["cls"]?.items?[1].intValue == 3)
        #expect(out["model"]?["merges"]?.items?.count == 1)
        // A plan that drops an added token is refused.
        #expect(throws: PruningError.self) { try VocabularyPruner.rebuild(json, keptIds: [1, 2, 3, 5]) }
    }

    /// The whole model: logits at kept ids are unchanged, so on the corpus the
    /// pruned model's perplexity is the original's with each softmax taken over
    /// the kept tokens only (the removed tokens' probability mass is
    /// redistributed: perplexity can only go down).
    @Test func prunedDemoModelKeepsCorpusPerplexity() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pruner = try Pruner(directory: Fixtures.model("demo"))
        var options = PruningOptions()
        options.vocabularyCorpus = PruningFixtures.corpus
        let pool = ThreadPool(threads: 1)
        let (plan, draft) = try pruner.makePlan(options, pool: pool)
        let report = try pruner.write(plan: plan, report: draft, to: dir + "/out", force: false)
        #expect(report.vocabulary?.tokenizationVerified == true)
        #expect(report.shapeAfter.vocabulary == plan.vocabulary?.count)
        #expect(report.vocabulary?.rewrittenFiles?.contains("tokenizer_config.json") == true)

        let text = try String(contentsOfFile: PruningFixtures.corpus, encoding: .utf8)
        let originalTokenizer = try Tokenizer(contentsOf: Fixtures.model("demo"))
        let prunedTokenizer = try Tokenizer(contentsOf: dir + "/out")
        let a = originalTokenizer.encode(text) + [0], b = prunedTokenizer.encode(text) + [0]
        let original = try LoadedModel.load(directory: Fixtures.model("demo")).model
        let pruned = try LoadedModel.load(directory: dir + "/out").model
        #expect(pruned.config.eosTokenIds == [0])
        let p0 = try perplexity(model: original, tokens: a, context: 128, pool: pool).perplexity
        let p1 = try perplexity(model: pruned, tokens: b, context: 128, pool: pool).perplexity
        #expect(p1 <= p0)
        // Expected: the original's logits renormalized over the kept ids.
        let kept = try #require(plan.vocabulary)
        var nll = 0.0, n = 0
        for start in stride(from: 0, to: a.count, by: 128) {
            let window = Array(a[start..<min(a.count, start + 128)])
            guard window.count >= 2 else { break }
            let l = try logits(original, window)
            for t in 0..<(window.count - 1) {
                let row = Array(l[(t * 512)..<((t + 1) * 512)])
                let keptLogits = kept.map { Double(row[$0]) }
                let m = keptLogits.max() ?? 0
                let lse = m + log(keptLogits.reduce(0) { $0 + exp($1 - m) })
                nll += lse - Double(row[window[t + 1]])
                n += 1
            }
        }
        let expected = exp(nll / Double(n))
        #expect(abs(p1 - expected) / expected < 1e-4, "pruned \(p1), renormalized original \(expected), original \(p0)")
    }
}
