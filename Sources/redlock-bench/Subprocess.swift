import Glibc
import RedlockCore
import Synchronization

/// How one child process ended, and what it cost.
struct ProcessOutcome {
    /// The status a shell would report: the exit code, or 128 + N for signal N.
    let status: Int32
    /// From just before posix_spawn to the return of waitpid: the whole-process wall time a
    /// user of the tool pays, including exec, dynamic loading and the child's own children.
    let wall: Duration
}

/// Starting measured processes with posix_spawn and reaping them.
///
/// posix_spawn (vfork + exec) is the cheapest way to start a process from a large parent,
/// so the bench's own size does not leak into the wall times. Each child is reaped by its
/// own pid, so several threads can run tools at once (the hand-off workers).
enum Subprocess {
    /// The environment children get: ours, minus REDLOCK_* so a developer's shell settings
    /// (a password, a prefix, a restart grace) cannot change what is measured.
    static let environment: [String] = {
        var entries: [String] = []
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if !text.hasPrefix("REDLOCK_") { entries.append(text) }
            cursor += 1
        }
        return entries
    }()

    /// Runs `arguments` (argv[0] searched in PATH) to its end. Standard output goes to
    /// /dev/null; standard error to `standardError` (truncated first) or /dev/null.
    static func run(_ arguments: [String], standardError: String? = nil) throws(BenchError) -> ProcessOutcome {
        let started = Instant.now()
        let pid = try spawn(arguments, standardOutput: "/dev/null", standardError: standardError ?? "/dev/null")
        let status = reap(pid)
        return ProcessOutcome(status: status, wall: Instant.now() - started)
    }

    /// Starts `arguments` without waiting; reap it with `reap`.
    static func spawn(_ arguments: [String], standardOutput: String = "/dev/null", standardError: String = "/dev/null") throws(BenchError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, standardOutput, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, standardError, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        return try spawn(arguments, actions: &actions)
    }

    /// Every child started here and not reaped yet: an interrupted bench kills them rather
    /// than leave, say, redlock waiters retrying against servers that are gone.
    static let running = RunningChildren()

    /// Waits for `pid`; returns its shell status.
    static func reap(_ pid: pid_t) -> Int32 {
        // Wait without reaping, forget the pid, then reap: a pid in `running` is always
        // still ours (a zombie at worst), so killing it can never hit a recycled pid.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
        running.remove(pid)
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        let signal = raw & 0x7F
        return signal == 0 ? (raw >> 8) & 0xFF : 128 + signal
    }

    /// Runs `arguments` and returns what it printed on standard output (nil if it could not
    /// start or failed): `redis-server --version`, `nproc`.
    static func capture(_ arguments: [String]) -> String? {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        fds.forEach { _ = fcntl($0, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let pid = try? spawn(arguments, actions: &actions)
        close(fds[1])
        defer { close(fds[0]) }
        guard let pid else { return nil }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            output += buffer[..<n]
        }
        guard reap(pid) == 0 else { return nil }
        return String(decoding: output, as: UTF8.self).trimmingWhitespace
    }

    /// posix_spawnp with a clean signal mask: the bench blocks SIGINT/SIGTERM/SIGHUP for its
    /// signal thread, and the measured tools must not start with those blocked.
    private static func spawn(_ arguments: [String], actions: inout posix_spawn_file_actions_t) throws(BenchError) -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let status = running.adding {
            let status = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
            return (status == 0 ? pid : nil, status)
        }
        guard status == 0 else {
            throw BenchError("cannot start \(arguments[0]): \(String(cString: strerror(status)))")
        }
        return pid
    }
}

/// The pids of children not reaped yet, shared by every thread that starts tools.
final class RunningChildren: Sendable {
    private struct State {
        var pids: Set<pid_t> = []
        /// After `killAll`: nothing more may start (a hand-off worker would go on otherwise).
        var closed = false
    }

    private let state = Mutex(State())

    /// Runs `spawn` under the lock and remembers the pid it returns, so that `killAll`
    /// cannot run between a child's start and its registration. Once closed, `spawn` is not
    /// called and the result is ECANCELED.
    func adding(_ spawn: () -> (pid: pid_t?, status: Int32)) -> Int32 {
        state.withLock { state in
            guard !state.closed else { return ECANCELED }
            let (pid, status) = spawn()
            if let pid { state.pids.insert(pid) }
            return status
        }
    }

    func remove(_ pid: pid_t) {
        _ = state.withLock { $0.pids.remove(pid) }
    }

    /// SIGKILL to every child still running; nothing starts after this.
    func killAll() {
        state.withLock { state in
            state.closed = true
            for pid in state.pids { kill(pid, SIGKILL) }
        }
    }
}

/// A failure that stops one measurement (or, before any, the whole bench).
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension String {
    var trimmingWhitespace: String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
