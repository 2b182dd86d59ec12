/// What a teacher cache holds and how it is laid out. One file, `teacher-cache.bin`:
///
///   0     8 bytes  magic "VTCACHE\0"
///   8     u64      completed sequences (records that are whole and fsynced)
///   16    u64      target sequence count
///   24    u32      length of the JSON header
///   28    u32      0
///   32    JSON     this struct, padded with spaces to byte 4096
///   4096  records, one per sequence of the token stream, in stream order
///
/// A record is, for the `context` input positions of the sequence: the top-k ids
/// [context, k] (UInt16 when the vocabulary fits, else UInt32), their teacher
/// probabilities at `temperature` [context, k] (f16), the mass of all other ids
/// [context] (f32), zero padding to 8 bytes, then a 64-bit FNV-1a of the bytes
/// before it (caught when read). Little endian. Fixed-size records make the file
/// memory-mappable and let an interrupted run resume at record `completed`.
public struct TeacherCacheLayout: Codable, Sendable, Equatable {
    public static let magic: [UInt8] = Array("VTCACHE".utf8) + [0]
    public static let headerBytes = 4096
    public static let currentVersion = 1

    public var formatVersion: Int
    public var teacherFingerprint: String
    public var dataFingerprint: String
    public var context: Int
    public var topK: Int
    public var temperature: Float
    public var vocabSize: Int
    public var idBytes: Int

    public init(teacherFingerprint: String, dataFingerprint: String, context: Int, topK: Int,
                temperature: Float, vocabSize: Int) {
        formatVersion = Self.currentVersion
        self.teacherFingerprint = teacherFingerprint
        self.dataFingerprint = dataFingerprint
        self.context = context
        self.topK = topK
        self.temperature = temperature
        self.vocabSize = vocabSize
        idBytes = vocabSize <= 65536 ? 2 : 4
    }

    var idsOffset: Int { 0 }
    var probabilitiesOffset: Int { context * topK * idBytes }
    var tailOffset: Int { probabilitiesOffset + context * topK * 2 }
    var hashOffset: Int { (tailOffset + context * 4 + 7) / 8 * 8 }
    public var recordBytes: Int { hashOffset + 8 }

    /// Bytes of cache per predicted token.
    public var bytesPerToken: Double { Double(recordBytes) / Double(context) }

    func recordOffset(_ sequence: Int) -> Int { Self.headerBytes + sequence * recordBytes }
}
