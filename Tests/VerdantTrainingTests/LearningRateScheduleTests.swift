import Testing
@testable import VerdantTraining

@Suite struct LearningRateScheduleTests {
    @Test func warmupThenCosine() throws {
        let s = try LearningRateSchedule(peak: 1e-3, minimum: 1e-4, warmupSteps: 4, totalSteps: 14, decay: .cosine)
        #expect(abs(s.rate(step: 0) - 2.5e-4) < 1e-9)
        #expect(abs(s.rate(step: 3) - 1e-3) < 1e-9)
        #expect(abs(s.rate(step: 4) - 1e-3) < 1e-9)
        // Half way through the decay: the mean of peak and minimum.
        #expect(abs(s.rate(step: 9) - 5.5e-4) < 1e-8)
        #expect(abs(s.rate(step: 14) - 1e-4) < 1e-9)
        #expect(abs(s.rate(step: 100) - 1e-4) < 1e-9)
    }

    @Test func linearAndConstant() throws {
        let l = try LearningRateSchedule(peak: 1, warmupSteps: 0, totalSteps: 10, decay: .linear)
        #expect(l.rate(step: 0) == 1)
        #expect(abs(l.rate(step: 5) - 0.5) < 1e-6)
        #expect(l.rate(step: 10) == 0)
        let c = try LearningRateSchedule(peak: 0.5, warmupSteps: 2, totalSteps: 10, decay: .constant)
        #expect(c.rate(step: 0) == 0.25)
        #expect(c.rate(step: 7) == 0.5)
    }

    @Test func rejectsNonsense() {
        #expect(throws: TrainingError.self) { try LearningRateSchedule(peak: 0, warmupSteps: 0, totalSteps: 1, decay: .cosine) }
        #expect(throws: TrainingError.self) { try LearningRateSchedule(peak: .nan, warmupSteps: 0, totalSteps: 1, decay: .cosine) }
        #expect(throws: TrainingError.self) { try LearningRateSchedule(peak: 1, minimum: 2, warmupSteps: 0, totalSteps: 1, decay: .cosine) }
        #expect(throws: TrainingError.self) { try LearningRateSchedule(peak: 1, warmupSteps: -1, totalSteps: 1, decay: .cosine) }
        #expect(throws: TrainingError.self) { try LearningRateSchedule(peak: 1, warmupSteps: 0, totalSteps: 0, decay: .cosine) }
    }
}
