import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VerdantTraining

/// Identifies a teacher checkpoint cheaply: config.json, and for every
/// .safetensors file its name, size, JSON header (every tensor's name, dtype,
/// shape and offsets) and 16 evenly spaced 4 KiB samples of its bytes. Reading
/// whole multi-gigabyte files to validate a cache would cost more than it saves;
/// the samples catch retrained or re-quantized weights of the same shapes.
public func teacherFingerprint(directory: String) throws -> String {
    var h = ContentHash()
    h.update("verdant-teacher-1")
    let config = (directory as NSString).appendingPathComponent("config.json")
    guard let configBytes = FileManager.default.contents(atPath: config) else {
        throw DistillationError("cannot read \(config)")
    }
    configBytes.withUnsafeBytes { h.update($0) }
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
        .filter { $0.hasSuffix(".safetensors") }.sorted()
    guard !names.isEmpty else { throw DistillationError("\(directory) holds no .safetensors file") }
    for name in names {
        let path = (directory as NSString).appendingPathComponent(name)
        guard let file = fopen(path, "rb") else { throw DistillationError("cannot open \(path)") }
        defer { fclose(file) }
        fseeko(file, 0, SEEK_END)
        let size = Int(ftello(file))
        h.update(name)
        h.update(size)
        var lengthBytes = [UInt8](repeating: 0, count: 8)
        fseeko(file, 0, SEEK_SET)
        guard size >= 8, fread(&lengthBytes, 1, 8, file) == 8 else { throw DistillationError("\(path) is not a safetensors file") }
        let headerLength = lengthBytes.enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        guard headerLength >= 0, headerLength <= size - 8 else { throw DistillationError("\(path) has a corrupt header") }
        var header = [UInt8](repeating: 0, count: headerLength)
        guard fread(&header, 1, headerLength, file) == headerLength else { throw DistillationError("cannot read \(path)") }
        h.update(header)
        var sample = [UInt8](repeating: 0, count: 4096)
        for i in 0..<16 {
            fseeko(file, off_t(size / 16 * i), SEEK_SET)
            let n = fread(&sample, 1, sample.count, file)
            h.update(Array(sample.prefix(n)))
        }
    }
    return h.hex
}

/// A teacher cache or distillation input that cannot be used, with the reason.
public struct DistillationError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
