import CLZMA

/// Streaming .xz decompression through liblzma: memory stays at one input and
/// one output buffer however large the file is.
final class XZDecoder {
    private var stream = lzma_stream()
    private var output = [UInt8](repeating: 0, count: 1 << 20)

    init() throws {
        // 0x08 = LZMA_CONCATENATED (a C macro Swift does not import): accept files
        // made of several .xz streams back to back, as `xz` itself does.
        let status = lzma_stream_decoder(&stream, UInt64.max, 0x08)
        guard status == LZMA_OK else { throw TrainingError.data("cannot start the xz decoder (liblzma status \(status.rawValue))") }
    }

    deinit { lzma_end(&stream) }

    /// Decompresses `input` and hands every produced chunk to `sink`. `last` marks the
    /// final input; returns true once the end of the xz data was reached.
    func decode(_ input: UnsafeRawBufferPointer, last: Bool, path: String,
                sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        stream.next_in = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        stream.avail_in = input.count
        while true {
            let status: lzma_ret = output.withUnsafeMutableBufferPointer { out in
                stream.next_out = out.baseAddress
                stream.avail_out = out.count
                return lzma_code(&stream, last ? LZMA_FINISH : LZMA_RUN)
            }
            let produced = output.count - stream.avail_out
            if produced > 0 { try output.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) } }
            switch status {
            case LZMA_STREAM_END: return true
            case LZMA_OK:
                if stream.avail_in == 0 && stream.avail_out > 0 { return false }
            case LZMA_BUF_ERROR:
                // No progress possible: at the end of the input this means the file was cut short.
                if last { throw TrainingError.data("\(path): the xz data is truncated") }
                return false
            case LZMA_FORMAT_ERROR: throw TrainingError.data("\(path): not an xz file")
            case LZMA_DATA_ERROR: throw TrainingError.data("\(path): the xz data is corrupt")
            case LZMA_MEM_ERROR, LZMA_MEMLIMIT_ERROR: throw TrainingError.data("\(path): out of memory decompressing xz")
            case LZMA_OPTIONS_ERROR: throw TrainingError.data("\(path): unsupported xz options")
            default: throw TrainingError.data("\(path): xz decoding failed (liblzma status \(status.rawValue))")
            }
        }
    }
}

/// `data` compressed as one .xz stream (CRC64 check) at `preset` 0–9. For writing
/// small test corpora and caches; the training path only reads.
public func xzCompress(_ data: [UInt8], preset: UInt32 = 6) throws -> [UInt8] {
    var out = [UInt8](repeating: 0, count: lzma_stream_buffer_bound(data.count))
    var written = 0
    let status = data.withUnsafeBufferPointer { input in
        out.withUnsafeMutableBufferPointer { output in
            lzma_easy_buffer_encode(preset, LZMA_CHECK_CRC64, nil, input.baseAddress, input.count,
                                    output.baseAddress, &written, output.count)
        }
    }
    guard status == LZMA_OK else { throw TrainingError.data("xz compression failed (liblzma status \(status.rawValue))") }
    out.removeLast(out.count - written)
    return out
}
