/// `bf16_sparse1x2`: a bf16 [rows, cols] matrix of which only some 1×2 tiles (two
/// adjacent weights of a row, columns 2p and 2p+1) are kept — what Group Lasso
/// with 1×2 groups leaves. A dense matrix full of zeros saves nothing; this stores
/// one bit per tile and the kept tiles only:
///
///     rowStart  UInt32 × (rows + 1)     index of row r's first kept tile in `tiles`
///     masks     UInt16 × rows × cols/32  bit b of mask (r, k): tile 16k + b of row r is kept
///     tiles     UInt32 × nnz             kept tiles in row-major order; a tile is two
///                                        bf16 in memory order (low half = column 2p)
///
/// all little endian, one U8 tensor. cols must be a multiple of 32 (a mask covers
/// 32 columns = 16 tiles = one 512-bit register of dense bf16 pairs, which
/// `vpexpandd` rebuilds from the mask and the packed tiles). Bits per weight:
/// 16 · kept share + 0.5 (mask) + 32·(rows+1)/(rows·cols) (row starts).
///
/// `q8_sparse1x2` is the same structure with int8 tiles — the seed's prune-then-
/// quantize pipeline on 1×2 groups, where quantizing a zero-filled dense matrix
/// would throw the pruning's savings away:
///
///     rowStart  UInt32 × (rows + 1)
///     masks     UInt16 × rows × cols/32
///     scales    UInt16 × rows × cols/32  f16 scale d of each 32-column window (q8_0's block)
///     tiles     UInt16 × nnz             two int8 q (low byte = column 2p); x = d·q
///
/// Bits per weight: 8 · kept share + 0.5 (mask) + 0.5 (scale) + row starts.
public enum SparsePairValues: Sendable, Equatable {
    case bf16
    case q8

    /// Bytes of one kept tile.
    public var tileBytes: Int { self == .bf16 ? 4 : 2 }
    var formatName: String { self == .bf16 ? SparsePairs.formatName : SparsePairs.q8FormatName }
}

public enum SparsePairs {
    public static let formatName = "bf16_sparse1x2"
    public static let q8FormatName = "q8_sparse1x2"

    /// Tiles per mask word.
    public static let tilesPerMask = 16

    public static func masksPerRow(cols: Int) -> Int { cols / 32 }
    static func masksOffset(rows: Int) -> Int { 4 * (rows + 1) }
    static func scalesOffset(rows: Int, cols: Int) -> Int { masksOffset(rows: rows) + 2 * rows * masksPerRow(cols: cols) }
    static func tilesOffset(rows: Int, cols: Int, _ v: SparsePairValues = .bf16) -> Int {
        scalesOffset(rows: rows, cols: cols) + (v == .q8 ? 2 * rows * masksPerRow(cols: cols) : 0)
    }

    public static func byteCount(rows: Int, cols: Int, keptTiles: Int, _ v: SparsePairValues = .bf16) -> Int {
        tilesOffset(rows: rows, cols: cols, v) + v.tileBytes * keptTiles
    }

    /// Encodes `values` [rows, cols] (row-major f32) keeping tile p of row r when
    /// keep[r · cols/2 + p]: as bf16 tiles, or as int8 tiles with one f16 scale per
    /// 32-column window (absmax of its kept weights / 127, rounded to nearest as in
    /// q8_0). Throws on shapes the format cannot hold.
    public static func encode(_ values: UnsafePointer<Float>, rows: Int, cols: Int, keep: [Bool],
                              as v: SparsePairValues = .bf16) throws(SparseFormatError) -> [UInt8] {
        guard rows > 0, cols > 0, cols % 32 == 0 else { throw .shape("needs cols a positive multiple of 32, got [\(rows), \(cols)]") }
        guard keep.count == rows * cols / 2 else { throw .shape("keep has \(keep.count) entries for \(rows * cols / 2) tiles") }
        let kept = keep.reduce(0) { $0 + ($1 ? 1 : 0) }
        guard kept < 1 << 32 else { throw .shape("too many tiles for 32-bit row starts") }
        if v == .q8 {
            var amax: Float = 0
            for i in 0..<(rows * cols) { amax = max(amax, abs(values[i])) }
            guard amax.isFinite, amax / 127 <= 65504 else { throw .shape("weights up to \(amax) do not fit int8 with an f16 scale") }
        }
        var out = [UInt8](repeating: 0, count: byteCount(rows: rows, cols: cols, keptTiles: kept, v))
        out.withUnsafeMutableBytes { raw in
            let base = raw.baseAddress!
            let mOff = masksOffset(rows: rows), sOff = scalesOffset(rows: rows, cols: cols), tOff = tilesOffset(rows: rows, cols: cols, v)
            let mpr = masksPerRow(cols: cols)
            var n = 0
            for r in 0..<rows {
                base.storeBytes(of: UInt32(n).littleEndian, toByteOffset: 4 * r, as: UInt32.self)
                for k in 0..<mpr {
                    var mask: UInt16 = 0
                    var d: Float = 0
                    if v == .q8 {
                        var amax: Float = 0
                        for b in 0..<tilesPerMask where keep[r * cols / 2 + k * tilesPerMask + b] {
                            let c = r * cols + 32 * k + 2 * b
                            amax = max(amax, abs(values[c]), abs(values[c + 1]))
                        }
                        let dBits = floatToF16(amax / 127)
                        d = f16ToFloat(dBits)
                        base.storeBytes(of: dBits.littleEndian, toByteOffset: sOff + 2 * (r * mpr + k), as: UInt16.self)
                    }
                    for b in 0..<tilesPerMask {
                        let p = k * tilesPerMask + b
                        guard keep[r * cols / 2 + p] else { continue }
                        mask |= 1 << b
                        let x0 = values[r * cols + 2 * p], x1 = values[r * cols + 2 * p + 1]
                        switch v {
                        case .bf16:
                            let lo = UInt32(floatToBF16(x0)), hi = UInt32(floatToBF16(x1))
                            base.storeBytes(of: (lo | hi << 16).littleEndian, toByteOffset: tOff + 4 * n, as: UInt32.self)
                        case .q8:
                            let q0 = quantizeQ8(x0, d), q1 = quantizeQ8(x1, d)
                            let t = UInt16(UInt8(bitPattern: q0)) | UInt16(UInt8(bitPattern: q1)) << 8
                            base.storeBytes(of: t.littleEndian, toByteOffset: tOff + 2 * n, as: UInt16.self)
                        }
                        n += 1
                    }
                    base.storeBytes(of: mask.littleEndian, toByteOffset: mOff + 2 * (r * mpr + k), as: UInt16.self)
                }
            }
            base.storeBytes(of: UInt32(n).littleEndian, toByteOffset: 4 * rows, as: UInt32.self)
        }
        return out
    }

    @inline(__always) static func quantizeQ8(_ x: Float, _ d: Float) -> Int8 {
        guard d > 0 else { return 0 }
        return Int8(max(-127, min(127, (x / d).rounded())))
    }

    /// Checks stored bytes against the declared shape: size, row starts that begin at 0,
    /// never decrease and agree with the mask popcounts, and a byte count that ends
    /// exactly after the last tile. A corrupt file is an error, never a wild read.
    public static func validate(_ data: UnsafeRawPointer, byteCount: Int, rows: Int, cols: Int,
                                _ v: SparsePairValues = .bf16) throws(SparseFormatError) {
        guard rows > 0, cols > 0, cols % 32 == 0 else { throw .shape("needs cols a positive multiple of 32, got [\(rows), \(cols)]") }
        let tOff = tilesOffset(rows: rows, cols: cols, v)
        guard byteCount >= tOff, (byteCount - tOff) % v.tileBytes == 0 else {
            throw .corrupt("\(byteCount) bytes cannot hold the row starts, masks\(v == .q8 ? ", scales" : "") of [\(rows), \(cols)] (\(tOff) bytes) plus whole tiles")
        }
        let nnz = (byteCount - tOff) / v.tileBytes
        if v == .q8 {
            let sOff = scalesOffset(rows: rows, cols: cols)
            for i in 0..<(rows * masksPerRow(cols: cols)) {
                let d = f16ToFloat(UInt16(littleEndian: data.loadUnaligned(fromByteOffset: sOff + 2 * i, as: UInt16.self)))
                guard d.isFinite else { throw .corrupt("scale \(i) is \(d)") }
            }
        }
        let mOff = masksOffset(rows: rows), mpr = masksPerRow(cols: cols)
        var expected = 0
        for r in 0..<rows {
            let start = Int(UInt32(littleEndian: data.loadUnaligned(fromByteOffset: 4 * r, as: UInt32.self)))
            guard start == expected else { throw .corrupt("row \(r) starts at tile \(start) but the masks of the rows before it keep \(expected)") }
            for k in 0..<mpr {
                expected += UInt16(littleEndian: data.loadUnaligned(fromByteOffset: mOff + 2 * (r * mpr + k), as: UInt16.self)).nonzeroBitCount
            }
        }
        let end = Int(UInt32(littleEndian: data.loadUnaligned(fromByteOffset: 4 * rows, as: UInt32.self)))
        guard end == expected, expected == nnz else {
            throw .corrupt("the masks keep \(expected) tiles, the last row start says \(end), the bytes hold \(nnz)")
        }
    }

    @inline(__always) static func rowStart(_ data: UnsafeRawPointer, _ r: Int) -> Int {
        Int(data.loadUnaligned(fromByteOffset: 4 * r, as: UInt32.self))
    }

    /// Row `r` widened into `out[0..<cols]` (zeros where tiles were removed). Scalar:
    /// the reference the kernels are tested against.
    public static func copyRow(_ data: UnsafeRawPointer, rows: Int, cols: Int, row r: Int, into out: UnsafeMutablePointer<Float>,
                               _ v: SparsePairValues = .bf16) {
        let mOff = masksOffset(rows: rows), mpr = masksPerRow(cols: cols)
        var n = rowStart(data, r)
        for k in 0..<mpr {
            let mask = data.loadUnaligned(fromByteOffset: mOff + 2 * (r * mpr + k), as: UInt16.self)
            for b in 0..<tilesPerMask {
                let c = 32 * k + 2 * b
                if mask & (1 << b) != 0 {
                    (out[c], out[c + 1]) = tile(data, rows: rows, cols: cols, row: r, window: k, index: n, v)
                    n += 1
                } else {
                    out[c] = 0
                    out[c + 1] = 0
                }
            }
        }
    }

    /// Element (r, c): slow path.
    public static func element(_ data: UnsafeRawPointer, rows: Int, cols: Int, _ r: Int, _ c: Int,
                               _ v: SparsePairValues = .bf16) -> Float {
        let mOff = masksOffset(rows: rows), mpr = masksPerRow(cols: cols)
        var n = rowStart(data, r)
        let p = c / 2, k = p / tilesPerMask, b = p % tilesPerMask
        for j in 0..<k { n += Int(data.loadUnaligned(fromByteOffset: mOff + 2 * (r * mpr + j), as: UInt16.self).nonzeroBitCount) }
        let mask = data.loadUnaligned(fromByteOffset: mOff + 2 * (r * mpr + k), as: UInt16.self)
        guard mask & (1 << b) != 0 else { return 0 }
        n += Int((mask & ((1 << b) - 1)).nonzeroBitCount)
        let (x0, x1) = tile(data, rows: rows, cols: cols, row: r, window: k, index: n, v)
        return c % 2 == 0 ? x0 : x1
    }

    /// Kept tile `n` (which lies in window `k` of row `r`) as its two values.
    @inline(__always)
    static func tile(_ data: UnsafeRawPointer, rows: Int, cols: Int, row r: Int, window k: Int, index n: Int,
                     _ v: SparsePairValues) -> (Float, Float) {
        let tOff = tilesOffset(rows: rows, cols: cols, v)
        switch v {
        case .bf16:
            let t = UInt32(littleEndian: data.loadUnaligned(fromByteOffset: tOff + 4 * n, as: UInt32.self))
            return (bf16ToFloat(UInt16(truncatingIfNeeded: t)), bf16ToFloat(UInt16(truncatingIfNeeded: t >> 16)))
        case .q8:
            let t = UInt16(littleEndian: data.loadUnaligned(fromByteOffset: tOff + 2 * n, as: UInt16.self))
            let d = f16ToFloat(UInt16(littleEndian: data.loadUnaligned(
                fromByteOffset: scalesOffset(rows: rows, cols: cols) + 2 * (r * masksPerRow(cols: cols) + k), as: UInt16.self)))
            return (d * Float(Int8(truncatingIfNeeded: t)), d * Float(Int8(truncatingIfNeeded: t >> 8)))
        }
    }

    /// keep[r · cols/2 + p]: whether tile p of row r is stored (from the masks).
    public static func keptMask(_ data: UnsafeRawPointer, rows: Int, cols: Int) -> [Bool] {
        let mOff = masksOffset(rows: rows), mpr = masksPerRow(cols: cols)
        var keep = [Bool](repeating: false, count: rows * cols / 2)
        for r in 0..<rows {
            for k in 0..<mpr {
                let mask = UInt16(littleEndian: data.loadUnaligned(fromByteOffset: mOff + 2 * (r * mpr + k), as: UInt16.self))
                for b in 0..<tilesPerMask where mask & (1 << b) != 0 { keep[r * cols / 2 + k * tilesPerMask + b] = true }
            }
        }
        return keep
    }

    /// Kept tiles of the matrix.
    public static func keptTiles(_ data: UnsafeRawPointer, rows: Int) -> Int { rowStart(data, rows) }
}

public enum SparseFormatError: Error, CustomStringConvertible, Equatable {
    case shape(String)
    case corrupt(String)

    public var description: String {
        switch self {
        case .shape(let m): return "sparse 1x2 format: \(m)"
        case .corrupt(let m): return "sparse 1x2 data is corrupt: \(m)"
        }
    }
}
