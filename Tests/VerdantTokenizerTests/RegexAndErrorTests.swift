import Foundation
import Testing
@testable import VerdantTokenizer

@Suite struct RegexTests {
    /// Deterministic generator so failures reproduce.
    struct LCG { var s: UInt64; mutating func next(_ n: Int) -> Int { s = s &* 6364136223846793005 &+ 1442695040888963407; return Int(s >> 33) % n } }

    static let alphabet: [String] = ["a", "Z", "é", "ß", "ж", "日", "한", "क", "ि", "1", "9", "١", "½", "²", "Ⅻ", " ", " ",
        "  ", "\t", "\n", "\r", "\r\n", "\u{00A0}", "\u{3000}", "\u{2028}", "\u{0085}", "\u{000B}", "'", "'s", "'S", "'ll",
        "'LL", "'ve", "'re", "'d", "'m", "'t", "'ſ", ".", ",", "(", ")", "_", "-", "+", "#", "$", "😀", "👍🏽", "\u{0301}",
        "\u{200D}", "\u{FEFF}", "\u{0000}", "x"]

    func randomText(_ rng: inout LCG) -> String {
        var s = ""
        for _ in 0..<rng.next(30) { s += Self.alphabet[rng.next(Self.alphabet.count)] }
        return s
    }

    func splitGeneral(_ re: CompiledRegex, _ text: String) -> [String] {
        let scalars = text.unicodeScalars.map(\.value)
        return re.findAll(scalars).map { m in
            var v = String.UnicodeScalarView()
            for k in m.0..<m.1 { v.append(Unicode.Scalar(scalars[k])!) }
            return String(v)
        }
    }

    func splitFast(_ fast: FastSplitter, _ text: String) -> [String] {
        var bytes = Array(text.utf8)
        var spans: [Span] = []
        bytes.withUnsafeMutableBufferPointer { b in
            if let base = b.baseAddress { fast.split(base, 0, b.count, &spans, atOrigin: true) }
        }
        return spans.map { String(decoding: bytes[Int($0.start)..<Int($0.end)], as: UTF8.self) }
    }

    @Test(arguments: [FastSplitter.gpt2Pattern, FastSplitter.llama3Pattern(digits: "{1,3}"),
                      FastSplitter.llama3Pattern(digits: ""), FastSplitter.llama3Pattern(digits: "+")])
    func fastSplitterAgreesWithEngine(pattern: String) throws {
        let re = try CompiledRegex(pattern)
        let fast = try #require(FastSplitter.detect(pattern))
        var rng = LCG(s: 42)
        for _ in 0..<3000 {
            let t = randomText(&rng)
            let general = splitGeneral(re, t)
            let quick = splitFast(fast, t)
            #expect(general == quick, "\(t.debugDescription)")
            if general != quick { break }
        }
    }

    @Test func engineBasics() throws {
        #expect(splitGeneral(try CompiledRegex("a+?"), "aaa") == ["a", "a", "a"])
        #expect(splitGeneral(try CompiledRegex("a*+a"), "aaa") == [])
        #expect(splitGeneral(try CompiledRegex("(?i)abc"), "xABcabc") == ["ABc", "abc"])
        #expect(splitGeneral(try CompiledRegex("x*"), "axb") == ["", "x", ""])
        #expect(splitGeneral(try CompiledRegex("(?<=a)b"), "abcb") == ["b"])
        #expect(splitGeneral(try CompiledRegex("\\d{2,3}"), "12345") == ["123", "45"])
        #expect(splitGeneral(try CompiledRegex("(a|ab)(c|bcd)"), "abcd") == ["abcd"])
        #expect(splitGeneral(try CompiledRegex("\\s+$"), "a  \nb  ") == ["  ", "  "])
        #expect(splitGeneral(try CompiledRegex("(?:a*)*b"), "aab") == ["aab"])
    }

    @Test func invalidPatternsThrow() {
        for p in ["(", "[a-", "a{2,1}", "\\p{Bogus}", "[z-a]", "(?<name", "\\1", "*a"] {
            #expect(throws: RegexError.self) { _ = try CompiledRegex(p) }
        }
    }
}

@Suite struct ErrorTests {
    @Test func missingFileThrows() {
        #expect(throws: TokenizerError.self) { _ = try Tokenizer(contentsOf: "/nonexistent/tokenizer.json") }
        #expect(throws: TokenizerError.self) { _ = try Tokenizer(contentsOf: "/tmp") }
    }

    @Test func malformedJSONThrows() {
        for s in ["", "{", "{\"model\": }", "[1,2", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b\"]}}",
                  "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"x\"}, \"merges\": []}}", "nul", "\"abc"] {
            #expect(throws: TokenizerError.self) { _ = try Tokenizer(jsonString: s) }
        }
    }

    @Test func unsupportedComponentsAreNamed() {
        let cases = [
            ("model", #"{"type":"WordPiece","vocab":{}}"#, "WordPiece"),
            ("pre_tokenizer", #"{"type":"UnicodeScripts"}"#, "UnicodeScripts"),
            ("normalizer", #"{"type":"Precompiled","precompiled_charsmap":""}"#, "Precompiled"),
            ("decoder", #"{"type":"CTC"}"#, "CTC"),
            ("post_processor", #"{"type":"Weird"}"#, "Weird"),
            ("pre_tokenizer", #"{"type":"Split","pattern":{"Regex":"\\p{Han}"},"behavior":"Isolated","invert":false}"#, "Han"),
        ]
        for (key, json, name) in cases {
            let model = key == "model" ? json : #"{"type":"BPE","vocab":{},"merges":[]}"#
            let extra = key == "model" ? "" : ",\"\(key)\":\(json)"
            do {
                _ = try Tokenizer(jsonString: "{\"model\":\(model)\(extra)}")
                Issue.record("\(name) accepted")
            } catch {
                #expect("\(error)".contains(name), "\(error)")
            }
        }
    }

    @Test func directoryAndAccessors() throws {
        let tok = try Tokenizer(contentsOf: Fixtures.path("qwen2.tokenizer.json"))
        #expect(tok.id(of: "<|endoftext|>") == 0)
        #expect(tok.token(of: 0) == "<|endoftext|>")
        #expect(tok.token(of: -1) == nil && tok.token(of: 1 << 40) == nil)
        #expect(tok.decode([-5, 1 << 40]) == "")
        #expect(tok.eosTokenId == 0)
        let texts = (0..<50).map { "def f\($0)(x):\n    return x * \($0) # ✓ 日本\n" }
        #expect(tok.encodeBatch(texts, addSpecialTokens: false, threads: 2) == texts.map { tok.encode($0) })
        #expect(!tok.merges.isEmpty && tok.vocab.count + tok.addedTokens.count >= tok.vocabSize - 1)
    }
}
