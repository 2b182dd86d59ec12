#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Plain scalar quantize / dequantize for every quantized `WeightFormat`:
/// the ground truth the SIMD kernels and GGUF export are checked against, and
/// the building blocks calibrated methods (GPTQ, AWQ, importance search) use.
///
/// A "parameter group" is the run of elements sharing one `BlockParams`:
/// 32 for q8_0 / q4_0, the group size for int4, the whole padded row for w8a8.
public struct QuantCodec: Sendable {
    public let format: WeightFormat

    public init(format: WeightFormat) { self.format = format }

    /// Elements sharing one BlockParams in a row of `cols` elements.
    public func parameterGroup(cols: Int) -> Int {
        format == .w8a8 ? format.paddedColumns(cols) : format.blockElements
    }

    /// Smallest and largest code.
    public var codeRange: ClosedRange<Int> {
        switch format {
        case .q8_0, .w8a8: return -127...127
        case .q4_0: return -8...7
        case .int4: return 0...15
        case .f32, .f16, .bf16, .bf16Sparse1x2, .q8Sparse1x2: return 0...0
        }
    }

    // MARK: fitting parameters

    /// Round-to-nearest parameters of one group x[0..<count] (count may be less
    /// than the group at the padded end; missing elements count as 0). With
    /// `importance` (per element, ≥ 0) the scale (and minimum) are searched to
    /// minimise Σ importance·(x − x̂)², otherwise GGUF's reference rule is used.
    public func fit(_ x: UnsafePointer<Float>, count: Int, importance: UnsafePointer<Float>? = nil) -> BlockParams {
        switch format {
        case .q8_0, .w8a8:
            var amax: Float = 0
            for j in 0..<count { amax = max(amax, abs(x[j])) }
            let d = amax / 127
            if let importance { return searchSymmetric(x, count: count, importance: importance, nmax: 127, start: d) }
            return BlockParams(scale: storedScale(d), inverse: d != 0 ? 1 / d : 0)
        case .q4_0:
            // GGUF: the element of largest magnitude maps exactly to code −8.
            var amax: Float = 0, signedMax: Float = 0
            for j in 0..<count where amax < abs(x[j]) { amax = abs(x[j]); signedMax = x[j] }
            let d = signedMax / -8
            if let importance { return searchSymmetric(x, count: count, importance: importance, nmax: 8, start: d) }
            return BlockParams(scale: storedScale(d), inverse: d != 0 ? 1 / d : 0)
        case .int4:
            var lo = Float.greatestFiniteMagnitude, hi = -Float.greatestFiniteMagnitude
            for j in 0..<count { lo = min(lo, x[j]); hi = max(hi, x[j]) }
            if count == 0 { lo = 0; hi = 0 }
            if let importance { return searchAsymmetric(x, count: count, importance: importance, lo: lo, hi: hi) }
            let d = (hi - lo) / 15
            return BlockParams(scale: storedScale(d), minimum: storedScale(lo), inverse: d != 0 ? 1 / d : 0, origin: lo)
        case .f32, .f16, .bf16, .bf16Sparse1x2, .q8Sparse1x2:
            return BlockParams(scale: 1)
        }
    }

    /// The scale as the format stores it.
    @inline(__always)
    func storedScale(_ v: Float) -> Float {
        format == .w8a8 ? v : f16ToFloat(floatToF16(v))
    }

    // MARK: codes

    /// The code of value v under p (clamped to `codeRange`), by the GGUF rule.
    @inline(__always)
    public func code(_ v: Float, _ p: BlockParams) -> Int {
        switch format {
        case .q8_0, .w8a8:
            return Int(max(-127, min(127, roundf(v * p.inverse))))
        case .q4_0:
            // GGUF truncates x·id + 8.5 toward zero, i.e. rounds half up. Clamping
            // before the conversion keeps an infinite weight from trapping.
            return Int(min(15, max(0, v * p.inverse + 8.5))) - 8
        case .int4:
            return Int(min(15, max(0, (v - p.origin) * p.inverse + 0.5)))
        case .f32, .f16, .bf16, .bf16Sparse1x2, .q8Sparse1x2:
            return 0
        }
    }

    @inline(__always)
    public func value(_ code: Int, _ p: BlockParams) -> Float {
        Float(code) * p.scale + p.minimum
    }

    // MARK: rows

    /// Quantizes a row of `cols` floats into `dst` (format.rowBytes(cols:) bytes).
    /// importance: per-column weights for the scale search (nil: GGUF rule).
    public func quantizeRow(_ src: UnsafePointer<Float>, cols: Int, into dst: UnsafeMutableRawPointer,
                            importance: UnsafePointer<Float>? = nil) {
        let g = parameterGroup(cols: cols)
        let padded = format.paddedColumns(cols)
        var params: [BlockParams] = []
        var codes = [Int32](repeating: 0, count: padded)
        var start = 0
        while start < padded {
            let n = max(0, min(g, cols - start))
            let p = fit(src + start, count: n, importance: importance.map { $0 + start })
            params.append(p)
            for j in 0..<n { codes[start + j] = Int32(code(src[start + j], p)) }
            // Padding encodes the value 0 exactly where the format can (int4 cannot when min ≠ 0; the
            // activations are zero there, so the padded weights never contribute).
            for j in n..<g where start + j < padded { codes[start + j] = Int32(code(0, p)) }
            start += g
        }
        codes.withUnsafeBufferPointer { c in
            params.withUnsafeBufferPointer { pp in
                encodeRow(codes: c.baseAddress!, params: pp.baseAddress!, cols: cols, into: dst)
            }
        }
    }

    /// Writes a row from its codes (padded length, signed for q8_0/q4_0/w8a8,
    /// 0...15 for int4) and one BlockParams per parameter group.
    public func encodeRow(codes: UnsafePointer<Int32>, params: UnsafePointer<BlockParams>, cols: Int,
                          into dst: UnsafeMutableRawPointer) {
        let padded = format.paddedColumns(cols)
        switch format {
        case .q8_0:
            for b in 0..<(padded / 32) {
                let blk = dst + b * 34
                blk.storeBytes(of: floatToF16(params[b].scale), as: UInt16.self)
                for j in 0..<32 { blk.storeBytes(of: Int8(codes[b * 32 + j]), toByteOffset: 2 + j, as: Int8.self) }
            }
        case .q4_0:
            for b in 0..<(padded / 32) {
                let blk = dst + b * 18
                blk.storeBytes(of: floatToF16(params[b].scale), as: UInt16.self)
                for j in 0..<16 {
                    let lo = UInt8(codes[b * 32 + j] + 8), hi = UInt8(codes[b * 32 + j + 16] + 8)
                    blk.storeBytes(of: lo | (hi << 4), toByteOffset: 2 + j, as: UInt8.self)
                }
            }
        case .int4(let g):
            for b in 0..<(padded / g) {
                let blk = dst + b * (4 + g / 2)
                blk.storeBytes(of: floatToF16(params[b].scale), as: UInt16.self)
                blk.storeBytes(of: floatToF16(params[b].minimum), toByteOffset: 2, as: UInt16.self)
                for s in 0..<(g / 32) {
                    let base = b * g + s * 32
                    for j in 0..<16 {
                        let lo = UInt8(codes[base + j]), hi = UInt8(codes[base + j + 16])
                        blk.storeBytes(of: lo | (hi << 4), toByteOffset: 4 + s * 16 + j, as: UInt8.self)
                    }
                }
            }
        case .w8a8:
            dst.storeBytes(of: params[0].scale, as: Float.self)
            for j in 0..<padded { dst.storeBytes(of: Int8(codes[j]), toByteOffset: 4 + j, as: Int8.self) }
        case .f32, .f16, .bf16, .bf16Sparse1x2, .q8Sparse1x2:
            break
        }
    }

    /// Element c of a stored row, dequantized.
    public func dequantize(row: UnsafeRawPointer, element c: Int) -> Float {
        switch format {
        case .q8_0:
            let blk = row + (c / 32) * 34
            return f16ToFloat(blk.loadUnaligned(as: UInt16.self)) * Float(blk.load(fromByteOffset: 2 + c % 32, as: Int8.self))
        case .q4_0:
            let blk = row + (c / 32) * 18
            let j = c % 32
            let byte = blk.load(fromByteOffset: 2 + j % 16, as: UInt8.self)
            let q = j < 16 ? byte & 15 : byte >> 4
            return f16ToFloat(blk.loadUnaligned(as: UInt16.self)) * Float(Int(q) - 8)
        case .int4(let g):
            let blk = row + (c / g) * (4 + g / 2)
            let j = c % g, s = j / 32, k = j % 32
            let byte = blk.load(fromByteOffset: 4 + s * 16 + k % 16, as: UInt8.self)
            let q = k < 16 ? byte & 15 : byte >> 4
            return f16ToFloat(blk.loadUnaligned(as: UInt16.self)) * Float(q)
                + f16ToFloat(blk.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        case .w8a8:
            return row.loadUnaligned(as: Float.self) * Float(row.load(fromByteOffset: 4 + c, as: Int8.self))
        case .f32, .f16, .bf16, .bf16Sparse1x2, .q8Sparse1x2:
            return 0
        }
    }

    public func dequantizeRow(_ row: UnsafeRawPointer, cols: Int, into out: UnsafeMutablePointer<Float>) {
        for c in 0..<cols { out[c] = dequantize(row: row, element: c) }
    }

    // MARK: importance-weighted scale search (imatrix-like)

    /// Tries scales around the round-to-nearest one; for each candidate the
    /// codes are fixed and the weighted least-squares scale for those codes is
    /// taken. Keeps the candidate with the least Σ w·(x − d·q)².
    func searchSymmetric(_ x: UnsafePointer<Float>, count: Int, importance w: UnsafePointer<Float>,
                         nmax: Float, start: Float) -> BlockParams {
        var amax: Float = 0, signedMax: Float = 0
        for j in 0..<count where amax < abs(x[j]) { amax = abs(x[j]); signedMax = x[j] }
        if amax == 0 { return BlockParams(scale: 0, inverse: 0) }
        let range = codeRange
        var best = BlockParams(scale: storedScale(start), inverse: start != 0 ? 1 / start : 0)
        var bestError = weightedError(x, count: count, importance: w, params: best)
        // q4_0 is asymmetric in its codes (−8...7): search both signs of the extreme.
        let pivots: [Float] = format == .q4_0 ? [signedMax, -signedMax] : [amax]
        for pivot in pivots {
            for step in -9...9 {
                let target = format == .q4_0 ? (pivot == signedMax ? -nmax : nmax - 1) : nmax
                let iscale = (target + 0.1 * Float(step)) / pivot
                guard iscale.isFinite, iscale != 0 else { continue }
                var sxq: Float = 0, sqq: Float = 0
                for j in 0..<count {
                    let q = max(Float(range.lowerBound), min(Float(range.upperBound), roundf(x[j] * iscale)))
                    let wj = max(w[j], 0) + 1e-12
                    sxq += wj * x[j] * q
                    sqq += wj * q * q
                }
                guard sqq > 0 else { continue }
                let d = sxq / sqq
                let candidate = BlockParams(scale: storedScale(d), inverse: d != 0 ? 1 / d : 0)
                let e = weightedError(x, count: count, importance: w, params: candidate)
                if e < bestError { bestError = e; best = candidate }
            }
        }
        return best
    }

    /// Asymmetric search: candidate inverse scales around 15/(max−min); for each,
    /// the codes are fixed and (scale, minimum) solved by weighted least squares.
    func searchAsymmetric(_ x: UnsafePointer<Float>, count: Int, importance w: UnsafePointer<Float>,
                          lo: Float, hi: Float) -> BlockParams {
        let d0 = (hi - lo) / 15
        var best = BlockParams(scale: storedScale(d0), minimum: storedScale(lo), inverse: d0 != 0 ? 1 / d0 : 0)
        if hi <= lo { return best }
        var bestError = weightedError(x, count: count, importance: w, params: best)
        for step in 0...20 {
            let iscale = (15 + Float(step - 10) * 0.1) / (hi - lo)
            var sw: Float = 0, sq: Float = 0, sx: Float = 0, sqq: Float = 0, sxq: Float = 0
            for j in 0..<count {
                let q = max(0, min(15, roundf((x[j] - lo) * iscale)))
                let wj = max(w[j], 0) + 1e-12
                sw += wj; sq += wj * q; sx += wj * x[j]; sqq += wj * q * q; sxq += wj * x[j] * q
            }
            let det = sw * sqq - sq * sq
            guard det > 0 else { continue }
            var d = (sw * sxq - sq * sx) / det
            var m = (sqq * sx - sq * sxq) / det
            if d <= 0 { continue }
            // The minimum must not exceed the smallest value by much, or low values clamp.
            if m > lo { m = lo; d = (hi - lo) / 15 }
            let candidate = BlockParams(scale: storedScale(d), minimum: storedScale(m), inverse: 1 / d)
            let e = weightedError(x, count: count, importance: w, params: candidate)
            if e < bestError { bestError = e; best = candidate }
        }
        return best
    }

    func weightedError(_ x: UnsafePointer<Float>, count: Int, importance w: UnsafePointer<Float>,
                       params p: BlockParams) -> Float {
        var e: Float = 0
        for j in 0..<count {
            let r = x[j] - value(code(x[j], p), p)
            e += (max(w[j], 0) + 1e-12) * r * r
        }
        return e
    }
}

extension WeightFormat {
    public var codec: QuantCodec { QuantCodec(format: self) }
}
