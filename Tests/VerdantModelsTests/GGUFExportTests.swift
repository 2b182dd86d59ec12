import Foundation
import Testing
@testable import VerdantModels
import VerdantTensors

/// `GGUFExporter` on the fixture checkpoints, read back with `GGUFFile`.
struct GGUFExportTests {
    static func export(_ dir: URL, _ type: GGMLType?, vocab: Bool = false) throws -> (GGUFFile, GGUFExportSummary, URL) {
        let out = GGUFTests.scratch("export.gguf")
        let s = try GGUFExporter.export(modelDirectory: dir.path, to: out,
                                        options: GGUFExportOptions(type: type, includeVocabulary: vocab))
        return (try GGUFFile(path: out.path), s, out)
    }

    /// Rows of a [rows, cols] float matrix in `order`.
    static func permuted(_ m: [Float], cols: Int, _ order: [Int]) -> [Float] {
        order.flatMap { m[($0 * cols)..<(($0 + 1) * cols)] }
    }

    /// A Verdant-quantized copy of `fixture`: every 2-D weight whose rows are
    /// whole blocks stored in `format` (U8 rows + config.json manifest).
    static func quantizedCopy(of fixture: String, format: WeightFormat) throws -> URL {
        let src = try ModelFixtures.directory(fixture)
        let dst = GGUFTests.scratch("q-\(fixture)")
        try FileManager.default.createDirectory(at: dst, withIntermediateDirectories: true)
        let ckpt = try Checkpoint(directory: src)
        var writer = SafetensorsWriter()
        var manifest: [String: QuantizedTensorEntry] = [:]
        for t in ckpt.tensors {
            if t.shape.count == 2 && t.shape[1] % 32 == 0 {
                let floats = try ckpt.floats(t.name)
                let (rows, cols) = (t.shape[0], t.shape[1])
                let rowBytes = format.rowBytes(cols: cols)
                var bytes = [UInt8](repeating: 0, count: rows * rowBytes)
                floats.withUnsafeBufferPointer { f in
                    bytes.withUnsafeMutableBytes { b in
                        for r in 0..<rows { format.codec.quantizeRow(f.baseAddress! + r * cols, cols: cols, into: b.baseAddress! + r * rowBytes) }
                    }
                }
                try writer.add(t.name, dtype: .u8, shape: [rows, rowBytes], data: bytes)
                manifest[t.name] = QuantizedTensorEntry(format: format, rows: rows, cols: cols)
            } else {
                try writer.add(t.name, floats: try ckpt.floats(t.name), shape: t.shape)
            }
        }
        try writer.write(to: dst.appendingPathComponent("model.safetensors"))
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: src.appendingPathComponent("config.json"))) as? [String: Any] ?? [:]
        config["quantization"] = ["tensors": QuantizationManifest(tensors: manifest).tensorsJSON]
        try JSONSerialization.data(withJSONObject: config).write(to: dst.appendingPathComponent("config.json"))
        return dst
    }

    @Test func llamaFloatExportPermutesQKAndKeepsEverythingElse() throws {
        let dir = try ModelFixtures.directory("llama-gqa-f32")
        let ckpt = try Checkpoint(directory: dir)
        let (f, s, out) = try Self.export(dir, .f32)
        defer { try? FileManager.default.removeItem(at: out) }
        #expect(s.architecture == .llama && s.copiedExactly.isEmpty && s.f16Fallbacks.isEmpty)
        #expect(f["general.architecture"] == .string("llama"))
        #expect(f["llama.block_count"] == .uint32(2) && f["llama.attention.head_count"] == .uint32(4))
        #expect(f["llama.attention.head_count_kv"] == .uint32(2) && f["llama.embedding_length"] == .uint32(32))
        #expect(f["llama.feed_forward_length"] == .uint32(64) && f["llama.rope.dimension_count"] == .uint32(8))
        #expect(f["llama.attention.layer_norm_rms_epsilon"] != nil && f["llama.rope.freq_base"] != nil)
        #expect(f["tokenizer.ggml.model"] == .string("none"))
        let names = Set(f.tensors.map(\.name))
        for n in ["token_embd.weight", "output_norm.weight", "output.weight", "blk.1.attn_q.weight", "blk.1.attn_k.weight",
                  "blk.1.attn_v.weight", "blk.1.attn_output.weight", "blk.1.ffn_gate.weight", "blk.1.ffn_up.weight",
                  "blk.1.ffn_down.weight", "blk.1.attn_norm.weight", "blk.1.ffn_norm.weight"] {
            #expect(names.contains(n), "missing \(n)")
        }
        #expect(f.tensor("blk.0.ffn_down.weight")?.dims == [64, 32])
        let q = try ckpt.floats("model.layers.0.self_attn.q_proj.weight")
        let k = try ckpt.floats("model.layers.0.self_attn.k_proj.weight")
        #expect(try f.floats("blk.0.attn_q.weight") == Self.permuted(q, cols: 32, try #require(ggufRoPEPermutation(rows: 32, heads: 4))))
        #expect(try f.floats("blk.0.attn_k.weight") == Self.permuted(k, cols: 32, try #require(ggufRoPEPermutation(rows: 16, heads: 2))))
        #expect(try f.floats("blk.0.attn_v.weight") == ckpt.floats("model.layers.0.self_attn.v_proj.weight"))
        #expect(try f.floats("output.weight") == ckpt.floats("lm_head.weight"))
    }

    @Test func qwen2IsNotPermutedAndTiedOutputIsOmitted() throws {
        let dir = try ModelFixtures.directory("qwen2-tied")
        let ckpt = try Checkpoint(directory: dir)
        let (f, _, out) = try Self.export(dir, .f32)
        defer { try? FileManager.default.removeItem(at: out) }
        #expect(f["general.architecture"] == .string("qwen2"))
        #expect(f.tensor("output.weight") == nil)
        #expect(try f.floats("blk.0.attn_q.weight") == ckpt.floats("model.layers.0.self_attn.q_proj.weight"))
        #expect(try f.floats("blk.0.attn_k.bias") == ckpt.floats("model.layers.0.self_attn.k_proj.bias"))
    }

    @Test func gpt2AndBigCodeWeightsAreOutInFirst() throws {
        let gpt2 = try ModelFixtures.directory("gpt2")
        var (f, _, out) = try Self.export(gpt2, .f16)
        defer { try? FileManager.default.removeItem(at: out) }
        #expect(f["general.architecture"] == .string("gpt2") && f["gpt2.attention.layer_norm_epsilon"] != nil)
        #expect(f.tensor("position_embd.weight")?.type == .f32)
        #expect(f.tensor("blk.0.attn_qkv.weight")?.shape == [96, 32] && f.tensor("blk.0.attn_qkv.weight")?.type == .f16)
        #expect(f.tensor("blk.0.attn_qkv.bias")?.type == .f32 && f.tensor("blk.0.attn_norm.bias") != nil)
        let conv = try Checkpoint(directory: gpt2)
        let prefix = conv.info("transformer.h.0.attn.c_attn.weight") != nil ? "transformer." : ""
        let cAttn = try conv.floats(prefix + "h.0.attn.c_attn.weight")   // [in 32, out 96]
        let exported = try f.floats("blk.0.attn_qkv.weight")              // [out 96, in 32]
        #expect(abs(exported[5 * 32 + 7] - cAttn[7 * 96 + 5]) < 1e-3)

        let mha = try ModelFixtures.directory("bigcode-mha")
        let mhaOut: URL
        (f, _, mhaOut) = try Self.export(mha, .f32)
        defer { try? FileManager.default.removeItem(at: mhaOut) }
        #expect(f["general.architecture"] == .string("starcoder"))
        #expect(f["starcoder.attention.head_count_kv"] == .uint32(4))
        // HF interleaves per head [q_h k_h v_h]; the file holds q | k | v.
        let b = try Checkpoint(directory: mha).floats((try Checkpoint(directory: mha).info("transformer.h.0.attn.c_attn.bias") != nil ? "transformer." : "") + "h.0.attn.c_attn.bias")
        let fb = try f.floats("blk.0.attn_qkv.bias")
        #expect(fb[32 + 0] == b[8])        // k of head 0 sits after q in HF's block for head 0 (headDim 8)
        #expect(fb[8] == b[24])            // q of head 1 starts head 1's block
    }

    @Test func q8_0CheckpointBytesAreCopiedExactly() throws {
        let qdir = try Self.quantizedCopy(of: "llama-gqa-f32", format: .q8_0)
        defer { try? FileManager.default.removeItem(at: qdir) }
        let (f, s, out) = try Self.export(qdir, nil)
        defer { try? FileManager.default.removeItem(at: out) }
        #expect(s.type == .q8_0 && s.requantized.isEmpty)
        #expect(s.copiedExactly.count == 2 * 7 + 2)  // 7 linears per layer, embedding, lm_head
        let ckpt = try Checkpoint(directory: qdir)
        let v = try ckpt.view("model.layers.1.self_attn.v_proj.weight")
        #expect(try f.withTensorBytes("blk.1.attn_v.weight") { [UInt8]($0) } == [UInt8](v.bytes))
        // q rows are permuted as whole 34-byte rows.
        let q = [UInt8](try ckpt.view("model.layers.0.self_attn.q_proj.weight").bytes)
        let order = try #require(ggufRoPEPermutation(rows: 32, heads: 4))
        let expected = order.flatMap { q[($0 * 34)..<(($0 + 1) * 34)] }
        #expect(try f.withTensorBytes("blk.0.attn_q.weight") { [UInt8]($0) } == expected)

        // Float → q8_0 gives the same bytes (one quantization rule everywhere).
        let (ff, fs, fout) = try Self.export(try ModelFixtures.directory("llama-gqa-f32"), .q8_0)
        defer { try? FileManager.default.removeItem(at: fout) }
        #expect(fs.copiedExactly.isEmpty)
        for t in f.tensors {
            #expect(try f.withTensorBytes(t.name) { [UInt8]($0) } == ff.withTensorBytes(t.name) { [UInt8]($0) }, "\(t.name)")
        }

        // Another block type requantizes, with a record of it.
        let (_, rs, rout) = try Self.export(qdir, .q4_0)
        defer { try? FileManager.default.removeItem(at: rout) }
        #expect(rs.requantized.count == 16 && rs.copiedExactly.isEmpty)
    }

    @Test func int4G32CopiesAsQ4_1() throws {
        let qdir = try Self.quantizedCopy(of: "qwen2-tied", format: .int4(groupSize: 32))
        defer { try? FileManager.default.removeItem(at: qdir) }
        let (f, s, out) = try Self.export(qdir, .q4_1)
        defer { try? FileManager.default.removeItem(at: out) }
        #expect(s.requantized.isEmpty && !s.copiedExactly.isEmpty)
        #expect(f.tensor("blk.0.ffn_up.weight")?.type == .q4_1 && f["general.file_type"] == .uint32(3))
        let up = try Checkpoint(directory: qdir).view("model.layers.0.mlp.up_proj.weight")
        #expect(try f.withTensorBytes("blk.0.ffn_up.weight") { [UInt8]($0) } == [UInt8](up.bytes))
    }

    @Test func rowsThatAreNotWholeBlocksFallBackToF16() throws {
        // A one-layer llama with hidden size 40: rows of 40 cannot be q4_0 blocks, rows of 64 can.
        let dir = GGUFTests.scratch("odd-llama")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config: [String: Any] = ["model_type": "llama", "vocab_size": 16, "hidden_size": 40, "intermediate_size": 64,
                                     "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
                                     "max_position_embeddings": 64, "tie_word_embeddings": true]
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        var w = SafetensorsWriter()
        func add(_ n: String, _ shape: [Int]) throws {
            let count = shape.reduce(1, *)
            try w.add(n, floats: (0..<count).map { Float(($0 * 37) % 17) / 17 - 0.5 }, shape: shape)
        }
        try add("model.embed_tokens.weight", [16, 40]); try add("model.norm.weight", [40])
        let p = "model.layers.0."
        try add(p + "input_layernorm.weight", [40]); try add(p + "post_attention_layernorm.weight", [40])
        try add(p + "self_attn.q_proj.weight", [40, 40]); try add(p + "self_attn.k_proj.weight", [20, 40])
        try add(p + "self_attn.v_proj.weight", [20, 40]); try add(p + "self_attn.o_proj.weight", [40, 40])
        try add(p + "mlp.gate_proj.weight", [64, 40]); try add(p + "mlp.up_proj.weight", [64, 40])
        try add(p + "mlp.down_proj.weight", [40, 64])
        try w.write(to: dir.appendingPathComponent("model.safetensors"))
        var logged: [String] = []
        let out = GGUFTests.scratch("odd.gguf")
        defer { try? FileManager.default.removeItem(at: out) }
        let s = try GGUFExporter.export(modelDirectory: dir.path, to: out,
                                        options: GGUFExportOptions(type: .q4_0, includeVocabulary: false)) { logged.append($0) }
        #expect(s.f16Fallbacks.count == 7)   // embedding, q, k, v, o, gate, up
        #expect(logged.filter { $0.contains("f16") }.count == 7)
        let f = try GGUFFile(path: out.path)
        #expect(f.tensor("blk.0.ffn_down.weight")?.type == .q4_0)
        #expect(f.tensor("blk.0.attn_q.weight")?.type == .f16)
        #expect(f.tensor("token_embd.weight")?.type == .f16)
    }

    @Test func vocabularyMetadataOfTheDemoTokenizer() throws {
        let (f, _, out) = try Self.export(try ModelFixtures.directory("demo"), .f16, vocab: true)
        defer { try? FileManager.default.removeItem(at: out) }
        #expect(f["tokenizer.ggml.model"] == .string("gpt2") && f["tokenizer.ggml.pre"] == .string("qwen2"))
        let tokens = try #require(f["tokenizer.ggml.tokens"]?.arrayValue)
        let types = try #require(f["tokenizer.ggml.token_type"]?.arrayValue)
        #expect(tokens.count == 512 && types.count == 512)
        #expect(tokens[0] == .string("<|endoftext|>") && types[0] == .int32(3) && types[1] == .int32(1))
        #expect(f["tokenizer.ggml.merges"]?.arrayValue?.count == 255)
        #expect(f["tokenizer.ggml.merges"]?.arrayValue?.first == .string("Ġ Ġ"))
        #expect(f["tokenizer.ggml.bos_token_id"] == .uint32(0) && f["tokenizer.ggml.eos_token_id"] == .uint32(0))
        #expect(f["tokenizer.ggml.add_bos_token"] == .bool(false))
    }

    @Test func preTokenizerNames() {
        func pre(_ json: String) -> (String, Bool) {
            let obj = try? JSONSerialization.jsonObject(with: Data(json.utf8))
            return GGUFVocabulary.preTokenizerName(obj)
        }
        #expect(pre(#"{"type":"ByteLevel","add_prefix_space":false,"use_regex":true}"#) == ("gpt-2", true))
        #expect(pre(#"{"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true},{"type":"ByteLevel","use_regex":true}]}"#) == ("starcoder", true))
        let llama3 = GGUFVocabulary.llama3Regex.replacingOccurrences(of: "\\", with: "\\\\")
        #expect(pre(#"{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\#(llama3)"}},{"type":"ByteLevel","use_regex":false}]}"#) == ("llama-bpe", true))
        #expect(pre(#"{"type":"Whitespace"}"#) == ("gpt-2", false))
        #expect(pre("null") == ("gpt-2", false))
    }

    @Test func badInputsAreClearErrors() throws {
        // No tokenizer.json while a vocabulary is wanted.
        let noTok = try ModelFixtures.directory("llama-gqa-f32")
        let out = GGUFTests.scratch("bad.gguf")
        #expect { try GGUFExporter.export(modelDirectory: noTok.path, to: out) } throws: { e in
            "\(e)".contains("tokenizer.json")
        }
        #expect(!FileManager.default.fileExists(atPath: out.path))
        // Unwritable destination: nothing is left behind and the error names the path.
        let bad = URL(fileURLWithPath: "/nonexistent-dir/model.gguf")
        #expect { try GGUFExporter.export(modelDirectory: noTok.path, to: bad, options: GGUFExportOptions(includeVocabulary: false)) } throws: { e in
            "\(e)".contains("/nonexistent-dir")
        }
        // Unknown model_type.
        let dir = GGUFTests.scratch("rwkv")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"model_type": "rwkv"}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        #expect { try GGUFExporter.export(modelDirectory: dir.path, to: out) } throws: { e in "\(e)".contains("rwkv") }
    }
}
