import Foundation
import Testing
@testable import VerdantEval
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Hand-written problems and samples: every way a completion can go wrong must
/// end in a verdict within the timeout, leave no process behind and harm nothing.
/// Limits are small so that the suite stays fast.
enum SandboxFixture {
    static let limits = SandboxLimits(timeoutSeconds: 2, memoryBytes: 256 << 20, processes: 16, fileBytes: 1 << 20,
                                      directoryBytes: 8 << 20)

    /// The strongest sandbox this machine allows (detection runs a probe).
    static let sandbox: Sandbox? = try? Sandbox(limits: limits)

    /// A sandbox of each level that works here, to run every case under each.
    static let byLevel: [IsolationLevel: Sandbox] = {
        var out: [IsolationLevel: Sandbox] = [:]
        for level in IsolationLevel.allCases {
            if let s = try? Sandbox(limits: limits, allowed: [level]) { out[level] = s }
        }
        return out
    }()

    static func sandbox(_ level: IsolationLevel) -> Sandbox? {
        if byLevel[level] == nil { print("isolation level \(level) is not available here") }
        return byLevel[level]
    }

    static let add = CodeProblem(taskID: "t/add", prompt: "def add(a, b):\n",
                                 test: "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n",
                                 entryPoint: "add")

    /// Lines of a function body, indented.
    static func body(_ lines: String...) -> String {
        lines.map { "    " + $0 + "\n" }.joined()
    }

    /// A process whose environment holds the run's marker, if any is still alive.
    static func survivors(of runID: String) -> [String] {
        let marker = Array("VERDANT_SANDBOX_RUN=\(runID)".utf8)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { $0.allSatisfy(\.isNumber) }.filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
            let bytes = [UInt8](data)
            return bytes.split(separator: 0).contains { Array($0) == marker }
        }
    }
}

@Test func sandboxReportsItsIsolation() throws {
    let sandbox = try #require(SandboxFixture.sandbox, "no sandbox could run python3 here")
    #expect(sandbox.python.hasPrefix("/"))
    #expect(!sandbox.isolationDescription.isEmpty)
    print("sandbox isolation: \(sandbox.isolationDescription); python \(sandbox.python) \(sandbox.pythonVersion)")
}

/// Under the strongest isolation available (the hazards below run under every level).
@Test func rightWrongAndBrokenCompletions() async throws {
    let sandbox = try #require(SandboxFixture.sandbox)
    let level = sandbox.level
    let b = SandboxFixture.body
    var cases: [(String, String, ExecutionStatus)] = [
        ("right", b("return a + b"), .passed),
        ("wrong", b("return a - b"), .failed),
        ("exception", b("raise ValueError('no')"), .failed),
        ("syntax error", b("return a +* b"), .failed),
        ("busy loop", b("while True:", "    pass"), .timeout),
        ("sleeps", b("import time", "time.sleep(100)"), .timeout),
        // Under `unshare --pid` the interpreter is its namespace's init, which ignores
        // SIGKILL sent from inside: the kill is confined and the check fails instead.
        ("kills its interpreter", b("import os, signal", "os.kill(os.getpid(), signal.SIGKILL)"),
         level == .namespaces ? .failed : .error),
        ("segfault", b("import ctypes", "ctypes.string_at(0)"), .error),
        ("allocates 8 GiB", b("x = bytearray(8 * 1024 ** 3)", "return a + b"), .failed),
        ("grows until memory runs out", b("l = []", "while True:", "    l.append(bytearray(10 ** 7))"), .failed),
        ("writes its own directory", b("open('scratch.txt', 'w').write('x' * 1000)", "return a + b"), .passed),
        ("writes a huge file", b("open('big', 'wb').write(b'x' * (64 << 20))", "return a + b"), .failed),
    ]
    if sandbox.level == .bubblewrap && sandbox.bwrapSizedTmpfs {
        // Many files, each under the file-size limit: the bounded directory fills up (8 MiB here).
        cases.append(("fills its directory", b("for i in range(64):", "    open('f%d' % i, 'wb').write(b'x' * (900 << 10))",
                                               "return a + b"), .failed))
    }
    let samples = cases.map { CodeSample(taskID: SandboxFixture.add.taskID, completion: $0.1) }
    let report = try await offPool {
        evaluateFunctionalCorrectness(problems: [SandboxFixture.add], samples: samples, sandbox: sandbox, parallel: 4)
    }
    let seconds = report.seconds
    for (c, r) in zip(cases, report.results) {
        #expect(r.status == c.2, "\(level) \(c.0): \(r.status), expected \(c.2)")
        #expect(r.passed == (c.2 == .passed))
        #expect(r.taskID == SandboxFixture.add.taskID)
    }
    // 12–13 programs, 4 at a time, 3 of them run into the 2 s timeout.
    #expect(seconds < 15, "took \(seconds) s")
    #expect(report.passAtK.keys.sorted() == [1, 10])
    let p1 = try #require(report.passAtK[1])
    #expect(abs(p1 - 2.0 / Double(cases.count)) < 1e-12)
}

@Test(arguments: IsolationLevel.allCases)
func forkBombIsContainedAndCleanedUp(_ level: IsolationLevel) async throws {
    guard let sandbox = SandboxFixture.sandbox(level) else { return }
    // The real, spinning bomb under the strongest isolation; under the weaker levels
    // a bomb that sleeps once fork is refused (same containment, less CPU burnt by the suite).
    let strongest = level == SandboxFixture.sandbox?.level
    let program = SandboxFixture.add.program(completion: SandboxFixture.body(
        "import os, time", "while True:", "    try:", "        os.fork()", "    except OSError:",
        strongest ? "        pass" : "        time.sleep(5)"))
    let outcome = try await offPool { sandbox.run(program: program) }
    #expect(outcome.status == .timeout || outcome.status == .error, "\(outcome.status)")
    // Time inside the sandbox call, clean-up included (the test's own wall time also
    // counts waiting for the test runner's threads).
    #expect(outcome.seconds < SandboxFixture.limits.timeoutSeconds + 3, "\(outcome.seconds) s")
    #expect(SandboxFixture.survivors(of: outcome.runID).isEmpty, "processes left: \(SandboxFixture.survivors(of: outcome.runID))")
}

@Test(arguments: IsolationLevel.allCases)
func runawayChildIsKilled(_ level: IsolationLevel) async throws {
    guard let sandbox = SandboxFixture.sandbox(level) else { return }
    // The completion passes, leaving a detached child that would sleep a minute.
    let program = SandboxFixture.add.program(completion: SandboxFixture.body(
        "import os, time", "if os.fork() == 0:", "    os.setsid()", "    time.sleep(60)", "    os._exit(0)", "return a + b"))
    let outcome = try await offPool { sandbox.run(program: program) }
    // Without namespaces the process limit counts every process of the sandbox user,
    // so a concurrent test's fork bomb can make this fork fail: a failure, not a hang.
    let acceptable: Set<ExecutionStatus> = level == .rlimits ? [.passed, .failed] : [.passed]
    #expect(acceptable.contains(outcome.status), "\(outcome.status): \(outcome.stderrTail)")
    #expect(SandboxFixture.survivors(of: outcome.runID).isEmpty)
    // Whatever happened, leave nothing behind.
    for pid in SandboxFixture.survivors(of: outcome.runID) { kill(pid_t(pid) ?? 0, SIGKILL) }
}

@Test(arguments: IsolationLevel.allCases)
func fileSystemEscapeIsBlocked(_ level: IsolationLevel) async throws {
    guard let sandbox = SandboxFixture.sandbox(level) else { return }
    // A world-writable directory outside the sandbox: permissions alone would not stop the write.
    let outside = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: outside) }
    chmod(outside, 0o777)
    let target = (outside as NSString).appendingPathComponent("escaped.txt")
    let program = SandboxFixture.add.program(completion: SandboxFixture.body(
        "open(\(pythonLiteral(target)), 'w').write('escaped')", "return a + b"))
    let outcome = try await offPool { sandbox.run(program: program) }
    if sandbox.confinesFileSystem {
        #expect(outcome.status == .failed, "\(outcome.status)")
        #expect(!FileManager.default.fileExists(atPath: target))
    } else {
        print("file-system confinement not available here (\(sandbox.level)); the write was \(outcome.status)")
    }
}

@Test(arguments: IsolationLevel.allCases)
func networkAccessIsBlocked(_ level: IsolationLevel) async throws {
    guard let sandbox = SandboxFixture.sandbox(level) else { return }
    // A listener on the host's loopback: reachable from any process that shares our network.
    let listener = try LoopbackListener()
    defer { listener.close() }
    let program = SandboxFixture.add.program(completion: SandboxFixture.body(
        "import socket", "socket.create_connection(('127.0.0.1', \(listener.port)), timeout=1).close()", "return a + b"))
    let outcome = try await offPool { sandbox.run(program: program) }
    if sandbox.confinesNetwork {
        #expect(outcome.status == .failed, "\(outcome.status): \(outcome.stderrTail)")
    } else {
        print("network confinement not available here (\(sandbox.level)); the connection was \(outcome.status)")
    }
}

@Test func onlyTheProbedLevelsAreUsed() async throws {
    // The weakest level must work wherever python3 does, and say so.
    let sandbox = try await offPool { try Sandbox(limits: SandboxFixture.limits, allowed: [.rlimits]) }
    #expect(sandbox.level == .rlimits)
    #expect(sandbox.isolationDescription.contains("NO network"))
    let outcome = try await offPool { sandbox.run(program: "print('hello')\n") }
    #expect(outcome.status == .passed)
    #expect(outcome.stdoutTail == "hello\n")
}

/// Runs blocking work (waiting for child processes) on its own thread, so that the
/// test runner's few cooperative threads stay free for other tests meanwhile.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

func pythonLiteral(_ s: String) -> String {
    "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
}

/// A TCP socket listening on 127.0.0.1 at an ephemeral port (close-on-exec).
final class LoopbackListener {
    let fd: Int32
    let port: Int

    init() throws {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw SandboxError(description: "socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 4) == 0 else { throw SandboxError(description: "bind/listen failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() {
        #if canImport(Glibc)
        Glibc.close(fd)
        #else
        Darwin.close(fd)
        #endif
    }
}
