import Foundation
import Testing
@testable import VerdantTraining

@Suite struct TrainingCorpusTests {
    @Test func xzAndPlainGiveTheSameDocumentsAndHash() throws {
        let docs = TestData.documents()
        let bytes = try TestData.jsonl(docs)
        let plain = try TrainingCorpus.read(path: TestData.write(bytes, name: "c.jsonl"))
        let xz = try TrainingCorpus.read(path: TestData.write(try xzCompress(bytes), name: "c.jsonl.xz"))
        #expect(plain.documents == docs)
        #expect(xz.documents == docs)
        #expect(plain.contentHash == xz.contentHash)
        #expect(xz.bytes == bytes.count)
    }

    @Test func largeXZCrossesChunkBoundaries() throws {
        // > 1 MiB uncompressed: lines straddle the decoder's output buffers.
        let docs = (0..<300).map { TrainingDocument(path: "p\($0)", text: String(repeating: "x = \($0)\n", count: 500)) }
        let corpus = try TrainingCorpus.read(path: TestData.write(try xzCompress(try TestData.jsonl(docs), preset: 0), name: "big.jsonl.xz"))
        #expect(corpus.documents == docs)
    }

    @Test func corruptAndTruncatedXZAreClearErrors() throws {
        var xz = try xzCompress(try TestData.jsonl(TestData.documents()))
        let truncated = Array(xz.prefix(xz.count / 2))
        #expect(throws: TrainingError.self) { try TrainingCorpus.read(path: TestData.write(truncated, name: "t.jsonl.xz")) }
        do {
            _ = try TrainingCorpus.read(path: TestData.write(truncated, name: "t.jsonl.xz"))
        } catch {
            #expect("\(error)".contains("truncated"))
        }
        xz[xz.count / 2] ^= 0xFF
        do {
            _ = try TrainingCorpus.read(path: TestData.write(xz, name: "c.jsonl.xz"))
            Issue.record("corrupt xz was accepted")
        } catch {
            #expect("\(error)".contains("corrupt") || "\(error)".contains("not a JSON"))
        }
    }

    @Test func malformedLinesNameFileAndLine() throws {
        let bad = Array("{\"path\":\"a\",\"text\":\"x\"}\n[1,2]\n".utf8)
        do {
            _ = try TrainingCorpus.read(path: TestData.write(bad, name: "b.jsonl"))
            Issue.record("malformed line accepted")
        } catch { #expect("\(error)".hasSuffix(":2: not a JSON object")) }
        do {
            _ = try TrainingCorpus.read(path: TestData.write(Array("\n{\"path\":\"a\"}\n".utf8), name: "m.jsonl"))
            Issue.record("missing text accepted")
        } catch { #expect("\(error)".hasSuffix(":2: no string field \"text\"")) }
        do {
            _ = try TrainingCorpus.read(path: TestData.write(Array("\n  \n".utf8), name: "e.jsonl"))
            Issue.record("empty corpus accepted")
        } catch { #expect("\(error)".contains("no documents")) }
        do {
            _ = try TrainingCorpus.read(path: "/nonexistent/x.jsonl")
            Issue.record("missing file accepted")
        } catch { #expect("\(error)".contains("no such file")) }
    }

    @Test func splitsByPath() throws {
        let docs = TestData.documents(20)
        let train = try DataSplit.holdOutFraction(0.25, keep: .train).select(docs)
        let held = try DataSplit.holdOutFraction(0.25, keep: .heldOut).select(docs)
        #expect(held.count == 5 && train.count == 15)
        #expect(Set(train.compactMap(\.path)).isDisjoint(with: Set(held.compactMap(\.path))))
        // Stable under reordering the corpus.
        let heldReversed = try DataSplit.holdOutFraction(0.25, keep: .heldOut).select(docs.reversed())
        #expect(Set(heldReversed.compactMap(\.path)) == Set(held.compactMap(\.path)))
        let byPath = try DataSplit.holdOutPaths(["pkg0/mod0.py", "pkg1/mod4.py"], keep: .train).select(docs)
        #expect(byPath.count == 18)
        #expect(throws: TrainingError.self) { try DataSplit.holdOutPaths(["nope.py"], keep: .train).select(docs) }
        #expect(throws: TrainingError.self) { try DataSplit.holdOutFraction(1.5, keep: .train).select(docs) }
    }
}
