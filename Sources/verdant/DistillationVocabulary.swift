import Foundation
import VerdantCompress
import VerdantModels

/// What `--student-vocab DIR` resolves to for `verdant distill` and
/// `verdant teacher-cache`: the directory whose tokenizer tokenizes the data, the
/// student → teacher id map (nil: the teacher's own vocabulary) and the document
/// separator in the stream's ids.
struct DistillationVocabulary {
    var vocabulary: StudentVocabulary?
    var tokenizerDirectory: String
    var eos: Int

    static func resolve(teacherDir: String, teacher: ModelConfig, teacherRows: Int, studentVocab: String?) throws -> DistillationVocabulary {
        let tokenizerEOS = try loadTokenizer(directory: teacherDir).eosTokenId
        guard let eos = teacher.eosTokenIds.first ?? tokenizerEOS else {
            throw CLIError("the teacher declares no EOS token to separate documents")
        }
        guard let dir = studentVocab else {
            return DistillationVocabulary(vocabulary: nil, tokenizerDirectory: teacherDir, eos: eos)
        }
        let vocabulary = try StudentVocabulary.load(directory: dir, teacherDirectory: teacherDir, teacherRows: teacherRows)
        guard let studentEOS = vocabulary.studentId(ofTeacherId: eos) else {
            throw CLIError("--student-vocab \(dir) drops the teacher's EOS token (id \(eos)), which separates the documents")
        }
        return DistillationVocabulary(vocabulary: vocabulary, tokenizerDirectory: dir, eos: studentEOS)
    }
}
