import Foundation
import VerdantCompress
import VerdantModels
import VerdantTensors
import VerdantTokenizer
import VerdantTraining

/// The vocabularies a search's students are distilled in: the teacher's own, and for every
/// smaller `vocab_size` a sample or finalist needs, a pruned one built once in OUT/vocab-N
/// exactly as `verdant prune --vocab-corpus --vocab-size N` builds it (frequency on the
/// training split, merge closure; `Pruner.vocabularyPlan`), with its token stream and its
/// teacher cache (OUT/teacher-cache-vN, which records the vocabulary's fingerprint). Each is
/// made on first need and kept for the run; a rerun finds the vocabulary and the cache in
/// OUT and reuses them.
///
/// Held-out text is the same for every vocabulary — the documents (the last one cut) that
/// the first --eval-tokens tokens of the teacher's held-out stream cover, re-tokenized with
/// each vocabulary — so bits per byte compare across vocabularies; perplexities per token
/// do not (a token means more text in a larger vocabulary).
final class SearchVocabularies {
    struct Vocabulary {
        let size: Int
        /// The map into the teacher's ids; nil for the teacher's own vocabulary.
        let map: StudentVocabulary?
        /// Holds the tokenizer files the student carries: the teacher's directory or OUT/vocab-N.
        let directory: String
        let tokenizer: Tokenizer
        /// The distillation run over this vocabulary's training stream.
        let run: DistillationRun
        let teacherCache: String
        /// The held-out text in this vocabulary's ids (documents separated by its EOS).
        let heldOut: [Int]
    }

    struct HeldOutSegment {
        var text: String
        /// Whether EOS follows it (false for the document the token limit cuts).
        var endsDocument: Bool
    }

    let teacher: LoadedModel
    let teacherDir: String
    let files: SearchFiles
    let pool: ThreadPool
    /// The training split, read once for every vocabulary's stream and for the frequencies.
    private let corpus: TrainingCorpus
    private let training: [TrainingDocument]
    private let options: TokenStreamOptions
    private let dataLabel: String
    /// Sequences per step the samples may use, so a cache covers every batch size's rounding.
    private let batchChoices: [Int]
    let heldOutSegments: [HeldOutSegment]
    /// UTF-8 bytes of the held-out text (bits per byte divide by it).
    let heldOutBytes: Int
    /// The teacher's own vocabulary (the teacher is scored in it).
    let own: Vocabulary
    private var built: [Int: Vocabulary] = [:]
    /// Predicted tokens each vocabulary's cache was last made to hold, this run.
    private var cached: [Int: Int] = [:]

    var teacherVocabulary: Int { teacher.config.vocabSize }

    init(teacher: LoadedModel, teacherDir: String, data: String, dev: String?, holdOut: Double, context: Int, seed: UInt64,
         evalTokens: Int, batchChoices: [Int], files: SearchFiles, pool: ThreadPool) throws {
        self.teacher = teacher
        self.teacherDir = teacherDir
        self.files = files
        self.pool = pool
        self.batchChoices = batchChoices
        corpus = try TrainingCorpus.read(path: data)
        let split: DataSplit = dev == nil ? .holdOutFraction(holdOut, keep: .train) : .all
        training = try split.select(corpus.documents)
        options = TokenStreamOptions(context: context, seed: seed, split: split)
        dataLabel = dev == nil ? "\(data) (training files)" : data
        let own = try DistillationVocabulary.resolve(teacherDir: teacherDir, teacher: teacher.config,
                                                     teacherRows: teacher.model.vocabSize, studentVocab: nil)
        let tokenizer = try loadTokenizer(directory: teacherDir)
        let heldOutStream = try TokenStream.load(data: dev ?? data, tokenizerDirectory: teacherDir, eos: own.eos,
                                                 options: TokenStreamOptions(context: context, seed: seed,
                                                                             split: dev == nil ? .holdOutFraction(holdOut, keep: .heldOut) : .all),
                                                 threads: pool.threads)
        let prefix = heldOutStream.tokens.prefix(evalTokens).map(Int.init)
        var segments: [HeldOutSegment] = []
        var current: [Int] = []
        for id in prefix {
            if id == own.eos {
                segments.append(HeldOutSegment(text: tokenizer.decode(current, skipSpecialTokens: true), endsDocument: true))
                current = []
            } else {
                current.append(id)
            }
        }
        if !current.isEmpty { segments.append(HeldOutSegment(text: tokenizer.decode(current, skipSpecialTokens: true), endsDocument: false)) }
        heldOutSegments = segments
        heldOutBytes = segments.reduce(0) { $0 + $1.text.utf8.count }
        // The teacher's own vocabulary keeps the teacher's held-out tokens as they are.
        self.own = try Self.make(size: teacher.config.vocabSize, resolved: own, tokenizer: tokenizer, heldOut: prefix,
                                 training: training, dataHash: corpus.contentHash, options: options, teacher: teacher,
                                 teacherDir: teacherDir, files: files, pool: pool)
        built[teacher.config.vocabSize] = self.own
    }

    /// The vocabulary of `size` ids, its teacher cache holding at least what `tokens` predicted
    /// tokens take at any batch size of the space (extended, never rebuilt, when it holds less).
    func vocabulary(_ size: Int, tokens: Int) throws -> Vocabulary {
        let v = try built[size] ?? makePruned(size)
        built[size] = v
        if (cached[size] ?? 0) < tokens {
            try ensureCache(v, tokens: tokens)
            cached[size] = tokens
        }
        return v
    }

    private func makePruned(_ size: Int) throws -> Vocabulary {
        guard size >= 1, size < teacherVocabulary else {
            throw CLIError("vocab_size \(size) is not below the teacher's \(teacherVocabulary) ids: a student vocabulary is a pruned subset of the teacher's")
        }
        let dir = files.vocabularyDirectory(size)
        let report = (dir as NSString).appendingPathComponent(PruningReport.fileName)
        if !FileManager.default.fileExists(atPath: report) {
            printError("vocabulary \(size): pruning the teacher's \(teacherVocabulary) tokens by frequency on the training split")
            let pruner = try Pruner(directory: teacherDir)
            do {
                let (plan, draft) = try pruner.vocabularyPlan(documents: training.map(\.text), corpus: dataLabel, size: size,
                                                              threads: pool.threads)
                // Atomic (a temporary sibling renamed into place): a killed search leaves no half vocabulary.
                _ = try pruner.write(plan: plan, report: draft, to: dir, force: true, threads: pool.threads)
            } catch let e as PruningError {
                throw CLIError("vocab_size \(size): \(e)")
            }
        }
        let resolved = try DistillationVocabulary.resolve(teacherDir: teacherDir, teacher: teacher.config,
                                                          teacherRows: teacher.model.vocabSize, studentVocab: dir)
        guard resolved.vocabulary?.count == size else {
            throw CLIError("\(dir) holds a vocabulary of \(resolved.vocabulary?.count ?? 0) tokens, not \(size): remove it to build it again")
        }
        let tokenizer = try loadTokenizer(directory: dir)
        // The teacher's held-out text, re-tokenized: the same bytes for every vocabulary.
        var heldOut: [Int] = []
        let encoded = tokenizer.encodeBatch(heldOutSegments.map(\.text), addSpecialTokens: false, threads: pool.threads)
        for (segment, ids) in zip(heldOutSegments, encoded) {
            heldOut += ids
            if segment.endsDocument { heldOut.append(resolved.eos) }
        }
        return try Self.make(size: size, resolved: resolved, tokenizer: tokenizer, heldOut: heldOut, training: training,
                             dataHash: corpus.contentHash, options: options, teacher: teacher, teacherDir: teacherDir,
                             files: files, pool: pool)
    }

    private static func make(size: Int, resolved: DistillationVocabulary, tokenizer: Tokenizer, heldOut: [Int],
                             training: [TrainingDocument], dataHash: UInt64, options: TokenStreamOptions, teacher: LoadedModel,
                             teacherDir: String, files: SearchFiles, pool: ThreadPool) throws -> Vocabulary {
        // The same stream (and fingerprint) `TokenStream.load` gives `verdant distill` for this
        // data, tokenizer and split, so the caches serve `verdant distill --teacher-cache` too.
        let stream = try TokenStream(documents: training, dataHash: dataHash, tokenizer: tokenizer,
                                     tokenizerHash: try tokenizerFingerprint(directory: resolved.tokenizerDirectory),
                                     eos: resolved.eos, options: options, threads: pool.threads)
        let run = DistillationRun(teacher: teacher, teacherDirectory: teacherDir, stream: stream, pool: pool,
                                  vocabulary: resolved.vocabulary, vocabularyDirectory: resolved.tokenizerDirectory)
        return Vocabulary(size: size, map: resolved.vocabulary, directory: resolved.tokenizerDirectory, tokenizer: tokenizer,
                          run: run, teacherCache: files.teacherCache(vocabulary: resolved.vocabulary == nil ? nil : size),
                          heldOut: heldOut)
    }

    /// One hidden-state cache per vocabulary (exact at any T); sized for the largest
    /// step-rounded need of the batch choices, extended (not rebuilt) when a later phase needs more.
    private func ensureCache(_ v: Vocabulary, tokens: Int) throws {
        let stream = v.run.stream
        let n = stream.sequenceCount(tokens: tokens)
        let needed = batchChoices.map { b in (n + b - 1) / b * b }.max() ?? n
        let label = v.map == nil ? "teacher cache" : "teacher cache (vocabulary \(v.size))"
        let bar = ProgressBar(label, total: needed, enabled: true)
        _ = try TeacherCacheBuilder.build(directory: v.teacherCache, teacher: teacher.model,
                                          teacherFingerprint: try teacherFingerprint(directory: teacherDir), stream: stream,
                                          sequences: needed, content: .hiddenStates, pool: pool, vocabulary: v.map) { done, _ in bar.update(done) }
        bar.finish()
    }
}
