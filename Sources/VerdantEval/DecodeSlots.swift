import Foundation
import VerdantModels
import VerdantTensors

/// What one thread needs to run the model on its own sequence: a KV cache, a
/// workspace, a logits row and a one-thread pool. Many slots share one model, so
/// independent tasks run in parallel without locks (the weights are read-only).
public final class DecodeSlot: @unchecked Sendable {
    public let cache: KVCache
    public let workspace: Workspace
    public let logits: UnsafeMutablePointer<Float>
    public let pool: ThreadPool

    public init(model: DecoderModel, capacity: Int) {
        cache = model.makeCache(capacity: capacity)
        workspace = Workspace(config: model.config)
        logits = .allocate(capacity: model.vocabSize)
        pool = ThreadPool(threads: 1)
    }

    deinit { logits.deallocate() }
}

/// Runs `body(task, slot)` for every task in 0..<count on `threads` threads, each
/// with its own `DecodeSlot`; results come back in task order. The first error
/// thrown stops the remaining tasks and is rethrown. `progress` is called (from a
/// worker thread, serialized) after each finished task with (done, count).
public func mapInParallel<T>(count: Int, threads: Int, model: DecoderModel, capacity: Int,
                             progress: ((_ done: Int, _ total: Int) -> Void)? = nil,
                             _ body: (_ task: Int, _ slot: DecodeSlot) throws -> T) throws -> [T] {
    if count == 0 { return [] }
    let workers = max(1, min(threads, count))
    let slots = (0..<workers).map { _ in DecodeSlot(model: model, capacity: capacity) }
    let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
    results.initialize(repeating: nil)
    defer { results.deinitialize(); results.deallocate() }
    let lock = NSLock()
    var firstError: Error?
    var done = 0
    let pool = ThreadPool(threads: workers)
    pool.runWorkers(count) { task, worker in
        lock.lock()
        let stop = firstError != nil
        lock.unlock()
        if stop { return }
        do {
            let value = try body(task, slots[worker])
            results[task] = value  // distinct tasks write distinct elements
            lock.lock()
            done += 1
            progress?(done, count)
            lock.unlock()
        } catch {
            lock.lock()
            if firstError == nil { firstError = error }
            lock.unlock()
        }
    }
    if let firstError { throw firstError }
    return results.compactMap { $0 }
}
