import Foundation
import Testing
import VerdantTensors

/// Verdant's q8_0 / q4_0 / int4_g32 codecs against the bytes of gguf-py's
/// reference quantizers (Q8_0, Q4_0, Q4_1), which scripts/make_quant_fixtures.py
/// also checks against ggml's C reference. Bit-identical output is what lets
/// `export-gguf` copy quantized tensors unchanged and keeps files produced from
/// float weights identical to llama.cpp's converter.
struct QuantGoldenTests {
    struct Fixture: Decodable {
        struct Meta: Decodable { var ggml_checked: Bool; var ggml_disagreements: Int }
        struct Case: Decodable {
            var name: String
            var rows: Int
            var cols: Int
            var input_bits: [UInt32]
            var expected: [String: String]
            var ggml_differs: [String: String]
        }
        var meta: Meta
        var cases: [Case]
    }

    static func load() throws -> Fixture {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)?
            .appendingPathComponent("quant_golden.json") else {
            throw CocoaError(.fileNoSuchFile)
        }
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    static let formats: [(String, WeightFormat)] = [("q8_0", .q8_0), ("q4_0", .q4_0), ("q4_1", .int4(groupSize: 32))]

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func codecsMatchGGUFReferenceBytes() throws {
        let fixture = try Self.load()
        #expect(fixture.cases.count >= 10)
        for c in fixture.cases {
            let values = c.input_bits.map { Float(bitPattern: $0) }
            for (typeName, format) in Self.formats {
                let rowBytes = format.rowBytes(cols: c.cols)
                var out = [UInt8](repeating: 0, count: c.rows * rowBytes)
                values.withUnsafeBufferPointer { v in
                    out.withUnsafeMutableBytes { o in
                        for r in 0..<c.rows {
                            format.codec.quantizeRow(v.baseAddress! + r * c.cols, cols: c.cols,
                                                     into: o.baseAddress! + r * rowBytes)
                        }
                    }
                }
                let got = Self.hex(out)
                #expect(got == c.expected[typeName], "\(c.name) \(typeName): Verdant's bytes differ from gguf-py's")
                if let ggml = c.ggml_differs[typeName] {
                    // Recorded only where gguf-py and ggml's C code disagree; say which one we match.
                    Issue.record("\(c.name) \(typeName): gguf-py and ggml differ; Verdant matches \(got == ggml ? "ggml" : got == c.expected[typeName] ? "gguf-py" : "neither")")
                }
            }
        }
    }
}
