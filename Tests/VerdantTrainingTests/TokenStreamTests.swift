import Foundation
import Testing
import VerdantTokenizer
@testable import VerdantTraining

@Suite struct TokenStreamTests {
    static let tokenizerDirectory = TestData.model("demo")

    func stream(context: Int = 8, seed: UInt64 = 1, split: DataSplit = .all, threads: Int = 1,
                documents: [TrainingDocument] = TestData.documents()) throws -> TokenStream {
        let tokenizer = try Tokenizer(contentsOf: TestData.model("demo") + "/tokenizer.json")
        return try TokenStream(documents: documents, dataHash: 42, tokenizer: tokenizer,
                               tokenizerHash: try tokenizerFingerprint(directory: Self.tokenizerDirectory),
                               eos: 0, options: TokenStreamOptions(context: context, seed: seed, split: split),
                               threads: threads)
    }

    @Test func followsThePerplexityProtocol() throws {
        let docs = TestData.documents()
        let tokenizer = try Tokenizer(contentsOf: TestData.model("demo") + "/tokenizer.json")
        var expected: [Int32] = []
        for d in docs { expected += tokenizer.encode(d.text).map(Int32.init) + [0] }
        let s = try stream()
        #expect(s.tokens == expected)
        #expect(try stream(threads: 4).tokens == expected)
        #expect(s.sequencesPerEpoch == (expected.count - 1) / 8)
    }

    @Test func oneEpochVisitsEveryWindowOnceInShuffledOrder() throws {
        let s = try stream()
        let n = s.sequencesPerEpoch
        let windows = (0..<n).map(s.window(ofSequence:))
        #expect(Set(windows) == Set(0..<n))
        #expect(windows != Array(0..<n))
        let nextEpoch = (n..<2 * n).map(s.window(ofSequence:))
        #expect(Set(nextEpoch) == Set(0..<n) && nextEpoch != windows)
        // Windows overlap by one token: the target of one window's last input starts the next.
        for w in 0..<n - 1 { #expect(s.tokens[w * 8 + 8] == s.tokens[(w + 1) * 8]) }
        let g = 3
        #expect(s.sequence(g) == s.tokens[s.window(ofSequence: g) * 8...(s.window(ofSequence: g) * 8 + 8)].map(Int.init))
        #expect(s.sequence(g).count == 9)
        let other = try stream(seed: 2)
        #expect((0..<n).map(other.window(ofSequence:)) != windows)
    }

    @Test func permutationIsABijectionForManySizes() {
        for count in [1, 2, 3, 5, 16, 17, 100, 1000] {
            let p = SequencePermutation(count: count, seed: 7, epoch: 3)
            #expect(Set((0..<count).map { p($0) }) == Set(0..<count))
        }
    }

    @Test func budgetEpochsAndResume() throws {
        let s = try stream()
        let n = s.sequencesPerEpoch
        var all = try s.batches(tokens: 8 * (2 * n + 3), batchSequences: 4)
        #expect(all.totalSequences == 2 * n + 3)
        #expect(all.epochs > 2)
        let batches = Array(all)
        #expect(batches.reduce(0) { $0 + $1.sequences.count } == 2 * n + 3)
        // Stop after 3 batches, save the cursor as a checkpoint would, resume.
        var first = try s.batches(tokens: 8 * (2 * n + 3), batchSequences: 4)
        for _ in 0..<3 { _ = first.next() }
        let saved = try JSONEncoder().encode(first.cursor)
        let cursor = try JSONDecoder().decode(TokenStreamCursor.self, from: saved)
        let resumed = Array(try s.batches(resuming: cursor))
        #expect(resumed == Array(batches.dropFirst(3)))
        // A shorter budget is a prefix of a longer one.
        let short = Array(try s.batches(tokens: 8 * 5, batchSequences: 4))
        #expect(short.flatMap(\.sequences) == Array(batches.flatMap(\.sequences).prefix(5)))
        _ = all.next()
        // A cursor from another stream is refused.
        #expect(throws: TrainingError.self) { try stream(seed: 9).batches(resuming: cursor) }
    }

    @Test func fingerprintCoversContextSeedSplitAndData() throws {
        let base = try stream().fingerprint
        #expect(try stream().fingerprint == base)
        #expect(try stream(context: 9).fingerprint != base)
        #expect(try stream(seed: 2).fingerprint != base)
        #expect(try stream(split: .holdOutFraction(0.25, keep: .train)).fingerprint != base)
        let options = TokenStreamOptions(context: 8, seed: 1)
        #expect(TokenStream.fingerprint(dataHash: 42, tokenizerHash: 1, eos: 0, options: options)
                != TokenStream.fingerprint(dataHash: 43, tokenizerHash: 1, eos: 0, options: options))
    }

    @Test func loadsFromAnXZFile() throws {
        let path = try TestData.write(try xzCompress(try TestData.jsonl(TestData.documents())), name: "d.jsonl.xz")
        let s = try TokenStream.load(data: path, tokenizerDirectory: Self.tokenizerDirectory, eos: 0,
                                     options: TokenStreamOptions(context: 8, seed: 1), threads: 2)
        #expect(s.tokens == (try stream()).tokens)
    }

    @Test func tooLittleDataIsAnError() throws {
        #expect(throws: TrainingError.self) {
            try stream(context: 4096, documents: [TrainingDocument(path: "a", text: "x = 1")])
        }
    }
}
