import Foundation
import VerdantTraining

/// The fixed 4096-byte header of a teacher cache file (see TeacherCacheLayout).
struct TeacherCacheHeader: Equatable {
    var layout: TeacherCacheLayout
    var completed: Int
    var target: Int

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = Array(try encoder.encode(layout))
        guard json.count <= TeacherCacheLayout.headerBytes - 32 else { throw DistillationError("teacher cache header too long") }
        var bytes = TeacherCacheLayout.magic
        bytes += littleEndian(UInt64(completed)) + littleEndian(UInt64(target))
        bytes += littleEndian(UInt64(json.count))
        bytes += json
        bytes += [UInt8](repeating: 0x20, count: TeacherCacheLayout.headerBytes - bytes.count)
        return bytes
    }

    /// Parses the header at the start of `bytes`; `path` names the file in errors.
    static func decode(_ bytes: UnsafeRawBufferPointer, path: String) throws -> TeacherCacheHeader {
        guard bytes.count >= TeacherCacheLayout.headerBytes else {
            throw DistillationError("\(path) is truncated: \(bytes.count) bytes, shorter than the \(TeacherCacheLayout.headerBytes)-byte header")
        }
        guard Array(bytes[0..<8]) == TeacherCacheLayout.magic else { throw DistillationError("\(path) is not a Verdant teacher cache") }
        let completed = readLittleEndian(bytes, 8), target = readLittleEndian(bytes, 16)
        let length = Int(readLittleEndian(bytes, 24) & 0xFFFF_FFFF)
        guard length <= TeacherCacheLayout.headerBytes - 32,
              let layout = try? JSONDecoder().decode(TeacherCacheLayout.self, from: Data(bytes[32..<(32 + length)])) else {
            throw DistillationError("\(path) has a corrupt header")
        }
        guard layout.formatVersion == TeacherCacheLayout.currentVersion else {
            throw DistillationError("\(path) is teacher cache format \(layout.formatVersion); this Verdant reads format \(TeacherCacheLayout.currentVersion) (rebuild it)")
        }
        let shapeOK: Bool
        switch layout.content {
        case .topK: shapeOK = layout.topK >= 1 && layout.topK <= layout.vocabSize && (layout.idBytes == 2 || layout.idBytes == 4)
        case .hiddenStates: shapeOK = layout.hiddenSize >= 1
        }
        guard shapeOK, layout.context >= 1, completed <= target, target < 1 << 40 else {
            throw DistillationError("\(path) has a corrupt header")
        }
        return TeacherCacheHeader(layout: layout, completed: Int(completed), target: Int(target))
    }
}

func littleEndian(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

func readLittleEndian(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
    (0..<8).reduce(UInt64(0)) { $0 | (UInt64(bytes[offset + $1]) << (8 * UInt64($1))) }
}

/// FNV-1a over a record's bytes (what its last 8 bytes must hold).
func recordHash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var h = ContentHash()
    h.update(bytes)
    return h.value
}
