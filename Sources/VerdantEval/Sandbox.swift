import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Resource limits for one untrusted program.
public struct SandboxLimits: Sendable, Equatable {
    /// Wall-clock time after which the program's whole process group is killed.
    public var timeoutSeconds: Double = 10
    /// RLIMIT_AS of each process.
    public var memoryBytes: Int = 1 << 30
    /// RLIMIT_NPROC: processes (threads included) the program may have at once.
    public var processes: Int = 64
    /// RLIMIT_FSIZE: largest file the program may write.
    public var fileBytes: Int = 16 << 20
    /// RLIMIT_NOFILE.
    public var openFiles: Int = 256
    /// Size of the program's directory and /tmp under bubblewrap (a tmpfs of this size).
    public var directoryBytes: Int = 64 << 20

    public init(timeoutSeconds: Double = 10, memoryBytes: Int = 1 << 30, processes: Int = 64,
                fileBytes: Int = 16 << 20, openFiles: Int = 256, directoryBytes: Int = 64 << 20) {
        self.timeoutSeconds = timeoutSeconds
        self.memoryBytes = memoryBytes
        self.processes = processes
        self.fileBytes = fileBytes
        self.openFiles = openFiles
        self.directoryBytes = directoryBytes
    }

    /// RLIMIT_CPU (per process): the wall-clock timeout rounded up.
    public var cpuSeconds: Int { max(1, Int(timeoutSeconds.rounded(.up))) }
}

/// The confinement a `Sandbox` achieved, strongest first. Every level also has
/// the rlimits, its own process group (killed at the end) and a fresh directory.
public enum IsolationLevel: String, Sendable, CaseIterable, Codable {
    /// bubblewrap: new user, pid, network, ipc and uts namespaces; the whole file
    /// system read-only except the program's directory and a private /tmp.
    case bubblewrap
    /// util-linux `unshare`: new user, pid, network and ipc namespaces; the file
    /// system is protected only by permissions.
    case namespaces
    /// rlimits and a process group only: no network or file-system confinement.
    case rlimits
}

/// How one program ended.
public enum ExecutionStatus: String, Sendable, Codable, CaseIterable {
    /// Exit status 0.
    case passed
    /// A non-zero exit status (an assertion or exception: the usual failure).
    case failed
    /// Killed at the wall-clock timeout or by the CPU-time limit.
    case timeout
    /// Died from a signal (crash, killed itself, SIGKILL at a hard limit) or could not be started.
    case error
}

public struct SandboxOutcome: Sendable {
    public var status: ExecutionStatus
    public var exit: ChildExit?
    public var seconds: Double
    /// The end of what the program wrote to stdout / stderr.
    public var stdoutTail: String
    public var stderrTail: String
    /// A marker set in the program's environment (VERDANT_SANDBOX_RUN), unique per run.
    public var runID: String
}

public struct SandboxError: Error, CustomStringConvertible {
    public let description: String
}

/// Runs untrusted Python programs (generated code and its tests): each in a fresh
/// temporary directory, as the leader of its own process group, under a wall-clock
/// timeout and CPU-time / memory / process-count / file-size limits, confined as
/// well as this machine allows (`level`, found by trying). The process group is
/// always SIGKILLed, then every process still carrying the run's marker in its
/// environment (found in /proc), and the directory is removed.
///
/// The command line, outermost first:
///   [setpriv --reuid 65534 …]   when running as root (so that RLIMIT_NPROC applies
///                               and nothing root-owned is writable)
///   [bwrap … | unshare …]       the namespaces of `level`
///   python3 -c RUNNER …         sets the rlimits, closes inherited descriptors,
///                               enters the directory and execs python3 program.py
/// Limits are set inside the namespaces so that the process count is per program.
public final class Sandbox: Sendable {
    public let level: IsolationLevel
    public let limits: SandboxLimits
    /// The interpreter programs run with (absolute path, reachable inside the sandbox).
    public let python: String
    public let pythonVersion: String
    /// Argument prefix that drops root to nobody, if running as root and setpriv exists.
    let dropPrivileges: [String]
    let bwrap: String?
    /// bwrap ≥ 0.7 can bound a tmpfs (--size): the program's directory is then a private tmpfs.
    let bwrapSizedTmpfs: Bool
    let unshare: String?

    /// Tries the levels in `allowed` strongest first, with each `python3` found
    /// (`python` if given, else every python3 on PATH, then /usr/bin/python3), and
    /// keeps the first combination that runs a probe program with the limits in force.
    public init(limits: SandboxLimits = SandboxLimits(), python: String? = nil,
                allowed: [IsolationLevel] = IsolationLevel.allCases) throws {
        self.limits = limits
        let drop: [String]
        if geteuid() == 0, let setpriv = Self.findExecutable("setpriv") {
            drop = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
        } else {
            drop = []
        }
        dropPrivileges = drop
        let bwrap = Self.findExecutable("bwrap")
        self.bwrap = bwrap
        let sized = bwrap.map(Self.supportsSizedTmpfs) ?? false
        bwrapSizedTmpfs = sized
        let unshare = Self.findExecutable("unshare")
        self.unshare = unshare
        let candidates = python.map { [$0] } ?? Self.pythonCandidates()
        guard !candidates.isEmpty else { throw SandboxError(description: "no python3 found on PATH") }
        var failures: [String] = []
        for level in IsolationLevel.allCases where allowed.contains(level) {
            if level == .bubblewrap && bwrap == nil { failures.append("bubblewrap: bwrap not installed"); continue }
            if level == .namespaces && unshare == nil { failures.append("namespaces: unshare not installed"); continue }
            for candidate in candidates {
                let probe = Self.probe(level: level, python: candidate, limits: limits, drop: drop, bwrap: bwrap,
                                       sized: sized, unshare: unshare)
                switch probe {
                case .success(let (executable, version)):
                    self.level = level
                    self.python = executable
                    self.pythonVersion = version
                    return
                case .failure(let reason):
                    failures.append("\(level.rawValue) with \(candidate): \(reason)")
                }
            }
        }
        throw SandboxError(description: "no way to run python3 in a sandbox here:\n  " + failures.joined(separator: "\n  "))
    }

    /// True when the program cannot reach the network.
    public var confinesNetwork: Bool { level != .rlimits }
    /// True when the program can write only its own directory (and a private /tmp).
    public var confinesFileSystem: Bool { level == .bubblewrap }
    /// True when every process the program starts dies with it (pid namespace).
    public var confinesProcesses: Bool { level != .rlimits }
    /// True when RLIMIT_NPROC is in force (it does not apply to root).
    public var limitsProcessCount: Bool { geteuid() != 0 || !dropPrivileges.isEmpty }

    /// One line saying what confinement is in force, for every output that reports results.
    public var isolationDescription: String {
        var parts: [String]
        switch level {
        case .bubblewrap:
            parts = ["bubblewrap (user, pid, network, ipc, uts namespaces; file system read-only except "
                     + (bwrapSizedTmpfs ? "a private \(limits.directoryBytes >> 20) MiB tmpfs holding the program's directory and /tmp)"
                                        : "the program's directory and a private /tmp)")]
        case .namespaces:
            parts = ["unshare (user, pid, network, ipc namespaces; no file-system confinement beyond permissions)"]
        case .rlimits:
            parts = ["rlimits and process group only (NO network or file-system isolation)"]
        }
        if !dropPrivileges.isEmpty { parts.append("as user nobody") }
        var l = String(format: "timeout %gs, cpu %ds, memory %d MiB, files %d MiB", limits.timeoutSeconds,
                       limits.cpuSeconds, limits.memoryBytes >> 20, limits.fileBytes >> 20)
        l += limitsProcessCount ? ", \(limits.processes) processes" : ", process count NOT limited (root without setpriv)"
        parts.append(l)
        return parts.joined(separator: "; ")
    }

    /// Runs `program` (Python source) and reports how it ended. Never throws: a
    /// program that cannot even be started ends with status `.error`.
    public func run(program: String) -> SandboxOutcome {
        Self.execute(program: program, level: level, python: python, limits: limits, drop: dropPrivileges,
                     bwrap: bwrap, sized: bwrapSizedTmpfs, unshare: unshare)
    }

    /// Makes SIGINT, SIGTERM and SIGHUP kill every program in flight before the
    /// process exits (the programs are in their own process groups, so a terminal's
    /// Ctrl-C does not reach them). For command-line tools; call once.
    public static func killRunningProgramsOnInterrupt() {
        ActiveRuns.shared.installSignalHandlers()
    }

    // MARK: - Implementation

    static let runner = """
    import os, resource, sys
    cpu, mem, nproc, fsize, nofile = (int(v) for v in sys.argv[1:6])
    workdir, program = sys.argv[6], sys.argv[7]
    def limit(name, soft, hard):
        try:
            resource.setrlimit(getattr(resource, name), (soft, hard))
        except (AttributeError, ValueError, OSError) as e:
            sys.stderr.write("verdant-sandbox: cannot set %s: %s\\n" % (name, e))
            os._exit(121)
    limit("RLIMIT_CPU", cpu, cpu + 1)
    limit("RLIMIT_FSIZE", fsize, fsize)
    limit("RLIMIT_NOFILE", nofile, nofile)
    limit("RLIMIT_CORE", 0, 0)
    if nproc > 0:
        limit("RLIMIT_NPROC", nproc, nproc)
    if sys.platform != "darwin":
        limit("RLIMIT_AS", mem, mem)
    os.closerange(3, 1 << 16)
    os.chdir(workdir)
    os.execv(sys.executable, [sys.executable, "-B", "-E", "-s", program])
    """

    static let probeProgram = """
    import json, resource, sys
    names = ["RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_NOFILE"]
    print(json.dumps({"python": sys.executable, "version": sys.version.split()[0],
                      "limits": {n: resource.getrlimit(getattr(resource, n))[0] for n in names if hasattr(resource, n)}}))
    """

    static func probe(level: IsolationLevel, python: String, limits: SandboxLimits, drop: [String],
                      bwrap: String?, sized: Bool, unshare: String?) -> Result<(String, String), SandboxError> {
        var probeLimits = limits
        probeLimits.timeoutSeconds = max(5, min(limits.timeoutSeconds, 20))
        let outcome = execute(program: probeProgram, level: level, python: python, limits: probeLimits, drop: drop,
                              bwrap: bwrap, sized: sized, unshare: unshare)
        guard outcome.status == .passed else {
            let detail = outcome.stderrTail.split(separator: "\n").last.map(String.init) ?? "\(outcome.status)"
            return .failure(SandboxError(description: detail))
        }
        guard let data = outcome.stdoutTail.split(separator: "\n").last.map({ Data($0.utf8) }),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let executable = object["python"] as? String, executable.hasPrefix("/"),
              let version = object["version"] as? String,
              let reported = object["limits"] as? [String: Int] else {
            return .failure(SandboxError(description: "the probe printed no report"))
        }
        // The limits must really be in force inside.
        var expected = ["RLIMIT_CPU": probeLimits.cpuSeconds, "RLIMIT_FSIZE": limits.fileBytes]
        #if os(Linux)
        expected["RLIMIT_AS"] = limits.memoryBytes
        #endif
        for (name, value) in expected where reported[name] != value {
            return .failure(SandboxError(description: "\(name) is \(reported[name].map(String.init) ?? "missing"), not \(value)"))
        }
        return .success((executable, version))
    }

    static func execute(program: String, level: IsolationLevel, python: String, limits: SandboxLimits,
                        drop: [String], bwrap: String?, sized: Bool, unshare: String?) -> SandboxOutcome {
        let runID = UUID().uuidString
        let start = monotonicNow()
        func failure(_ message: String) -> SandboxOutcome {
            SandboxOutcome(status: .error, exit: nil, seconds: monotonicNow() - start, stdoutTail: "",
                           stderrTail: "verdant-sandbox: \(message)", runID: runID)
        }
        // <tmp>/verdant-sandbox-XXXXXX/{work/program.py, stdout, stderr}; only work/ is the program's.
        var template = Array(((NSTemporaryDirectory() as NSString).appendingPathComponent("verdant-sandbox-XXXXXX")).utf8CString)
        guard let rootPointer = mkdtemp(&template) else { return failure("cannot create a temporary directory") }
        let root = String(cString: rootPointer)
        defer { removeTree(root) }
        let work = (root as NSString).appendingPathComponent("work")
        let programPath = (work as NSString).appendingPathComponent("program.py")
        let stdoutPath = (root as NSString).appendingPathComponent("stdout")
        let stderrPath = (root as NSString).appendingPathComponent("stderr")
        guard mkdir(work, 0o755) == 0, FileManager.default.createFile(atPath: programPath, contents: Data(program.utf8)) else {
            return failure("cannot write the program to \(work)")
        }
        chmod(root, 0o711)  // traversable (not listable) by the sandbox user
        chmod(programPath, 0o644)
        if !drop.isEmpty { chown(work, 65534, 65534) }

        let inside: String  // the directory as the program sees it
        var command = drop
        switch level {
        case .bubblewrap:
            guard let bwrap else { return failure("bwrap not installed") }
            inside = "/tmp/sandbox"
            command += [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                        "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
            if sized {
                // The program's directory lives in a bounded private tmpfs: it cannot fill the disk.
                command += ["--size", String(limits.directoryBytes), "--tmpfs", "/tmp", "--dir", inside,
                            "--ro-bind", programPath, inside + "/program.py"]
            } else {
                command += ["--tmpfs", "/tmp", "--bind", work, inside]
            }
            command += ["--chdir", inside, "--"]
        case .namespaces:
            guard let unshare else { return failure("unshare not installed") }
            inside = work
            command += [unshare, "--user", "--net", "--ipc", "--pid", "--fork", "--kill-child", "--"]
        case .rlimits:
            inside = work
        }
        let nproc = (geteuid() == 0 && drop.isEmpty) ? 0 : limits.processes
        command += [python, "-I", "-c", runner, String(limits.cpuSeconds), String(limits.memoryBytes), String(nproc),
                    String(limits.fileBytes), String(limits.openFiles), inside, "program.py"]
        let environment = ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=\(inside)", "TMPDIR=\(level == .bubblewrap ? "/tmp" : inside)",
                           "LANG=C.UTF-8", "PYTHONHASHSEED=0", "PYTHONDONTWRITEBYTECODE=1", "VERDANT_SANDBOX_RUN=\(runID)"]
        let pid: pid_t
        do {
            pid = try spawnProcessGroupLeader(arguments: command, environment: environment,
                                              stdoutPath: stdoutPath, stderrPath: stderrPath)
        } catch {
            return failure("\(error)")
        }
        let marker = "VERDANT_SANDBOX_RUN=\(runID)"
        ActiveRuns.shared.add(marker, pid)
        let exit = waitKillingGroup(pid, deadline: start + limits.timeoutSeconds)
        // Descendants that left the process group (setsid) or are still being torn down
        // with their pid namespace carry the run's marker in their environment.
        killMarkedProcesses(marker)
        ActiveRuns.shared.remove(marker)
        let status: ExecutionStatus
        switch exit {
        case .timedOut:
            status = .timeout
        case .exited(0):
            status = .passed
        case .exited(let code) where code > 128 && level != .rlimits:
            // bwrap and unshare report a child killed by signal s as exit 128 + s.
            status = code - 128 == SIGXCPU ? .timeout : .error
        case .exited(121):
            status = .error  // the runner could not set a limit
        case .exited:
            status = .failed
        case .signaled(let s):
            status = s == SIGXCPU ? .timeout : .error
        }
        return SandboxOutcome(status: status, exit: exit, seconds: monotonicNow() - start,
                              stdoutTail: tailOfFile(stdoutPath), stderrTail: tailOfFile(stderrPath), runID: runID)
    }

    /// Whether `bwrap --help` lists --size (bubblewrap ≥ 0.7).
    static func supportsSizedTmpfs(_ bwrap: String) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: bwrap)
        process.arguments = ["--help"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.contains("--size")
    }

    static func findExecutable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") + ["/usr/bin", "/bin", "/usr/sbin"] {
            let full = "\(directory)/\(name)"
            if access(full, X_OK) == 0 { return full }
        }
        return nil
    }

    /// Every python3 on PATH (in order), then the system one; duplicates removed.
    static func pythonCandidates() -> [String] {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        var seen = Set<String>()
        var out: [String] = []
        for directory in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"] {
            let full = "\(directory)/python3"
            guard access(full, X_OK) == 0 else { continue }
            let resolved = (full as NSString).resolvingSymlinksInPath
            if seen.insert(resolved).inserted { out.append(full) }
        }
        return out
    }
}
