/// Token strings stored as UTF-8 in one arena, with an open-addressing index from
/// bytes to id. Loading a 150k-entry vocabulary into `[String: Int]` costs
/// hundreds of milliseconds (String hashing is Unicode-aware); byte hashing does not.
public struct TokenTable: Sendable {
    private(set) var arena: [UInt8] = []
    /// By id: start << 32 | length; `none` when the id has no token.
    private var entry: [UInt64] = []
    /// Probe slots: hash tag << 32 | (id + 1); 0 = empty. The tag lets most
    /// probes finish without touching the arena (one cache miss per lookup).
    private var slots: [UInt64] = []
    private var mask = 0
    public private(set) var count = 0
    private static let none = UInt64.max

    init(expected: Int) {
        var size = 16
        while size < expected * 2 { size <<= 1 }
        slots = [UInt64](repeating: 0, count: size)
        mask = size - 1
        arena.reserveCapacity(expected * 8)
        entry.reserveCapacity(expected)
    }

    /// Largest id + 1.
    var idLimit: Int { entry.count }

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 { EncodeScratch.hash(p, n) }

    private mutating func grow() {
        let size = slots.count * 2
        var newSlots = [UInt64](repeating: 0, count: size)
        let newMask = size - 1
        arena.withUnsafeBufferPointer { a in
            guard let base = a.baseAddress else { return }
            for s in slots where s != 0 {
                let e = entry[Int(s & 0xFFFF_FFFF) - 1]
                let h = Self.hash(base + Int(e >> 32), Int(e & 0xFFFF_FFFF))
                var i = Int(truncatingIfNeeded: h) & newMask
                while newSlots[i] != 0 { i = (i + 1) & newMask }
                newSlots[i] = s
            }
        }
        slots = newSlots
        mask = newMask
    }

    /// Adds or replaces (the last occurrence wins, as with a JSON map).
    /// `p` must be a valid pointer even when `n` is 0.
    mutating func insert(_ p: UnsafePointer<UInt8>, _ n: Int, id: Int) {
        if (count + 1) * 2 > slots.count { grow() }
        if id >= entry.count { entry.append(contentsOf: repeatElement(Self.none, count: id + 1 - entry.count)) }
        let h = Self.hash(p, n)
        let tag = h >> 32
        var i = Int(truncatingIfNeeded: h) & mask
        let newEntry = UInt64(arena.count) << 32 | UInt64(n)
        while true {
            let s = slots[i]
            if s == 0 { break }
            if s >> 32 == tag {
                let old = Int(s & 0xFFFF_FFFF) - 1
                if equal(entry[old], p, n) {
                    // Same string, new id: keep one mapping like a JSON object would.
                    entry[old] = Self.none
                    slots[i] = tag << 32 | UInt64(id + 1)
                    entry[id] = newEntry
                    arena.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
                    return
                }
            }
            i = (i + 1) & mask
        }
        slots[i] = tag << 32 | UInt64(id + 1)
        entry[id] = newEntry
        arena.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        count += 1
    }

    @inline(__always)
    private func equal(_ e: UInt64, _ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        guard e != Self.none, Int(e & 0xFFFF_FFFF) == n else { return false }
        return arena.withUnsafeBufferPointer { a in
            guard let base = a.baseAddress else { return n == 0 }
            return memcmpEqual(base + Int(e >> 32), p, n)
        }
    }

    @inline(__always)
    func id(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int? {
        let h = Self.hash(p, n)
        let tag = h >> 32
        return slots.withUnsafeBufferPointer { sl in
            var i = Int(truncatingIfNeeded: h) & mask
            while true {
                let s = sl[i]
                if s == 0 { return nil }
                if s >> 32 == tag {
                    let id = Int(s & 0xFFFF_FFFF) - 1
                    if equal(entry[id], p, n) { return id }
                }
                i = (i + 1) & mask
            }
        }
    }

    func id(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress else {
                var empty: UInt8 = 0
                return withUnsafePointer(to: &empty) { id($0, 0) }
            }
            return id(base, b.count)
        }
    }

    func id(_ s: String) -> Int? { id(Array(s.utf8)) }

    func bytes(_ id: Int) -> ArraySlice<UInt8>? {
        guard id >= 0, id < entry.count, entry[id] != Self.none else { return nil }
        let e = entry[id]
        let s = Int(e >> 32)
        return arena[s..<(s + Int(e & 0xFFFF_FFFF))]
    }

    /// Calls `body` with the token's bytes (no copy); false when the id has no token.
    @inline(__always)
    func withBytes<R>(_ id: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R? {
        guard id >= 0, id < entry.count, entry[id] != Self.none else { return nil }
        let e = entry[id]
        return arena.withUnsafeBufferPointer { a in
            body(UnsafeBufferPointer(rebasing: a[Int(e >> 32)..<(Int(e >> 32) + Int(e & 0xFFFF_FFFF))]))
        }
    }

    func string(_ id: Int) -> String? { bytes(id).map { String(decoding: $0, as: UTF8.self) } }

    /// All (id, token bytes) pairs.
    func forEach(_ body: (Int, ArraySlice<UInt8>) -> Void) {
        for id in 0..<entry.count where entry[id] != Self.none {
            let e = entry[id]
            let s = Int(e >> 32)
            body(id, arena[s..<(s + Int(e & 0xFFFF_FFFF))])
        }
    }
}
