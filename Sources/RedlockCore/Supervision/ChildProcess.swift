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
    public init(arguments: [String], environment: [String], foregroundTerminal: FileDescriptor?, childMask: sigset_t) throws(LaunchError) {
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
        if pid < 0 { throw LaunchError(command: arguments[0], errno: .current) }
        self.pid = pid
        if execErrno != 0 {
            // The child has exited 127 already; reap it so no zombie is left.
            var status: Int32 = 0
            _ = try? retryingOnInterrupt { waitpid(pid, &status, 0) }
            throw LaunchError(command: arguments[0], errno: Errno(rawValue: execErrno))
        }
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

/// Calls `body` with a NULL-terminated C array of the strings, valid only inside `body`.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
    defer { copies.forEach { free($0) } }
    var array = copies
    return array.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}
