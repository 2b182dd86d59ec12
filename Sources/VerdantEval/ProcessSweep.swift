import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Processes whose environment holds `marker` (e.g. "VERDANT_SANDBOX_RUN=<id>"),
/// from /proc (readable for our own uid, or for every uid when root). Zombies have
/// no environment and are not listed. Empty where there is no /proc.
func processesMarked(_ marker: String) -> [pid_t] {
    let needle = Array(marker.utf8)
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    var out: [pid_t] = []
    for entry in entries {
        guard let pid = pid_t(entry), pid != getpid() else { continue }
        let fd = open("/proc/\(entry)/environ", O_RDONLY)
        if fd < 0 { continue }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 20 {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
            if n <= 0 { break }
            bytes += buffer[..<n]
        }
        close(fd)
        if bytes.split(separator: 0).contains(where: { $0.elementsEqual(needle) }) { out.append(pid) }
    }
    return out
}

/// SIGKILLs every process carrying `marker` until none is left (or `timeout` passes):
/// a sandboxed program's descendants, even those that left its process group or
/// outlived a namespace teardown still in progress. Returns how many were killed.
@discardableResult
func killMarkedProcesses(_ marker: String, timeout: Double = 5) -> Int {
    let deadline = monotonicNow() + timeout
    var killed = Set<pid_t>()
    while true {
        let alive = processesMarked(marker)
        if alive.isEmpty || monotonicNow() > deadline { break }
        for pid in alive {
            kill(pid, SIGKILL)
            killed.insert(pid)
        }
        usleep(5_000)
    }
    return killed.count
}

/// Sandboxed runs in flight (process group leader and marker), so that an
/// interrupted evaluator can kill them before it exits.
final class ActiveRuns: @unchecked Sendable {
    static let shared = ActiveRuns()
    private let lock = NSLock()
    private var runs: [String: pid_t] = [:]
    private var sources: [DispatchSourceSignal] = []

    func add(_ marker: String, _ pid: pid_t) { lock.lock(); runs[marker] = pid; lock.unlock() }
    func remove(_ marker: String) { lock.lock(); runs[marker] = nil; lock.unlock() }

    /// Kills every run in flight: its process group, then its marked processes.
    func killAll() {
        lock.lock()
        let snapshot = runs
        lock.unlock()
        for (_, pid) in snapshot { kill(-pid, SIGKILL) }
        for (marker, _) in snapshot { killMarkedProcesses(marker, timeout: 2) }
    }

    /// On SIGINT, SIGTERM or SIGHUP: kill the runs in flight, then exit with 128 + signal.
    func installSignalHandlers() {
        lock.lock()
        defer { lock.unlock() }
        guard sources.isEmpty else { return }
        for s in [SIGINT, SIGTERM, SIGHUP] {
            signal(s, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: s, queue: .global())
            source.setEventHandler { [weak self] in
                self?.killAll()
                exit(128 + s)
            }
            source.resume()
            sources.append(source)
        }
    }
}
