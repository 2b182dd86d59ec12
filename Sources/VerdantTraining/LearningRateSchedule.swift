#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Learning rate per optimizer step: linear warm-up from 0 to `peak` over
/// `warmupSteps`, then decay to `minimum` at `totalSteps` (cosine or linear),
/// constant `minimum` after. Step numbers count from 0 (the first update).
public struct LearningRateSchedule: Sendable, Equatable, Codable {
    public enum Decay: String, Sendable, Codable, CaseIterable {
        case cosine, linear, constant
    }

    public var peak: Float
    public var minimum: Float
    public var warmupSteps: Int
    public var totalSteps: Int
    public var decay: Decay

    public init(peak: Float, minimum: Float = 0, warmupSteps: Int, totalSteps: Int, decay: Decay) throws {
        guard peak.isFinite, peak > 0 else { throw TrainingError.invalidArgument("learning rate must be a positive number, got \(peak)") }
        guard minimum.isFinite, minimum >= 0, minimum <= peak else {
            throw TrainingError.invalidArgument("minimum learning rate must lie in [0, \(peak)], got \(minimum)")
        }
        guard warmupSteps >= 0 else { throw TrainingError.invalidArgument("warm-up steps must be ≥ 0, got \(warmupSteps)") }
        guard totalSteps > 0 else { throw TrainingError.invalidArgument("total steps must be ≥ 1, got \(totalSteps)") }
        self.peak = peak
        self.minimum = minimum
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.decay = decay
    }

    public func rate(step: Int) -> Float {
        // Warm-up reaches the peak on its last step (step warmupSteps − 1), as the
        // transformers schedulers do with (step + 1) / warmup.
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
        if decay == .constant { return peak }
        let span = max(1, totalSteps - warmupSteps)
        let progress = min(1, Double(step - warmupSteps) / Double(span))
        let factor: Double
        switch decay {
        case .cosine: factor = 0.5 * (1 + cos(Double.pi * progress))
        case .linear: factor = 1 - progress
        case .constant: factor = 1
        }
        return minimum + Float(factor) * (peak - minimum)
    }
}
