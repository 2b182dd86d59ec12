/// A pseudo-random bijection of 0..<count, different per (seed, epoch), computed per
/// index in O(1): a 4-round Feistel network on the smallest even-bit power-of-two
/// domain ≥ count, with cycle walking back into range. No permutation array is
/// stored, so any sequence of any epoch can be looked up directly (resuming needs
/// nothing but the index).
struct SequencePermutation: Sendable {
    let count: Int
    private let halfBits: Int
    private let keys: [UInt64]

    init(count: Int, seed: UInt64, epoch: Int) {
        self.count = count
        var bits = 2
        while (1 << bits) < count { bits += 1 }
        halfBits = (bits + 1) / 2
        var state = seed ^ (UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
        keys = (0..<4).map { _ in splitMix64(&state) }
    }

    func callAsFunction(_ index: Int) -> Int {
        if count <= 1 { return 0 }
        var x = UInt64(index)
        repeat { x = encrypt(x) } while x >= UInt64(count)
        return Int(x)
    }

    private func encrypt(_ x: UInt64) -> UInt64 {
        let mask: UInt64 = (1 << UInt64(halfBits)) - 1
        var left = x >> UInt64(halfBits), right = x & mask
        for key in keys {
            var s = right ^ key
            (left, right) = (right, left ^ (splitMix64(&s) & mask))
        }
        return (left << UInt64(halfBits)) | right
    }
}

/// SplitMix64 (Steele et al.): advances `state`, returns a well-mixed 64-bit value.
func splitMix64(_ state: inout UInt64) -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}
