import Dispatch
#if canImport(Synchronization)
import Synchronization
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs independent pieces of work on `threads` threads: the caller plus
/// `threads - 1` persistent workers.
///
/// A decode step makes a few hundred parallel calls per token, each a few tens of
/// microseconds long, so waking workers through the kernel on every call would cost
/// more than the work. Workers therefore spin on an epoch counter for a while after
/// each job and only then park on a condition variable.
///
/// Use from one caller at a time. A nested or concurrent `run` (from inside a task,
/// or from a second thread while a job is in flight) is detected and executed
/// serially on the calling thread rather than deadlocking.
public final class ThreadPool: @unchecked Sendable {
    public let threads: Int
    /// `PoolCore` where `Atomic` exists (Linux, macOS 15+); otherwise Dispatch is used.
    private let core: AnyObject?
    /// Per-worker scratch (slot = worker index) plus one shared slot at index `threads`.
    private let scratchSlots: UnsafeMutablePointer<(pointer: UnsafeMutableRawPointer?, bytes: Int)>

    public init(threads: Int) {
        let n = max(1, min(threads, 1024))
        self.threads = n
        scratchSlots = .allocate(capacity: n + 1)
        scratchSlots.initialize(repeating: (nil, 0), count: n + 1)
        #if canImport(Synchronization)
        if n > 1, #available(macOS 15.0, *) {
            core = PoolCore(workers: n - 1)
        } else {
            core = nil
        }
        #else
        core = nil
        #endif
    }

    deinit {
        #if canImport(Synchronization)
        if #available(macOS 15.0, *), let c = core {
            unsafeDowncast(c, to: PoolCore.self).shutdown()
        }
        #endif
        for i in 0...threads { scratchSlots[i].pointer?.deallocate() }
        scratchSlots.deallocate()
    }

    /// Calls `body(i)` for every i in 0..<tasks; returns when all are done.
    /// Tasks are claimed dynamically, so uneven tasks balance out.
    public func run(_ tasks: Int, _ body: (Int) -> Void) {
        runWorkers(tasks) { task, _ in body(task) }
    }

    /// Like `run`, also passing the index (0..<threads) of the thread executing the
    /// task; 0 is the caller. Two tasks with the same worker index never run at the
    /// same time, so `scratch(worker:bytes:)` for that index is private to the task.
    public func runWorkers(_ tasks: Int, _ body: (_ task: Int, _ worker: Int) -> Void) {
        if tasks <= 0 { return }
        if threads == 1 || tasks == 1 {
            for i in 0..<tasks { body(i, 0) }
            return
        }
        #if canImport(Synchronization)
        if #available(macOS 15.0, *), let c = core {
            unsafeDowncast(c, to: PoolCore.self).run(tasks, body)
            return
        }
        #endif
        // Fallback without atomics: static round-robin over `threads` Dispatch iterations.
        let n = threads
        withoutActuallyEscaping(body) { body in
            let b = UncheckedBox(body)
            DispatchQueue.concurrentPerform(iterations: n) { w in
                var i = w
                while i < tasks { b.value(i, w); i += n }
            }
        }
    }

    /// True while a `run` is in flight, i.e. when called from inside a task. Kernels
    /// that use the pool's scratch check it and fall back to private scratch.
    public var isRunning: Bool {
        #if canImport(Synchronization)
        if #available(macOS 15.0, *), let c = core {
            return unsafeDowncast(c, to: PoolCore.self).busy.load(ordering: .acquiring)
        }
        #endif
        return false
    }

    /// A 64-byte aligned buffer of at least `bytes` bytes owned by `worker`
    /// (0..<threads), kept between calls. Only call it from the task running as
    /// `worker`; the pointer stays valid until the next call for the same worker.
    public func scratch(worker: Int, bytes: Int) -> UnsafeMutableRawPointer {
        let slot = scratchSlots + worker
        if let p = slot.pointee.pointer, slot.pointee.bytes >= bytes { return p }
        slot.pointee.pointer?.deallocate()
        let size = max(bytes, 4096)
        let p = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        slot.pointee = (p, size)
        return p
    }

    /// A buffer for the caller to fill before `run` and tasks to read during it
    /// (e.g. a re-laid-out activation row). Same lifetime rules as `scratch`.
    public func sharedScratch(bytes: Int) -> UnsafeMutableRawPointer {
        scratch(worker: threads, bytes: bytes)
    }
}

struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

#if canImport(Synchronization)
/// The spinning worker set behind `ThreadPool`.
///
/// Protocol: the caller publishes `body`/`tasks`, resets `next` and `pending`, then
/// bumps `epoch` (sequentially consistent, which also publishes the plain fields).
/// Every worker takes part in every epoch and decrements `pending` when it finds no
/// task left; the caller returns only when `pending` is 0, so `body` is never read
/// after `run` returns. Lost wake-ups are impossible because a parking worker
/// increments `sleepers` before re-checking `epoch`, and the caller bumps `epoch`
/// before reading `sleepers` (both sequentially consistent).
@available(macOS 15.0, *)
final class PoolCore: @unchecked Sendable {
    let workers: Int
    let epoch = Atomic<Int>(0)
    let next = Atomic<Int>(0)
    let pending = Atomic<Int>(0)
    let sleepers = Atomic<Int>(0)
    let busy = Atomic<Bool>(false)
    let stopping = Atomic<Bool>(false)
    let mutex: UnsafeMutablePointer<pthread_mutex_t>
    let cond: UnsafeMutablePointer<pthread_cond_t>
    var body: ((Int, Int) -> Void)?
    var tasks = 0
    var handles: [pthread_t] = []

    /// Spin iterations before parking: a few hundred microseconds, longer than the
    /// gaps between the matmuls of one decode step, short enough not to burn a
    /// core when the process is idle.
    static let spinLimit = 200_000

    init(workers: Int) {
        self.workers = workers
        mutex = .allocate(capacity: 1)
        cond = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
        for w in 1...workers {
            let ctx = Unmanaged.passRetained(WorkerContext(core: self, index: w)).toOpaque()
            var attr = pthread_attr_t()
            pthread_attr_init(&attr)
            pthread_attr_setstacksize(&attr, 8 << 20)
            #if canImport(Glibc)
            var handle = pthread_t()
            let rc = pthread_create(&handle, &attr, { arg in
                let c = Unmanaged<WorkerContext>.fromOpaque(arg!).takeRetainedValue()
                c.core.workerLoop(c.index)
                return nil
            }, ctx)
            if rc == 0 { handles.append(handle) } else { Unmanaged<WorkerContext>.fromOpaque(ctx).release() }
            #else
            var handle: pthread_t? = nil
            let rc = pthread_create(&handle, &attr, { arg in
                let c = Unmanaged<WorkerContext>.fromOpaque(arg).takeRetainedValue()
                c.core.workerLoop(c.index)
                return nil
            }, ctx)
            if rc == 0, let h = handle { handles.append(h) } else { Unmanaged<WorkerContext>.fromOpaque(ctx).release() }
            #endif
            pthread_attr_destroy(&attr)
        }
    }

    deinit {
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(cond)
        mutex.deallocate()
        cond.deallocate()
    }

    /// Number of workers that actually started (thread creation can fail).
    var started: Int { handles.count }

    func shutdown() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        epoch.add(1, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
        for h in handles { pthread_join(h, nil) }
        handles.removeAll()
    }

    func run(_ tasks: Int, _ body: (Int, Int) -> Void) {
        let active = started
        guard active > 0, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for i in 0..<tasks { body(i, 0) }
            return
        }
        withoutActuallyEscaping(body) { body in
            self.body = body
            self.tasks = tasks
            next.store(0, ordering: .relaxed)
            pending.store(active, ordering: .relaxed)
            epoch.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(mutex)
                pthread_cond_broadcast(cond)
                pthread_mutex_unlock(mutex)
            }
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if i >= tasks { break }
                body(i, 0)
            }
            var spins = 0
            while pending.load(ordering: .acquiring) > 0 {
                spins += 1
                // A worker may have been descheduled; give its core back.
                if spins & 1023 == 0 { sched_yield() }
            }
            self.body = nil
        }
        busy.store(false, ordering: .releasing)
    }

    func workerLoop(_ index: Int) {
        var seen = 0
        while true {
            var e = epoch.load(ordering: .acquiring)
            var spins = 0
            while e == seen {
                spins += 1
                if spins >= PoolCore.spinLimit {
                    pthread_mutex_lock(mutex)
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    e = epoch.load(ordering: .sequentiallyConsistent)
                    while e == seen {
                        pthread_cond_wait(cond, mutex)
                        e = epoch.load(ordering: .sequentiallyConsistent)
                    }
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    pthread_mutex_unlock(mutex)
                    break
                }
                if spins & 4095 == 0 { sched_yield() }
                e = epoch.load(ordering: .acquiring)
            }
            seen = e
            if stopping.load(ordering: .acquiring) { return }
            let n = tasks
            if let body = body {
                while true {
                    let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    if i >= n { break }
                    body(i, index)
                }
            }
            pending.subtract(1, ordering: .releasing)
        }
    }
}

@available(macOS 15.0, *)
final class WorkerContext {
    let core: PoolCore
    let index: Int
    init(core: PoolCore, index: Int) { self.core = core; self.index = index }
}
#endif
