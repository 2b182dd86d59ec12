import Dispatch

/// Runs `tasks` independent pieces of work on `threads` threads.
/// Interim implementation on Dispatch; to be replaced by a spinning pool.
public final class ThreadPool: @unchecked Sendable {
    public let threads: Int

    public init(threads: Int) {
        self.threads = max(1, threads)
    }

    /// Calls `body(i)` for every i in 0..<tasks; returns when all are done.
    public func run(_ tasks: Int, _ body: (Int) -> Void) {
        if tasks <= 0 { return }
        if threads == 1 || tasks == 1 {
            for i in 0..<tasks { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let b = UncheckedBox(body)
            DispatchQueue.concurrentPerform(iterations: tasks) { i in b.value(i) }
        }
    }
}

struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
