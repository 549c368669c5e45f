import CLinux
import Glibc

/// COMMAND, started (clone + exec) in its own process group, with a parent-death signal
/// so that it cannot outlive a redlock killed with SIGKILL.
///
/// It must be spawned from the main thread: PR_SET_PDEATHSIG fires when the *thread* that
/// started it exits, and redlock's main thread lives until redlock exits.
public final class ChildProcess {
    public let pid: Int32
    public private(set) var status: TerminationStatus?

    /// Why COMMAND could not start: not found (127) or not executable (126).
    public struct LaunchError: Error, Sendable {
        public let command: String
        public let errno: Errno
        public var isNotFound: Bool { errno == .noSuchFile || errno.rawValue == ENOTDIR }
        public var exitStatus: Int32 { isNotFound ? 127 : 126 }
    }

    /// Starts `arguments` (searched in PATH when the name has no slash) with `environment`.
    /// With `foregroundTerminal`, COMMAND's group becomes that terminal's foreground group.
    /// Bytes, not strings: an argument or a variable that is not UTF-8 is passed unchanged.
    public init(arguments: [[UInt8]], environment: [[UInt8]], foregroundTerminal: FileDescriptor?, childMask: sigset_t) throws(LaunchError) {
        precondition(!arguments.isEmpty)
        var execErrno: Int32 = 0
        var mask = childMask
        let pid: Int32 = withCStrings(arguments) { argv in
            withCStrings(environment) { envp in
                var request = cspawn_request(
                    file: argv[0], argv: argv, envp: envp,
                    foreground_tty: foregroundTerminal?.rawValue ?? -1,
                    parent_death_signal: SIGKILL,
                    child_mask: nil)
                return withUnsafePointer(to: &mask) { maskPointer in
                    request.child_mask = maskPointer
                    return cspawn(&request, &execErrno)
                }
            }
        }
        if pid < 0 { throw LaunchError(command: String(decoding: arguments[0], as: UTF8.self), errno: .current) }
        self.pid = pid
        if execErrno != 0 {
            // The child has exited 127 already; reap it so no zombie is left.
            var status: Int32 = 0
            _ = try? retryingOnInterrupt { waitpid(pid, &status, 0) }
            throw LaunchError(command: String(decoding: arguments[0], as: UTF8.self), errno: Errno(rawValue: execErrno))
        }
    }

    /// Text arguments and environment, for callers that have no bytes (the benchmarks).
    public convenience init(arguments: [String], environment: [String], foregroundTerminal: FileDescriptor?, childMask: sigset_t) throws(LaunchError) {
        try self.init(arguments: arguments.map { Array($0.utf8) }, environment: environment.map { Array($0.utf8) },
                      foregroundTerminal: foregroundTerminal, childMask: childMask)
    }

    /// Reaps COMMAND if it has ended; returns its status once known.
    @discardableResult
    public func poll() -> TerminationStatus? {
        if let status { return status }
        var raw: Int32 = 0
        let result = (try? retryingOnInterrupt { waitpid(pid, &raw, WNOHANG) }) ?? -1
        if result == pid { status = TerminationStatus(waitStatus: raw) }
        return status
    }

    /// Sends `signal` to COMMAND's whole process group (it and whatever it started).
    public func signalGroup(_ signal: Signal) {
        if kill(-pid, signal.rawValue) != 0 && errno == ESRCH && status == nil {
            // The group is gone but the leader is not reaped yet: signal the leader itself.
            kill(pid, signal.rawValue)
        }
    }
}

/// Calls `body` with a NULL-terminated C array of the byte strings, valid only inside `body`.
private func withCStrings<R>(_ strings: [[UInt8]], _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { bytes in
        let copy = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
        for (offset, byte) in bytes.enumerated() { copy[offset] = CChar(bitPattern: byte) }
        copy[bytes.count] = 0
        return copy
    } + [nil]
    defer { copies.forEach { $0?.deallocate() } }
    var array = copies
    return array.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}
