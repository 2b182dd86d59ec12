/// A piece of the working buffer. `atOrigin` marks the piece whose original offset
/// is 0, which Metaspace's `prepend_scheme: first` depends on.
struct Span: Sendable, Equatable {
    var start: Int32
    var end: Int32
    var atOrigin: Bool
}

enum SplitBehavior: String, Sendable {
    case removed, isolated, mergedWithPrevious, mergedWithNext, contiguous

    init?(json: String) {
        switch json.lowercased() {
        case "removed": self = .removed
        case "isolated": self = .isolated
        case "mergedwithprevious", "merged_with_previous": self = .mergedWithPrevious
        case "mergedwithnext", "merged_with_next": self = .mergedWithNext
        case "contiguous": self = .contiguous
        default: return nil
        }
    }
}

enum PrependScheme: Sendable { case always, first, never }

enum SplitPattern: Sendable {
    case literal([UInt8])
    case regex(CompiledRegex, fast: FastSplitter?)
}

enum CharPredicate: Sendable {
    case numeric, punctuation, whitespace, scalar(UInt32)

    @inline(__always)
    func matches(_ c: UInt32) -> Bool {
        switch self {
        case .numeric: return UClass.flags(c) & UClass.number != 0
        case .whitespace: return UClass.flags(c) & UClass.space != 0
        case .scalar(let s): return c == s
        case .punctuation:
            if c < 0x80 {
                return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60)
                    || (c >= 0x7B && c <= 0x7E)
            }
            return UClass.flags(c) & UClass.punct != 0
        }
    }
}

enum PreTokenizerStep: Sendable {
    case split(SplitPattern, SplitBehavior, invert: Bool)
    case predicate(CharPredicate, SplitBehavior)
    /// `byteMap` false when the byte-to-unicode mapping is left to the model (last step).
    case byteLevel(addPrefixSpace: Bool, splitter: FastSplitter?, byteMap: Bool)
    case metaspace(replacement: UInt32, prepend: PrependScheme, split: Bool)
    /// HF `Whitespace`: runs of Rust-regex `\w` and runs of `[^\w\s]`; whitespace dropped.
    case wordRuns
}

/// GPT-2's reversible byte <-> printable-character table.
enum ByteLevelTable {
    static let byteToScalar: [UInt32] = {
        var bs: [Int] = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        var cs = bs
        var n = 0
        for b in 0..<256 where !bs.contains(b) {
            bs.append(b); cs.append(256 + n); n += 1
        }
        var table = [UInt32](repeating: 0, count: 256)
        for (b, c) in zip(bs, cs) { table[b] = UInt32(c) }
        return table
    }()

    static let scalarToByte: [UInt32: UInt8] = {
        var m: [UInt32: UInt8] = [:]
        for (b, c) in byteToScalar.enumerated() { m[c] = UInt8(b) }
        return m
    }()

    /// UTF-8 of each byte's stand-in character.
    static let byteToUTF8: [[UInt8]] = byteToScalar.map { v in
        var out: [UInt8] = []
        UTF8Scan.append(v, to: &out)
        return out
    }
}

struct PreTokenizer: Sendable {
    let steps: [PreTokenizerStep]
    /// True when the model should map bytes through ByteLevelTable itself.
    let byteLevelModel: Bool

    /// Runs every step over the pieces of `buf`.
    func run(_ buf: inout [UInt8], _ spans: inout [Span], scratch: inout [Span], bytes: inout [UInt8]) {
        for step in steps {
            switch step {
            case let .split(pattern, behavior, invert):
                scratch.removeAll(keepingCapacity: true)
                buf.withUnsafeBufferPointer { b in
                    guard let base = b.baseAddress else { return }
                    for s in spans {
                        if case let .regex(_, fast?) = pattern, behavior == .isolated, !invert {
                            fast.split(base, Int(s.start), Int(s.end), &scratch, atOrigin: s.atOrigin)
                            continue
                        }
                        let matches = Self.findMatches(pattern, base, Int(s.start), Int(s.end), invert: invert)
                        Self.apply(behavior, matches, s, &scratch)
                    }
                }
                swap(&spans, &scratch)
            case let .predicate(pred, behavior):
                scratch.removeAll(keepingCapacity: true)
                buf.withUnsafeBufferPointer { b in
                    guard let base = b.baseAddress else { return }
                    for s in spans {
                        let matches = Self.predicateMatches(pred, base, Int(s.start), Int(s.end))
                        Self.apply(behavior, matches, s, &scratch)
                    }
                }
                swap(&spans, &scratch)
            case let .byteLevel(addPrefixSpace, splitter, byteMap):
                if addPrefixSpace {
                    transform(&buf, &spans, &scratch, &bytes) { src, s, out in
                        if s.start == s.end || src[Int(s.start)] != 0x20 { out.append(0x20) }
                        out.append(contentsOf: UnsafeBufferPointer(rebasing: src[Int(s.start)..<Int(s.end)]))
                    }
                }
                if let splitter {
                    scratch.removeAll(keepingCapacity: true)
                    buf.withUnsafeBufferPointer { b in
                        guard let base = b.baseAddress else { return }
                        for s in spans {
                            splitter.split(base, Int(s.start), Int(s.end), &scratch, atOrigin: s.atOrigin)
                        }
                    }
                    swap(&spans, &scratch)
                }
                if byteMap {
                    transform(&buf, &spans, &scratch, &bytes) { src, s, out in
                        for k in Int(s.start)..<Int(s.end) {
                            out.append(contentsOf: ByteLevelTable.byteToUTF8[Int(src[k])])
                        }
                    }
                }
            case .wordRuns:
                scratch.removeAll(keepingCapacity: true)
                buf.withUnsafeBufferPointer { b in
                    guard let base = b.baseAddress else { return }
                    for s in spans { Self.wordRuns(base, Int(s.start), Int(s.end), s.atOrigin, &scratch) }
                }
                swap(&spans, &scratch)
            case let .metaspace(replacement, prepend, split):
                var rep: [UInt8] = []
                UTF8Scan.append(replacement, to: &rep)
                transform(&buf, &spans, &scratch, &bytes) { src, s, out in
                    let startsWithRep = Int(s.end) - Int(s.start) >= rep.count
                        && (0..<rep.count).allSatisfy { src[Int(s.start) + $0] == rep[$0] }
                        || (Int(s.start) < Int(s.end) && src[Int(s.start)] == 0x20)
                    switch prepend {
                    case .always: if !startsWithRep { out.append(contentsOf: rep) }
                    case .first: if !startsWithRep, s.atOrigin { out.append(contentsOf: rep) }
                    case .never: break
                    }
                    for k in Int(s.start)..<Int(s.end) {
                        if src[k] == 0x20 { out.append(contentsOf: rep) } else { out.append(src[k]) }
                    }
                }
                if split {
                    scratch.removeAll(keepingCapacity: true)
                    buf.withUnsafeBufferPointer { b in
                        guard let base = b.baseAddress else { return }
                        for s in spans {
                            let matches = Self.predicateMatches(.scalar(replacement), base, Int(s.start), Int(s.end))
                            Self.apply(.mergedWithNext, matches, s, &scratch)
                        }
                    }
                    swap(&spans, &scratch)
                }
            }
        }
    }

    /// Rewrites every span's bytes into a fresh buffer (one span in, one span out).
    private func transform(_ buf: inout [UInt8], _ spans: inout [Span], _ scratch: inout [Span],
                           _ bytes: inout [UInt8],
                           _ body: (UnsafeBufferPointer<UInt8>, Span, inout [UInt8]) -> Void) {
        bytes.removeAll(keepingCapacity: true)
        scratch.removeAll(keepingCapacity: true)
        buf.withUnsafeBufferPointer { src in
            for s in spans {
                let start = bytes.count
                body(src, s, &bytes)
                scratch.append(Span(start: Int32(start), end: Int32(bytes.count), atOrigin: s.atOrigin))
            }
        }
        swap(&buf, &bytes)
        swap(&spans, &scratch)
    }

    /// 0 = whitespace, 1 = word (Rust regex `\w`, which includes Join_Control), 2 = other.
    @inline(__always)
    private static func rustWordClass(_ c: UInt32) -> Int {
        let f = UClass.flags(c)
        if f & UClass.space != 0 { return 0 }
        return f & UClass.word != 0 || c == 0x200C || c == 0x200D ? 1 : 2
    }

    static func wordRuns(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ atOrigin: Bool, _ out: inout [Span]) {
        var i = start
        var runStart = start, runClass = 0
        while i < end {
            let (c, n) = UTF8Scan.decode(p, i, end)
            let k = rustWordClass(c)
            if k != runClass {
                if runClass != 0 { out.append(Span(start: Int32(runStart), end: Int32(i), atOrigin: atOrigin && runStart == start)) }
                runStart = i; runClass = k
            }
            i += n
        }
        if runClass != 0 { out.append(Span(start: Int32(runStart), end: Int32(end), atOrigin: atOrigin && runStart == start)) }
    }

    typealias Match = (start: Int, end: Int, isMatch: Bool)

    static func findMatches(_ pattern: SplitPattern, _ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int,
                            invert: Bool) -> [Match] {
        if start == end { return [(start, end, invert)] }
        var out: [Match] = []
        var prev = start
        switch pattern {
        case .literal(let lit):
            if lit.isEmpty { return [(start, end, invert)] }
            var i = start
            while i + lit.count <= end {
                var ok = true
                for k in 0..<lit.count where p[i + k] != lit[k] { ok = false; break }
                if ok {
                    if prev != i { out.append((prev, i, invert)) }
                    out.append((i, i + lit.count, !invert))
                    i += lit.count
                    prev = i
                } else { i += 1 }
            }
        case .regex(let re, _):
            let bytes = UnsafeBufferPointer(start: p + start, count: end - start)
            let scalars = UTF8Scan.scalars(bytes)
            var offsets = [Int](repeating: 0, count: scalars.count + 1)
            var o = start
            for (k, v) in scalars.enumerated() {
                offsets[k] = o
                o += v < 0x80 ? 1 : v < 0x800 ? 2 : v < 0x10000 ? 3 : 4
            }
            offsets[scalars.count] = end
            for (ms, me) in re.findAll(scalars) {
                let bs = offsets[ms], be = offsets[me]
                if prev != bs { out.append((prev, bs, invert)) }
                out.append((bs, be, !invert))
                prev = be
            }
        }
        if prev != end { out.append((prev, end, invert)) }
        return out
    }

    static func predicateMatches(_ pred: CharPredicate, _ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> [Match] {
        if start == end { return [(start, end, false)] }
        var out: [Match] = []
        var last = start
        var i = start
        while i < end {
            let (c, n) = UTF8Scan.decode(p, i, end)
            if pred.matches(c) {
                if last < i { out.append((last, i, false)) }
                out.append((i, i + n, true))
                last = i + n
            }
            i += n
        }
        if end > last { out.append((last, end, false)) }
        return out
    }

    /// HF `NormalizedString::split` delimiter behaviours; empty pieces are dropped.
    static func apply(_ behavior: SplitBehavior, _ matches: [Match], _ parent: Span, _ out: inout [Span]) {
        var pieces: [(Int, Int, Bool)] = []  // (start, end, remove)
        switch behavior {
        case .isolated:
            pieces = matches.map { ($0.start, $0.end, false) }
        case .removed:
            pieces = matches.map { ($0.start, $0.end, $0.isMatch) }
        case .contiguous:
            var previous = false
            for m in matches {
                if m.isMatch == previous, !pieces.isEmpty { pieces[pieces.count - 1].1 = m.end }
                else { pieces.append((m.start, m.end, false)) }
                previous = m.isMatch
            }
        case .mergedWithPrevious:
            var previous = false
            for m in matches {
                if m.isMatch, !previous, !pieces.isEmpty { pieces[pieces.count - 1].1 = m.end }
                else { pieces.append((m.start, m.end, false)) }
                previous = m.isMatch
            }
        case .mergedWithNext:
            var previous = false
            var rev: [(Int, Int, Bool)] = []
            for m in matches.reversed() {
                if m.isMatch, !previous, !rev.isEmpty { rev[rev.count - 1].0 = m.start }
                else { rev.append((m.start, m.end, false)) }
                previous = m.isMatch
            }
            pieces = rev.reversed()
        }
        for (s, e, remove) in pieces where !remove && s < e {
            out.append(Span(start: Int32(s), end: Int32(e), atOrigin: parent.atOrigin && s == Int(parent.start)))
        }
    }
}
