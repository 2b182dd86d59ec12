/// An entry of tokenizer.json `added_tokens`.
public struct AddedToken: Sendable, Equatable {
    public let id: Int
    public let content: String
    public let special: Bool
    public let normalized: Bool
    public let lstrip: Bool
    public let rstrip: Bool
    public let singleWord: Bool
}

/// Finds added tokens in text the way HF's AddedVocabulary does: Aho-Corasick with
/// leftmost-longest semantics, then the single_word / lstrip / rstrip adjustments.
struct AddedTokenMatcher: Sendable {
    private struct Pattern: Sendable { let bytes: [UInt8]; let token: AddedToken }
    /// Candidates per first byte, longest first so the first hit is the longest.
    private let byFirstByte: [[Pattern]]
    let isEmpty: Bool

    init(tokens: [AddedToken], content: (AddedToken) -> String) {
        var table = [[Pattern]](repeating: [], count: 256)
        var any = false
        for t in tokens {
            let bytes = Array(content(t).utf8)
            guard let f = bytes.first else { continue }
            table[Int(f)].append(Pattern(bytes: bytes, token: t))
            any = true
        }
        for i in 0..<256 { table[i].sort { $0.bytes.count > $1.bytes.count } }
        byFirstByte = table
        isEmpty = !any
    }

    enum Piece: Equatable { case text(Int, Int); case token(Int) }

    /// Splits `[0, n)` of `p` into text ranges and matched token ids.
    func split(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout [Piece]) {
        if isEmpty || n == 0 { if n > 0 { out.append(.text(0, n)) }; return }
        var startOffset = 0
        var i = 0
        while i < n {
            let cands = byFirstByte[Int(p[i])]
            if cands.isEmpty { i += 1; continue }
            var hit: Pattern? = nil
            for c in cands where c.bytes.count <= n - i {
                if c.bytes.withUnsafeBufferPointer({ b in b.baseAddress.map { memcmpEqual($0, p + i, b.count) } ?? false }) {
                    hit = c; break
                }
            }
            guard let m = hit else { i += 1; continue }
            var start = i
            var stop = i + m.bytes.count
            let t = m.token
            i = stop  // the automaton resumes after the raw match
            if t.singleWord {
                let startSpace = start == 0 || !Self.isWordChar(Self.scalarBefore(p, start))
                let stopSpace = stop == n || !Self.isWordChar(UTF8Scan.decode(p, stop, n).0)
                if !startSpace || !stopSpace { continue }
            }
            if t.lstrip {
                var s = start
                while s > 0 {
                    let ps = UTF8Scan.previousStart(p, s)
                    if UClass.flags(UTF8Scan.decode(p, ps, n).0) & UClass.space == 0 { break }
                    s = ps
                }
                start = max(s, startOffset)
            }
            if t.rstrip {
                while stop < n {
                    let (c, len) = UTF8Scan.decode(p, stop, n)
                    if UClass.flags(c) & UClass.space == 0 { break }
                    stop += len
                }
            }
            if startOffset < start { out.append(.text(startOffset, start)) }
            out.append(.token(t.id))
            startOffset = stop
        }
        if startOffset < n { out.append(.text(startOffset, n)) }
    }

    private static func scalarBefore(_ p: UnsafePointer<UInt8>, _ i: Int) -> UInt32 {
        let s = UTF8Scan.previousStart(p, i)
        return UTF8Scan.decode(p, s, i).0
    }

    /// Rust regex `\w` (used by HF for single_word): Alphabetic, M, Nd, Pc, Join_Control.
    private static func isWordChar(_ c: UInt32) -> Bool {
        c == 0x200C || c == 0x200D || UClass.flags(c) & UClass.word != 0
    }
}
