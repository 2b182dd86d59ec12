import Foundation
import VerdantModels
import VerdantTensors
import VerdantTraining

/// A student vocabulary that is a subset of the teacher's (e.g. made by
/// `verdant prune --vocab-corpus`): student id i is teacher id `teacherIds[i]`.
///
/// The map is derived from the two tokenizer.json files by token string (the
/// model's vocab plus added tokens), not from a pruning report: whatever made the
/// student tokenizer, a token means the same bytes to both, so the teacher can
/// read a student-tokenized sequence id by id. Distinct strings make the map
/// injective; a student token the teacher lacks is an error.
///
/// How distillation uses it: the data is tokenized with the student's tokenizer;
/// the teacher reads the sequence mapped to its ids; its logits are computed for
/// the kept ids only (`restrictedHead`: the kept rows of its output layer) and the
/// loss's softmax over them is the teacher's distribution renormalised over the
/// student's support — exactly the distribution of the vocabulary-pruned teacher.
public struct StudentVocabulary: Sendable, Equatable {
    /// Directory holding the student's tokenizer.json.
    public let directory: String
    /// Teacher id of every student id.
    public let teacherIds: [Int32]
    /// Hash of the map, recorded in teacher caches built for this vocabulary.
    public let fingerprint: String

    public var count: Int { teacherIds.count }

    public init(teacherIds: [Int32], directory: String = "") {
        self.directory = directory
        self.teacherIds = teacherIds
        var h = ContentHash()
        h.update("verdant-student-vocabulary-1")
        h.update(teacherIds.count)
        teacherIds.withUnsafeBytes { h.update($0) }
        fingerprint = h.hex
    }

    /// The map of the tokenizer.json in `directory` into the teacher's (in
    /// `teacherDirectory`), checked: every student id 0..<n is named once and
    /// exists in the teacher's vocabulary.
    public static func load(directory: String, teacherDirectory: String, teacherRows: Int) throws -> StudentVocabulary {
        let student = try tokens(directory: directory, role: "student vocabulary")
        let teacher = try tokens(directory: teacherDirectory, role: "teacher")
        var teacherId: [String: Int] = [:]
        for (id, s) in teacher { teacherId[s] = id }
        let n = (student.keys.max() ?? -1) + 1
        guard n > 0 else { throw DistillationError("\(directory)/tokenizer.json has an empty vocabulary") }
        var map = [Int32](repeating: -1, count: n)
        for (id, s) in student {
            guard let t = teacherId[s] else {
                throw DistillationError("student token \(debugToken(s)) (id \(id)) of \(directory)/tokenizer.json is not in the teacher's vocabulary: the student vocabulary must be a subset of the teacher's (e.g. `verdant prune TEACHER --vocab-corpus F`)")
            }
            guard t < teacherRows else {
                throw DistillationError("student token \(debugToken(s)) maps to teacher id \(t), outside the teacher's \(teacherRows) output rows")
            }
            map[id] = Int32(t)
        }
        if let gap = map.firstIndex(of: -1) {
            throw DistillationError("\(directory)/tokenizer.json names no token with id \(gap) (ids must be 0..<\(n))")
        }
        return StudentVocabulary(teacherIds: map, directory: directory)
    }

    /// id → token string of a tokenizer.json (model.vocab and added_tokens).
    static func tokens(directory: String, role: String) throws -> [Int: String] {
        let path = (directory as NSString).appendingPathComponent("tokenizer.json")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DistillationError("the \(role) directory \(directory) has no readable tokenizer.json")
        }
        let json: OrderedJSON
        do { json = try OrderedJSON.parse([UInt8](data)) } catch {
            throw DistillationError("\(path) is not valid JSON: \(error.description)")
        }
        var out: [Int: String] = [:]
        func add(_ s: String, _ id: Int) throws {
            if let other = out[id], other != s {
                throw DistillationError("\(path) gives id \(id) to both \(debugToken(other)) and \(debugToken(s))")
            }
            out[id] = s
        }
        for m in json["model"]?["vocab"]?.members ?? [] {
            guard let id = m.value.intValue, id >= 0 else { throw DistillationError("\(path): vocab entry \(debugToken(m.key)) has no valid id") }
            try add(m.key, id)
        }
        for t in json["added_tokens"]?.items ?? [] {
            guard let id = t["id"]?.intValue, id >= 0, let s = t["content"]?.stringValue else {
                throw DistillationError("\(path): an added token has no id or content")
            }
            try add(s, id)
        }
        guard !out.isEmpty else { throw DistillationError("\(path) has no model.vocab (only BPE-style vocabularies are supported)") }
        return out
    }

    static func debugToken(_ s: String) -> String {
        "'" + s.unicodeScalars.map { $0.isASCII && $0.value >= 32 ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined() + "'"
    }

    /// Teacher ids of a student-id sequence.
    public func teacherSequence(_ ids: [Int]) -> [Int] { ids.map { Int(teacherIds[$0]) } }

    /// The student id of a teacher id, nil when the student vocabulary drops it.
    public func studentId(ofTeacherId t: Int) -> Int? {
        teacherIds.firstIndex(of: Int32(truncatingIfNeeded: t))
    }

    /// Whether the student ids keep the teacher's order (as `verdant prune` numbers
    /// them), which a checkpoint built by slicing the teacher needs.
    public var isAscending: Bool { zip(teacherIds, teacherIds.dropFirst()).allSatisfy { $0 < $1 } }

    /// The teacher's output layer restricted to the student's ids: row i is the
    /// teacher's row `teacherIds[i]` (bytes copied, any storage format; bias
    /// entries gathered), so its logits are exactly the teacher's logits of the kept
    /// ids, at a fraction of the full head's cost.
    public func restrictedHead(of teacher: DecoderModel) throws -> Linear {
        let head = teacher.lmHead
        let w = head.weight
        guard teacherIds.allSatisfy({ Int($0) < w.rows }) else {
            throw DistillationError("the student vocabulary names teacher ids beyond the teacher's \(w.rows) output rows")
        }
        let rowBytes = w.format.rowBytes(cols: w.cols)
        let buffer = OwnedBuffer(byteCount: max(1, count * rowBytes))
        withExtendedLifetime(w.owner) {
            for (i, t) in teacherIds.enumerated() {
                (buffer.pointer + i * rowBytes).copyMemory(from: w.data + Int(t) * rowBytes, byteCount: rowBytes)
            }
        }
        let matrix = WeightMatrix(format: w.format, rows: count, cols: w.cols, data: UnsafeRawPointer(buffer.pointer), owner: buffer)
        return Linear(weight: matrix, bias: head.bias.map { b in teacherIds.map { b[Int($0)] } }, name: head.name)
    }
}
