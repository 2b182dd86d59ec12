import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Appends records to a teacher cache so that a killed run loses at most the chunk
/// in flight: the file is created whole (header written to a temporary file, fsynced,
/// renamed into place), each chunk of records is written and fsynced before the
/// header's completed count moves past it, and a resumed run cuts off whatever lies
/// beyond that count.
final class TeacherCacheWriter {
    let path: String
    let layout: TeacherCacheLayout
    private(set) var completed: Int
    private(set) var target: Int
    private let fd: Int32

    /// Continues DIR's cache when it was made with the same `layout` (teacher, data,
    /// context, k, temperature), creates it when absent; another cache is an error.
    init(directory: String, layout: TeacherCacheLayout, target: Int) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = (directory as NSString).appendingPathComponent(TeacherCache.fileName)
        self.path = path
        self.layout = layout
        if FileManager.default.fileExists(atPath: path) {
            let fd = openFile(path, O_RDWR)
            guard fd >= 0 else { throw DistillationError("cannot open \(path): \(String(cString: strerror(errno)))") }
            do {
                var bytes = [UInt8](repeating: 0, count: TeacherCacheLayout.headerBytes)
                let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
                let header = try bytes.withUnsafeBytes { try TeacherCacheHeader.decode(UnsafeRawBufferPointer(rebasing: $0[0..<max(0, n)]), path: path) }
                try Self.check(existing: header.layout, wanted: layout, path: path)
                var info = stat()
                fstat(fd, &info)
                // Records past the last complete chunk may be half written: recompute them.
                let whole = min(header.completed, max(0, (Int(info.st_size) - TeacherCacheLayout.headerBytes) / layout.recordBytes))
                completed = whole
                self.target = max(header.target, target, whole)
                guard ftruncate(fd, off_t(layout.recordOffset(whole))) == 0 else {
                    throw DistillationError("cannot truncate \(path): \(String(cString: strerror(errno)))")
                }
                self.fd = fd
                try writeHeader()
            } catch {
                close(fd)
                throw error
            }
        } else {
            completed = 0
            self.target = target
            let temporary = (directory as NSString).appendingPathComponent(".\(TeacherCache.fileName).\(UUID().uuidString).tmp")
            let header = try TeacherCacheHeader(layout: layout, completed: 0, target: target).encoded()
            let tfd = open(temporary, O_RDWR | O_CREAT | O_EXCL, 0o644)
            guard tfd >= 0 else { throw DistillationError("cannot create \(temporary): \(String(cString: strerror(errno)))") }
            let written = header.withUnsafeBytes { pwrite(tfd, $0.baseAddress, $0.count, 0) }
            guard written == header.count, fsync(tfd) == 0, rename(temporary, path) == 0 else {
                let reason = String(cString: strerror(errno))
                close(tfd)
                unlink(temporary)
                throw DistillationError("cannot write \(path): \(reason)")
            }
            fd = tfd
        }
    }

    deinit { close(fd) }

    static func check(existing: TeacherCacheLayout, wanted: TeacherCacheLayout, path: String) throws {
        let hint = "; remove it or choose another --out"
        if existing.teacherFingerprint != wanted.teacherFingerprint { throw DistillationError("\(path) holds a cache of another teacher\(hint)") }
        if existing.dataFingerprint != wanted.dataFingerprint { throw DistillationError("\(path) holds a cache of other data (data file, tokenizer, context, seed or split differ)\(hint)") }
        if existing.context != wanted.context { throw DistillationError("\(path) was made with context \(existing.context), not \(wanted.context)\(hint)") }
        if existing.content != wanted.content { throw DistillationError("\(path) holds \(existing.content.rawValue), not \(wanted.content.rawValue)\(hint)") }
        if existing.topK != wanted.topK { throw DistillationError("\(path) was made with top-k \(existing.topK), not \(wanted.topK)\(hint)") }
        if existing.temperature != wanted.temperature { throw DistillationError("\(path) was made at temperature \(existing.temperature ?? 0), not \(wanted.temperature ?? 0)\(hint)") }
        if existing.vocabularyFingerprint != wanted.vocabularyFingerprint { throw DistillationError("\(path) was made for another student vocabulary (\(existing.vocabularyFingerprint ?? "the teacher's own"), not \(wanted.vocabularyFingerprint ?? "the teacher's own"))\(hint)") }
        if existing != wanted { throw DistillationError("\(path) was made with other settings\(hint)") }
    }

    /// Writes `count` whole records after the completed ones and makes them count.
    func append(_ records: UnsafeRawBufferPointer, count: Int) throws {
        precondition(records.count == count * layout.recordBytes)
        var offset = 0
        let start = layout.recordOffset(completed)
        while offset < records.count {
            let n = pwrite(fd, records.baseAddress! + offset, records.count - offset, off_t(start + offset))
            guard n > 0 else { throw DistillationError("cannot write \(path): \(String(cString: strerror(errno)))") }
            offset += n
        }
        guard fsync(fd) == 0 else { throw DistillationError("cannot sync \(path): \(String(cString: strerror(errno)))") }
        completed += count
        try writeHeader()
    }

    private func writeHeader() throws {
        let header = try TeacherCacheHeader(layout: layout, completed: completed, target: target).encoded()
        let n = header.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        guard n == header.count, fsync(fd) == 0 else { throw DistillationError("cannot write \(path): \(String(cString: strerror(errno)))") }
    }
}
