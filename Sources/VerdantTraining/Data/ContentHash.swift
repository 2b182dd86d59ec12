/// A 64-bit FNV-1a hash for fingerprints (cache validation, not security): cheap,
/// dependency-free and the same on every platform and run.
public struct ContentHash: Sendable, Equatable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var h = value
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        value = h
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// Strings are length-prefixed so that ("ab","c") and ("a","bc") differ.
    public mutating func update(_ string: String) {
        update(UInt64(string.utf8.count))
        update(Array(string.utf8))
    }

    public mutating func update(_ number: UInt64) {
        withUnsafeBytes(of: number.littleEndian) { update($0) }
    }

    public mutating func update(_ number: Int) { update(UInt64(bitPattern: Int64(number))) }

    /// 16 lowercase hex digits.
    public var hex: String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
