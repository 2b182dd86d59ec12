import Foundation
import Testing
@testable import VerdantTokenizer

/// Expected values come from HF `tokenizers` 0.23.3 (scripts/make_tokenizer_fixtures.py).
@Suite struct ParityTests {
    @Test(arguments: Fixtures.styles)
    func encodeMatchesHF(style: String) throws {
        let tok = try Tokenizer(contentsOf: Fixtures.path("\(style).tokenizer.json"))
        let exp = try Fixtures.json("\(style).expected.json")
        var failures = 0
        for case let c in exp["encode"]?.array ?? [] {
            let text = c["text"]?.string ?? ""
            let ids = tok.encode(text)
            if ids != Fixtures.ints(c["ids"]) {
                failures += 1
                if failures <= 3 { Issue.record("\(style) encode \(text.debugDescription): got \(ids) want \(Fixtures.ints(c["ids"]))") }
            }
            let withSpecial = tok.encode(text, addSpecialTokens: true)
            #expect(withSpecial == Fixtures.ints(c["ids_special"]), "\(style) special \(text.debugDescription)")
            let decoded = tok.decode(Fixtures.ints(c["ids"]))
            #expect(decoded == c["decoded"]?.string, "\(style) decode of \(text.debugDescription)")
        }
        #expect(failures == 0)
        #expect(tok.vocabSize == exp["vocab_size"]?.int)
        #expect(tok.specialTokenIds == Set(Fixtures.ints(exp["special_ids"])))
    }

    @Test(arguments: Fixtures.styles)
    func decodeMatchesHF(style: String) throws {
        let tok = try Tokenizer(contentsOf: Fixtures.path("\(style).tokenizer.json"))
        let exp = try Fixtures.json("\(style).expected.json")
        for c in exp["decode"]?.array ?? [] {
            let ids = Fixtures.ints(c["ids"])
            #expect(tok.decode(ids) == c["text"]?.string, "\(style) decode \(ids)")
            #expect(tok.decode(ids, skipSpecialTokens: true) == c["text_skip"]?.string, "\(style) decode skip \(ids)")
        }
    }

    @Test(arguments: Fixtures.styles)
    func streamMatchesHF(style: String) throws {
        let tok = try Tokenizer(contentsOf: Fixtures.path("\(style).tokenizer.json"))
        let exp = try Fixtures.json("\(style).expected.json")
        for c in exp["stream"]?.array ?? [] {
            let skip = c["skip"]?.bool ?? false
            var stream = StreamingDecoder(tokenizer: tok, skipSpecialTokens: skip)
            let ids = Fixtures.ints(c["ids"])
            var got: [String] = []
            let want = (c["steps"]?.array ?? []).map { $0.string ?? "" }
            for id in ids { got.append(stream.push(id)) }
            #expect(got == want, "\(style) stream \(ids) skip=\(skip)")
            #expect(got.joined() + stream.finish() == tok.decode(ids, skipSpecialTokens: skip))
        }
    }
}

@Suite struct ComponentTests {
    static let cases: [JSONValue] = (try? Fixtures.json("components.json"))?.array ?? []

    @Test func preTokenizersMatchHF() throws {
        #expect(!Self.cases.isEmpty)
        for c in Self.cases where c["kind"]?.string == "pre_tokenizer" {
            guard let j = c["json"] else { continue }
            let tok = try Fixtures.componentTokenizer("pre_tokenizer", j)
            let inputs = c["inputs"]?.array ?? [], outputs = c["outputs"]?.array ?? []
            var failures = 0
            for (i, o) in zip(inputs, outputs) {
                let text = i.string ?? ""
                let got = tok.preTokenize(text)
                let want = (o.array ?? []).map { $0.string ?? "" }
                if got != want {
                    failures += 1
                    if failures <= 2 { Issue.record("\(Fixtures.serialize(j)) on \(text.debugDescription): got \(got) want \(want)") }
                }
            }
        }
    }

    @Test func normalizersMatchHF() throws {
        for c in Self.cases where c["kind"]?.string == "normalizer" {
            guard let j = c["json"] else { continue }
            let tok = try Fixtures.componentTokenizer("normalizer", j)
            for (i, o) in zip(c["inputs"]?.array ?? [], c["outputs"]?.array ?? []) {
                let got = tok.normalizer?.apply(i.string ?? "")
                #expect(got == o.string, "\(Fixtures.serialize(j)) on \((i.string ?? "").debugDescription)")
            }
        }
    }

    @Test func decodersMatchHF() throws {
        for c in Self.cases where c["kind"]?.string == "decoder" {
            guard let j = c["json"] else { continue }
            let tok = try Fixtures.componentTokenizer("decoder", j)
            for (i, o) in zip(c["inputs"]?.array ?? [], c["outputs"]?.array ?? []) {
                let tokens = (i.array ?? []).map { $0.string ?? "" }
                #expect(tok.decoder?.decode(tokens) == o.string, "\(Fixtures.serialize(j)) on \(tokens)")
            }
        }
    }
}
