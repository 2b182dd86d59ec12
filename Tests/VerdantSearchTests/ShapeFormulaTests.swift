import Testing
import VerdantModels
import VerdantTensors
@testable import VerdantSearch

@Suite struct ShapeFormulaTests {
    @Test(arguments: Fixtures.all)
    func parameterCountMatchesLoader(_ name: String) throws {
        let info = try ModelInfo.read(directory: Fixtures.model(name))
        let shape = StudentShape(config: info.config)
        #expect(shape.parameterCount == info.parameterCount)
        let (space, point) = try ConfigurationSpace.point(shape)
        let counts = try ConstraintSolver.solverCounts(space: space, configuration: point, storage: StorageFormat(.bf16))
        #expect(counts.parameters == info.parameterCount)
    }

    /// Stored bytes at the checkpoint's own float format equal the tensors' bytes on disk.
    @Test(arguments: ["llama-gqa-f32", "llama-bf16-tied-oldrope", "gpt2-bf16", "mistral-f16", "qwen2-tied", "gpt2"])
    func floatBytesMatchCheckpoint(_ name: String) throws {
        let dir = Fixtures.model(name)
        let checkpoint = try Checkpoint(path: dir)
        let dtypes = Set(checkpoint.tensors.map { $0.dtype.rawValue.lowercased() })
        try #require(dtypes.count == 1)
        let format = try #require(StorageFormat(name: dtypes.first ?? ""))
        let shape = StudentShape(config: try ModelRegistry.config(directory: dir))
        let onDisk = checkpoint.tensors.reduce(0) { $0 + $1.byteCount }
        #expect(shape.bytes(format) == onDisk)
    }

    /// The solver's size term and StudentShape.bytes agree at every format, block padding included.
    @Test(arguments: ["bf16", "f32", "q8_0", "q4_0", "int4_g32", "int4_g128", "w8a8"])
    func solverBytesMatchSwift(_ formatName: String) throws {
        let storage = try #require(StorageFormat(name: formatName))
        for name in ["llama-attn-bias", "gpt2", "bigcode-mqa", "demo", "qwen2-tied"] {
            let shape = StudentShape(config: try ModelRegistry.config(directory: Fixtures.model(name)))
            let (space, point) = try ConfigurationSpace.point(shape)
            let counts = try ConstraintSolver.solverCounts(space: space, configuration: point, storage: storage)
            #expect(counts.bytes == shape.bytes(storage), "\(name) at \(formatName)")
        }
    }

    @Test func quantizedBytesCountPaddedBlocks() {
        // 40 columns pad to 64 = 2 q8_0 blocks of 34 bytes.
        let s = StudentShape(family: .llama, layers: 1, hidden: 40, heads: 1, kvHeads: 1, headDim: 40,
                             intermediate: 40, vocab: 10, context: 16, tiedEmbeddings: true)
        let q8 = StorageFormat(.q8_0)
        let linear = 7 * 40 * 68
        let embedding = 10 * 68
        let vectors = (2 * 40 + 40) * 2
        #expect(s.bytes(q8) == linear + embedding + vectors)
    }

    @Test func flopsMatchEvalCounting() {
        let s = StudentShape(family: .llama, layers: 2, hidden: 64, heads: 4, kvHeads: 2, headDim: 16,
                             intermediate: 128, vocab: 100, context: 32, tiedEmbeddings: true)
        let macs = 2 * (64 * 64 + 2 * 32 * 64 + 64 * 64 + 3 * 128 * 64) + 100 * 64
        #expect(s.flopsPerToken(span: 10) == 2 * macs + 4 * 2 * 4 * 16 * 10)
    }
}
