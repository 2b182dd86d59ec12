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
public enum SparsePairs {
    public static let formatName = "bf16_sparse1x2"

    /// Tiles per mask word.
    public static let tilesPerMask = 16

    public static func masksPerRow(cols: Int) -> Int { cols / 32 }
    static func masksOffset(rows: Int) -> Int { 4 * (rows + 1) }
    static func tilesOffset(rows: Int, cols: Int) -> Int { masksOffset(rows: rows) + 2 * rows * masksPerRow(cols: cols) }

    public static func byteCount(rows: Int, cols: Int, keptTiles: Int) -> Int {
        tilesOffset(rows: rows, cols: cols) + 4 * keptTiles
    }

    /// Encodes `values` [rows, cols] (row-major f32, rounded to bf16) keeping tile p of
    /// row r when keep[r · cols/2 + p]. Throws on shapes the format cannot hold.
    public static func encode(_ values: UnsafePointer<Float>, rows: Int, cols: Int, keep: [Bool]) throws(SparseFormatError) -> [UInt8] {
        guard rows > 0, cols > 0, cols % 32 == 0 else { throw .shape("needs cols a positive multiple of 32, got [\(rows), \(cols)]") }
        guard keep.count == rows * cols / 2 else { throw .shape("keep has \(keep.count) entries for \(rows * cols / 2) tiles") }
        let kept = keep.reduce(0) { $0 + ($1 ? 1 : 0) }
        guard kept < 1 << 32 else { throw .shape("too many tiles for 32-bit row starts") }
        var out = [UInt8](repeating: 0, count: byteCount(rows: rows, cols: cols, keptTiles: kept))
        out.withUnsafeMutableBytes { raw in
            let base = raw.baseAddress!
            let mOff = masksOffset(rows: rows), tOff = tilesOffset(rows: rows, cols: cols)
            let mpr = masksPerRow(cols: cols)
            var n = 0
            for r in 0..<rows {
                base.storeBytes(of: UInt32(n).littleEndian, toByteOffset: 4 * r, as: UInt32.self)
                for k in 0..<mpr {
                    var mask: UInt16 = 0
                    for b in 0..<tilesPerMask {
                        let p = k * tilesPerMask + b
                        guard keep[r * cols / 2 + p] else { continue }
                        mask |= 1 << b
                        let lo = UInt32(floatToBF16(values[r * cols + 2 * p])), hi = UInt32(floatToBF16(values[r * cols + 2 * p + 1]))
                        base.storeBytes(of: (lo | hi << 16).littleEndian, toByteOffset: tOff + 4 * n, as: UInt32.self)
                        n += 1
                    }
                    base.storeBytes(of: mask.littleEndian, toByteOffset: mOff + 2 * (r * mpr + k), as: UInt16.self)
                }
            }
            base.storeBytes(of: UInt32(n).littleEndian, toByteOffset: 4 * rows, as: UInt32.self)
        }
        return out
    }

    /// Checks stored bytes against the declared shape: size, row starts that begin at 0,
    /// never decrease and agree with the mask popcounts, and a byte count that ends
    /// exactly after the last tile. A corrupt file is an error, never a wild read.
    public static func validate(_ data: UnsafeRawPointer, byteCount: Int, rows: Int, cols: Int) throws(SparseFormatError) {
        guard rows > 0, cols > 0, cols % 32 == 0 else { throw .shape("needs cols a positive multiple of 32, got [\(rows), \(cols)]") }
        let tOff = tilesOffset(rows: rows, cols: cols)
        guard byteCount >= tOff, (byteCount - tOff) % 4 == 0 else {
            throw .corrupt("\(byteCount) bytes cannot hold the row starts and masks of [\(rows), \(cols)] (\(tOff) bytes) plus whole tiles")
        }
        let nnz = (byteCount - tOff) / 4
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
    public static func copyRow(_ data: UnsafeRawPointer, rows: Int, cols: Int, row r: Int, into out: UnsafeMutablePointer<Float>) {
        let mOff = masksOffset(rows: rows), tOff = tilesOffset(rows: rows, cols: cols), mpr = masksPerRow(cols: cols)
        var n = rowStart(data, r)
        for k in 0..<mpr {
            let mask = data.loadUnaligned(fromByteOffset: mOff + 2 * (r * mpr + k), as: UInt16.self)
            for b in 0..<tilesPerMask {
                let c = 32 * k + 2 * b
                if mask & (1 << b) != 0 {
                    let t = data.loadUnaligned(fromByteOffset: tOff + 4 * n, as: UInt32.self)
                    out[c] = bf16ToFloat(UInt16(truncatingIfNeeded: t))
                    out[c + 1] = bf16ToFloat(UInt16(truncatingIfNeeded: t >> 16))
                    n += 1
                } else {
                    out[c] = 0
                    out[c + 1] = 0
                }
            }
        }
    }

    /// Element (r, c): slow path.
    public static func element(_ data: UnsafeRawPointer, rows: Int, cols: Int, _ r: Int, _ c: Int) -> Float {
        let mOff = masksOffset(rows: rows), tOff = tilesOffset(rows: rows, cols: cols), mpr = masksPerRow(cols: cols)
        var n = rowStart(data, r)
        let p = c / 2, k = p / tilesPerMask, b = p % tilesPerMask
        for j in 0..<k { n += Int(data.loadUnaligned(fromByteOffset: mOff + 2 * (r * mpr + j), as: UInt16.self).nonzeroBitCount) }
        let mask = data.loadUnaligned(fromByteOffset: mOff + 2 * (r * mpr + k), as: UInt16.self)
        guard mask & (1 << b) != 0 else { return 0 }
        n += Int((mask & ((1 << b) - 1)).nonzeroBitCount)
        let t = data.loadUnaligned(fromByteOffset: tOff + 4 * n, as: UInt32.self)
        return bf16ToFloat(UInt16(truncatingIfNeeded: c % 2 == 0 ? t : t >> 16))
    }

    /// Kept tiles of the matrix.
    public static func keptTiles(_ data: UnsafeRawPointer, rows: Int) -> Int { rowStart(data, rows) }
}

public enum SparseFormatError: Error, CustomStringConvertible, Equatable {
    case shape(String)
    case corrupt(String)

    public var description: String {
        switch self {
        case .shape(let m): return "\(SparsePairs.formatName): \(m)"
        case .corrupt(let m): return "\(SparsePairs.formatName) data is corrupt: \(m)"
        }
    }
}
