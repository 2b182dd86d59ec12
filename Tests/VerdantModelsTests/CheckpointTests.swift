import Foundation
import Testing
@testable import VerdantModels
import VerdantTensors

enum ModelFixtures {
    static var root: URL? {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)?.appendingPathComponent("models")
    }

    static let names = [
        "llama-gqa-f32", "llama-bf16-tied-oldrope", "llama3-rope-scaling", "llama-linear-rope", "llama-attn-bias",
        "mistral-f16", "qwen2-tied", "gpt2", "gpt2-bf16", "bigcode-mqa", "bigcode-mha", "llama-sharded", "demo",
    ]

    static func directory(_ name: String) throws -> URL {
        try #require(root).appendingPathComponent(name)
    }

    static func reference(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: try directory(name).appendingPathComponent("reference.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// A writable copy of a fixture directory.
    static func copy(_ name: String) throws -> URL {
        let dst = try FormatScratch.directory().appendingPathComponent(name)
        try FileManager.default.copyItem(at: try directory(name), to: dst)
        return dst
    }
}

@Suite struct CheckpointFixtureTests {
    @Test(arguments: ModelFixtures.names)
    func loadsFixtureAndMatchesReference(_ name: String) throws {
        let ckpt = try Checkpoint(directory: try ModelFixtures.directory(name))
        let ref = try ModelFixtures.reference(name)
        #expect(ckpt.parameterCount == ref["num_parameters"] as? Int)
        #expect(ckpt.tensorNames == (ref["tensor_names"] as? [String])?.sorted())
        #expect(ckpt.isSharded == (name == "llama-sharded"))
        if ckpt.isSharded { #expect(ckpt.files.count >= 2) }

        let torchToDType: [String: DType] = ["float32": .f32, "float16": .f16, "bfloat16": .bf16]
        let dtypes = try #require(ref["tensor_dtypes"] as? [String: Int])
        var expected: [DType: Int] = [:]
        for (k, v) in dtypes { expected[try #require(torchToDType[k]), default: 0] += v }
        #expect(ckpt.dtypeHistogram.mapValues(\.tensors) == expected)
        #expect(ckpt.dtypeHistogram.values.reduce(0) { $0 + $1.parameters } == ckpt.parameterCount)

        let onDisk = try ckpt.files.reduce(0) { sum, f in
            sum + ((try FileManager.default.attributesOfItem(atPath: f.path)[.size] as? Int) ?? -1)
        }
        #expect(ckpt.totalBytes == onDisk)

        // Every tensor is reachable and its bytes lie inside its file.
        for t in ckpt.tensors {
            let v = try ckpt.view(t.name)
            #expect(v.info == t)
            let file = try #require(ckpt.file(containing: t.name))
            #expect(file.dataOffset + t.byteRange.upperBound <= file.fileSize)
            if t.shape.count == 2 {
                let m = try ckpt.weightMatrix(t.name)
                #expect(m.rows == t.shape[0] && m.cols == t.shape[1])
                let flat = try ckpt.floats(t.name)
                #expect(m.element(m.rows - 1, m.cols - 1) == flat.last)
                #expect(m.element(0, 0) == flat.first)
            }
        }
    }

    @Test func tiedCheckpointHasNoHead() throws {
        let ckpt = try Checkpoint(directory: try ModelFixtures.directory("llama-bf16-tied-oldrope"))
        #expect(ckpt.info("lm_head.weight") == nil)
        #expect(ckpt.info("model.embed_tokens.weight")?.dtype == .bf16)
        #expect(ckpt.info("model.embed_tokens.weight")?.shape == [300, 32])
    }

    @Test func checkpointIsAWeightSource() throws {
        let ckpt = try Checkpoint(directory: try ModelFixtures.directory("llama-sharded"))
        let source: any WeightSource = ckpt
        #expect(source.shape(of: "model.norm.weight") == [32])
        #expect(source.shape(of: "nope") == nil)
        #expect(try source.vector("model.norm.weight").count == 32)
        let m = try source.matrix("lm_head.weight")
        #expect(m.rows == 300 && m.cols == 32 && m.format == .f32)
        #expect { try source.matrix("nope") } throws: { "\($0)".contains("nope") }
    }

    @Test func weightsOutliveTheCheckpointObject() throws {
        var matrix: WeightMatrix?
        do {
            let ckpt = try Checkpoint(directory: try ModelFixtures.directory("gpt2"))
            matrix = try ckpt.weightMatrix("transformer.wte.weight")
        }
        let m = try #require(matrix)
        #expect(m.element(m.rows - 1, m.cols - 1).isFinite)
    }
}

@Suite struct CheckpointErrorTests {
    @Test func missingDirectory() throws {
        let path = "/nonexistent/verdant-model"
        #expect(throws: CheckpointError.directoryNotFound(path: path)) { try Checkpoint(path: path) }
    }

    @Test func directoryWithoutSafetensors() throws {
        let dir = try FormatScratch.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: CheckpointError.noSafetensors(directory: dir.path, hasPytorchBin: false)) {
            try Checkpoint(directory: dir)
        }
        try Data([0x80, 0x02]).write(to: dir.appendingPathComponent("pytorch_model.bin"))
        #expect { try Checkpoint(directory: dir) } throws: { e in
            e as? CheckpointError == .noSafetensors(directory: dir.path, hasPytorchBin: true)
                && "\(e)".contains("pytorch_model.bin") && "\(e)".contains("safetensors")
        }
    }

    @Test func missingShard() throws {
        let dir = try ModelFixtures.copy("llama-sharded")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let shard = "model-00002-of-00004.safetensors"
        try FileManager.default.removeItem(at: dir.appendingPathComponent(shard))
        #expect { try Checkpoint(directory: dir) } throws: { e in
            guard case .missingShard(let index, shard)? = e as? CheckpointError else { return false }
            return index.hasSuffix("model.safetensors.index.json") && "\(e)".contains(shard)
        }
    }

    @Test(arguments: [
        "{", "[]", #"{"metadata":{}}"#, #"{"weight_map":[]}"#, #"{"weight_map":{}}"#,
        #"{"weight_map":{"a":1}}"#, #"{"weight_map":{"a":"../model.safetensors"}}"#,
        #"{"weight_map":{"a":"/etc/passwd"}}"#,
        #"{"weight_map":{"lm_head.weight":"model-00001-of-00004.safetensors","lm_head.weight":"model-00001-of-00004.safetensors"}}"#,
    ])
    func malformedIndex(_ text: String) throws {
        let dir = try ModelFixtures.copy("llama-sharded")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let index = dir.appendingPathComponent("model.safetensors.index.json")
        try Data(text.utf8).write(to: index)
        #expect { try Checkpoint(directory: dir) } throws: { e in
            guard case .malformedIndex(let path, _)? = e as? CheckpointError else { return false }
            return path == index.path && "\(e)".contains("model.safetensors.index.json")
        }
    }

    @Test func indexPointingToAMissingTensor() throws {
        let dir = try ModelFixtures.copy("llama-sharded")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let indexURL = dir.appendingPathComponent("model.safetensors.index.json")
        var index = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: indexURL)) as? [String: Any])
        var map = try #require(index["weight_map"] as? [String: String])
        map["model.layers.9.mlp.up_proj.weight"] = "model-00001-of-00004.safetensors"
        index["weight_map"] = map
        try JSONSerialization.data(withJSONObject: index).write(to: indexURL)
        #expect { try Checkpoint(directory: dir) } throws: { e in
            guard case .tensorMissingFromShard(_, "model.layers.9.mlp.up_proj.weight",
                                               "model-00001-of-00004.safetensors")? = e as? CheckpointError
            else { return false }
            return true
        }
    }

    @Test func tensorInTwoShards() throws {
        let dir = try FormatScratch.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for shard in ["a.safetensors", "b.safetensors"] {
            var w = SafetensorsWriter()
            try w.add("shared", floats: [1, 2], shape: [2])
            try w.add("only-\(shard)", floats: [3], shape: [1])
            try w.write(to: dir.appendingPathComponent(shard))
        }
        let index = #"{"metadata":{},"weight_map":{"shared":"a.safetensors","only-a.safetensors":"a.safetensors","only-b.safetensors":"b.safetensors"}}"#
        try Data(index.utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        #expect { try Checkpoint(directory: dir) } throws: { e in
            guard case .tensorInMultipleShards("shared", _, _)? = e as? CheckpointError else { return false }
            return "\(e)".contains("a.safetensors") && "\(e)".contains("b.safetensors")
        }
    }

    @Test func damagedShardNamesTheShard() throws {
        let dir = try ModelFixtures.copy("llama-sharded")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let shard = dir.appendingPathComponent("model-00003-of-00004.safetensors")
        let bytes = try Data(contentsOf: shard)
        try bytes.prefix(bytes.count / 2).write(to: shard)
        #expect { try Checkpoint(directory: dir) } throws: { "\($0)".contains(shard.path) }
    }

    @Test func truncatedSingleFile() throws {
        let dir = try ModelFixtures.copy("llama-gqa-f32")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let file = dir.appendingPathComponent("model.safetensors")
        let bytes = try Data(contentsOf: file)
        for keep in [bytes.count - 1, bytes.count / 2, 100, 9, 4] {
            try bytes.prefix(keep).write(to: file)
            #expect { try Checkpoint(directory: dir) } throws: { "\($0)".contains(file.path) }
        }
    }
}
