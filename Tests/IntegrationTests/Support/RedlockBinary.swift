// Runs the built `redlock` executable the way a user would.
//
// The integration tests treat redlock as a black box: arguments, environment, stdin in;
// exit status, stdout, stderr out; signals sent to the running process. That exercises
// argument parsing, exit-code mapping and signal forwarding, which in-process tests can't.
// Children run with a scrubbed environment so a developer's own REDLOCK_* settings never
// leak into a test.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The outcome of one run.
struct RunResult: Sendable, Equatable, CustomStringConvertible {
    /// The exit code, or 128+N when the process was killed by signal N (the shell convention).
    var status: Int32
    var stdout: String
    var stderr: String
    /// True when something (e.g. an orphaned grandchild) still held stdout/stderr open
    /// 2 s after the process exited; the output above is then what had arrived by then.
    var outputStillOpen: Bool = false

    var description: String {
        "status \(status)\n--- stdout ---\n\(stdout)\n--- stderr ---\n\(stderr)"
            + (outputStillOpen ? "\n(output pipes were still held open by another process)" : "")
    }
}

/// Failures of the runner itself (not of redlock, whose failures are a `RunResult`).
enum RedlockRunError: Error, CustomStringConvertible {
    case binaryNotFound(searched: [String])
    /// The process did not exit in time and was killed with SIGKILL; `partial` holds the
    /// output captured until then.
    case timedOut(arguments: [String], timeout: TimeInterval, partial: RunResult)
    case stdinNotPiped
    case stdinClosed

    var description: String {
        switch self {
        case .binaryNotFound(let searched):
            return "redlock executable not found; looked at: \(searched.joined(separator: ", ")). Build it (swift build) or set REDLOCK_BIN."
        case let .timedOut(arguments, timeout, partial):
            return "redlock \(arguments.joined(separator: " ")) did not exit within \(timeout) s and was killed\n\(partial)"
        case .stdinNotPiped:
            return "writeStdin needs a process started with stdin: .pipe"
        case .stdinClosed:
            return "stdin was already closed"
        }
    }
}

/// Where the redlock binary is and what environment it runs with.
enum RedlockBinary {
    /// The redlock executable: `$REDLOCK_BIN` if set; else `redlock` next to the running
    /// test executable (`swift test` builds both into `.build/<triple>/debug/`); else
    /// `<package root>/.build/debug/redlock`, with the root derived from this file's path.
    static func executableURL() throws -> URL {
        let fm = FileManager.default
        var searched: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["REDLOCK_BIN"], !explicit.isEmpty {
            if fm.isExecutableFile(atPath: explicit) { return URL(fileURLWithPath: explicit) }
            searched.append("REDLOCK_BIN=\(explicit)")
            // An explicit setting that is wrong must not silently fall back to another binary.
            throw RedlockRunError.binaryNotFound(searched: searched)
        }
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let candidate = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("redlock")
            if fm.isExecutableFile(atPath: candidate.path) { return candidate }
            searched.append(candidate.path)
        }
        // <root>/Tests/IntegrationTests/Support/RedlockBinary.swift -> <root>
        let root = URL(fileURLWithPath: thisFile)
            .deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let candidate = root.appendingPathComponent(".build/debug/redlock")
        if fm.isExecutableFile(atPath: candidate.path) { return candidate }
        searched.append(candidate.path)
        throw RedlockRunError.binaryNotFound(searched: searched)
    }

    /// This source file's path, to find the package root from.
    private static let thisFile: String = #filePath

    /// Variables copied from the test process: PATH and HOME (what a command needs to run),
    /// TMPDIR, and LLVM_PROFILE_FILE so code coverage of the child still gets collected.
    /// Everything else — in particular every REDLOCK_* variable — is dropped.
    static let inheritedVariables = ["PATH", "HOME", "TMPDIR", "LLVM_PROFILE_FILE"]

    /// The scrubbed base environment with `overrides` merged over it.
    static func environment(merging overrides: [String: String]) -> [String: String] {
        let current = ProcessInfo.processInfo.environment
        var env: [String: String] = [:]
        for key in inheritedVariables {
            if let value = current[key] { env[key] = value }
        }
        env.merge(overrides) { _, new in new }
        return env
    }
}

/// Runs redlock to completion and returns its exit status and output.
///
/// - Parameters:
///   - environment: merged over a clean base (PATH, HOME; no REDLOCK_* from the test process).
///   - stdin: text fed to the process's stdin, which is then closed; nil means /dev/null.
///   - timeout: after this long the process (and its process group) is SIGKILLed and
///     `RedlockRunError.timedOut` is thrown.
func redlock(_ args: [String], environment: [String: String] = [:], stdin: String? = nil,
             timeout: TimeInterval = 60, currentDirectory: URL? = nil) throws -> RunResult {
    let process = try RedlockProcess(args, environment: environment,
                                     stdin: stdin.map { .text($0) } ?? .null,
                                     currentDirectory: currentDirectory)
    return try process.wait(timeout: timeout)
}

/// A redlock (or other) process running in the background, for tests that must act while
/// it runs: send signals, kill Redis servers, feed stdin, watch output as it appears.
///
/// The child starts with an empty signal mask, default signal dispositions and its own
/// process group (see ChildProcess). stdout and stderr are drained continuously by a
/// background thread, so the child never blocks on a full pipe. The process group is
/// SIGKILLed on deinit if the process is still running.
final class RedlockProcess: @unchecked Sendable {
    /// What the child's stdin is connected to.
    enum Stdin: Sendable {
        /// /dev/null: reads see EOF at once.
        case null
        /// A pipe: feed it with `writeStdin(_:)`, end it with `closeStdin()`.
        case pipe
        /// A pipe that gets this text and is then closed.
        case text(String)
    }

    /// The executable's arguments (not including the executable).
    let arguments: [String]
    /// The process id; also the id of its process group.
    var pid: Int32 { child.pid }

    private let child: ChildProcess
    private let output = OutputCapture()
    private let stdinIsPipe: Bool
    private let lock = NSLock()
    private var stdinFD: Int32 = -1
    private var result: RunResult?

    /// Starts the redlock executable (see `RedlockBinary.executableURL()`).
    convenience init(_ args: [String], environment: [String: String] = [:], stdin: Stdin = .null,
                     currentDirectory: URL? = nil) throws {
        try self.init(executable: RedlockBinary.executableURL(), args, environment: environment,
                      stdin: stdin, currentDirectory: currentDirectory)
    }

    /// Starts any executable with the same scrubbed environment and output capture
    /// (used by the support self-tests with /bin/sh).
    init(executable: URL, _ args: [String], environment: [String: String] = [:], stdin: Stdin = .null,
         currentDirectory: URL? = nil) throws {
        arguments = args
        if case .pipe = stdin { stdinIsPipe = true } else { stdinIsPipe = false }

        let outPipe = try makePipe()
        let errPipe = try makePipe()
        let inRead: Int32
        var inWrite: Int32 = -1
        switch stdin {
        case .null:
            inRead = open("/dev/null", O_RDONLY | O_CLOEXEC)
        case .pipe, .text:
            let inPipe = try makePipe()
            inRead = inPipe.read
            inWrite = inPipe.write
        }
        do {
            child = try ChildProcess(executable: executable.path, arguments: args,
                                     environment: RedlockBinary.environment(merging: environment),
                                     stdin: inRead, stdout: outPipe.write, stderr: errPipe.write,
                                     currentDirectory: currentDirectory?.path)
        } catch {
            for fd in [outPipe.read, outPipe.write, errPipe.read, errPipe.write, inRead, inWrite] where fd >= 0 {
                close(fd)
            }
            throw error
        }
        // The child has its own copies of its ends; drop ours so EOF is seen when it exits.
        close(outPipe.write)
        close(errPipe.write)
        close(inRead)

        // The reader holds only the capture, so dropping this object still runs deinit.
        let output = self.output
        let thread = Thread { output.drain(stdout: outPipe.read, stderr: errPipe.read) }
        thread.name = "RedlockProcess \(child.pid) output"
        thread.start()

        if case .text(let text) = stdin {
            // On its own thread: a child that doesn't read its stdin must not block the test.
            let fd = inWrite
            let feeder = Thread {
                try? writeIgnoringSIGPIPE(fd, Array(text.utf8))
                close(fd)
            }
            feeder.start()
        } else {
            stdinFD = inWrite
        }
    }

    deinit {
        if child.isRunning {
            child.signalGroup(SIGKILL)
            child.signal(SIGKILL)
        }
        if stdinFD >= 0 { close(stdinFD) }
        output.abandon()
    }

    /// Whether the process has not exited yet.
    var isRunning: Bool { child.isRunning }

    /// Sends `sig` (e.g. SIGTERM, SIGINT, SIGHUP) to the process. No-op after it exited.
    func signal(_ sig: Int32) {
        child.signal(sig)
    }

    /// Sends `sig` to the process's whole process group, as a terminal's Ctrl-C would.
    func signalGroup(_ sig: Int32) {
        child.signalGroup(sig)
    }

    /// Writes text to the child's stdin (needs `stdin: .pipe`). Throws, rather than
    /// raising SIGPIPE, if the child has closed its end. Blocks while the pipe is full.
    func writeStdin(_ text: String) throws {
        guard stdinIsPipe else { throw RedlockRunError.stdinNotPiped }
        try lock.withLock {
            guard stdinFD >= 0 else { throw RedlockRunError.stdinClosed }
            try writeIgnoringSIGPIPE(stdinFD, Array(text.utf8))
        }
    }

    /// Closes the child's stdin so it reads EOF. Idempotent.
    func closeStdin() {
        lock.withLock {
            if stdinFD >= 0 { close(stdinFD) }
            stdinFD = -1
        }
    }

    /// Everything the process wrote to stdout so far.
    var stdoutSoFar: String { output.text().stdout }
    /// Everything the process wrote to stderr so far.
    var stderrSoFar: String { output.text().stderr }

    /// Waits for the process to exit and for its output to be read to EOF.
    /// On timeout the process group is SIGKILLed and `RedlockRunError.timedOut` is thrown.
    /// Calling it again after success returns the same result.
    @discardableResult
    func wait(timeout: TimeInterval = 60) throws -> RunResult {
        if let result = lock.withLock({ result }) { return result }
        var termination = child.waitForExit(timeout: timeout)
        let timedOut = termination == nil
        if timedOut {
            child.signalGroup(SIGKILL)
            child.signal(SIGKILL)
            termination = child.waitForExit()
        }
        closeStdin()

        // Output normally reaches EOF right after exit; a descendant that inherited the
        // pipes can keep them open, so give up after a grace period instead of hanging.
        let outputStillOpen = !output.waitForEOF(timeout: 2)
        let (stdout, stderr) = output.text()
        let run = RunResult(status: termination!.status, stdout: stdout, stderr: stderr,
                            outputStillOpen: outputStillOpen)
        if timedOut {
            throw RedlockRunError.timedOut(arguments: arguments, timeout: timeout, partial: run)
        }
        lock.withLock { result = run }
        return run
    }
}

/// A pipe whose two ends are close-on-exec (the child gets its end through dup2).
private func makePipe() throws -> (read: Int32, write: Int32) {
    var fds: [Int32] = [-1, -1]
    guard pipe(&fds) == 0 else { throw SocketError("pipe") }
    _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
    _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
    return (fds[0], fds[1])
}

/// The stdout/stderr bytes of one child, filled by a background reader thread.
private final class OutputCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var stdout = Data()
    private var stderr = Data()
    private var abandoned = false
    private var finished = false
    private let done = DispatchSemaphore(value: 0)

    func text() -> (stdout: String, stderr: String) {
        lock.withLock { (String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self)) }
    }

    /// Makes the reader stop within ~100 ms even if the pipes never reach EOF.
    func abandon() { lock.withLock { abandoned = true } }

    /// Waits until both pipes reached EOF; returns false (and abandons reading) if that
    /// did not happen within `timeout`.
    func waitForEOF(timeout: TimeInterval) -> Bool {
        if done.wait(timeout: .now() + timeout) == .timedOut {
            abandon()
            done.wait()
        }
        done.signal()  // leave it signalled for later callers
        return lock.withLock { finished }
    }

    /// Reads both pipes until EOF (or until abandoned), then closes them. Runs on its own
    /// thread; poll() serves both pipes so neither can fill up while the other is waited on.
    func drain(stdout outFD: Int32, stderr errFD: Int32) {
        var fds = [pollfd(fd: outFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: errFD, events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var reachedEOF = false
        defer {
            close(outFD)
            close(errFD)
            lock.withLock { finished = reachedEOF }
            done.signal()
        }
        while true {
            if !fds.contains(where: { $0.fd >= 0 }) {
                reachedEOF = true
                return
            }
            if lock.withLock({ abandoned }) { return }
            let rc = poll(&fds, nfds_t(fds.count), 100)
            if rc < 0 && errno != EINTR { return }
            if rc <= 0 { continue }
            for i in fds.indices where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    let chunk = Data(buffer[0..<n])
                    lock.withLock {
                        if i == 0 { stdout.append(chunk) } else { stderr.append(chunk) }
                    }
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    fds[i].fd = -1  // EOF: stop polling it (closed in the defer above)
                }
            }
        }
    }
}

/// write(2) all bytes to a pipe, turning a closed reader into a thrown EPIPE instead of a
/// SIGPIPE that would kill the test runner. SIGPIPE is blocked on this thread only for the
/// duration of the write and any SIGPIPE it raised is consumed. The process-wide
/// disposition is left alone: an ignored SIGPIPE would be inherited by any child started
/// without resetting dispositions (Foundation's Process does not reset them).
func writeIgnoringSIGPIPE(_ fd: Int32, _ bytes: [UInt8]) throws {
    var pipeOnly = sigset_t()
    sigemptyset(&pipeOnly)
    sigaddset(&pipeOnly, SIGPIPE)
    var previous = sigset_t()
    pthread_sigmask(SIG_BLOCK, &pipeOnly, &previous)
    defer {
        var pending = sigset_t()
        sigpending(&pending)
        if sigismember(&pending, SIGPIPE) == 1 && sigismember(&previous, SIGPIPE) == 0 {
            var zero = timespec(tv_sec: 0, tv_nsec: 0)
            _ = sigtimedwait(&pipeOnly, nil, &zero)
        }
        pthread_sigmask(SIG_SETMASK, &previous, nil)
    }
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if n < 0 {
            if errno == EINTR { continue }
            throw SocketError("write")
        }
        offset += n
    }
}
