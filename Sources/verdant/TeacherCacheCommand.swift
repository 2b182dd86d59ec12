import ArgumentParser
import Foundation
import VerdantCompress
import VerdantModels
import VerdantTensors
import VerdantTraining

struct TeacherCacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teacher-cache",
        abstract: "Stores a teacher's top-k predictions over a training stream, for distilling many students without rerunning it.",
        discussion: """
        The stream is the one `verdant distill` reads for the same --data, --context, --seed and --hold-out: \
        documents tokenized with the teacher's tokenizer, joined by EOS, cut into windows of context + 1 tokens, \
        shuffled by the seed. For every input position the cache keeps the k most probable ids and their \
        probabilities at --temperature (f16) plus the rest's mass, in DIR/teacher-cache.bin. An interrupted run \
        continues where it stopped; a larger --tokens extends the cache. --measure-top-k instead prints how much \
        KL and gradient each k and tail treatment lose against the full teacher.
        """)

    @Argument(help: "Teacher model directory (Hugging Face layout, with tokenizer.json).")
    var teacherDir: String

    @Option(help: "Training text: JSONL or JSONL.xz with a `text` (and `path`) field per line.")
    var data: String

    @Option(help: "Output directory (created; an existing cache of the same teacher and data is continued).")
    var out: String?

    @Option(help: "Predicted tokens to cache (rounded up to whole sequences; default: one pass over the data).")
    var tokens: Int?

    @Option(help: "Input tokens per sequence.")
    var context: Int = 256

    @Option(help: "Teacher ids kept per position.")
    var topK: Int = 64

    @Option(help: "Temperature of the stored probabilities (the distillation temperature).")
    var temperature: Float = 10

    @Flag(help: "Store the teacher's final hidden states (f16) instead of top-k: exact full logits at any temperature, computed again by the teacher's output layer during distillation.")
    var hiddenStates = false

    @Option(help: "Student vocabulary: a directory whose tokenizer.json is a subset of the teacher's (e.g. `verdant prune TEACHER --vocab-corpus F --out DIR`). The data is tokenized with it, the teacher reads the ids mapped to its own, and its rows cover the student's ids (renormalised); the map is recorded in the cache.")
    var studentVocab: String?

    @Option(help: "Seed of the sequence order.")
    var seed: UInt64 = 0

    @Option(help: "Fraction of files (by path) held out of training, in (0, 1).")
    var holdOut: Double?

    @OptionGroup var runtime: RuntimeOptions

    @Flag(help: "Measure top-k KL / gradient errors against the full teacher (k 16/32/64/128, T 1/2/10) instead of caching.")
    var measureTopK = false

    @Option(help: "Sequences --measure-top-k uses.")
    var measureSequences: Int = 2

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard context >= 1 && context <= 1 << 16 else { throw ValidationError("--context must lie in 1...65536, got \(context)") }
        guard topK >= 1 else { throw ValidationError("--top-k must be ≥ 1, got \(topK)") }
        guard temperature.isFinite && temperature > 0 && temperature <= 1000 else {
            throw ValidationError("--temperature must lie in (0, 1000], got \(temperature)")
        }
        if let t = tokens, t < 1 { throw ValidationError("--tokens must be ≥ 1, got \(t)") }
        if let h = holdOut, !(h > 0 && h < 1) { throw ValidationError("--hold-out must lie strictly between 0 and 1, got \(h)") }
        guard measureSequences >= 1 else { throw ValidationError("--measure-sequences must be ≥ 1") }
        if !measureTopK && out == nil { throw ValidationError("--out DIR is required") }
    }

    struct Output: Encodable {
        var cache: TeacherCacheReport
        var documents: Int
        var stream_tokens: Int
        var data_seconds: Double
    }

    func run() throws {
        let loaded = try LoadedModel.load(directory: teacherDir)
        guard context <= loaded.config.maxPositions else {
            throw CLIError("--context \(context) exceeds the teacher's \(loaded.config.maxPositions) positions")
        }
        let pool = runtime.makePool()
        let vocab = try DistillationVocabulary.resolve(teacherDir: teacherDir, teacher: loaded.config,
                                                       teacherRows: loaded.model.vocabSize, studentVocab: studentVocab)
        if measureTopK && vocab.vocabulary != nil { throw CLIError("--measure-top-k studies the teacher's own vocabulary; leave out --student-vocab") }
        let options = TokenStreamOptions(context: context, seed: seed,
                                         split: holdOut.map { .holdOutFraction($0, keep: .train) } ?? .all)
        let dataStart = monotonicSeconds()
        let stream = try TokenStream.load(data: data, tokenizerDirectory: vocab.tokenizerDirectory, eos: vocab.eos, options: options, threads: pool.threads)
        let dataSeconds = monotonicSeconds() - dataStart
        printError(String(format: "data: %d documents, %d tokens, %d sequences of %d per epoch (read and tokenized in %.1f s)",
                          stream.documentCount, stream.tokens.count, stream.sequencesPerEpoch, context, dataSeconds))

        if measureTopK {
            let n = min(measureSequences, stream.sequencesPerEpoch)
            let results = try TopKTailStudy.run(teacher: loaded.model, stream: stream, sequences: n, ks: [16, 32, 64, 128],
                                                temperatures: [1, 2, 10], pool: pool)
            if json { try printJSON(results); return }
            print("student         T      k  tail               KL rel. err  grad rel. err  tail mass")
            for r in results {
                print(String(format: "%-14@ %3.0f %6d  %-17@ %11.5f  %13.5f  %9.4f", r.student as NSString, r.temperature, r.k,
                             r.tail as NSString, r.klRelativeError, r.gradientRelativeError, r.meanTailMass))
            }
            return
        }

        guard let out else { throw CLIError("--out DIR is required") }
        let sequences = stream.sequenceCount(tokens: tokens)
        let bar = ProgressBar("teacher", total: sequences, enabled: !json)
        let report = try TeacherCacheBuilder.build(
            directory: out, teacher: loaded.model, teacherFingerprint: try teacherFingerprint(directory: teacherDir),
            stream: stream, sequences: sequences, content: hiddenStates ? .hiddenStates : .topK(topK, temperature: temperature),
            pool: pool, vocabulary: vocab.vocabulary) { done, _ in bar.update(done) }
        bar.finish()
        if json {
            try printJSON(Output(cache: report, documents: stream.documentCount, stream_tokens: stream.tokens.count, data_seconds: dataSeconds))
        } else {
            let epochs = Double(report.sequences) / Double(stream.sequencesPerEpoch)
            print(String(format: "%@: %d sequences × %d tokens (%.2f epochs), %.1f bytes per token, %.1f MB; teacher %.0f tokens/s%@",
                         report.path as NSString, report.sequences, context, epochs, report.bytesPerToken,
                         Double(report.fileBytes) / 1e6, report.tokensPerSecond,
                         report.resumedFrom > 0 ? " (resumed at sequence \(report.resumedFrom))" as NSString : "" as NSString))
        }
    }
}
