import Foundation
import VerdantModels

/// A progress bar on stderr, drawn only when stderr is a terminal (never in logs
/// or pipes, never on stdout). Safe to update from several threads.
final class ProgressBar: @unchecked Sendable {
    private let label: String
    private let total: Int
    private let enabled: Bool
    private let start = monotonicSeconds()
    private var lastDraw = 0.0
    private var done = 0
    private let lock = NSLock()

    init(_ label: String, total: Int, enabled: Bool = true) {
        self.label = label
        self.total = max(total, 1)
        self.enabled = enabled && isatty(2) != 0
    }

    /// Records that `done` of `total` units are finished; redraws at most ten times a second.
    func update(_ done: Int) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        self.done = done
        let now = monotonicSeconds()
        if now - lastDraw < 0.1 && done < total { return }
        lastDraw = now
        draw(now: now)
    }

    /// Clears the bar.
    func finish() {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    private func draw(now: Double) {
        let fraction = min(1, Double(done) / Double(total))
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let elapsed = now - start
        var eta = ""
        if done > 0 && done < total {
            let remaining = elapsed / Double(done) * Double(total - done)
            eta = " eta " + Self.duration(remaining)
        }
        let line = "\r\u{1B}[K\(label) \(bar) \(done)/\(total) \(Self.duration(elapsed))\(eta)"
        FileHandle.standardError.write(Data(line.utf8))
    }

    private static func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%dh%02dm", t / 3600, t % 3600 / 60)
            : t >= 60 ? String(format: "%dm%02ds", t / 60, t % 60) : String(format: "%ds", t)
    }
}
