import CLinux
import Glibc

/// COMMAND and every process it starts (the job), under a guard process.
///
/// The guard (CLinux/guard.c) is redlock's child and COMMAND's parent. It is a child
/// subreaper, so every process of the job that loses its parent (a daemon, a setsid'd
/// helper, a grandchild) is re-parented to it and stays findable below it; and it watches
/// redlock through a socket: when redlock dies, even of SIGKILL or the OOM killer, the
/// socket closes and the guard kills the whole job before the lease can lapse. The
/// parent-death signal alone could not do that: it reaches COMMAND only, and the kernel
/// clears it when COMMAND execs a set-user-ID program. A cgroup would, but is writable
/// only under systemd delegation; one fork of a small static process costs far less.
public final class ChildProcess {
    /// COMMAND's pid (also its process group).
    public let pid: Int32
    /// The guard's pid; it is redlock's child, COMMAND is its child.
    public let guardPID: Int32
    public private(set) var status: TerminationStatus?
    /// Whether every process of the job has ended (the guard has no child left).
    public private(set) var isEmpty = false
    /// Whether the guard killed the job when the lease ended (`killNoLaterThan`): redlock
    /// did not get to it in time (it was stopped), so the lock is lost.
    public private(set) var killedAtLeaseEnd = false
    /// The same for what COMMAND left running, after COMMAND itself had ended.
    public private(set) var leftoversKilledAtLeaseEnd = false
    private var refusals: [Int32] = []
    /// The signal that stopped COMMAND (Ctrl-Z, a background read), until taken.
    private var stoppedBy: Signal?
    private let channel: FileDescriptor

    /// Why COMMAND could not start: not found (127) or not executable (126).
    public struct LaunchError: Error, Sendable {
        public let command: String
        public let errno: Errno
        public var isNotFound: Bool { errno == .noSuchFile || errno.rawValue == ENOTDIR }
        public var exitStatus: Int32 { isNotFound ? 127 : 126 }
    }

    /// COMMAND's arguments and environment, handed to the early guard while redlock waits
    /// for the lock (`prepare`).
    public struct Preparation: Sendable {
        let arguments: [[UInt8]]
        let environment: [[UInt8]]
    }

    /// Hands `arguments` and `environment` to the guard ahead of time, so that starting
    /// COMMAND once the lock is ours copies only the variables the lock adds: the next
    /// holder's start is on the clock of every hand-off, the wait before it is not. Nil
    /// when there is nothing to prepare (no early guard, or too large: then the start
    /// copies everything, as without it). One per process: a second call spoils the first.
    public static func prepare(arguments: [[UInt8]], environment: [[UInt8]]) -> Preparation? {
        guard !arguments.isEmpty else { return nil }
        let prepared = withCStrings(arguments) { argv in withCStrings(environment) { envp in cguard_prepare(argv, envp) } }
        return prepared == 0 ? Preparation(arguments: arguments, environment: environment) : nil
    }

    /// Starts `arguments` (searched in PATH when the name has no slash) with `environment`.
    /// With `foregroundTerminal`, COMMAND's group becomes that terminal's foreground group.
    /// Bytes, not strings: an argument or a variable that is not UTF-8 is passed unchanged.
    /// `prepared`: what `prepare` handed the guard; used when `environment` is it plus
    /// variables added at the end.
    public init(arguments: [[UInt8]], environment: [[UInt8]], foregroundTerminal: FileDescriptor?, childMask: sigset_t, prepared: Preparation? = nil) throws(LaunchError) {
        precondition(!arguments.isEmpty)
        var execErrno: Int32 = 0
        var mask = childMask
        var job = cguard_job()
        func start(argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>, envp: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>, added: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
            var request = cspawn_request(
                file: argv[0], argv: argv, envp: envp,
                foreground_tty: foregroundTerminal?.rawValue ?? -1,
                parent_death_signal: SIGKILL,
                child_mask: nil,
                may_have_handlers: 1)
            return withUnsafePointer(to: &mask) { maskPointer in
                request.child_mask = maskPointer
                return cguard_start(&request, added, &job, &execErrno)
            }
        }
        var started: Int32 = -2
        if let prepared, arguments == prepared.arguments, environment.starts(with: prepared.environment) {
            // The guard has the rest: only the added variables are copied (argv and envp
            // are not read then).
            started = withCStrings(Array(environment[prepared.environment.count...])) { added in
                start(argv: added, envp: added, added: added)
            }
        }
        if started == -2 {
            started = withCStrings(arguments) { argv in withCStrings(environment) { envp in start(argv: argv, envp: envp, added: nil) } }
        }
        if started < 0 { throw LaunchError(command: String(decoding: arguments[0], as: UTF8.self), errno: .current) }
        if execErrno != 0 { throw LaunchError(command: String(decoding: arguments[0], as: UTF8.self), errno: Errno(rawValue: execErrno)) }
        self.pid = job.command
        self.guardPID = job.guard
        self.channel = FileDescriptor(rawValue: job.channel)
        try? channel.setNonBlocking()
    }

    /// Text arguments and environment, for callers that have no bytes (the benchmarks).
    public convenience init(arguments: [String], environment: [String], foregroundTerminal: FileDescriptor?, childMask: sigset_t) throws(LaunchError) {
        try self.init(arguments: arguments.map { Array($0.utf8) }, environment: environment.map { Array($0.utf8) },
                      foregroundTerminal: foregroundTerminal, childMask: childMask)
    }

    deinit {
        // Normally the runner has let the guard go; if not, closing the channel makes the
        // guard end the job (as if redlock had died), which is the safe side. The guard is
        // reaped if it has exited already, not waited for: redlock is about to exit, and
        // then init reaps it.
        channel.close()
        var raw: Int32 = 0
        _ = waitpid(guardPID, &raw, WNOHANG)
    }

    /// Readable when the guard has news (COMMAND ended, the job is empty).
    public var descriptor: FileDescriptor { channel }

    /// Reads the guard's news; returns COMMAND's status once known.
    @discardableResult
    public func poll() -> TerminationStatus? {
        var message = cguard_message()
        while true {
            switch cguard_hear(channel.rawValue, &message) {
            case 1:
                switch message.kind {
                case CGUARD_EXITED: status = TerminationStatus(waitStatus: message.value)
                case CGUARD_EXITED_LAST:
                    status = TerminationStatus(waitStatus: message.value)
                    isEmpty = true
                case CGUARD_EMPTY: isEmpty = true
                case CGUARD_STOPPED: stoppedBy = Signal(rawValue: message.value)
                case CGUARD_KILLED_AT_LEASE_END:
                    if message.value == 1 { killedAtLeaseEnd = true } else { leftoversKilledAtLeaseEnd = true }
                case CGUARD_NOT_PERMITTED: refusals.append(message.value)
                default: break
                }
            case 0:
                if status == nil {
                    // The guard is gone (killed): its death took COMMAND with it (the
                    // parent-death signal), so COMMAND counts as killed.
                    status = .signaled(.kill)
                }
                isEmpty = true
                return status
            default:
                return status
            }
        }
    }

    /// Processes of the job that refused a signal since the last call (EPERM: they run as
    /// another user), with their names.
    public func takeRefusals() -> [(pid: Int32, name: String)] {
        defer { refusals = [] }
        return refusals.map { ($0, ProcessIdentity.commandName(of: $0) ?? "?") }
    }

    /// The signal that stopped COMMAND since the last call, if it was stopped.
    public func takeStop() -> Signal? {
        defer { stoppedBy = nil }
        return stoppedBy
    }

    /// Sends `signal` to COMMAND's whole process group (it and whatever it started there).
    public func signalGroup(_ signal: Signal) {
        if kill(-pid, signal.rawValue) != 0 && errno == ESRCH && status == nil {
            // The group is gone but the leader is not reaped yet: signal the leader itself.
            kill(pid, signal.rawValue)
        }
    }

    /// Sends `signal` to every process of the job, wherever it went (other groups, sessions).
    public func signalEveryProcess(_ signal: Signal) {
        tell(CGUARD_SIGNAL_ALL, signal.rawValue)
        if status == nil { signalGroup(signal) }
    }

    /// The processes of the job still running, with their names, for a message.
    public func remainingProcesses() -> [(pid: Int32, name: String)] {
        ProcessIdentity.descendants(of: guardPID).map { ($0, ProcessIdentity.commandName(of: $0) ?? "?") }
    }

    /// Tells the guard when the lease ends: it kills the whole job then, unless told a later
    /// moment first, even if redlock is not running to do it (stopped on its own).
    public func killNoLaterThan(_ end: Instant) {
        _ = cguard_tell_kill_at(channel.rawValue, end.nanoseconds)
    }

    /// Lets the guard exit, leaving whatever of the job still runs alone (its exit overlaps
    /// with redlock's release round).
    public func letGo() {
        tell(CGUARD_LET_GO, 0)
    }

    private func tell(_ kind: Int32, _ value: Int32) {
        _ = cguard_tell(channel.rawValue, kind, value)
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
