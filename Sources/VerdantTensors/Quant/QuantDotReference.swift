/// Dot product of weight row n with quantized activation row t in plain scalar
/// integer arithmetic, block by block: what the SIMD kernels must reproduce
/// (up to float summation order).
public func quantDotReference(_ acts: QuantizedActivations, token t: Int, _ w: WeightMatrix, row n: Int) -> Float {
    let layout = QuantizedActivations.layout(for: w.format)
    let row = w.data + n * w.format.rowBytes(cols: w.cols)
    let padded = w.format.paddedColumns(w.cols)
    let scales = acts.lanes(t)
    func dx(_ block: Int) -> Float { scales[block * 8] }
    func xq(_ j: Int) -> Int32 { acts.signedCode(t, j, layout: layout) }
    var total: Float = 0
    switch w.format {
    case .q8_0:
        for b in 0..<(padded / 32) {
            let blk = row + b * 34
            var s: Int32 = 0
            for j in 0..<32 { s += Int32(blk.load(fromByteOffset: 2 + j, as: Int8.self)) * xq(b * 32 + j) }
            total += f16ToFloat(blk.loadUnaligned(as: UInt16.self)) * dx(b) * Float(s)
        }
    case .q4_0:
        for b in 0..<(padded / 32) {
            let blk = row + b * 18
            var s: Int32 = 0
            for j in 0..<16 {
                let byte = blk.load(fromByteOffset: 2 + j, as: UInt8.self)
                s += (Int32(byte & 15) - 8) * xq(b * 32 + j) + (Int32(byte >> 4) - 8) * xq(b * 32 + j + 16)
            }
            total += f16ToFloat(blk.loadUnaligned(as: UInt16.self)) * dx(b) * Float(s)
        }
    case .int4(let g):
        let sums = acts.blockSums(t)
        for grp in 0..<(padded / g) {
            let blk = row + grp * (4 + g / 2)
            let scale = f16ToFloat(blk.loadUnaligned(as: UInt16.self))
            let minimum = f16ToFloat(blk.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            for sb in 0..<(g / 32) {
                let b = grp * (g / 32) + sb
                var s: Int32 = 0
                for j in 0..<16 {
                    let byte = blk.load(fromByteOffset: 4 + sb * 16 + j, as: UInt8.self)
                    s += Int32(byte & 15) * xq(b * 32 + j) + Int32(byte >> 4) * xq(b * 32 + j + 16)
                }
                total += scale * dx(b) * Float(s) + minimum * sums[b]
            }
        }
    case .w8a8:
        var s: Int32 = 0
        for j in 0..<padded { s += Int32(row.load(fromByteOffset: 4 + j, as: Int8.self)) * xq(j) }
        total = row.loadUnaligned(as: Float.self) * acts.rowScale(t) * Float(s)
    case .f32, .f16, .bf16, .bf16Sparse1x2, .q8Sparse1x2:
        break
    }
    return total
}
