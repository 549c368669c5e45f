import RedlockCore

/// The exit statuses of SPEC, decided here and nowhere else. Where they overlap, they are
/// the sysexits(3) codes that flock(1) and other system tools use.
enum ExitCode: Int32 {
    case success = 0
    /// `inspect`: a key is not held; `doctor`: warnings; `force-release --token`: no match.
    case negative = 1
    /// EX_USAGE: unknown option, bad duration, missing KEY or COMMAND.
    case usage = 64
    /// EX_UNAVAILABLE: fewer than a quorum of instances could be reached or answered.
    case unavailable = 69
    /// EX_SOFTWARE: a bug in redlock.
    case internalError = 70
    /// EX_TEMPFAIL: the lock was not acquired in time (changed by `-E`).
    case notAcquired = 75
    /// EX_PROTOCOL: the lock was lost (`run` stopped COMMAND), or not held with that token.
    case lockLost = 76
    /// EX_NOPERM: an instance refused authentication or the ACL denied a command.
    case accessDenied = 77
    /// EX_CONFIG: bad URL or REDLOCK_URLS, unreadable password file.
    case configuration = 78
    /// `--max-time` expired, as timeout(1).
    case timedOut = 124
    /// COMMAND could not be executed / was not found.
    case cannotExecute = 126
    case notFound = 127
}

/// A failure the user reads as one line: `redlock: <message>`.
struct Failure: Error {
    /// The exit status: one of `ExitCode`, or 128+N when a signal ended the wait.
    let status: Int32
    /// The line to print after "redlock: "; nil when nothing is to be said.
    let message: String?
    /// The signal that ended the wait, which redlock then dies of (`Main.run`).
    private(set) var signal: Signal?

    init(_ code: ExitCode, _ message: String?) {
        status = code.rawValue
        self.message = message
    }

    init(status: Int32, _ message: String?) {
        self.status = status
        self.message = message
    }

    /// A wait ended by `signal`: redlock dies of it, quietly, so that a calling shell sees
    /// what it would see of flock ("killed by SIGINT": bash stops a loop on Ctrl-C only when
    /// its child died of it; an exit status of 130 reads as a child that handled it).
    static func endedBy(_ signal: Signal) -> Failure {
        var failure = Failure(status: 128 + signal.rawValue, nil)
        failure.signal = signal
        return failure
    }

    /// A usage error, with the hint where to read more.
    static func usage(_ message: String, command: String? = nil) -> Failure {
        let help = command.map { "redlock \($0) --help" } ?? "redlock --help"
        return Failure(.usage, "\(message); see '\(help)'")
    }
}
