/// Hand-written matchers for the pre-tokenizer regexes nearly every byte-level BPE
/// uses. They reproduce Oniguruma's leftmost-first backtracking result for those
/// exact patterns (tests cross-check them against `CompiledRegex` on random text)
/// while running straight over UTF-8 bytes. Every character is covered by some
/// branch of these patterns, so matches tile the input and each match is a piece.
struct FastSplitter: Sendable {
    enum Kind: Sendable, Equatable {
        /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
        case gpt2
        /// `(?i:'s|...|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,K}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
        case llama3(maxDigits: Int)
    }
    let kind: Kind

    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    static func llama3Pattern(digits: String) -> String {
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"# + digits
            + #"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    }

    static func detect(_ pattern: String) -> FastSplitter? {
        if pattern == gpt2Pattern { return FastSplitter(kind: .gpt2) }
        if pattern == llama3Pattern(digits: "{1,3}") { return FastSplitter(kind: .llama3(maxDigits: 3)) }
        if pattern == llama3Pattern(digits: "") { return FastSplitter(kind: .llama3(maxDigits: 1)) }
        if pattern == llama3Pattern(digits: "+") { return FastSplitter(kind: .llama3(maxDigits: Int.max)) }
        return nil
    }

    @inline(__always)
    private static func isOther(_ f: UInt8) -> Bool { f & (UClass.letter | UClass.number | UClass.space) == 0 }

    /// Appends the pieces of `[start, end)` as byte ranges.
    func split(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ out: inout [Span], atOrigin: Bool) {
        var i = start
        var origin = atOrigin
        let table = UClass.bmp
        table.withUnsafeBufferPointer { t in
            @inline(__always) func info(_ at: Int) -> (UInt32, Int, UInt8) {
                let b = p[at]
                if b < 0x80 { return (UInt32(b), 1, t[Int(b)]) }
                let (v, n) = UTF8Scan.decode(p, at, end)
                return (v, n, v < 0x10000 ? t[Int(v)] : UClass.flags(v))
            }
            while i < end {
                let e: Int
                switch kind {
                case .gpt2: e = gpt2Match(p, i, end, info)
                case .llama3(let maxDigits): e = llamaMatch(p, i, end, maxDigits, info)
                }
                out.append(Span(start: Int32(i), end: Int32(e), atOrigin: origin))
                origin = false
                i = e
            }
        }
    }

    @inline(__always)
    private func contraction(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int, caseless: Bool,
                             _ info: (Int) -> (UInt32, Int, UInt8)) -> Int? {
        // p[i] == '\''
        let j = i + 1
        guard j < end else { return nil }
        var (c1, n1, _) = info(j)
        if caseless { c1 = UClass.fold(c1) }
        switch c1 {
        case 0x73, 0x74, 0x6D, 0x64: return j + n1  // s t m d
        case 0x72, 0x76, 0x6C:                      // r v l
            let k = j + n1
            guard k < end else { return nil }
            var (c2, n2, _) = info(k)
            if caseless { c2 = UClass.fold(c2) }
            let want: UInt32 = c1 == 0x6C ? 0x6C : 0x65
            return c2 == want ? k + n2 : nil
        default: return nil
        }
    }

    @inline(__always)
    private func run(_ i: Int, _ end: Int, _ mask: UInt8, _ info: (Int) -> (UInt32, Int, UInt8)) -> Int {
        var j = i
        while j < end {
            let (_, n, f) = info(j)
            if f & mask == 0 { break }
            j += n
        }
        return j
    }

    @inline(__always)
    private func runOther(_ i: Int, _ end: Int, _ info: (Int) -> (UInt32, Int, UInt8)) -> Int {
        var j = i
        while j < end {
            let (_, n, f) = info(j)
            if !Self.isOther(f) { break }
            j += n
        }
        return j
    }

    /// Whitespace run starting at i: returns the end of `\s+(?!\S)|\s+`.
    @inline(__always)
    private func spaceTail(_ i: Int, _ runEnd: Int, _ end: Int, _ p: UnsafePointer<UInt8>) -> Int {
        if runEnd == end { return runEnd }
        let last = UTF8Scan.previousStart(p, runEnd)
        return last > i ? last : runEnd
    }

    private func gpt2Match(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int,
                           _ info: (Int) -> (UInt32, Int, UInt8)) -> Int {
        let (c, n, f) = info(i)
        if c == 0x27, let e = contraction(p, i, end, caseless: false, info) { return e }
        var j = i
        var g = f
        if c == 0x20, i + n < end {
            let (_, _, f2) = info(i + n)
            if f2 & (UClass.letter | UClass.number) != 0 || Self.isOther(f2) { j = i + n; g = f2 }
        }
        if g & UClass.letter != 0 { return run(j, end, UClass.letter, info) }
        if g & UClass.number != 0 { return run(j, end, UClass.number, info) }
        if Self.isOther(g) { return runOther(j, end, info) }
        let r = run(i, end, UClass.space, info)
        return spaceTail(i, r, end, p)
    }

    private func llamaMatch(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int, _ maxDigits: Int,
                            _ info: (Int) -> (UInt32, Int, UInt8)) -> Int {
        let (c, n, f) = info(i)
        if c == 0x27, let e = contraction(p, i, end, caseless: true, info) { return e }
        if f & UClass.letter != 0 { return run(i, end, UClass.letter, info) }
        let isNewline = c == 0x0A || c == 0x0D
        if !isNewline, f & UClass.number == 0, i + n < end {
            let (_, _, f2) = info(i + n)
            if f2 & UClass.letter != 0 { return run(i + n, end, UClass.letter, info) }
        }
        if f & UClass.number != 0 {
            var j = i, k = 0
            while j < end, k < maxDigits {
                let (_, m, g) = info(j)
                if g & UClass.number == 0 { break }
                j += m; k += 1
            }
            return j
        }
        var j = -1
        if Self.isOther(f) { j = i } else if c == 0x20, i + n < end, Self.isOther(info(i + n).2) { j = i + n }
        if j >= 0 {
            var e = runOther(j, end, info)
            while e < end, p[e] == 0x0A || p[e] == 0x0D { e += 1 }
            return e
        }
        // Whitespace.
        let r = run(i, end, UClass.space, info)
        var lastNewline = -1
        var k = i
        while k < r {
            if p[k] == 0x0A || p[k] == 0x0D { lastNewline = k }
            k += 1
        }
        if lastNewline >= 0 { return lastNewline + 1 }
        return spaceTail(i, r, end, p)
    }
}
