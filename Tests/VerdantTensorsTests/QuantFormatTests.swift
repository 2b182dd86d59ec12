import Testing
@testable import VerdantTensors

/// Deterministic pseudo-random floats in [-1, 1) with occasional outliers.
func testValues(_ n: Int, seed: UInt64, outliers: Bool = true) -> [Float] {
    var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<n).map { i in
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        let u = Float(s >> 40) / Float(1 << 24) * 2 - 1
        return outliers && i % 97 == 13 ? u * 8 : u
    }
}

func quantized(_ format: WeightFormat, rows: Int, cols: Int, values: [Float],
               importance: [Float]? = nil) -> WeightMatrix {
    let rowBytes = format.rowBytes(cols: cols)
    let buffer = OwnedBuffer(byteCount: rows * rowBytes)
    values.withUnsafeBufferPointer { v in
        for r in 0..<rows {
            if let importance {
                importance.withUnsafeBufferPointer { imp in
                    format.codec.quantizeRow(v.baseAddress! + r * cols, cols: cols, into: buffer.pointer + r * rowBytes,
                                             importance: imp.baseAddress!)
                }
            } else {
                format.codec.quantizeRow(v.baseAddress! + r * cols, cols: cols, into: buffer.pointer + r * rowBytes)
            }
        }
    }
    return WeightMatrix(format: format, rows: rows, cols: cols, data: buffer.pointer, owner: buffer)
}

let allQuantFormats: [WeightFormat] = [.q8_0, .q4_0, .int4(groupSize: 32), .int4(groupSize: 64), .int4(groupSize: 128), .w8a8]

@Suite struct QuantFormatTests {
    @Test func sizesMatchGGUFBlocks() {
        #expect(WeightFormat.q8_0.rowBytes(cols: 64) == 68)
        #expect(WeightFormat.q4_0.rowBytes(cols: 64) == 36)
        #expect(WeightFormat.int4(groupSize: 32).rowBytes(cols: 64) == 40)   // GGUF Q4_1: 20 bytes per 32
        #expect(WeightFormat.int4(groupSize: 128).rowBytes(cols: 256) == 136)
        #expect(WeightFormat.w8a8.rowBytes(cols: 64) == 68)
        // Padding: 40 columns occupy two blocks.
        #expect(WeightFormat.q4_0.rowBytes(cols: 40) == 36)
        #expect(WeightFormat.int4(groupSize: 128).rowBytes(cols: 130) == 136)
        #expect(WeightFormat(name: "int4_g64") == .int4(groupSize: 64))
        #expect(WeightFormat(name: "int4", defaultGroup: 32) == .int4(groupSize: 32))
        #expect(WeightFormat(name: "int4_g48") == nil)
        #expect(WeightFormat(name: "q3_k") == nil)
    }

    @Test(arguments: allQuantFormats)
    func roundTripErrorIsBoundedByTheScale(format: WeightFormat) {
        let cols = 200   // not a multiple of any block: exercises padding
        let values = testValues(3 * cols, seed: 7)
        let w = quantized(format, rows: 3, cols: cols, values: values)
        let group = format.codec.parameterGroup(cols: cols)
        let levels: Float = format == .q8_0 || format == .w8a8 ? 254 : 15
        for r in 0..<3 {
            var row = [Float](repeating: 0, count: cols)
            row.withUnsafeMutableBufferPointer { w.copyRow(r, into: $0.baseAddress!) }
            var start = 0
            while start < cols {
                let block = values[(r * cols + start)..<(r * cols + min(cols, start + group))]
                let amax = max(abs(block.max()!), abs(block.min()!))
                let range = max(block.max()! - block.min()!, 2 * amax)
                // Half a step plus f16 rounding of the scale and minimum. q4_0 maps the
                // largest magnitude to −8: the opposite extreme clips at +7 steps (amax/8).
                let bound = (format == .q4_0 ? amax / 8 : range / levels * 0.5) + range * 2e-3 + 1e-6
                for c in start..<min(cols, start + group) {
                    #expect(abs(row[c] - values[r * cols + c]) <= bound, "\(format.name) r\(r) c\(c)")
                    #expect(w.element(r, c) == row[c])
                }
                start += group
            }
        }
    }

    @Test func q4_0MatchesTheGGUFReferenceRule() {
        // Block whose largest magnitude is negative: it maps to code −8 exactly (d = max / −8).
        var block = [Float](repeating: 0, count: 32)
        for j in 0..<32 { block[j] = Float(j - 16) / 4 }   // min −4 at j = 0
        let w = quantized(.q4_0, rows: 1, cols: 32, values: block)
        let d = f16ToFloat(w.data.loadUnaligned(as: UInt16.self))
        #expect(d == 0.5)
        #expect(w.data.load(fromByteOffset: 2, as: UInt8.self) & 15 == 0)   // element 0 → code 0 (−8)
        #expect(w.element(0, 0) == -4)
        #expect(w.element(0, 17) == Float(1) / 4 * 0 + 0.5)   // 0.25 rounds half up to 1 step of 0.5
    }

    @Test(arguments: [WeightFormat.q4_0, .int4(groupSize: 32), .int4(groupSize: 128)])
    func importanceSearchNeverIncreasesWeightedError(format: WeightFormat) {
        let cols = 256
        let values = testValues(4 * cols, seed: 3)
        let importance = testValues(cols, seed: 11, outliers: false).map { $0 * $0 * 10 + 0.01 }
        let plain = quantized(format, rows: 4, cols: cols, values: values)
        let searched = quantized(format, rows: 4, cols: cols, values: values, importance: importance)
        var ePlain: Float = 0, eSearched: Float = 0
        for r in 0..<4 {
            for c in 0..<cols {
                let x = values[r * cols + c]
                ePlain += importance[c] * (x - plain.element(r, c)) * (x - plain.element(r, c))
                eSearched += importance[c] * (x - searched.element(r, c)) * (x - searched.element(r, c))
            }
        }
        #expect(eSearched <= ePlain * 1.0001)
        #expect(eSearched < ePlain * 0.99, "search should find something better than the plain rule (\(eSearched) vs \(ePlain))")
    }

    @Test(arguments: allQuantFormats)
    func simdKernelsMatchTheScalarIntegerReference(format: WeightFormat) {
        let pool = ThreadPool(threads: 2)
        for (rows, cols, tokens) in [(37, 256, 1), (21, 200, 1), (19, 96, 7), (40, 448, 13), (70, 160, 21), (33, 1056, 9)] {
            let w = quantized(format, rows: rows, cols: cols, values: testValues(rows * cols, seed: UInt64(rows)))
            let x = testValues(tokens * cols, seed: 99)
            var y = [Float](repeating: .nan, count: tokens * rows)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { matmul(xp.baseAddress!, rows: tokens, w, $0.baseAddress!, pool: pool) }
            }
            // The same activations quantized by hand, then the scalar integer reference.
            let padded = format.paddedColumns(cols)
            let memory = UnsafeMutableRawPointer.allocate(byteCount: QuantizedActivations.bytesNeeded(rows: tokens, cols: padded), alignment: 64)
            defer { memory.deallocate() }
            let acts = QuantizedActivations(memory: memory, rows: tokens, cols: cols, paddedCols: padded)
            x.withUnsafeBufferPointer { acts.quantize($0.baseAddress!, layout: QuantizedActivations.layout(for: format), rows: 0, tokens) }
            // And the float product with the dequantized weights: bounded by activation rounding.
            var yFloat = [Float](repeating: 0, count: tokens * rows)
            x.withUnsafeBufferPointer { xp in
                yFloat.withUnsafeMutableBufferPointer { matmulReference(xp.baseAddress!, rows: tokens, w, $0.baseAddress!) }
            }
            for t in 0..<tokens {
                var norm: Float = 0
                for c in 0..<cols { norm += abs(x[t * cols + c]) }
                for n in 0..<rows {
                    let ref = quantDotReference(acts, token: t, w, row: n)
                    let got = y[t * rows + n]
                    #expect(abs(got - ref) <= 1e-5 * max(1, abs(ref)) + 1e-4, "\(format.name) t\(t) n\(n): \(got) vs \(ref)")
                    // Activation codes are within half a step (amax/254 per block) of x.
                    #expect(abs(got - yFloat[t * rows + n]) <= 0.02 * norm + 1e-3, "\(format.name) vs float")
                }
            }
        }
    }
}
