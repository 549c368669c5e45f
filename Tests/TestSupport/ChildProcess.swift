// Starting and reaping the child processes of the tests (redis-server, redlock).
//
// Foundation's Process is not used, for three reasons found the hard way:
//  * it passes on the spawning thread's signal mask, and Swift Testing runs tests on
//    worker threads that block almost every signal, so a child would ignore the SIGTERM
//    or SIGINT a test sends it — fatal for testing redlock's signal handling;
//  * it detects exit through a socket the child inherits, so an exited redlock whose own
//    child is still running is reported as "still running";
//  * it does not reset signal dispositions either.
// posix_spawn with an empty mask, default dispositions, a new process group and every
// other descriptor closed gives each child a clean start, as a shell would.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How a child process ended.
public struct ChildTermination: Sendable, Equatable {
    /// The exit code, or nil if killed by a signal.
    public var exitCode: Int32?
    /// The signal that killed it, or nil if it exited.
    public var signal: Int32?
    /// The shell convention: the exit code, or 128+N when killed by signal N.
    public var status: Int32 { exitCode ?? (128 + (signal ?? 0)) }
}

/// A spawned child process, reaped by a dedicated thread.
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t

    private let lock = NSLock()
    private var termination: ChildTermination?
    private let exited = DispatchSemaphore(value: 0)

    /// Starts `executable` with `arguments` (argv[0] is set to the executable path).
    ///
    /// - Parameters:
    ///   - environment: the complete environment of the child.
    ///   - stdin, stdout, stderr: descriptors to install as 0, 1, 2 in the child; the
    ///     caller keeps ownership of them (and should close its copies of pipe ends that
    ///     belong to the child).
    ///   - currentDirectory: the child's working directory; nil keeps ours.
    ///   - newProcessGroup: make the child the leader of a new process group, so the
    ///     whole tree can be signalled with `signalGroup`.
    public init(executable: String, arguments: [String], environment: [String: String],
         stdin: Int32, stdout: Int32, stderr: Int32,
         currentDirectory: String? = nil, newProcessGroup: Bool = true) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        // 0, 1, 2: dup2 clears close-on-exec on the target. Going through high temporary
        // numbers first keeps e.g. "stdout: 2, stderr: 1" from clobbering each other.
        let sources = [stdin, stdout, stderr]
        for (i, fd) in sources.enumerated() {
            try Self.check(posix_spawn_file_actions_adddup2(&actions, fd, Int32(900 + i)), "adddup2")
        }
        for i in 0..<3 {
            try Self.check(posix_spawn_file_actions_adddup2(&actions, Int32(900 + i), Int32(i)), "adddup2")
        }
        // Nothing else of ours may leak into the child (a leaked pipe end would delay
        // another test's EOF; a leaked listening socket would keep a port open).
        if let closeFrom = SpawnExtensions.addCloseFrom {
            try Self.check(closeFrom(&actions, 3), "addclosefrom")
        } else {
            for fd in SpawnExtensions.openDescriptors() where fd > 2 {
                posix_spawn_file_actions_addclose(&actions, fd)
            }
        }
        if let currentDirectory {
            guard let addChdir = SpawnExtensions.addChdir else {
                throw SpawnError("posix_spawn_file_actions_addchdir_np unavailable", code: ENOSYS)
            }
            try Self.check(currentDirectory.withCString { addChdir(&actions, $0) }, "addchdir")
        }

        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var allSignals = sigset_t()
        sigemptyset(&allSignals)
        for sig in 1..<Int32(65) where sig != SIGKILL && sig != SIGSTOP {
            _ = sigaddset(&allSignals, sig)  // glibc's reserved signals are refused; fine
        }
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        if newProcessGroup {
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard rc == 0 else { throw SpawnError("posix_spawn(\(executable))", code: rc) }
        self.pid = pid
        ChildProcessRegistry.shared.add(pid)

        // The reaper holds only what it needs, so dropping the ChildProcess is possible.
        let exited = self.exited
        let childPID = pid
        let box = TerminationBox(lock: lock) { [weak self] in self?.termination = $0 }
        let reaper = Thread {
            var status: Int32 = 0
            while waitpid(childPID, &status, 0) < 0 && errno == EINTR {}
            ChildProcessRegistry.shared.remove(childPID)
            // WIFEXITED / WEXITSTATUS / WTERMSIG are macros, so decode by hand.
            let signal = status & 0x7f
            let result = signal == 0
                ? ChildTermination(exitCode: (status >> 8) & 0xff, signal: nil)
                : ChildTermination(exitCode: nil, signal: signal)
            box.store(result)
            exited.signal()
        }
        reaper.name = "reaper \(pid)"
        reaper.start()
    }

    /// Whether the child has not been reaped yet.
    public var isRunning: Bool { lock.withLock { termination == nil } }

    /// How it ended, once it has.
    public var terminationStatus: ChildTermination? { lock.withLock { termination } }

    /// Sends `sig` to the child (no-op once it has been reaped, so a reused pid is never hit).
    public func signal(_ sig: Int32) {
        lock.withLock {
            if termination == nil { _ = kill(pid, sig) }
        }
    }

    /// Sends `sig` to the child's process group (needs `newProcessGroup`).
    public func signalGroup(_ sig: Int32) {
        lock.withLock {
            if termination == nil { _ = kill(-pid, sig) }
        }
    }

    /// Waits for the child to exit; nil if it did not within `timeout`.
    @discardableResult
    public func waitForExit(timeout: TimeInterval) -> ChildTermination? {
        if let done = terminationStatus { return done }
        guard exited.wait(timeout: .now() + max(timeout, 0)) == .success else { return nil }
        exited.signal()  // keep it signalled for other waiters
        return terminationStatus
    }

    /// Waits for the child to exit, however long it takes.
    @discardableResult
    public func waitForExit() -> ChildTermination {
        if let done = terminationStatus { return done }
        exited.wait()
        exited.signal()
        return terminationStatus!
    }

    private static func check(_ rc: Int32, _ what: String) throws {
        guard rc == 0 else { throw SpawnError("posix_spawn_file_actions_\(what)", code: rc) }
    }
}

/// Lets the reaper thread store the result under the ChildProcess's lock without
/// retaining the ChildProcess itself.
private final class TerminationBox: @unchecked Sendable {
    private let lock: NSLock
    private let setter: (ChildTermination) -> Void

    init(lock: NSLock, setter: @escaping (ChildTermination) -> Void) {
        self.lock = lock
        self.setter = setter
    }

    func store(_ termination: ChildTermination) {
        lock.withLock { setter(termination) }
    }
}

/// glibc extensions that the Glibc module does not import (they need _GNU_SOURCE),
/// looked up at run time.
private enum SpawnExtensions {
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    /// glibc >= 2.34.
    static let addCloseFrom: AddCloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np")
    /// glibc >= 2.29.
    static let addChdir: AddChdir? = symbol("posix_spawn_file_actions_addchdir_np")

    private static func symbol<T>(_ name: String) -> T? {
        guard let handle = dlopen(nil, RTLD_NOW), let pointer = dlsym(handle, name) else { return nil }
        return unsafeBitCast(pointer, to: T.self)
    }

    /// Our open descriptors (fallback when closefrom is unavailable).
    static func openDescriptors() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
    }
}

/// A failed posix_spawn step, with its error number.
public struct SpawnError: Error, CustomStringConvertible {
    public var operation: String
    public var code: Int32

    public init(_ operation: String, code: Int32 = errno) {
        self.operation = operation
        self.code = code
    }

    public var description: String {
        "\(operation) failed: \(String(cString: strerror(code))) (errno \(code))"
    }
}

/// `kill(2)`, named so it is not shadowed by methods called `kill` or `signal`.
@discardableResult
public func sendSignal(_ pid: Int32, _ signal: Int32) -> Int32 {
    kill(pid, signal)
}

/// Remembers the children that are still running, and SIGKILLs them when the test process
/// exits normally, so a server kept alive by a leaked reference does not outlive the run.
/// (A crashed or SIGKILLed test runner can still leave orphans, since every child runs in
/// its own process group.)
public final class ChildProcessRegistry: @unchecked Sendable {
    public static let shared = ChildProcessRegistry()

    private let lock = NSLock()
    private var pids: Set<Int32> = []

    private init() {
        atexit {
            for pid in ChildProcessRegistry.shared.snapshot() {
                sendSignal(pid, SIGCONT)
                sendSignal(pid, SIGKILL)
            }
        }
    }

    public func add(_ pid: Int32) { lock.withLock { _ = pids.insert(pid) } }
    public func remove(_ pid: Int32) { lock.withLock { _ = pids.remove(pid) } }
    public func snapshot() -> [Int32] { lock.withLock { Array(pids) } }
}

/// The executable `name` in the first directory of PATH that has it (with the sbin
/// directories after PATH, for tools like unshare); nil when there is none.
public func executableInPath(_ name: String) -> URL? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return (path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"])
        .map { URL(fileURLWithPath: "\($0)/\(name)") }
        .first { FileManager.default.isExecutableFile(atPath: $0.path) }
}
