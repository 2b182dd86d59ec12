import Testing
@testable import VerdantTensors

/// Per-task slots written by distinct tasks: no two tasks share an index.
final class Slots: @unchecked Sendable {
    let p: UnsafeMutablePointer<Int>
    let count: Int
    init(_ count: Int) { self.count = count; p = .allocate(capacity: count); p.initialize(repeating: 0, count: count) }
    deinit { p.deallocate() }
}

@Test(arguments: [1, 2, 3, 8])
func poolRunsEveryTaskExactlyOnce(threads: Int) {
    let pool = ThreadPool(threads: threads)
    for tasks in [0, 1, 2, 5, 64, 1000] {
        for _ in 0..<20 {
            let s = Slots(max(tasks, 1))
            pool.run(tasks) { i in s.p[i] += 1 }
            #expect((0..<tasks).allSatisfy { s.p[$0] == 1 })
        }
    }
}

@Test func poolWorkerIndicesAreInRangeAndExclusive() {
    let pool = ThreadPool(threads: 4)
    let s = Slots(4)
    let seen = Slots(400)
    pool.runWorkers(400) { task, worker in
        // Non-atomic increment and decrement: a second task on the same worker
        // index at the same time would leave the slot ≠ 0 observably often.
        s.p[worker] += 1
        seen.p[task] = s.p[worker]
        s.p[worker] -= 1
    }
    #expect((0..<400).allSatisfy { seen.p[$0] == 1 })
    #expect((0..<4).allSatisfy { s.p[$0] == 0 })
}

@Test func nestedRunExecutesSeriallyWithoutDeadlock() {
    let pool = ThreadPool(threads: 2)
    let s = Slots(16)
    pool.run(4) { i in
        pool.run(4) { j in s.p[i * 4 + j] += 1 }
    }
    #expect((0..<16).allSatisfy { s.p[$0] == 1 })
}

@Test func poolSurvivesParkingAndIsReleased() async throws {
    // Long enough idle for workers to park, then wake them again.
    var pool: ThreadPool? = ThreadPool(threads: 3)
    let s = Slots(3)
    pool!.run(3) { s.p[$0] += 1 }
    try await Task.sleep(nanoseconds: 50_000_000)
    pool!.run(3) { s.p[$0] += 1 }
    #expect((0..<3).allSatisfy { s.p[$0] == 2 })
    pool = nil  // deinit joins the workers
    #expect(pool == nil)
}

@Test func scratchIsAlignedAndGrows() {
    let pool = ThreadPool(threads: 2)
    let a = pool.scratch(worker: 1, bytes: 100)
    #expect(Int(bitPattern: a) % 64 == 0)
    let b = pool.scratch(worker: 1, bytes: 1 << 20)
    #expect(Int(bitPattern: b) % 64 == 0)
    b.storeBytes(of: 1, toByteOffset: (1 << 20) - 8, as: Int.self)
}
