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
/// A record holds, for the `context` input positions of the sequence, either
/// - top-k: the top-k ids [context, k] (UInt16 when the vocabulary fits, else
///   UInt32), their teacher probabilities at `temperature` [context, k] (f16) and
///   the mass of all other ids [context] (f32); or
/// - hidden states: the teacher's final-normed hidden state [context, hidden] (f16),
///   from which its output layer gives the full logits row again, at any temperature;
/// then zero padding to 8 bytes and a 64-bit FNV-1a of the bytes before it (caught
/// when read). Little endian. Fixed-size records make the file memory-mappable and
/// let an interrupted run resume at record `completed`.
public struct TeacherCacheLayout: Codable, Sendable, Equatable {
    public enum Content: String, Codable, Sendable, CaseIterable {
        case topK = "top-k"
        case hiddenStates = "hidden-states"
    }

    public static let magic: [UInt8] = Array("VTCACHE".utf8) + [0]
    public static let headerBytes = 4096
    public static let currentVersion = 1

    public var formatVersion: Int
    public var teacherFingerprint: String
    public var dataFingerprint: String
    public var context: Int
    public var content: Content
    /// 0 for hidden states.
    public var topK: Int
    /// The temperature of the stored probabilities; nil for hidden states (any works).
    public var temperature: Float?
    public var vocabSize: Int
    public var idBytes: Int
    /// 0 for top-k.
    public var hiddenSize: Int
    /// `StudentVocabulary.fingerprint` when the stream holds a student vocabulary's
    /// ids (top-k ids are then student ids); nil for the teacher's own vocabulary.
    /// Absent from caches written before vocabulary-pruned students (decodes as nil).
    public var vocabularyFingerprint: String? = nil

    public static func topK(teacherFingerprint: String, dataFingerprint: String, context: Int, k: Int,
                            temperature: Float, vocabSize: Int, vocabularyFingerprint: String? = nil) -> TeacherCacheLayout {
        TeacherCacheLayout(formatVersion: currentVersion, teacherFingerprint: teacherFingerprint, dataFingerprint: dataFingerprint,
                           context: context, content: .topK, topK: k, temperature: temperature, vocabSize: vocabSize,
                           idBytes: vocabSize <= 65536 ? 2 : 4, hiddenSize: 0, vocabularyFingerprint: vocabularyFingerprint)
    }

    public static func hiddenStates(teacherFingerprint: String, dataFingerprint: String, context: Int,
                                    hiddenSize: Int, vocabSize: Int, vocabularyFingerprint: String? = nil) -> TeacherCacheLayout {
        TeacherCacheLayout(formatVersion: currentVersion, teacherFingerprint: teacherFingerprint, dataFingerprint: dataFingerprint,
                           context: context, content: .hiddenStates, topK: 0, temperature: nil, vocabSize: vocabSize,
                           idBytes: 0, hiddenSize: hiddenSize, vocabularyFingerprint: vocabularyFingerprint)
    }

    var idsOffset: Int { 0 }
    var probabilitiesOffset: Int { context * topK * idBytes }
    var tailOffset: Int { probabilitiesOffset + context * topK * 2 }
    var hiddenOffset: Int { 0 }
    var hashOffset: Int {
        switch content {
        case .topK: return (tailOffset + context * 4 + 7) / 8 * 8
        case .hiddenStates: return (context * hiddenSize * 2 + 7) / 8 * 8
        }
    }
    public var recordBytes: Int { hashOffset + 8 }

    /// Bytes of cache per predicted token.
    public var bytesPerToken: Double { Double(recordBytes) / Double(context) }

    func recordOffset(_ sequence: Int) -> Int { Self.headerBytes + sequence * recordBytes }
}
