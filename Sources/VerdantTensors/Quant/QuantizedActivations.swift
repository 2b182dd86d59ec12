/// Activation rows quantized once per matmul call for integer dot products.
/// Elements are grouped in "pairs" of 64 (two 32-blocks: one 512-bit register);
/// every row is zero-padded to whole pairs.
///
/// Per row (P = pairs):
///   q      [P·64] bytes   int8 codes; stored +128 (unsigned) for formats whose
///                         weights are signed int8 (q8_0, w8a8), so the unsigned
///                         × signed VNNI dot product applies directly
///   lanes  [P·16] f32     the block scale of each 32-bit lane: [d(b0)×8 | d(b1)×8]
///   corr   [P·16] i32     q4_0: −8 · (sum of the 4 codes of each lane), the
///                         initial value of the dot product so that codes stored
///                         biased by 8 need no extra work in the kernel
///   sums   [2P]  f32      d(b) · Σ codes of block b (int4: the minimum's term)
///   scale  f32            w8a8: the row's single scale
///   bcorr  [2P]  i32      q4_0: −8 · Σ codes of block b (the interleaved GEMM's start)
public struct QuantizedActivations {
    public enum Layout: Sendable {
        /// Per-32 scales, codes +128: q8_0 weights.
        case unsignedBlocks
        /// Per-32 scales, signed codes: q4_0 and int4 weights.
        case signedBlocks
        /// One scale per row, codes +128: w8a8 weights.
        case unsignedRow
    }

    public let rows: Int
    public let cols: Int
    public let pairs: Int
    let base: UnsafeMutableRawPointer
    let rowStride: Int

    public static func layout(for format: WeightFormat) -> Layout {
        switch format {
        case .q8_0: return .unsignedBlocks
        case .w8a8: return .unsignedRow
        default: return .signedBlocks
        }
    }

    static func rowStride(cols: Int) -> Int {
        let p = (cols + 63) / 64
        return p * 64 + p * 64 + p * 64 + sumsBytes(pairs: p) + ((2 * p * 4 + 63) / 64) * 64
    }

    static func sumsBytes(pairs p: Int) -> Int { ((2 * p * 4 + 4 + 63) / 64) * 64 }

    public static func bytesNeeded(rows: Int, cols: Int) -> Int { rows * rowStride(cols: cols) + 64 }

    /// memory: at least bytesNeeded(rows:cols:) bytes, where `cols` here is
    /// `paddedCols` when given: the weights' padded row length (int4 groups
    /// of 128 can pad past the activation's own pairs).
    public init(memory: UnsafeMutableRawPointer, rows: Int, cols: Int, paddedCols: Int? = nil) {
        self.rows = rows
        self.cols = cols
        let span = max(cols, paddedCols ?? cols)
        pairs = (span + 63) / 64
        rowStride = Self.rowStride(cols: span)
        // 64-byte alignment for the vector loads.
        let addr = Int(bitPattern: memory)
        base = memory + ((64 - addr % 64) % 64)
    }

    @inline(__always) public func codes(_ r: Int) -> UnsafeMutableRawPointer { base + r * rowStride }
    @inline(__always) public func lanes(_ r: Int) -> UnsafeMutablePointer<Float> {
        (base + r * rowStride + pairs * 64).assumingMemoryBound(to: Float.self)
    }
    @inline(__always) public func corrections(_ r: Int) -> UnsafeMutablePointer<Int32> {
        (base + r * rowStride + pairs * 128).assumingMemoryBound(to: Int32.self)
    }
    @inline(__always) public func blockSums(_ r: Int) -> UnsafeMutablePointer<Float> {
        (base + r * rowStride + pairs * 192).assumingMemoryBound(to: Float.self)
    }
    @inline(__always) public func rowScale(_ r: Int) -> Float { blockSums(r)[2 * pairs] }
    @inline(__always) public func blockCorrections(_ r: Int) -> UnsafeMutablePointer<Int32> {
        (base + r * rowStride + pairs * 192 + Self.sumsBytes(pairs: pairs)).assumingMemoryBound(to: Int32.self)
    }

    /// Quantizes rows r0..<r1 of x ([rows, cols] f32).
    public func quantize(_ x: UnsafePointer<Float>, layout: Layout, rows r0: Int, _ r1: Int) {
        for r in r0..<r1 { quantizeRow(x + r * cols, row: r, layout: layout) }
    }

    /// Round half to even through the float mantissa (|v| ≤ 127 here): exact,
    /// branch-free and vectorizable, unlike roundf.
    @inline(__always)
    static func roundToInt(_ v: Float) -> Int32 {
        Int32(bitPattern: (v + 12582912).bitPattern) &- 0x4B40_0000
    }

    func quantizeRow(_ x: UnsafePointer<Float>, row r: Int, layout: Layout) {
        let q = codes(r).assumingMemoryBound(to: Int8.self)
        let lane = lanes(r), corr = corrections(r), sums = blockSums(r), bcorr = blockCorrections(r)
        let blocks = 2 * pairs
        let offset: Int32 = layout == .signedBlocks ? 0 : 128
        if layout == .unsignedRow {
            var amax: Float = 0
            for c in 0..<cols { amax = max(amax, abs(x[c])) }
            let d = amax / 127, id: Float = d != 0 ? 1 / d : 0
            for c in 0..<cols { q[c] = Int8(truncatingIfNeeded: Self.roundToInt(x[c] * id) &+ offset) }
            for c in cols..<(pairs * 64) { q[c] = Int8(truncatingIfNeeded: offset) }
            sums[2 * pairs] = d
            return
        }
        for b in 0..<blocks {
            let start = b * 32
            let n = max(0, min(32, cols - start))
            var amax: Float = 0
            for j in 0..<n { amax = max(amax, abs(x[start + j])) }
            let d = amax / 127, id: Float = d != 0 ? 1 / d : 0
            var total: Int32 = 0
            for j in 0..<32 {
                let v: Int32 = j < n ? Self.roundToInt(x[start + j] * id) : 0
                total &+= v
                q[start + j] = Int8(truncatingIfNeeded: v &+ offset)
            }
            sums[b] = d * Float(total)
            for l in 0..<8 { lane[b * 8 + l] = d }
            if layout == .signedBlocks {
                bcorr[b] = -8 &* total
                for l in 0..<8 {
                    var s: Int32 = 0
                    for k in 0..<4 { s &+= Int32(q[start + l * 4 + k]) }
                    corr[b * 8 + l] = -8 &* s
                }
            }
        }
    }

    /// Code j of row r as a signed integer (whatever the layout).
    @inline(__always)
    func signedCode(_ r: Int, _ j: Int, layout: Layout) -> Int32 {
        let raw = Int32(codes(r).load(fromByteOffset: j, as: Int8.self))
        return layout == .signedBlocks ? raw : Int32(UInt8(bitPattern: Int8(truncatingIfNeeded: raw))) - 128
    }
}
