/// Wall time per phase of the training steps run so far (seconds): where time goes.
public final class TrainingTimings: @unchecked Sendable {
    public var forward = 0.0
    /// Part of `forward` spent in attention.
    public var attentionForward = 0.0
    /// Logits, loss, dlogits and the output matrix's gradients, chunk by chunk.
    public var lossAndHead = 0.0
    public var backward = 0.0
    /// Part of `backward` spent in attention.
    public var attentionBackward = 0.0
    /// Gradient norm, clipping and the AdamW update.
    public var optimizer = 0.0

    public init() {}

    public var total: Double { forward + lossAndHead + backward + optimizer }

    public func reset() {
        forward = 0; attentionForward = 0; lossAndHead = 0; backward = 0; attentionBackward = 0; optimizer = 0
    }

    /// One line: seconds and shares of each phase.
    public var summary: String {
        let t = max(total, 1e-12)
        func part(_ name: String, _ s: Double) -> String { "\(name) \(Int((s / t * 100).rounded()))%" }
        return [part("forward (linears, norms, MLP)", forward - attentionForward), part("attention fwd", attentionForward),
                part("loss+head", lossAndHead), part("backward (linears, norms, MLP)", backward - attentionBackward),
                part("attention bwd", attentionBackward), part("AdamW+clip", optimizer)].joined(separator: ", ")
    }
}

/// Seconds since an arbitrary origin (monotonic).
@inline(__always) func now() -> Double {
    let d = ContinuousClock.now.duration(to: startOfTime)
    return -(Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
}
private let startOfTime = ContinuousClock.now
