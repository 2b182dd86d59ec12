/// A backtracking regex engine over Unicode scalars with Oniguruma (Ruby syntax)
/// semantics: leftmost-first alternation, greedy/lazy/possessive quantifiers,
/// look-around, atomic groups, `(?i)` case folding, `^`/`$` as line anchors.
/// HF `tokenizers` splits with Oniguruma; Swift's `Regex` differs in Unicode
/// details and is far slower, so pre-tokenizer patterns are compiled here once.
public struct RegexError: Error, CustomStringConvertible, Sendable {
    public let pattern: String
    public let reason: String
    public var description: String { "unsupported or invalid regex /\(pattern)/: \(reason)" }
}

struct CharSet: Sendable {
    enum Item: Sendable {
        case range(UInt32, UInt32)
        case flags(UInt8, negated: Bool)
        case categories([Unicode.GeneralCategory], negated: Bool)
        case hex(negated: Bool)
        /// `\w` outside a class: below U+0100 Oniguruma consults its Latin-1 ctype
        /// table, which also counts ¹ ² ³ ¼ ½ ¾ as word characters (inside [...] it does not).
        case bareWord(negated: Bool)
        case nested(CharSet)
    }
    var items: [Item] = []
    var negated = false
    var caseless = false
    /// Membership of U+0000..U+007F, precomputed by `finalized()`: code is mostly ASCII.
    var asciiLow: UInt64 = 0
    var asciiHigh: UInt64 = 0
    var hasASCIITable = false

    func finalized() -> CharSet {
        var s = self
        s.hasASCIITable = false
        var lo: UInt64 = 0, hi: UInt64 = 0
        for c in 0..<128 where s.contains(UInt32(c)) {
            if c < 64 { lo |= 1 << UInt64(c) } else { hi |= 1 << UInt64(c - 64) }
        }
        s.asciiLow = lo; s.asciiHigh = hi; s.hasASCIITable = true
        return s
    }

    @inline(__always)
    func contains(_ c: UInt32) -> Bool {
        if hasASCIITable && c < 128 {
            return c < 64 ? (asciiLow >> UInt64(c)) & 1 != 0 : (asciiHigh >> UInt64(c - 64)) & 1 != 0
        }
        return containsSlow(c)
    }

    private func containsSlow(_ c: UInt32) -> Bool {
        var hit = containsExact(c)
        if !hit, caseless {
            let f = UClass.fold(c)
            if f != c { hit = containsExact(f) }
            if !hit, let s = Unicode.Scalar(c) {
                for m in [s.properties.uppercaseMapping, s.properties.lowercaseMapping] {
                    let u = m.unicodeScalars
                    if u.count == 1, let v = u.first?.value, v != c, containsExact(v) { hit = true; break }
                }
            }
        }
        return hit != negated
    }

    private func containsExact(_ c: UInt32) -> Bool {
        for item in items {
            switch item {
            case let .range(lo, hi): if c >= lo && c <= hi { return true }
            case let .flags(mask, negated): if (UClass.flags(c) & mask != 0) != negated { return true }
            case let .categories(cats, negated):
                let inCats = Unicode.Scalar(c).map { cats.contains($0.properties.generalCategory) } ?? false
                if inCats != negated { return true }
            case let .hex(negated):
                let isHex = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
                if isHex != negated { return true }
            case let .bareWord(negated):
                let isWord = c == 0xB2 || c == 0xB3 || c == 0xB9 || (c >= 0xBC && c <= 0xBE)
                    || UClass.flags(c) & UClass.word != 0
                if isWord != negated { return true }
            case let .nested(set): if set.contains(c) { return true }
            }
        }
        return false
    }
}

indirect enum RegexNode {
    case char(UInt32, caseless: Bool)
    case set(CharSet)
    case any(dotAll: Bool)
    case concat([RegexNode])
    case alt([RegexNode])
    case rep(RegexNode, min: Int, max: Int, kind: RepKind)  // max < 0: unbounded
    case look(RegexNode, ahead: Bool, negated: Bool)
    case atomic(RegexNode)
    case anchor(Anchor)

    enum RepKind { case greedy, lazy, possessive }

    var nullable: Bool {
        switch self {
        case .char, .set, .any: return false
        case .concat(let xs): return xs.allSatisfy { $0.nullable }
        case .alt(let xs): return xs.contains { $0.nullable }
        case let .rep(x, min, _, _): return min == 0 || x.nullable
        case .look, .anchor: return true
        case .atomic(let x): return x.nullable
        }
    }

    /// Length in scalars when every match has the same length (needed for look-behind).
    var fixedLength: Int? {
        switch self {
        case .char, .set, .any: return 1
        case .concat(let xs):
            var n = 0
            for x in xs { guard let l = x.fixedLength else { return nil }; n += l }
            return n
        case .alt(let xs):
            guard let first = xs.first?.fixedLength else { return 0 }
            return xs.allSatisfy({ $0.fixedLength == first }) ? first : nil
        case let .rep(x, min, max, _):
            guard min == max, let l = x.fixedLength else { return nil }
            return l * min
        case .look, .anchor: return 0
        case .atomic(let x): return x.fixedLength
        }
    }
}

enum Anchor: Sendable { case lineStart, lineEnd, textStart, textEnd, textEndNewline, wordBoundary, notWordBoundary }

enum Inst: Sendable {
    case char(UInt32)
    case charFold(UInt32)
    case set(Int)
    case any
    case anyNoNewline
    case split(Int, Int)
    case jmp(Int)
    case assert(Anchor)
    case look(Int, ahead: Bool, negated: Bool, length: Int)
    case atomic(Int)
    case setReg(Int)
    case checkProgress(Int)
    case match
}

/// A compiled pattern. Immutable, so one instance is shared by all threads.
final class CompiledRegex: Sendable {
    let pattern: String
    let programs: [[Inst]]
    let sets: [CharSet]
    let registerCount: Int

    init(_ pattern: String) throws(RegexError) {
        self.pattern = pattern
        var parser = RegexParser(pattern: pattern)
        let node = try parser.parseAll()
        var compiler = RegexCompiler()
        _ = compiler.program(node)
        programs = compiler.programs
        sets = compiler.sets
        registerCount = compiler.registers
    }

    /// Match anchored at `start`; returns the end of the first match found in
    /// priority order (Oniguruma semantics), or nil.
    func match(_ s: UnsafeBufferPointer<UInt32>, at start: Int, regs: inout [Int],
               stack: inout [(Int, Int)]) -> Int? {
        run(0, s, start, requireEnd: -1, regs: &regs, stack: &stack)
    }

    private func run(_ progIndex: Int, _ s: UnsafeBufferPointer<UInt32>, _ start: Int, requireEnd: Int,
                     regs: inout [Int], stack: inout [(Int, Int)]) -> Int? {
        let base = stack.count
        defer { stack.removeSubrange(base...) }
        let prog = programs[progIndex]
        let n = s.count
        var pc = 0
        var pos = start
        while true {
            var ok = true
            switch prog[pc] {
            case .char(let c):
                if pos < n, s[pos] == c { pos += 1; pc += 1 } else { ok = false }
            case .charFold(let c):
                if pos < n, s[pos] == c || UClass.fold(s[pos]) == c { pos += 1; pc += 1 } else { ok = false }
            case .set(let i):
                if pos < n, sets[i].contains(s[pos]) { pos += 1; pc += 1 } else { ok = false }
            case .any:
                if pos < n { pos += 1; pc += 1 } else { ok = false }
            case .anyNoNewline:
                if pos < n, s[pos] != 0x0A { pos += 1; pc += 1 } else { ok = false }
            case let .split(a, b):
                stack.append((b, pos)); pc = a
            case .jmp(let a):
                pc = a
            case .assert(let anchor):
                if Self.check(anchor, s, pos) { pc += 1 } else { ok = false }
            case let .look(sub, ahead, negated, length):
                var found: Bool
                if ahead {
                    found = run(sub, s, pos, requireEnd: -1, regs: &regs, stack: &stack) != nil
                } else {
                    found = pos >= length && run(sub, s, pos - length, requireEnd: pos, regs: &regs, stack: &stack) != nil
                }
                if found != negated { pc += 1 } else { ok = false }
            case .atomic(let sub):
                if let e = run(sub, s, pos, requireEnd: -1, regs: &regs, stack: &stack) { pos = e; pc += 1 } else { ok = false }
            case .setReg(let r):
                stack.append((-1 - r, regs[r])); regs[r] = pos; pc += 1
            case .checkProgress(let r):
                if regs[r] != pos { pc += 1 } else { ok = false }
            case .match:
                if requireEnd < 0 || pos == requireEnd { return pos }
                ok = false
            }
            if ok { continue }
            // Backtrack: pop register undo records until a choice point.
            while true {
                if stack.count == base { return nil }
                let (p, v) = stack.removeLast()
                if p < 0 { regs[-1 - p] = v; continue }
                pc = p; pos = v
                break
            }
        }
    }

    private static func isWord(_ c: UInt32) -> Bool { UClass.flags(c) & UClass.word != 0 }

    private static func check(_ a: Anchor, _ s: UnsafeBufferPointer<UInt32>, _ pos: Int) -> Bool {
        let n = s.count
        switch a {
        case .lineStart: return pos == 0 || s[pos - 1] == 0x0A
        case .lineEnd: return pos == n || s[pos] == 0x0A
        case .textStart: return pos == 0
        case .textEnd: return pos == n
        case .textEndNewline: return pos == n || (pos == n - 1 && s[pos] == 0x0A)
        case .wordBoundary, .notWordBoundary:
            let before = pos > 0 && isWord(s[pos - 1])
            let after = pos < n && isWord(s[pos])
            return (before != after) == (a == .wordBoundary)
        }
    }

    /// All matches as the onig crate's `find_iter` yields them (scalar offsets):
    /// search resumes at the previous end; an empty match right after the previous
    /// match is skipped by advancing one scalar.
    func findAll(_ scalars: [UInt32]) -> [(Int, Int)] {
        var out: [(Int, Int)] = []
        var regs = [Int](repeating: -1, count: registerCount)
        var stack: [(Int, Int)] = []
        scalars.withUnsafeBufferPointer { s in
            var lastEnd = 0
            var lastMatchEnd = -1
            let n = s.count
            while lastEnd <= n {
                var found: (Int, Int)? = nil
                var start = lastEnd
                while start <= n {
                    if let e = match(s, at: start, regs: &regs, stack: &stack) { found = (start, e); break }
                    start += 1
                }
                guard let (ms, me) = found else { break }
                if ms == me && lastMatchEnd == me {
                    lastEnd += 1
                    continue
                }
                lastEnd = me
                lastMatchEnd = me
                out.append((ms, me))
            }
        }
        return out
    }
}

private struct RegexCompiler {
    var programs: [[Inst]] = []
    var sets: [CharSet] = []
    var registers = 0

    mutating func program(_ node: RegexNode) -> Int {
        let index = programs.count
        programs.append([])
        var code: [Inst] = []
        emit(node, &code)
        code.append(.match)
        programs[index] = code
        return index
    }

    mutating func emit(_ node: RegexNode, _ code: inout [Inst]) {
        switch node {
        case let .char(c, caseless):
            code.append(caseless ? .charFold(UClass.fold(c)) : .char(c))
        case .set(let set):
            sets.append(set.finalized()); code.append(.set(sets.count - 1))
        case .any(let dotAll):
            code.append(dotAll ? .any : .anyNoNewline)
        case .concat(let xs):
            for x in xs { emit(x, &code) }
        case .alt(let xs):
            var jumps: [Int] = []
            for (i, x) in xs.enumerated() {
                if i < xs.count - 1 {
                    let split = code.count
                    code.append(.split(split + 1, -1))
                    emit(x, &code)
                    jumps.append(code.count)
                    code.append(.jmp(-1))
                    code[split] = .split(split + 1, code.count)
                } else {
                    emit(x, &code)
                }
            }
            for j in jumps { code[j] = .jmp(code.count) }
        case let .rep(x, min, max, kind):
            if kind == .possessive {
                let sub = program(.rep(x, min: min, max: max, kind: .greedy))
                code.append(.atomic(sub))
                return
            }
            for _ in 0..<min { emit(x, &code) }
            let lazy = kind == .lazy
            if max < 0 {
                let guardEmpty = x.nullable
                let loop = code.count
                code.append(.split(-1, -1))
                var reg = -1
                if guardEmpty { reg = registers; registers += 1; code.append(.setReg(reg)) }
                emit(x, &code)
                if guardEmpty { code.append(.checkProgress(reg)) }
                code.append(.jmp(loop))
                let exit = code.count
                code[loop] = lazy ? .split(exit, loop + 1) : .split(loop + 1, exit)
            } else if max > min {
                var splits: [Int] = []
                for _ in min..<max {
                    splits.append(code.count)
                    code.append(.split(-1, -1))
                    emit(x, &code)
                }
                let exit = code.count
                for s in splits { code[s] = lazy ? .split(exit, s + 1) : .split(s + 1, exit) }
            }
        case let .look(x, ahead, negated):
            let length = ahead ? 0 : (x.fixedLength ?? 0)
            let sub = program(x)
            code.append(.look(sub, ahead: ahead, negated: negated, length: length))
        case .atomic(let x):
            let sub = program(x)
            code.append(.atomic(sub))
        case .anchor(let a):
            code.append(.assert(a))
        }
    }
}

private struct RegexParser {
    let pattern: String
    let p: [UInt32]
    var i = 0
    var caseless = false
    var dotAll = false

    init(pattern: String) {
        self.pattern = pattern
        p = pattern.unicodeScalars.map(\.value)
    }

    func fail(_ reason: String) -> RegexError { RegexError(pattern: pattern, reason: reason) }

    var atEnd: Bool { i >= p.count }
    func peek(_ k: Int = 0) -> UInt32? { i + k < p.count ? p[i + k] : nil }

    mutating func parseAll() throws(RegexError) -> RegexNode {
        let node = try parseAlt()
        if !atEnd { throw fail("unbalanced ')' at \(i)") }
        return node
    }

    mutating func parseAlt() throws(RegexError) -> RegexNode {
        var branches = [try parseConcat()]
        while peek() == 0x7C {  // |
            i += 1
            branches.append(try parseConcat())
        }
        return branches.count == 1 ? branches[0] : .alt(branches)
    }

    mutating func parseConcat() throws(RegexError) -> RegexNode {
        var items: [RegexNode] = []
        while let c = peek(), c != 0x7C, c != 0x29 {
            if let atom = try parseAtom() { items.append(try parseQuantifiers(atom)) }
        }
        return items.count == 1 ? items[0] : .concat(items)
    }

    mutating func parseNumber() -> Int? {
        var v = 0, digits = 0
        while let c = peek(), c >= 0x30, c <= 0x39 { v = v * 10 + Int(c - 0x30); digits += 1; i += 1 }
        return digits > 0 ? v : nil
    }

    mutating func parseQuantifiers(_ atomIn: RegexNode) throws(RegexError) -> RegexNode {
        var atom = atomIn
        while let c = peek() {
            var min = 0, max = -1
            switch c {
            case 0x2A: i += 1                     // *
            case 0x2B: i += 1; min = 1            // +
            case 0x3F: i += 1; max = 1            // ?
            case 0x7B:                            // {m,n}
                let save = i
                i += 1
                let lo = parseNumber()
                if peek() == 0x2C {
                    i += 1
                    let hi = parseNumber()
                    guard peek() == 0x7D, lo != nil || hi != nil else { i = save; return atom }
                    min = lo ?? 0; max = hi ?? -1
                } else {
                    guard let lo, peek() == 0x7D else { i = save; return atom }
                    min = lo; max = lo
                }
                i += 1
                if max >= 0, max < min { throw fail("bad repeat range") }
                if min > 10_000 || max > 10_000 { throw fail("repeat count too large") }
                // Ruby syntax: an interval followed by '?' is lazy, never followed by '+' possessive.
                var kind = RegexNode.RepKind.greedy
                if peek() == 0x3F { i += 1; kind = .lazy }
                atom = .rep(atom, min: min, max: max, kind: kind)
                continue
            default:
                return atom
            }
            var kind = RegexNode.RepKind.greedy
            if peek() == 0x3F { i += 1; kind = .lazy } else if peek() == 0x2B { i += 1; kind = .possessive }
            atom = .rep(atom, min: min, max: max, kind: kind)
        }
        return atom
    }

    mutating func parseAtom() throws(RegexError) -> RegexNode? {
        guard let c = peek() else { return nil }
        i += 1
        switch c {
        case 0x28: return try parseGroup()
        case 0x5B: return .set(try parseClass())
        case 0x2E: return .any(dotAll: dotAll)
        case 0x5E: return .anchor(.lineStart)
        case 0x24: return .anchor(.lineEnd)
        case 0x5C: return try parseEscape()
        case 0x2A, 0x2B, 0x3F: throw fail("nothing to repeat at \(i - 1)")
        default: return .char(c, caseless: caseless)
        }
    }

    mutating func parseGroup() throws(RegexError) -> RegexNode {
        let savedCaseless = caseless, savedDotAll = dotAll
        defer { caseless = savedCaseless; dotAll = savedDotAll }
        var wrap: (RegexNode) -> RegexNode = { $0 }
        if peek() == 0x3F {  // ?
            i += 1
            guard let k = peek() else { throw fail("unterminated group") }
            switch k {
            case 0x3A: i += 1                                                     // (?:
            case 0x3D: i += 1; wrap = { .look($0, ahead: true, negated: false) }  // (?=
            case 0x21: i += 1; wrap = { .look($0, ahead: true, negated: true) }   // (?!
            case 0x3E: i += 1; wrap = { .atomic($0) }                             // (?>
            case 0x23:                                                            // (?# comment)
                while let c = peek(), c != 0x29 { i += 1 }
                i += 1
                return .concat([])
            case 0x3C:                                                            // (?<= (?<! (?<name>
                i += 1
                if peek() == 0x3D || peek() == 0x21 {
                    let negated = peek() == 0x21
                    i += 1
                    let body = try parseAlt()
                    guard peek() == 0x29 else { throw fail("unterminated group") }
                    i += 1
                    guard body.fixedLength != nil else { throw fail("variable-length look-behind") }
                    return .look(body, ahead: false, negated: negated)
                }
                while let c = peek(), c != 0x3E { i += 1 }
                i += 1
            default:
                // Inline flags: (?i) (?-i) (?i:...) (?m) ...
                var on = true
                var newCaseless = caseless, newDotAll = dotAll
                while let f = peek(), f != 0x3A, f != 0x29 {
                    switch f {
                    case 0x2D: on = false
                    case 0x69: newCaseless = on
                    case 0x6D: newDotAll = on
                    default: throw fail("unsupported group flag '\(Character(Unicode.Scalar(f) ?? "?"))'")
                    }
                    i += 1
                }
                guard let end = peek() else { throw fail("unterminated group") }
                i += 1
                if end == 0x29 {
                    // Flags switch for the rest of the enclosing group.
                    caseless = newCaseless; dotAll = newDotAll
                    let rest = try parseAlt()
                    return rest
                }
                caseless = newCaseless; dotAll = newDotAll
            }
        }
        let body = try parseAlt()
        guard peek() == 0x29 else { throw fail("missing ')'") }
        i += 1
        return wrap(body)
    }

    mutating func hexValue(maxDigits: Int) -> UInt32? {
        var v: UInt32 = 0, n = 0
        while n < maxDigits, let c = peek() {
            let d: UInt32
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x41...0x46: d = c - 0x41 + 10
            case 0x61...0x66: d = c - 0x61 + 10
            default: return n > 0 ? v : nil
            }
            v = v * 16 + d; n += 1; i += 1
        }
        return n > 0 ? v : nil
    }

    /// Parses an escape (backslash already consumed). Returns either a single
    /// scalar or a class item.
    enum Escape { case scalar(UInt32); case item(CharSet.Item); case anchor(Anchor) }

    mutating func parseEscapeBody(inClass: Bool) throws(RegexError) -> Escape {
        guard let c = peek() else { throw fail("trailing backslash") }
        i += 1
        switch c {
        case 0x73: return .item(.flags(UClass.space, negated: false))    // s
        case 0x53: return .item(.flags(UClass.space, negated: true))     // S
        case 0x64: return .item(.flags(UClass.digit, negated: false))    // d
        case 0x44: return .item(.flags(UClass.digit, negated: true))     // D
        case 0x77: return .item(inClass ? .flags(UClass.word, negated: false) : .bareWord(negated: false))  // w
        case 0x57: return .item(inClass ? .flags(UClass.word, negated: true) : .bareWord(negated: true))    // W
        case 0x68: return .item(.hex(negated: false))                    // h
        case 0x48: return .item(.hex(negated: true))                     // H
        case 0x70, 0x50:                                                 // p{..} P{..}
            guard peek() == 0x7B else { throw fail("expected '{' after \\p") }
            i += 1
            var name = ""
            while let k = peek(), k != 0x7D { name.unicodeScalars.append(Unicode.Scalar(k) ?? "?"); i += 1 }
            guard peek() == 0x7D else { throw fail("unterminated \\p{") }
            i += 1
            var negated = c == 0x50
            if name.hasPrefix("^") { negated.toggle(); name.removeFirst() }
            return .item(try property(name, negated: negated))
        case 0x6E: return .scalar(0x0A)
        case 0x72: return .scalar(0x0D)
        case 0x74: return .scalar(0x09)
        case 0x66: return .scalar(0x0C)
        case 0x76: return .scalar(0x0B)
        case 0x61: return .scalar(0x07)
        case 0x65: return .scalar(0x1B)
        case 0x30: return .scalar(hexOctal())
        case 0x78:                                                       // x
            if peek() == 0x7B {
                i += 1
                guard let v = hexValue(maxDigits: 8), peek() == 0x7D else { throw fail("bad \\x{...}") }
                i += 1
                return .scalar(v)
            }
            guard let v = hexValue(maxDigits: 2) else { throw fail("bad \\x escape") }
            return .scalar(v)
        case 0x75:                                                       // u
            guard let v = hexValue(maxDigits: 4) else { throw fail("bad \\u escape") }
            return .scalar(v)
        case 0x62 where !inClass: return .anchor(.wordBoundary)
        case 0x62: return .scalar(0x08)
        case 0x42 where !inClass: return .anchor(.notWordBoundary)
        case 0x41 where !inClass: return .anchor(.textStart)
        case 0x7A where !inClass: return .anchor(.textEnd)
        case 0x5A where !inClass: return .anchor(.textEndNewline)
        case 0x31...0x39, 0x6B, 0x67, 0x52, 0x58, 0x4B, 0x47:
            throw fail("unsupported escape \\\(Character(Unicode.Scalar(c) ?? "?"))")
        default: return .scalar(c)
        }
    }

    mutating func hexOctal() -> UInt32 {
        var v: UInt32 = 0, n = 0
        while n < 2, let c = peek(), c >= 0x30, c <= 0x37 { v = v * 8 + (c - 0x30); i += 1; n += 1 }
        return v
    }

    func property(_ rawName: String, negated: Bool) throws(RegexError) -> CharSet.Item {
        let name = String(rawName.lowercased().filter { $0 != "_" && $0 != " " })
        typealias G = Unicode.GeneralCategory
        let cats: [G]
        switch name {
        case "l", "letter": return .flags(UClass.letter, negated: negated)
        case "n", "number": return .flags(UClass.number, negated: negated)
        case "p", "punct", "punctuation": return .flags(UClass.punct, negated: negated)
        case "lu", "uppercaseletter": cats = [.uppercaseLetter]
        case "ll", "lowercaseletter": cats = [.lowercaseLetter]
        case "lt", "titlecaseletter": cats = [.titlecaseLetter]
        case "lm", "modifierletter": cats = [.modifierLetter]
        case "lo", "otherletter": cats = [.otherLetter]
        case "m", "mark", "combiningmark": cats = [.nonspacingMark, .spacingMark, .enclosingMark]
        case "mn", "nonspacingmark": cats = [.nonspacingMark]
        case "mc", "spacingmark": cats = [.spacingMark]
        case "me", "enclosingmark": cats = [.enclosingMark]
        case "nd", "decimalnumber", "digit": cats = [.decimalNumber]
        case "nl", "letternumber": cats = [.letterNumber]
        case "no", "othernumber": cats = [.otherNumber]
        case "pc", "connectorpunctuation": cats = [.connectorPunctuation]
        case "pd", "dashpunctuation": cats = [.dashPunctuation]
        case "ps", "openpunctuation": cats = [.openPunctuation]
        case "pe", "closepunctuation": cats = [.closePunctuation]
        case "pi", "initialpunctuation": cats = [.initialPunctuation]
        case "pf", "finalpunctuation": cats = [.finalPunctuation]
        case "po", "otherpunctuation": cats = [.otherPunctuation]
        case "s", "symbol": cats = [.mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol]
        case "sm", "mathsymbol": cats = [.mathSymbol]
        case "sc", "currencysymbol": cats = [.currencySymbol]
        case "sk", "modifiersymbol": cats = [.modifierSymbol]
        case "so", "othersymbol": cats = [.otherSymbol]
        case "z", "separator": cats = [.spaceSeparator, .lineSeparator, .paragraphSeparator]
        case "zs", "spaceseparator": cats = [.spaceSeparator]
        case "zl", "lineseparator": cats = [.lineSeparator]
        case "zp", "paragraphseparator": cats = [.paragraphSeparator]
        case "c", "other": cats = [.control, .format, .privateUse, .surrogate, .unassigned]
        case "cc", "control": cats = [.control]
        case "cf", "format": cats = [.format]
        case "co", "privateuse": cats = [.privateUse]
        case "cn", "unassigned": cats = [.unassigned]
        case "space", "whitespace": return .flags(UClass.space, negated: negated)
        case "alnum": return .flags(UClass.alnum, negated: negated)
        case "word": return .flags(UClass.word, negated: negated)
        default: throw fail("unsupported Unicode property \\p{\(rawName)}")
        }
        return .categories(cats, negated: negated)
    }

    mutating func parseEscape() throws(RegexError) -> RegexNode {
        switch try parseEscapeBody(inClass: false) {
        case .scalar(let v): return .char(v, caseless: caseless)
        case .item(let item): var s = CharSet(); s.items = [item]; s.caseless = caseless; return .set(s)
        case .anchor(let a): return .anchor(a)
        }
    }

    /// '[' already consumed.
    mutating func parseClass() throws(RegexError) -> CharSet {
        var set = CharSet()
        set.caseless = caseless
        if peek() == 0x5E { set.negated = true; i += 1 }
        var first = true
        while true {
            guard let c = peek() else { throw fail("unterminated character class") }
            if c == 0x5D, !first { i += 1; break }
            first = false
            if c == 0x26, peek(1) == 0x26 { throw fail("class intersection '&&' is not supported") }
            var lo: UInt32
            if c == 0x5B {
                if peek(1) == 0x3A { throw fail("POSIX bracket classes are not supported") }
                i += 1
                set.items.append(.nested(try parseClass()))
                continue
            } else if c == 0x5C {
                i += 1
                switch try parseEscapeBody(inClass: true) {
                case .scalar(let v): lo = v
                case .item(let item): set.items.append(item); continue
                case .anchor: throw fail("anchor inside class")
                }
            } else {
                lo = c; i += 1
            }
            if peek() == 0x2D, let next = peek(1), next != 0x5D {
                i += 1
                var hi: UInt32
                if next == 0x5C {
                    i += 1
                    guard case .scalar(let v) = try parseEscapeBody(inClass: true) else {
                        throw fail("bad range end in class")
                    }
                    hi = v
                } else if next == 0x5B {
                    throw fail("bad range end in class")
                } else { hi = next; i += 1 }
                if hi < lo { throw fail("empty range in char class") }
                set.items.append(.range(lo, hi))
            } else {
                set.items.append(.range(lo, lo))
            }
        }
        return set
    }
}
