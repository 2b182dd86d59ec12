/// How the elements of a weight matrix are stored. Every linear layer of every
/// architecture goes through `matmul`, so a new format needs only a codec and a
/// kernel, never a second model implementation.
///
/// Quantized formats store each row as a sequence of self-contained blocks along
/// the input dimension (GGUF style), so rows can be sliced, permuted and
/// streamed independently. A row whose length is not a multiple of the block is
/// padded with zeros up to the next block: `rowBytes` counts the padded blocks.
public enum WeightFormat: Sendable, Equatable, Hashable {
    case f32
    case f16
    case bf16
    /// Blocks of 32: f16 scale d, 32 × int8 q; x = d·q. Bit-compatible with GGUF Q8_0.
    case q8_0
    /// Blocks of 32: f16 scale d, 16 bytes of nibbles (byte j holds element j in
    /// its low and element j+16 in its high nibble); x = d·(q − 8). GGUF Q4_0.
    case q4_0
    /// Groups of `groupSize` (32, 64 or 128): f16 scale s, f16 minimum m, then
    /// groupSize/32 sub-blocks of 16 nibble bytes in the Q4_0 order; x = s·q + m.
    /// With groupSize 32 this is bit-compatible with GGUF Q4_1.
    case int4(groupSize: Int)
    /// Per output row: f32 scale s, then the row as int8 (padded to 32); x = s·q.
    /// Activations are quantized per token at run time (the W8A8 recipe).
    case w8a8
    /// bf16 with only some 1×2 tiles kept: bitmask + packed tiles, variable bytes per
    /// row (SparsePairs.swift). Not a block format: `rowBytes` is the dense bound.
    case bf16Sparse1x2
    /// `bf16Sparse1x2`'s structure with int8 tiles and an f16 scale per 32 columns
    /// (`verdant quantize --scheme q8_0` of a 1×2-pruned checkpoint).
    case q8Sparse1x2

    /// The value encoding of the two sparse 1×2 formats; nil for every other format.
    public var sparsePairs: SparsePairValues? {
        switch self {
        case .bf16Sparse1x2: return .bf16
        case .q8Sparse1x2: return .q8
        default: return nil
        }
    }

    public static let int4GroupSizes = [32, 64, 128]

    public var isQuantized: Bool {
        switch self {
        case .f32, .f16, .bf16, .bf16Sparse1x2, .q8Sparse1x2: return false
        default: return true
        }
    }

    /// Elements per block (1 for float formats; the whole padded row for w8a8).
    public var blockElements: Int {
        switch self {
        case .f32, .f16, .bf16, .bf16Sparse1x2, .q8Sparse1x2: return 1
        case .q8_0, .q4_0, .w8a8: return 32
        case .int4(let g): return g
        }
    }

    /// Bytes per block of `blockElements` (w8a8: per 32 elements, plus the row scale).
    public var blockBytes: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16, .bf16Sparse1x2, .q8Sparse1x2: return 2
        case .q8Sparse1x2: return 1
        case .q8_0: return 34
        case .q4_0: return 18
        case .int4(let g): return 4 + g / 2
        case .w8a8: return 32
        }
    }

    /// Bytes occupied by one row of `cols` logical elements (padding included).
    public func rowBytes(cols: Int) -> Int {
        switch self {
        case .f32, .f16, .bf16, .bf16Sparse1x2, .q8Sparse1x2: return cols * blockBytes
        case .w8a8: return 4 + paddedColumns(cols)
        default: return paddedColumns(cols) / blockElements * blockBytes
        }
    }

    /// `cols` rounded up to whole blocks.
    public func paddedColumns(_ cols: Int) -> Int {
        let b = blockElements
        return (cols + b - 1) / b * b
    }

    /// Average storage bits per logical weight of a row of `cols` elements.
    public func bitsPerWeight(cols: Int) -> Double {
        cols > 0 ? Double(rowBytes(cols: cols) * 8) / Double(cols) : 0
    }

    /// The name used on the CLI, in recipes and in checkpoint metadata.
    public var name: String {
        switch self {
        case .f32: return "f32"
        case .f16: return "f16"
        case .bf16: return "bf16"
        case .q8_0: return "q8_0"
        case .q4_0: return "q4_0"
        case .int4(let g): return "int4_g\(g)"
        case .w8a8: return "w8a8"
        case .bf16Sparse1x2: return SparsePairs.formatName
        case .q8Sparse1x2: return SparsePairs.q8FormatName
        }
    }

    /// Parses `name` ("q4_0", "int4_g128", ...); `int4` alone takes `defaultGroup`.
    public init?(name: String, defaultGroup: Int = 128) {
        switch name.lowercased() {
        case "f32": self = .f32
        case "f16": self = .f16
        case "bf16": self = .bf16
        case "q8_0": self = .q8_0
        case "q4_0": self = .q4_0
        case "w8a8": self = .w8a8
        case SparsePairs.formatName: self = .bf16Sparse1x2
        case SparsePairs.q8FormatName: self = .q8Sparse1x2
        case "int4":
            guard Self.int4GroupSizes.contains(defaultGroup) else { return nil }
            self = .int4(groupSize: defaultGroup)
        default:
            let lower = name.lowercased()
            guard lower.hasPrefix("int4_g"), let g = Int(lower.dropFirst(6)), Self.int4GroupSizes.contains(g) else {
                return nil
            }
            self = .int4(groupSize: g)
        }
    }
}
