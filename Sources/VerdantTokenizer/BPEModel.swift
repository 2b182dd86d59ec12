import Dispatch

/// Open-addressing map from a packed (left id, right id) pair to (rank, merged id).
/// Merge lookups dominate BPE time; a Swift Dictionary with tuple keys is several
/// times slower than this.
struct PairMap: Sendable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private let mask: Int
    private static let empty = UInt64.max

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: size)
        values = [UInt64](repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always)
    private static func slot(_ key: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    /// Keeps the first insertion (lowest rank) like HF when a pair repeats.
    mutating func insertIfAbsent(_ a: UInt32, _ b: UInt32, rank: UInt32, id: UInt32) {
        let key = UInt64(a) << 32 | UInt64(b)
        var i = Self.slot(key, mask)
        while keys[i] != Self.empty {
            if keys[i] == key { return }
            i = (i + 1) & mask
        }
        keys[i] = key
        values[i] = UInt64(rank) << 32 | UInt64(id)
    }

    @inline(__always)
    func get(_ a: UInt32, _ b: UInt32) -> UInt64? {
        let key = UInt64(a) << 32 | UInt64(b)
        return keys.withUnsafeBufferPointer { k in
            var i = Self.slot(key, mask)
            while true {
                let x = k[i]
                if x == key { return values.withUnsafeBufferPointer { $0[i] } }
                if x == Self.empty { return nil }
                i = (i + 1) & mask
            }
        }
    }
}

/// Per-thread mutable state for encoding: the word cache and reusable buffers.
/// Never shared between threads; `Tokenizer` hands one out per call from a pool.
final class EncodeScratch {
    // Word cache: open addressing over (hash, key bytes) -> ids.
    private var slotHash: [UInt64]
    private var slotKey: [Int32]      // offset into keyArena, -1 = empty
    private var slotKeyLen: [Int32]
    private var slotVal: [Int32]
    private var slotValLen: [Int32]
    private var keyArena: [UInt8] = []
    private var valArena: [Int32] = []
    private var count = 0
    private let mask: Int

    // Merge working arrays.
    var symId: [UInt32] = []
    var symLen: [Int32] = []
    var symPrev: [Int32] = []
    var symNext: [Int32] = []
    var heap: [UInt64] = []      // rank << 32 | pos
    var heapNew: [UInt32] = []
    var wordOut: [Int32] = []

    // Pipeline buffers.
    var buf: [UInt8] = []
    var spans: [Span] = []
    var spanScratch: [Span] = []
    var bytes: [UInt8] = []

    init(cacheSlots: Int = 1 << 16) {
        slotHash = [UInt64](repeating: 0, count: cacheSlots)
        slotKey = [Int32](repeating: -1, count: cacheSlots)
        slotKeyLen = [Int32](repeating: 0, count: cacheSlots)
        slotVal = [Int32](repeating: 0, count: cacheSlots)
        slotValLen = [Int32](repeating: 0, count: cacheSlots)
        mask = cacheSlots - 1
    }

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325 ^ UInt64(n)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= n {
            let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ w) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n { tail |= UInt64(p[i]) << shift; shift += 8; i += 1 }
        h = (h ^ tail) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
        return h
    }

    /// Appends cached ids for the word and returns true on a hit.
    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int, _ h: UInt64, into out: inout [Int]) -> Bool {
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let k = slotKey[i]
            if k < 0 { return false }
            if slotHash[i] == h, Int(slotKeyLen[i]) == n {
                let same = keyArena.withUnsafeBufferPointer { a in
                    a.baseAddress.map { memcmpEqual($0 + Int(k), p, n) } ?? false
                }
                if same {
                    let v = Int(slotVal[i]), vl = Int(slotValLen[i])
                    valArena.withUnsafeBufferPointer { a in
                        for j in v..<(v + vl) { out.append(Int(a[j])) }
                    }
                    return true
                }
            }
            i = (i + 1) & mask
        }
    }

    func store(_ p: UnsafePointer<UInt8>, _ n: Int, _ h: UInt64, _ ids: ArraySlice<Int32>) {
        if count * 2 >= mask || keyArena.count > 1 << 26 {
            for j in 0...mask { slotKey[j] = -1 }
            keyArena.removeAll(keepingCapacity: true)
            valArena.removeAll(keepingCapacity: true)
            count = 0
        }
        var i = Int(truncatingIfNeeded: h) & mask
        while slotKey[i] >= 0 { i = (i + 1) & mask }
        slotHash[i] = h
        slotKey[i] = Int32(keyArena.count)
        slotKeyLen[i] = Int32(n)
        slotVal[i] = Int32(valArena.count)
        slotValLen[i] = Int32(ids.count)
        keyArena.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        valArena.append(contentsOf: ids)
        count += 1
    }
}

private struct PointerBox: @unchecked Sendable {
    // Read-only views of buffers that outlive the parallel section.
    let json: UnsafePointer<UInt8>
    let side: UnsafePointer<UInt8>
}

private struct MergeResultBox: @unchecked Sendable {
    // Each index is written by exactly one worker.
    let buffer: UnsafeMutableBufferPointer<Int32>
    init(_ b: UnsafeMutableBufferPointer<Int32>) { buffer = b }
}

@inline(__always)
func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    while i + 8 <= n {
        if UnsafeRawPointer(a).loadUnaligned(fromByteOffset: i, as: UInt64.self)
            != UnsafeRawPointer(b).loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
        i += 8
    }
    while i < n { if a[i] != b[i] { return false }; i += 1 }
    return true
}

/// The BPE model of a tokenizer.json ("type": "BPE").
public struct BPEModel: Sendable {
    /// Token strings and their ids (model vocabulary only).
    public let tokens: TokenTable
    /// Merges in rank order, as (left id, right id).
    public let mergeIds: [(Int32, Int32)]
    public let unkToken: String?
    public let continuingSubwordPrefix: String?
    public let endOfWordSuffix: String?
    public let byteFallback: Bool
    public let fuseUnk: Bool
    public let ignoreMerges: Bool

    let pairs: PairMap
    /// Token id of each byte's ByteLevel stand-in character, or -1.
    let byteSymbol: [Int32]
    /// Ids of the `<0xXX>` tokens, or -1.
    let byteFallbackIds: [Int32]
    /// Single-scalar tokens, to avoid building a String per character.
    let scalarIds: [UInt32: Int32]
    let unkId: Int32?

    /// The vocabulary as a dictionary (built on each call; meant for tooling, not hot paths).
    public var vocab: [String: Int] {
        var d: [String: Int] = [:]
        d.reserveCapacity(tokens.count)
        tokens.forEach { id, b in d[String(decoding: b, as: UTF8.self)] = id }
        return d
    }

    /// Merges in rank order as strings (built on each call).
    public var merges: [(String, String)] {
        mergeIds.map { (tokens.string(Int($0.0)) ?? "", tokens.string(Int($0.1)) ?? "") }
    }

    init(tokens: TokenTable, mergeIds: [(Int32, Int32)], pairs: PairMap, unkToken: String?, prefix: String?,
         suffix: String?, byteFallback: Bool, fuseUnk: Bool, ignoreMerges: Bool) {
        self.tokens = tokens
        self.mergeIds = mergeIds
        self.pairs = pairs
        self.unkToken = unkToken
        continuingSubwordPrefix = prefix
        endOfWordSuffix = suffix
        self.byteFallback = byteFallback
        self.fuseUnk = fuseUnk
        self.ignoreMerges = ignoreMerges
        byteSymbol = ByteLevelTable.byteToUTF8.map { u in tokens.id(u).map { Int32($0) } ?? -1 }
        byteFallbackIds = (0..<256).map { b in
            let hex = String(b, radix: 16, uppercase: true)
            return tokens.id("<0x" + (hex.count < 2 ? "0" + hex : hex) + ">").map { Int32($0) } ?? -1
        }
        var sid: [UInt32: Int32] = [:]
        tokens.forEach { id, b in
            guard b.count <= 4, let first = b.first else { return }
            let need = first < 0x80 ? 1 : first < 0xE0 ? 2 : first < 0xF0 ? 3 : 4
            guard need == b.count else { return }
            guard let v = b.withUnsafeBufferPointer({ u in u.baseAddress.map { UTF8Scan.decode($0, 0, u.count).0 } })
            else { return }
            sid[v] = Int32(id)
        }
        scalarIds = sid
        unkId = unkToken.flatMap { tokens.id($0) }.map { Int32($0) }
    }

    /// Resolves merges to ids and builds the merge table; each merge's tokens and
    /// result must be in the vocabulary. This is the costliest part of loading a big
    /// vocabulary, so it runs on two threads, and tries the id right after the
    /// previous result first (vocabularies are usually stored in merge order).
    static func pairMap(_ tokens: TokenTable, _ loc: JSONParser.MergeLocations, _ json: [UInt8],
                        prefix: String?) throws(TokenizerError) -> ([(Int32, Int32)], PairMap) {
        let prefixLen = prefix?.utf8.count ?? 0
        let count = loc.spans.count / 4
        var resolved = [Int32](repeating: -1, count: count * 3)   // a, b, merged
        let chunks = count > 20_000 ? 2 : 1
        resolved.withUnsafeMutableBufferPointer { out in
            let box = MergeResultBox(out)
            json.withUnsafeBufferPointer { jb in
                loc.side.withUnsafeBufferPointer { sb in
                    guard let jb0 = jb.baseAddress else { return }
                    let ptrs = PointerBox(json: jb0, side: sb.baseAddress ?? jb0)
                    DispatchQueue.concurrentPerform(iterations: chunks) { c in
                        let jbase = ptrs.json, sbase = ptrs.side
                        let lo = count * c / chunks, hi = count * (c + 1) / chunks
                        var buf: [UInt8] = []
                        var guess = -1
                        for r in lo..<hi {
                            func at(_ k: Int) -> (UnsafePointer<UInt8>, Int) {
                                let s = loc.spans[4 * r + k], n = Int(loc.spans[4 * r + k + 1])
                                return s & (1 << 31) != 0 ? (sbase + Int(s & ~(1 << 31)), n) : (jbase + Int(s), n)
                            }
                            let (pa, na) = at(0), (pb, nb) = at(2)
                            guard let a = tokens.id(pa, na), let b = tokens.id(pb, nb) else { guess = -1; continue }
                            box.buffer[3 * r] = Int32(a); box.buffer[3 * r + 1] = Int32(b)
                            buf.removeAll(keepingCapacity: true)
                            buf.append(contentsOf: UnsafeBufferPointer(start: pa, count: na))
                            buf.append(contentsOf: UnsafeBufferPointer(start: pb, count: nb).dropFirst(prefixLen))
                            if guess >= 0, tokens.withBytes(guess + 1, { $0.elementsEqual(buf) }) == true {
                                guess += 1
                            } else {
                                guess = tokens.id(buf) ?? -1
                            }
                            box.buffer[3 * r + 2] = Int32(guess)
                        }
                    }
                }
            }
        }
        var pm = PairMap(capacity: count)
        var ids: [(Int32, Int32)] = []
        ids.reserveCapacity(count)
        for r in 0..<count {
            let a = resolved[3 * r], b = resolved[3 * r + 1], m = resolved[3 * r + 2]
            guard a >= 0, b >= 0, m >= 0 else {
                let text = json.withUnsafeBufferPointer { jb -> String in
                    loc.side.withUnsafeBufferPointer { sb in
                        func str(_ k: Int) -> String {
                            let s = loc.spans[4 * r + k], n = Int(loc.spans[4 * r + k + 1])
                            let base = s & (1 << 31) != 0 ? sb : jb
                            let o = Int(s & ~(1 << 31))
                            return String(decoding: base[o..<(o + n)], as: UTF8.self)
                        }
                        return str(0) + " " + str(2)
                    }
                }
                throw .invalid(a < 0 || b < 0 ? "merge \"\(text)\" uses a token missing from the vocab"
                                               : "merge \"\(text)\" result is missing from the vocab")
            }
            ids.append((a, b))
            pm.insertIfAbsent(UInt32(a), UInt32(b), rank: UInt32(r), id: UInt32(m))
        }
        return (ids, pm)
    }

    /// True when ByteLevel words can start from `byteSymbol` without building strings.
    var supportsDirectBytes: Bool {
        continuingSubwordPrefix == nil && endOfWordSuffix == nil && !byteSymbol.contains(-1)
    }

    func token(_ id: Int) -> String? { tokens.string(id) }

    /// Tokenizes one pre-token. `byteLevel`: the bytes still need the ByteLevel mapping.
    func tokenize(_ p: UnsafePointer<UInt8>, _ n: Int, byteLevel: Bool, scratch: EncodeScratch, into out: inout [Int]) {
        if n == 0 { return }
        if byteLevel && n == 1 {
            let id = byteSymbol[Int(p[0])]
            if id >= 0 { out.append(Int(id)) }
            return
        }
        let h = EncodeScratch.hash(p, n)
        if scratch.lookup(p, n, h, into: &out) { return }
        scratch.wordOut.removeAll(keepingCapacity: true)
        if ignoreMerges, let id = wholeWordId(p, n, byteLevel: byteLevel) {
            scratch.wordOut.append(Int32(id))
        } else {
            initialSymbols(p, n, byteLevel: byteLevel, scratch)
            mergeAll(scratch)
        }
        for id in scratch.wordOut { out.append(Int(id)) }
        scratch.store(p, n, h, scratch.wordOut[...])
    }

    private func wholeWordId(_ p: UnsafePointer<UInt8>, _ n: Int, byteLevel: Bool) -> Int? {
        if !byteLevel { return tokens.id(p, n) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(n * 2)
        for i in 0..<n { bytes.append(contentsOf: ByteLevelTable.byteToUTF8[Int(p[i])]) }
        return tokens.id(bytes)
    }

    private func initialSymbols(_ p: UnsafePointer<UInt8>, _ n: Int, byteLevel: Bool, _ s: EncodeScratch) {
        s.symId.removeAll(keepingCapacity: true)
        s.symLen.removeAll(keepingCapacity: true)
        if byteLevel {
            // supportsDirectBytes guarantees every byte has a symbol.
            for i in 0..<n { s.symId.append(UInt32(bitPattern: byteSymbol[Int(p[i])])); s.symLen.append(1) }
            return
        }
        var unk: (Int32, Int32)? = nil
        var i = 0
        while i < n {
            let (c, len) = UTF8Scan.decode(p, i, n)
            let isFirst = i == 0
            let isLast = i + len == n
            var id: Int32? = nil
            var piece: [UInt8]? = nil
            if (isFirst || continuingSubwordPrefix == nil) && (!isLast || endOfWordSuffix == nil) {
                id = scalarIds[c]
            } else {
                var t: [UInt8] = []
                if !isFirst, let pre = continuingSubwordPrefix { t.append(contentsOf: pre.utf8) }
                t.append(contentsOf: UnsafeBufferPointer(start: p + i, count: len))
                if isLast, let suf = endOfWordSuffix { t.append(contentsOf: suf.utf8) }
                piece = t
                id = tokens.id(t).map { Int32($0) }
            }
            if let id {
                if let (u, ul) = unk { s.symId.append(UInt32(u)); s.symLen.append(ul); unk = nil }
                s.symId.append(UInt32(id)); s.symLen.append(Int32(len))
            } else {
                var handled = false
                if byteFallback {
                    let bytes = piece ?? Array(UnsafeBufferPointer(start: p + i, count: len))
                    if bytes.allSatisfy({ byteFallbackIds[Int($0)] >= 0 }) {
                        for b in bytes { s.symId.append(UInt32(byteFallbackIds[Int(b)])); s.symLen.append(1) }
                        handled = true
                    }
                }
                if !handled, let u = unkId {
                    if let (uid, ul) = unk {
                        if fuseUnk { unk = (uid, ul + Int32(len)) }
                        else { s.symId.append(UInt32(uid)); s.symLen.append(ul); unk = (u, Int32(len)) }
                    } else { unk = (u, Int32(len)) }
                }
            }
            i += len
        }
        if let (u, ul) = unk { s.symId.append(UInt32(u)); s.symLen.append(ul) }
    }

    /// HF `Word::merge_all`: a min-heap of (rank, position); stale entries are
    /// skipped when the pair at that position no longer produces the same token.
    private func mergeAll(_ s: EncodeScratch) {
        let n = s.symId.count
        if n <= 1 {
            for id in s.symId { s.wordOut.append(Int32(bitPattern: id)) }
            return
        }
        s.symPrev.removeAll(keepingCapacity: true)
        s.symNext.removeAll(keepingCapacity: true)
        for i in 0..<n { s.symPrev.append(Int32(i - 1)); s.symNext.append(i + 1 < n ? Int32(i + 1) : -1) }
        s.heap.removeAll(keepingCapacity: true)
        s.heapNew.removeAll(keepingCapacity: true)
        for i in 0..<(n - 1) {
            if let v = pairs.get(s.symId[i], s.symId[i + 1]) {
                heapPush(s, UInt64(v >> 32) << 32 | UInt64(i), UInt32(truncatingIfNeeded: v))
            }
        }
        while let (key, newId) = heapPop(s) {
            let pos = Int(key & 0xFFFF_FFFF)
            if s.symLen[pos] == 0 { continue }
            let next = Int(s.symNext[pos])
            if next < 0 { continue }
            guard let v = pairs.get(s.symId[pos], s.symId[next]), UInt32(truncatingIfNeeded: v) == newId else { continue }
            s.symId[pos] = newId
            s.symLen[pos] += s.symLen[next]
            s.symLen[next] = 0
            let nn = s.symNext[next]
            s.symNext[pos] = nn
            if nn >= 0 { s.symPrev[Int(nn)] = Int32(pos) }
            let prev = Int(s.symPrev[pos])
            if prev >= 0, let pv = pairs.get(s.symId[prev], newId) {
                heapPush(s, UInt64(pv >> 32) << 32 | UInt64(prev), UInt32(truncatingIfNeeded: pv))
            }
            if nn >= 0, let nv = pairs.get(newId, s.symId[Int(nn)]) {
                heapPush(s, UInt64(nv >> 32) << 32 | UInt64(pos), UInt32(truncatingIfNeeded: nv))
            }
        }
        var i = 0
        while i >= 0 && i < n {
            s.wordOut.append(Int32(bitPattern: s.symId[i]))
            i = Int(s.symNext[i])
        }
    }

    @inline(__always)
    private func heapPush(_ s: EncodeScratch, _ key: UInt64, _ newId: UInt32) {
        s.heap.append(key); s.heapNew.append(newId)
        var i = s.heap.count - 1
        while i > 0 {
            let parent = (i - 1) >> 1
            if s.heap[parent] <= s.heap[i] { break }
            s.heap.swapAt(parent, i); s.heapNew.swapAt(parent, i)
            i = parent
        }
    }

    @inline(__always)
    private func heapPop(_ s: EncodeScratch) -> (UInt64, UInt32)? {
        guard let top = s.heap.first else { return nil }
        let topNew = s.heapNew[0]
        let last = s.heap.count - 1
        s.heap.swapAt(0, last); s.heapNew.swapAt(0, last)
        s.heap.removeLast(); s.heapNew.removeLast()
        var i = 0
        let n = s.heap.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n, s.heap[l] < s.heap[m] { m = l }
            if r < n, s.heap[r] < s.heap[m] { m = r }
            if m == i { break }
            s.heap.swapAt(m, i); s.heapNew.swapAt(m, i)
            i = m
        }
        return (top, topNew)
    }
}
