import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a child process ended.
public enum ChildExit: Sendable, Equatable {
    case exited(Int32)
    case signaled(Int32)
    /// Still running at the deadline: its whole process group was killed.
    case timedOut
}

struct SpawnError: Error, CustomStringConvertible {
    let description: String
}

/// Starts `arguments[0]` (an absolute path) as the leader of a new process group,
/// with the given environment, stdin from /dev/null and stdout / stderr to the
/// given files, every signal at its default disposition and none blocked.
func spawnProcessGroupLeader(arguments: [String], environment: [String],
                             stdoutPath: String, stderrPath: String) throws -> pid_t {
    guard let executable = arguments.first else { throw SpawnError(description: "nothing to run") }
    #if canImport(Glibc)
    var actions = posix_spawn_file_actions_t()
    var attributes = posix_spawnattr_t()
    #else
    var actions: posix_spawn_file_actions_t? = nil
    var attributes: posix_spawnattr_t? = nil
    #endif
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }

    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

    var noSignals = sigset_t(), allSignals = sigset_t()
    sigemptyset(&noSignals)
    sigfillset(&allSignals)
    posix_spawnattr_setsigmask(&attributes, &noSignals)
    posix_spawnattr_setsigdefault(&attributes, &allSignals)
    posix_spawnattr_setpgroup(&attributes, 0)  // a new group whose id is the child's pid
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.map { strdup($0) } + [nil]
    defer { (argv + envp).forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
    guard rc == 0 else { throw SpawnError(description: "cannot start \(executable): \(String(cString: strerror(rc)))") }
    return pid
}

/// Waits for `pid` until `deadline` (monotonic seconds); past it, SIGKILLs the
/// process group `pid` leads. In every case the group is SIGKILLed once more while
/// the exited leader is still unreaped (a zombie leader keeps the group id from
/// being reused), so that no member it left behind keeps running.
func waitKillingGroup(_ pid: pid_t, deadline: Double) -> ChildExit {
    var pause: useconds_t = 1_000
    var timedOut = false
    while true {
        #if os(Linux)
        // Has it exited? WNOWAIT leaves it a zombie, so its group id stays ours.
        var info = siginfo_t()
        let r = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
        if r == 0 && info.si_signo == SIGCHLD { break }
        if r < 0 && errno != EINTR { break }
        #else
        if kill(pid, 0) != 0 { break }
        var probe: Int32 = 0
        if waitpid(pid, &probe, WNOHANG) == pid { kill(-pid, SIGKILL); return decode(probe) }
        #endif
        if monotonicNow() >= deadline { timedOut = true; break }
        usleep(pause)
        pause = min(pause * 2, 20_000)
    }
    kill(-pid, SIGKILL)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return timedOut ? .timedOut : decode(status)
}

private func decode(_ status: Int32) -> ChildExit {
    // WIFEXITED / WTERMSIG are macros Swift does not import.
    let signal = status & 0x7f
    if signal == 0 { return .exited((status >> 8) & 0xff) }
    return .signaled(signal)
}

func monotonicNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// The last `maxBytes` bytes of a file as text ("" if unreadable).
func tailOfFile(_ path: String, maxBytes: Int = 4096) -> String {
    guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
    defer { try? handle.close() }
    let size = (try? handle.seekToEnd()) ?? 0
    try? handle.seek(toOffset: size > UInt64(maxBytes) ? size - UInt64(maxBytes) : 0)
    let data = (try? handle.readToEnd()) ?? Data()
    return String(decoding: data, as: UTF8.self)
}

/// Removes a directory tree even when a program made parts of it unwritable or unreadable.
func removeTree(_ path: String) {
    let fm = FileManager.default
    if (try? fm.removeItem(atPath: path)) != nil || !fm.fileExists(atPath: path) { return }
    // Restore owner permissions everywhere, then retry.
    chmod(path, 0o700)
    if let walker = fm.enumerator(atPath: path) {
        for case let relative as String in walker {
            let full = (path as NSString).appendingPathComponent(relative)
            var info = stat()
            if lstat(full, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { chmod(full, 0o700) }
        }
    }
    try? fm.removeItem(atPath: path)
}
