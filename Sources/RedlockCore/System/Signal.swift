import Glibc

/// A POSIX signal, by number, with the names people type ("TERM", "SIGTERM", "15").
public struct Signal: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let hangup = Signal(rawValue: SIGHUP)
    public static let interrupt = Signal(rawValue: SIGINT)
    public static let quit = Signal(rawValue: SIGQUIT)
    public static let kill = Signal(rawValue: SIGKILL)
    public static let user1 = Signal(rawValue: SIGUSR1)
    public static let user2 = Signal(rawValue: SIGUSR2)
    public static let pipe = Signal(rawValue: SIGPIPE)
    public static let alarm = Signal(rawValue: SIGALRM)
    public static let terminate = Signal(rawValue: SIGTERM)
    public static let child = Signal(rawValue: SIGCHLD)
    public static let terminalOutput = Signal(rawValue: SIGTTOU)
    public static let terminalInput = Signal(rawValue: SIGTTIN)
    public static let terminalStop = Signal(rawValue: SIGTSTP)
    public static let stop = Signal(rawValue: SIGSTOP)
    public static let `continue` = Signal(rawValue: SIGCONT)

    /// The names `--lost-signal` accepts and completions offer, in number order.
    public static let named: [(name: String, signal: Signal)] = [
        ("HUP", .hangup), ("INT", .interrupt), ("QUIT", .quit), ("KILL", .kill),
        ("USR1", .user1), ("USR2", .user2), ("ALRM", .alarm), ("TERM", .terminate),
    ]

    /// Parses `TERM`, `SIGTERM`, `term` or a number from 1 to 64.
    public init?(parsing text: String) {
        if let number = Int32(text) {
            guard number >= 1 && number <= 64 else { return nil }
            self.init(rawValue: number)
            return
        }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        guard let match = Signal.named.first(where: { $0.name == name }) else { return nil }
        self = match.signal
    }

    public var description: String {
        if let match = Signal.named.first(where: { $0.signal == self }) { return "SIG" + match.name }
        return "signal \(rawValue)"
    }

    /// Stops this process with this stop signal (as the terminal would have stopped it),
    /// returning when it is continued. A stop signal redlock blocks (SIGTTOU) or that its
    /// parent had it ignore would do nothing, so SIGTSTP or SIGSTOP stand in.
    public func stopThisProcess() {
        var signal = self == .terminalOutput ? Signal.terminalStop : self
        var action = sigaction()
        if sigaction(signal.rawValue, nil, &action) == 0, unsafeBitCast(action.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) {
            signal = .stop
        }
        Glibc.raise(signal.rawValue)
    }

    /// Ends this process by this signal, as if redlock had not been handling it, so that a
    /// parent sees "killed by SIGINT" (a shell then stops its script, as with flock). With
    /// `alsoTheGroup`, the signal goes to redlock's whole process group: the terminal's
    /// Ctrl-C reached only COMMAND's group, and the group redlock was started in (a script's
    /// shell, a pipeline) would have had it too if COMMAND had not held the terminal.
    public func endThisProcess(alsoTheGroup: Bool) -> Never {
        Glibc.signal(rawValue, SIG_DFL)
        if alsoTheGroup { Glibc.kill(0, rawValue) } else { Glibc.raise(rawValue) }
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, rawValue)
        // Blocked until now (it came through the signal inbox): unblocking delivers it.
        sigprocmask(SIG_UNBLOCK, &set, nil)
        // Only a signal whose default action is not to end the process gets here.
        exit(128 + rawValue)
    }
}
