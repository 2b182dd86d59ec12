import ArgumentParser
import Foundation
import VerdantCompress
import VerdantModels
import VerdantTensors
import VerdantTraining

extension StudentLayerChoice: ExpressibleByArgument {}

/// `verdant distill --init from-teacher`: the teacher pruned to the student's
/// shape (`StudentFromTeacher`), written as a checkpoint in ROOT/init (with its
/// pruning_report.json) that the run's parameter store loads.
enum StudentInitialisation {
    /// What `DistillationRun.run` calls for a fresh run's starting weights: the teacher cut
    /// down to `student` in ROOT/init, loaded as the run's parameter store.
    static func initialiser(teacherDir: String, student: ModelConfig, vocabulary: StudentVocabulary?, stream: TokenStream,
                            layers: StudentLayerChoice, calibrationTokens: Int,
                            pool: ThreadPool) -> (String) throws -> ParameterStore {
        { root in
            let dir = try build(teacherDir: teacherDir, student: student, vocabulary: vocabulary, stream: stream, layers: layers,
                                calibrationTokens: calibrationTokens, root: root, pool: pool)
            return try ParameterStore(checkpoint: try Checkpoint(path: dir), config: student)
        }
    }

    static func build(teacherDir: String, student: ModelConfig, vocabulary: StudentVocabulary?, stream: TokenStream,
                      layers: StudentLayerChoice, calibrationTokens: Int, root: String, pool: ThreadPool) throws -> String {
        if let vocabulary, !vocabulary.isAscending {
            throw CLIError("--init from-teacher slices the teacher's embedding rows in order: the --student-vocab ids must follow the teacher's id order (as `verdant prune` numbers them)")
        }
        let pruner = try Pruner(directory: teacherDir)
        try StudentFromTeacher.check(student: student, teacher: pruner.config, vocabulary: vocabulary?.count ?? pruner.config.vocabSize)
        // Calibration: the first sequences of the run's own stream (inputs only),
        // in teacher ids, so the scores see the text the student trains on.
        let C = stream.context
        let n = max(1, min(stream.sequencesPerEpoch, (calibrationTokens + C - 1) / C))
        let sequences = (0..<n).map { g -> [Int] in
            let inputs = Array(stream.sequence(g).prefix(C))
            return vocabulary?.teacherSequence(inputs) ?? inputs
        }
        let start = Date()
        var last = ""
        let (plan, report) = try StudentFromTeacher.plan(
            pruner: pruner, student: student, vocabulary: vocabulary.map { $0.teacherIds.map(Int.init) }, layers: layers,
            calibration: CalibrationSet(sequences: sequences), pool: pool) { stage, _, _ in
                if stage != last { printError("init from teacher: \(stage)"); last = stage }
            }
        let dir = (root as NSString).appendingPathComponent("init")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let written = try pruner.write(plan: plan, report: report, to: dir, force: true, threads: pool.threads)
        printError(String(format: "init from teacher: %d → %d parameters (layers kept %@, %d tokens of calibration) in %.1f s → %@",
                          written.parametersBefore, written.parametersAfter, "\(plan.layers(of: pruner.config))" as NSString,
                          n * C, Date().timeIntervalSince(start), dir as NSString))
        return dir
    }
}
