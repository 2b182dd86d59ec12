import Foundation
import VerdantModels

/// ROOT/student: the directory a distillation run's checkpoints and output copy their
/// config.json and tokenizer files from — the student's config.json (bos/eos ids taken from
/// the vocabulary's directory when the student config leaves them out) and the tokenizer and
/// generation files of `vocabularyDir` (the teacher, or a --student-vocab directory, whose ids
/// the student uses). Rewritten on every run, so it always matches the student config.
public enum StudentTemplate {
    public static func write(root: String, studentConfig path: String, vocabularyDir teacherDir: String) throws -> String {
        let fm = FileManager.default
        let dir = (root as NSString).appendingPathComponent("student")
        let staging = dir + ".partial-\(getpid())"
        try? fm.removeItem(atPath: staging)
        try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
        for name in try fm.contentsOfDirectory(atPath: teacherDir) {
            if name == "config.json" || name.hasSuffix(".safetensors") || name == Checkpoint.indexFileName
                || name.hasSuffix(".bin") || name.hasSuffix(".gguf") || name.hasSuffix("_report.json") { continue }
            let from = (teacherDir as NSString).appendingPathComponent(name)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: from, isDirectory: &isDir), !isDir.boolValue else { continue }
            try fm.copyItem(atPath: from, toPath: (staging as NSString).appendingPathComponent(name))
        }
        guard let data = fm.contents(atPath: path),
              var config = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw DistillationError("student config \(path) is not a JSON object")
        }
        // A bare tokenizer directory (no config.json) has no ids to offer.
        let teacherConfig = (try? ModelDirectoryWriter.readConfigObject(directory: teacherDir)) ?? [:]
        for key in ["bos_token_id", "eos_token_id"] where config[key] == nil {
            config[key] = teacherConfig[key]
        }
        let json = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try json.write(to: URL(fileURLWithPath: (staging as NSString).appendingPathComponent("config.json")))
        if fm.fileExists(atPath: dir) { try fm.removeItem(atPath: dir) }
        try fm.moveItem(atPath: staging, toPath: dir)
        return dir
    }
}
