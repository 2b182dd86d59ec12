import Foundation
import Testing
@testable import VerdantModels
import VerdantTensors

/// GGUF writing, reading back, and export of the fixture checkpoints.
struct GGUFTests {
    static func scratch(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("verdant-gguf-\(UUID().uuidString)-\(name)")
    }

    static func u32(_ b: [UInt8], _ at: Int) -> UInt32 { b[at..<(at + 4)].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
    static func u64(_ b: [UInt8], _ at: Int) -> UInt64 { b[at..<(at + 8)].reversed().reduce(0) { $0 << 8 | UInt64($1) } }

    // MARK: layout and round trip

    @Test func headerMetadataAndAlignedTensorData() throws {
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        w.set("test.u8", .uint8(200))
        w.set("test.i8", .int8(-5))
        w.set("test.u16", .uint16(65000))
        w.set("test.i16", .int16(-300))
        w.set("test.u32", .uint32(4_000_000_000))
        w.set("test.i32", .int32(-7))
        w.set("test.f32", .float32(0.25))
        w.set("test.bool", .bool(true))
        w.set("test.u64", .uint64(1 << 40))
        w.set("test.i64", .int64(-(1 << 40)))
        w.set("test.f64", .float64(-1.5))
        w.set("test.strings", .strings(["a", "", "Ġé"]))
        w.set("test.ints", .int32s([1, -2, 3]))
        w.set("test.u32", .uint32(5))  // replaced in place
        let odd: [Float] = [1, 2, 3, 4, 5]  // 20 bytes: the next tensor needs padding
        try w.addTensor("odd", floats: odd)
        var q = [UInt8](repeating: 0, count: 2 * 34)
        for i in q.indices { q[i] = UInt8(i % 251) }
        let qBytes = q
        try w.addTensor("blk.0.attn_q.weight", shape: [2, 32], type: .q8_0) { out in qBytes.withUnsafeBytes { out.copyMemory(from: $0) } }
        let url = Self.scratch("layout.gguf")
        defer { try? FileManager.default.removeItem(at: url) }
        try w.write(to: url)

        let bytes = [UInt8](try Data(contentsOf: url))
        #expect(Array(bytes[0..<4]) == Array("GGUF".utf8))
        #expect(Self.u32(bytes, 4) == 3)
        #expect(Self.u64(bytes, 8) == 2)     // tensors
        #expect(Self.u64(bytes, 16) == 15)   // keys: alignment, architecture, 13 test keys (test.u32 once)
        // First key: general.alignment = 32 as u32.
        #expect(Self.u64(bytes, 24) == 17)
        #expect(String(decoding: bytes[32..<49], as: UTF8.self) == "general.alignment")
        #expect(Self.u32(bytes, 49) == GGUFValueType.uint32.rawValue)
        #expect(Self.u32(bytes, 53) == 32)

        let f = try GGUFFile(path: url.path)
        #expect(f.version == 3 && f.alignment == 32)
        #expect(f.dataOffset % 32 == 0)
        #expect(f.metadata.count == 15)
        #expect(f["test.u32"] == .uint32(5))
        #expect(f["test.u8"] == .uint8(200) && f["test.i8"] == .int8(-5) && f["test.u16"] == .uint16(65000))
        #expect(f["test.i16"] == .int16(-300) && f["test.i32"] == .int32(-7) && f["test.f32"] == .float32(0.25))
        #expect(f["test.bool"] == .bool(true) && f["test.u64"] == .uint64(1 << 40) && f["test.i64"] == .int64(-(1 << 40)))
        #expect(f["test.f64"] == .float64(-1.5))
        #expect(f["test.strings"] == .strings(["a", "", "Ġé"]))
        #expect(f["test.ints"] == .int32s([1, -2, 3]))
        #expect(f.tensors.map(\.name) == ["odd", "blk.0.attn_q.weight"])
        #expect(f.tensors.allSatisfy { $0.offset % 32 == 0 })
        #expect(f.tensors[0].dims == [5] && f.tensors[0].type == .f32 && f.tensors[0].offset == 0)
        #expect(f.tensors[1].dims == [32, 2] && f.tensors[1].shape == [2, 32] && f.tensors[1].type == .q8_0)
        #expect(f.tensors[1].offset == 32)
        #expect(try f.floats("odd") == odd)
        #expect(try f.withTensorBytes("blk.0.attn_q.weight") { [UInt8]($0) } == qBytes)
        // The file ends with the last tensor padded to the alignment.
        #expect(bytes.count == f.dataOffset + 32 + 96)
    }

    @Test func writerRejectsBadTensors() throws {
        var w = GGUFWriter()
        #expect(throws: GGUFError.self) { try w.addTensor("x", shape: [2, 33], type: .q4_0) { _ in } }
        #expect(throws: GGUFError.self) { try w.addTensor("", shape: [2], type: .f32) { _ in } }
        #expect(throws: GGUFError.self) { try w.addTensor("y", shape: [0, 4], type: .f32) { _ in } }
        try w.addTensor("z", floats: [1])
        #expect(throws: GGUFError.self) { try w.addTensor("z", floats: [1]) }
        #expect(throws: GGUFError.self) { try w.write(to: URL(fileURLWithPath: "/nonexistent-dir/x.gguf")) }
        #expect(throws: GGUFError.self) { try w.write(to: FileManager.default.temporaryDirectory) }
    }

    @Test func readerRejectsDamagedFiles() throws {
        var w = GGUFWriter()
        w.set("k", .strings(["abc", "def"]))
        try w.addTensor("t", floats: [1, 2, 3, 4])
        let url = Self.scratch("damaged.gguf")
        defer { try? FileManager.default.removeItem(at: url) }
        try w.write(to: url)
        let good = try Data(contentsOf: url)
        for cut in [3, 10, 30, 60, good.count - 20] {
            try good.prefix(cut).write(to: url)
            #expect(throws: GGUFError.self, "cut at \(cut)") { _ = try GGUFFile(path: url.path) }
        }
        var bad = good
        bad[0] = 0x47 + 1
        try bad.write(to: url)
        #expect(throws: GGUFError.self) { _ = try GGUFFile(path: url.path) }
        // Dimensions whose product overflows must be an error, not a trap.
        var w2 = GGUFWriter()
        try w2.addTensor("big", shape: [3, 4], type: .f32) { _ in }
        try w2.write(to: url)
        var huge = try Data(contentsOf: url)
        let dims = Data([4, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0])   // ne0 = 4, ne1 = 3
        let r = try #require(huge.range(of: dims))
        huge.replaceSubrange(r, with: Data([0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0]))  // 2^39 × 2^39
        try huge.write(to: url)
        #expect { _ = try GGUFFile(path: url.path) } throws: { "\($0)".contains("size") }
        // A huge string length must not allocate or crash.
        bad = good
        for i in 0..<8 { bad[24 + i] = 0xFF }
        try bad.write(to: url)
        #expect(throws: GGUFError.self) { _ = try GGUFFile(path: url.path) }
    }

    // MARK: q/k permutation

    @Test func ropePermutationMatchesLlamaCppAndInverts() throws {
        for (rows, heads) in [(8, 1), (32, 4), (64, 2), (24, 3)] {
            let order = try #require(ggufRoPEPermutation(rows: rows, heads: heads))
            // llama.cpp: w.reshape(heads, 2, d/2, cols).swapaxes(1, 2).reshape(rows, cols)
            let d = rows / heads
            var expected: [Int] = []
            for h in 0..<heads { for i in 0..<(d / 2) { for j in 0..<2 { expected.append(h * d + j * (d / 2) + i) } } }
            #expect(order == expected)
            let inverse = inversePermutation(order)
            #expect(order.indices.map { inverse[order[$0]] } == Array(order.indices))
            #expect(inverse.indices.map { order[inverse[$0]] } == Array(order.indices))
        }
        #expect(ggufRoPEPermutation(rows: 6, heads: 2) == nil)
        #expect(ggufRoPEPermutation(rows: 8, heads: 0) == nil)
    }
}
