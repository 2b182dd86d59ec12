/// The hard limits a student must meet.
public struct Budget: Sendable, Equatable {
    /// Bytes of the stored checkpoint (`StudentShape.bytes`).
    public var sizeBytes: Int
    public var storage: StorageFormat
    /// Decode FLOPs per token at full context (`StudentShape.flopsPerToken(span: context)`).
    public var maxFlopsPerToken: Int?
    /// f32 KV-cache bytes at full context.
    public var maxKVCacheBytes: Int?
    /// Set when every student must be cut-able from this teacher (`--init from-teacher`).
    public var teacher: TeacherLimits?

    public init(sizeBytes: Int, storage: StorageFormat, maxFlopsPerToken: Int? = nil, maxKVCacheBytes: Int? = nil,
                teacher: TeacherLimits? = nil) {
        self.sizeBytes = sizeBytes
        self.storage = storage
        self.maxFlopsPerToken = maxFlopsPerToken
        self.maxKVCacheBytes = maxKVCacheBytes
        self.teacher = teacher
    }

    /// Whether `shape` meets every limit, computed directly (no solver): the check the
    /// solver's answers are held to.
    public func admits(_ shape: StudentShape) -> Bool {
        guard shape.hidden == shape.heads * shape.headDim, shape.heads % shape.kvHeads == 0 else { return false }
        guard shape.bytes(storage) <= sizeBytes else { return false }
        if let f = maxFlopsPerToken, shape.flopsPerToken(span: shape.context) > f { return false }
        if let k = maxKVCacheBytes, shape.kvCacheBytes > k { return false }
        if let t = teacher, !t.admits(shape) { return false }
        return true
    }
}
