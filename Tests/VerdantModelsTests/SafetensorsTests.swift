import Foundation
import Testing
@testable import VerdantModels
import VerdantTensors

/// Scratch files for format tests; each test gets its own directory.
enum FormatScratch {
    static func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("verdant-formats-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A file with an explicit header length, header text and `dataBytes` data bytes.
    static func raw(header: String, dataBytes: Int = 0, headerLength: UInt64? = nil, in dir: URL,
                    name: String = "model.safetensors") throws -> URL {
        let h = Array(header.utf8)
        let n = headerLength ?? UInt64(h.count)
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * $0)) }
        bytes += h
        bytes += (0..<dataBytes).map { UInt8(truncatingIfNeeded: $0) }
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    static func expectError(_ header: String, dataBytes: Int = 0, headerLength: UInt64? = nil,
                            sourceLocation: SourceLocation = #_sourceLocation,
                            _ check: (CheckpointError) -> Bool) throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = try raw(header: header, dataBytes: dataBytes, headerLength: headerLength, in: dir)
        do {
            _ = try SafetensorsFile(url: url)
            Issue.record("expected an error for header \(header)", sourceLocation: sourceLocation)
        } catch {
            #expect(check(error), "unexpected error: \(error)", sourceLocation: sourceLocation)
            #expect(error.description.contains(url.path), "message must name the file: \(error)",
                    sourceLocation: sourceLocation)
        }
    }
}

@Suite struct SafetensorsValidationTests {
    @Test func filesShorterThanTheLengthPrefix() throws {
        let dir = try FormatScratch.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for size in [0, 1, 7] {
            let url = dir.appendingPathComponent("short\(size).safetensors")
            try Data(repeating: 0, count: size).write(to: url)
            #expect(throws: CheckpointError.fileTooSmall(path: url.path, size: size)) { try SafetensorsFile(url: url) }
        }
    }

    @Test func headerLengthMustFitTheFile() throws {
        for length: UInt64 in [0, 1, 3, 1_000, UInt64.max, 1 << 40] {
            try FormatScratch.expectError("{}", headerLength: length) {
                if case .invalidHeaderLength = $0 { return true } else { return false }
            }
        }
    }

    @Test func truncatedDataSectionIsAnOffsetError() throws {
        try FormatScratch.expectError(#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, dataBytes: 10) {
            if case .invalidOffsets(_, "w", _) = $0 { return true } else { return false }
        }
    }

    @Test(arguments: [
        #"{"w":"#, #"{"w":{"dtype":"F32""#, "{]", "", "   ", #"{"a":1} x"#, "{\"a\":\"\u{01}\"}",
        #"{"a":tru}"#, #"{"a":01}"#, #"{"a":"\x"}"#, #"{"a":"\ud800"}"#, #"{"a":1,}"#,
        String(repeating: "[", count: 200) + String(repeating: "]", count: 200),
    ])
    func malformedJSON(_ header: String) throws {
        try FormatScratch.expectError(header.isEmpty ? "  " : header) {
            if case .malformedHeader = $0 { return true } else { return false }
        }
    }

    @Test(arguments: [#"[1,2]"#, #""text""#, "null", "42", "true"])
    func headerMustBeAnObject(_ header: String) throws {
        try FormatScratch.expectError(header) {
            if case .malformedHeader(_, let reason) = $0 { return reason.contains("expected an object") } else { return false }
        }
    }

    @Test func invalidUTF8InHeader() throws {
        let dir = try FormatScratch.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let header: [UInt8] = Array(#"{""#.utf8) + [0xFF, 0xFE] + Array(#"":1}"#.utf8)
        let bytes: [UInt8] = [UInt8(header.count), 0, 0, 0, 0, 0, 0, 0] + header
        let url = dir.appendingPathComponent("x.safetensors")
        try Data(bytes).write(to: url)
        #expect { try SafetensorsFile(url: url) } throws: { ($0 as? CheckpointError)?.description.contains("UTF-8") == true }
    }

    @Test func unknownDTypeIsNamed() throws {
        try FormatScratch.expectError(#"{"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}"#, dataBytes: 2) {
            $0 == .unknownDType(path: $0.pathForTest, tensor: "w", dtype: "F8_E4M3") && $0.description.contains("F8_E4M3")
        }
    }

    @Test func overlappingTensors() throws {
        let h = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        try FormatScratch.expectError(h, dataBytes: 12) {
            if case .overlappingTensors(_, "a", "b") = $0 { return true } else { return false }
        }
        // Same range twice is an overlap too; empty tensors overlap nothing.
        let same = #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"I8","shape":[4],"data_offsets":[0,4]}}"#
        try FormatScratch.expectError(same, dataBytes: 4) {
            if case .overlappingTensors = $0 { return true } else { return false }
        }
    }

    @Test func emptyTensorsMayShareOffsets() throws {
        let dir = try FormatScratch.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let h = #"{"a":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"s":{"dtype":"F32","shape":[],"data_offsets":[4,8]}}"#
        let f = try SafetensorsFile(url: try FormatScratch.raw(header: h, dataBytes: 8, in: dir))
        #expect(f.info("a")?.elementCount == 0)
        #expect(f.info("s")?.elementCount == 1)
        #expect(try f.floats("a") == [])
    }

    @Test(arguments: [
        (#"[0,20]"#, "beyond"), (#"[8,4]"#, "increasing"), (#"[-4,4]"#, "increasing"),
        (#"[0]"#, "[begin, end]"), (#"[0,8,9]"#, "[begin, end]"), (#"["0","8"]"#, "[begin, end]"),
        (#"[0,8.0]"#, "[begin, end]"), (#"[0,1e300]"#, "[begin, end]"), (#"[0,99999999999999999999]"#, "[begin, end]"),
    ])
    func outOfRangeOffsets(_ offsets: String, _ says: String) throws {
        try FormatScratch.expectError(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":\#(offsets)}}"#, dataBytes: 16) {
            if case .invalidOffsets(_, "w", let r) = $0 { return r.contains(says) } else { return false }
        }
    }

    @Test func byteSizeMustMatchShape() throws {
        try FormatScratch.expectError(#"{"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,8]}}"#, dataBytes: 16) {
            if case .sizeMismatch(_, "w", 12, 8) = $0 { return true } else { return false }
        }
    }

    @Test(arguments: ["[-1]", "[2,-3]", "[1.5]", #"["4"]"#, "[null]", "4", "[4294967296,4294967296,4294967296]",
                      "[9223372036854775807,2]", "[99999999999999999999]"])
    func negativeOrAbsurdShapes(_ shape: String) throws {
        try FormatScratch.expectError(#"{"w":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,8]}}"#, dataBytes: 8) {
            if case .invalidShape(_, "w", _) = $0 { return true } else { return false }
        }
    }

    @Test func elementCountTimesDTypeSizeOverflow() throws {
        // 2^61 elements fit Int, 2^61 × 4 bytes do not.
        try FormatScratch.expectError(#"{"w":{"dtype":"F32","shape":[2305843009213693952],"data_offsets":[0,8]}}"#, dataBytes: 8) {
            if case .invalidShape(_, "w", _) = $0 { return true } else { return false }
        }
    }

    @Test func duplicateTensorNames() throws {
        let h = #"{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#
        try FormatScratch.expectError(h, dataBytes: 2) {
            if case .duplicateTensor(_, "w") = $0 { return true } else { return false }
        }
    }

    @Test(arguments: [#"{"__metadata__":{"a":1}}"#, #"{"__metadata__":[]}"#, #"{"__metadata__":{"a":"x","a":"y"}}"#,
                      #"{"w":[1]}"#, #"{"w":{"shape":[1],"data_offsets":[0,1]}}"#])
    func malformedEntries(_ header: String) throws {
        try FormatScratch.expectError(header, dataBytes: 4) {
            if case .malformedHeader = $0 { return true } else { return false }
        }
    }

    @Test func missingFileAndDirectoryAreClearErrors() throws {
        let dir = try FormatScratch.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("nope.safetensors")
        #expect(throws: CheckpointError.fileNotFound(path: missing.path)) { try SafetensorsFile(url: missing) }
        #expect { try SafetensorsFile(url: dir) } throws: { ($0 as? CheckpointError)?.description.contains(dir.path) == true }
    }

    @Test func wrongKindForAccessorsIsAnError() throws {
        let dir = try FormatScratch.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var w = SafetensorsWriter()
        try w.add("ids", dtype: .i32, shape: [2, 2], data: [UInt8](repeating: 0, count: 16))
        try w.add("bias", floats: [1, 2, 3], shape: [3])
        try w.add("cube", floats: [Float](repeating: 0, count: 8), shape: [2, 2, 2])
        let url = dir.appendingPathComponent("m.safetensors")
        try w.write(to: url)
        let f = try SafetensorsFile(url: url)
        #expect { try f.weightMatrix("ids") } throws: { "\($0)".contains("ids") && "\($0)".contains("I32") }
        #expect { try f.weightMatrix("bias") } throws: { "\($0)".contains("bias") && "\($0)".contains("2 dimensions") }
        #expect { try f.weightMatrix("cube") } throws: { "\($0)".contains("cube") }
        #expect { try f.floats("ids") } throws: { "\($0)".contains("ids") }
        #expect { try f.floats("absent") } throws: { "\($0)".contains("absent") && "\($0)".contains(url.path) }
        #expect(try f.floats("bias") == [1, 2, 3])
    }

    @Test func misalignedTensorsAreReadSafely() throws {
        let dir = try FormatScratch.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A one-byte tensor first puts "m" at an odd offset (the Python library never writes this).
        var h = #"{"pad":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"m":{"dtype":"F32","shape":[2,2],"data_offsets":[1,17]}}"#
        while (8 + h.utf8.count + 1) % 4 == 0 { h += " " }
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(h.utf8.count) >> (8 * $0)) } + Array(h.utf8)
        bytes.append(0xAA)
        for v: Float in [1.5, -2, 3.25, 4] { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        let url = dir.appendingPathComponent("odd.safetensors")
        try Data(bytes).write(to: url)
        let f = try SafetensorsFile(url: url)
        #expect(Int(bitPattern: try f.view("m").data) % 4 != 0)
        let m = try f.weightMatrix("m")
        #expect(Int(bitPattern: m.data) % 4 == 0)
        #expect([m.element(0, 0), m.element(0, 1), m.element(1, 0), m.element(1, 1)] == [1.5, -2, 3.25, 4])
        #expect(try f.floats("m") == [1.5, -2, 3.25, 4])
    }
}

extension CheckpointError {
    /// The file a header error names (tests compare whole values).
    var pathForTest: String {
        switch self {
        case .unknownDType(let p, _, _), .malformedHeader(let p, _), .invalidShape(let p, _, _),
             .invalidOffsets(let p, _, _): return p
        default: return ""
        }
    }
}

@Suite struct SafetensorsRoundTripTests {
    static func bytes(for dtype: DType, count: Int) -> [UInt8] {
        (0..<(count * dtype.byteSize)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ dtype.byteSize) }
    }

    @Test func everyDTypeRoundTrips() throws {
        let dir = try FormatScratch.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var w = SafetensorsWriter(metadata: ["format": "pt", "note": "quote \" backslash \\ newline \n ✓"])
        var expected: [String: (DType, [Int], [UInt8])] = [:]
        for (i, dtype) in DType.allCases.enumerated() {
            // Odd sizes so a naive writer would misalign the next tensor.
            let shape = [3, i + 1]
            let data = Self.bytes(for: dtype, count: 3 * (i + 1))
            let name = "t.\(dtype.rawValue) \"ü\""
            try w.add(name, dtype: dtype, shape: shape, data: data)
            expected[name] = (dtype, shape, data)
        }
        try w.add("scalar", dtype: .f32, shape: [], data: [0, 0, 128, 63])
        try w.add("empty", dtype: .bf16, shape: [0, 5], data: [])
        let url = dir.appendingPathComponent("all.safetensors")
        try w.write(to: url)

        let f = try SafetensorsFile(url: url)
        #expect(f.metadata == w.metadata)
        #expect(f.dataOffset % 8 == 0)
        #expect(f.tensors.count == DType.allCases.count + 2)
        for (name, (dtype, shape, data)) in expected {
            let v = try f.view(name)
            #expect(v.info.dtype == dtype && v.info.shape == shape)
            #expect(Array(v.bytes) == data)
            #expect((f.dataOffset + v.info.byteRange.lowerBound) % dtype.byteSize == 0)
        }
        #expect(try f.floats("scalar") == [1])
        #expect(try f.floats("empty") == [])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(leftovers == ["all.safetensors"])
    }

    @Test func floatWideningAndMatrices() throws {
        let dir = try FormatScratch.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let values: [Float] = [0, 1, -2.5, 0.15625, 65504, -0.0009765625]
        var w = SafetensorsWriter()
        try w.add("f32", floats: values, shape: [2, 3])
        try w.add("f16", dtype: .f16, shape: [2, 3], data: values.flatMap { le(floatToF16($0)) })
        try w.add("bf16", dtype: .bf16, shape: [3, 2], data: values.flatMap { le(floatToBF16($0)) })
        try w.add("f64", dtype: .f64, shape: [6], data: values.flatMap { le(Double($0).bitPattern) })
        let m = WeightMatrix.f32(rows: 3, cols: 2, values: values)
        try w.add("fromMatrix", matrix: m)
        let url = dir.appendingPathComponent("floats.safetensors")
        try w.write(to: url)

        let f = try SafetensorsFile(url: url)
        #expect(try f.floats("f32") == values)
        #expect(try f.floats("f16") == values)
        #expect(try f.floats("f64") == values)
        #expect(try f.floats("bf16") == values.map { bf16ToFloat(floatToBF16($0)) })
        let h = try f.weightMatrix("f16")
        #expect(h.format == .f16 && h.rows == 2 && h.cols == 3 && h.element(1, 1) == 65504)
        let b = try f.weightMatrix("bf16")
        #expect(b.format == .bf16 && b.rows == 3 && b.cols == 2 && b.element(1, 0) == -2.5)
        let back = try f.weightMatrix("fromMatrix")
        #expect(back.format == .f32 && back.rows == 3 && back.element(2, 1) == values[5])
    }

    @Test func writerValidatesAndIsAtomic() throws {
        let dir = try FormatScratch.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var w = SafetensorsWriter()
        try w.add("a", floats: [1, 2], shape: [2])
        #expect(throws: CheckpointError.self) { try w.add("a", floats: [1], shape: [1]) }
        #expect(throws: CheckpointError.self) { try w.add("b", floats: [1, 2, 3], shape: [2]) }
        #expect(throws: CheckpointError.self) { try w.add("c", dtype: .f32, shape: [-1], data: []) }
        #expect(throws: CheckpointError.self) { try w.add("__metadata__", floats: [1], shape: [1]) }

        let url = dir.appendingPathComponent("model.safetensors")
        try w.write(to: url)
        let before = try Data(contentsOf: url)

        struct Boom: Error {}
        var failing = SafetensorsWriter()
        try failing.add("x", dtype: .f32, shape: [4]) { _ in throw Boom() }
        #expect { try failing.write(to: url) } throws: { "\($0)".contains("'x'") }
        #expect(try Data(contentsOf: url) == before, "a failed write must leave the old file")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["model.safetensors"])

        let nowhere = dir.appendingPathComponent("missing-dir/model.safetensors")
        #expect(throws: CheckpointError.self) { try w.write(to: nowhere) }
    }

    @Test func headerIsSpacePaddedLikeThePythonLibrary() throws {
        let dir = try FormatScratch.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var w = SafetensorsWriter()
        try w.add("abc", floats: [1], shape: [1])
        let url = dir.appendingPathComponent("p.safetensors")
        try w.write(to: url)
        let data = [UInt8](try Data(contentsOf: url))
        let n = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect((8 + n) % 8 == 0)
        #expect(data[8] == UInt8(ascii: "{"))
        let header = String(decoding: data[8..<(8 + n)], as: UTF8.self)
        #expect(header.trimmingCharacters(in: .whitespaces).hasSuffix("}"))
        #expect(data.count == 8 + n + 4)
    }
}

@Suite struct SafetensorsScaleTests {
    /// Large MoE checkpoints list ~150k tensors in one header.
    @Test func hugeHeaderParses() throws {
        let dir = try FormatScratch.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var w = SafetensorsWriter()
        let n = 150_000
        for i in 0..<n {
            try w.add("model.layers.\(i / 1000).experts.\(i % 1000).down_proj.weight", dtype: .bf16, shape: [1, 1]) { _ in }
        }
        let url = dir.appendingPathComponent("big.safetensors")
        try w.write(to: url)
        let start = ContinuousClock.now
        let f = try SafetensorsFile(url: url)
        let elapsed = ContinuousClock.now - start
        #expect(f.tensors.count == n)
        // Speed is reported, not asserted: a wall-clock bound fails on a loaded machine.
        print("150k-tensor header (\(f.dataOffset) bytes) parsed in \(elapsed)")
    }
}

private func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
    withUnsafeBytes(of: v.littleEndian) { Array($0) }
}
