import Foundation
import Testing
import VerdantModels
import VerdantTensors
import VerdantTokenizer
import VerdantTraining
@testable import VerdantCompress

/// `DistillationTokenLoss` in the training loop: demo teacher (llama, 2 layers,
/// hidden 64, V = 512) and a 1-layer, hidden-32 random student.
@Suite struct DistillationTrainingTests {
    static let teacherDir = Fixtures.model("demo")

    /// 4 sequences of 16 per epoch, so 2-sequence batches revisit the same text.
    static func stream() throws -> TokenStream {
        let documents = (0..<4).map { i in
            TrainingDocument(path: "m\(i).py", text: "def f\(i)(x):\n    return x + \(i)\n")
        }
        let tokenizer = try Tokenizer(contentsOf: teacherDir + "/tokenizer.json")
        return try TokenStream(documents: documents, dataHash: 1, tokenizer: tokenizer,
                               tokenizerHash: try tokenizerFingerprint(directory: teacherDir), eos: 0,
                               options: TokenStreamOptions(context: 16, seed: 3))
    }

    static func studentConfig(_ teacher: ModelConfig) -> ModelConfig {
        var c = teacher
        c.numLayers = 1
        c.hiddenSize = 32
        c.numHeads = 2
        c.numKVHeads = 1
        c.headDim = 16
        c.intermediateSize = 64
        return c
    }

    enum Teacher { case online, hiddenStateCache(String), crossEntropy }

    static func trainer(_ teacherKind: Teacher, stream: TokenStream, alpha: Float = 1, temperature: Float = 2,
                        steps: Int = 6) throws -> (Trainer, DistillationTokenLoss?) {
        let teacher = try LoadedModel.load(directory: teacherDir)
        let pool = ThreadPool(threads: 2)
        let store = try ParameterStore(randomFor: studentConfig(teacher.config), seed: 7)
        let data = TokenStreamSource(stream: stream)
        let options = try TrainingOptions(
            context: 16, sequences: 2, accumulate: 1,
            schedule: try LearningRateSchedule(peak: 3e-3, warmupSteps: 0, totalSteps: steps, decay: .constant),
            adamW: try AdamWSettings(weightDecay: 0), clip: 1, seed: 5, saveEvery: 0)
        let source: TeacherSource
        switch teacherKind {
        case .crossEntropy:
            return (try Trainer(store: store, options: options, data: data, pool: pool), nil)
        case .online:
            source = try TeacherSource(online: teacher.model, context: 16, pool: pool)
        case .hiddenStateCache(let dir):
            let cache = try TeacherCache.open(directory: dir, teacherDirectory: teacherDir, stream: stream)
            source = try TeacherSource(cache: cache, teacher: teacher.model, pool: pool)
        }
        let loss = try DistillationTokenLoss(loss: try DistillationLoss(temperature: temperature, alpha: alpha),
                                             teacher: source, data: data)
        return (try Trainer(store: store, options: options, data: data, pool: pool, loss: loss), loss)
    }

    static func values(_ t: Trainer) -> [Float] { Array(UnsafeBufferPointer(start: t.store.values, count: t.store.totalCount)) }

    @Test func stepsReduceTheKLOnTheTrainingBatches() throws {
        let s = try Self.stream()
        #expect(s.sequencesPerEpoch <= 8)
        let (trainer, loss) = try Self.trainer(.online, stream: s, steps: 40)
        var kl: [Double] = []
        while !trainer.isFinished {
            _ = try trainer.trainStep()
            let t = try #require(loss).takeTotals()
            #expect(t.rows == 32)
            kl.append(t.kl / Double(t.rows))
        }
        // The same few sequences come back every epoch: the KL measured on them falls.
        let first = kl.prefix(4).reduce(0, +), last = kl.suffix(4).reduce(0, +)
        #expect(last < 0.7 * first, "KL per token \(kl)")
    }

    @Test func onlineTeacherAndHiddenStateCacheAgree() throws {
        let s = try Self.stream()
        let dir = try Fixtures.temporaryDirectory()
        let teacher = try LoadedModel.load(directory: Self.teacherDir)
        _ = try TeacherCacheBuilder.build(directory: dir, teacher: teacher.model,
                                          teacherFingerprint: try teacherFingerprint(directory: Self.teacherDir), stream: s,
                                          sequences: 8, content: .hiddenStates, pool: ThreadPool(threads: 2))
        let (online, _) = try Self.trainer(.online, stream: s, steps: 4)
        let (cached, _) = try Self.trainer(.hiddenStateCache(dir), stream: s, steps: 4)
        for _ in 0..<4 {
            let a = try online.trainStep().loss, b = try cached.trainStep().loss
            // The cache stores hidden states in f16: the teacher logits agree to ~1e-3 relative.
            #expect(abs(a - b) <= 2e-3 * abs(a), "online \(a) vs cached \(b)")
        }
        let worst = zip(Self.values(online), Self.values(cached)).map { abs($0 - $1) }.max() ?? 1
        #expect(worst < 1e-3)
        // The run needs more sequences than the cache holds: a clear error, not a crash.
        let (short, loss) = try Self.trainer(.hiddenStateCache(dir), stream: s, steps: 6)
        for _ in 0..<4 { _ = try short.trainStep() }
        #expect(throws: (any Error).self) { try short.trainStep() }
        #expect(loss?.failure is DistillationError)
    }

    @Test func alphaZeroIsCrossEntropyTraining() throws {
        let s = try Self.stream()
        let (distill, _) = try Self.trainer(.online, stream: s, alpha: 0, steps: 4)
        let (plain, _) = try Self.trainer(.crossEntropy, stream: s, steps: 4)
        for _ in 0..<4 {
            let a = try distill.trainStep().loss, b = try plain.trainStep().loss
            #expect(abs(a - b) <= 1e-5 * abs(b), "A = 0 \(a) vs CE \(b)")
        }
        let worst = zip(Self.values(distill), Self.values(plain)).map { abs($0 - $1) }.max() ?? 1
        #expect(worst < 1e-5)
    }

    @Test func resumeIsBitIdentical() throws {
        let s = try Self.stream()
        let (straight, _) = try Self.trainer(.online, stream: s, steps: 5)
        var losses: [Double] = []
        while !straight.isFinished { losses.append(try straight.trainStep().loss) }

        let dir = try Fixtures.temporaryDirectory()
        let (first, _) = try Self.trainer(.online, stream: s, steps: 5)
        for _ in 0..<2 { _ = try first.trainStep() }
        try TrainingCheckpoint.write(first, to: dir + "/step", source: Self.teacherDir)
        let (resumed, _) = try Self.trainer(.online, stream: s, steps: 5)
        try TrainingCheckpoint.restore(resumed, from: dir + "/step")
        var rest: [Double] = []
        while !resumed.isFinished { rest.append(try resumed.trainStep().loss) }
        #expect(rest == Array(losses.suffix(3)))
        #expect(Self.values(resumed) == Self.values(straight))
    }

    @Test func rejectsAMismatchedTeacherSource() throws {
        let s = try Self.stream()
        let teacher = try LoadedModel.load(directory: Self.teacherDir)
        let source = try TeacherSource(online: teacher.model, context: 8, pool: ThreadPool(threads: 1))
        #expect(throws: DistillationError.self) {
            try DistillationTokenLoss(loss: try DistillationLoss(temperature: 1, alpha: 1), teacher: source,
                                      data: TokenStreamSource(stream: s))
        }
    }
}
