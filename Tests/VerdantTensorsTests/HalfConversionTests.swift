import Testing
@testable import VerdantTensors

@Test func bf16RoundTripIsExactForRepresentableValues() {
    for bits: UInt16 in [0x0000, 0x3F80, 0xBF80, 0x4049, 0x7F7F, 0x0001, 0x8000] {
        #expect(floatToBF16(bf16ToFloat(bits)) == bits)
    }
}

@Test func bf16RoundsToNearestEven() {
    // 1 + 2^-8 is halfway between two bf16 values: ties to the even one (1.0).
    #expect(floatToBF16(1 + 1.0 / 256) == 0x3F80)
    // Slightly above the tie rounds up.
    #expect(floatToBF16(1 + 1.0 / 256 + 1.0 / 65536) == 0x3F81)
}
