/// Every option of redlock, once. The parser, `--help`, and the agreement test that checks
/// the man page and the shell completions all read this table.
struct OptionSpec: Sendable {
    /// What the option's argument is, for parsing and for the completions.
    enum Value: Sendable, Equatable {
        case none
        case duration
        case integer(ClosedRange<Int>)
        case text
        case url
        case file
        case signal
    }

    let long: String
    let short: Character?
    /// The argument's name in help ("D", "URL"); nil for a flag.
    let argument: String?
    let value: Value
    /// The commands that take it; nil for a global option (every command).
    let commands: Set<Subcommand>?
    /// The default, as help shows it.
    let defaultText: String?
    let help: String
    let repeatable: Bool
    /// Where one command's help must say something else (`--ttl`: run renews it, acquire
    /// and extend do not).
    let helpByCommand: [Subcommand: String]

    init(_ long: String, _ short: Character? = nil, _ argument: String? = nil, _ value: Value = .none,
         commands: Set<Subcommand>? = nil, default defaultText: String? = nil, repeatable: Bool = false, _ help: String,
         helpByCommand: [Subcommand: String] = [:]) {
        self.long = long
        self.short = short
        self.argument = argument
        self.value = value
        self.commands = commands
        self.defaultText = defaultText
        self.help = help
        self.repeatable = repeatable
        self.helpByCommand = helpByCommand
    }

    /// The help line as `command`'s help shows it.
    func help(for command: Subcommand?) -> String { command.flatMap { helpByCommand[$0] } ?? help }

    /// An option without an argument.
    static func flag(_ long: String, _ short: Character? = nil, commands: Set<Subcommand>? = nil, _ help: String) -> OptionSpec {
        OptionSpec(long, short, nil, .none, commands: commands, help)
    }

    var takesArgument: Bool { argument != nil }
    var isGlobal: Bool { commands == nil }

    func applies(to command: Subcommand) -> Bool { commands?.contains(command) ?? true }

    /// "-t, --ttl D" as help prints it.
    var signature: String {
        var text = short.map { "-\($0), " } ?? "    "
        text += "--\(long)"
        if let argument { text += " \(argument)" }
        return text
    }
}

enum OptionTable {
    static let locking: Set<Subcommand> = [.run, .acquire]

    static let all: [OptionSpec] = [
        // Global: where the instances are and how to talk to them.
        OptionSpec("redis", "r", "URL", .url, default: "redis://127.0.0.1:6379", repeatable: true,
                   "a Redis master of the quorum; repeat for each, each server once (listed twice: 78; a replica never votes) (replaces REDLOCK_URLS). URL forms: redis://, rediss:// (TLS), redis[s]+sentinel://, redis[s]+cluster://, unix://"),
        OptionSpec("password-file", nil, "FILE", .file,
                   "read the password from FILE's first line (else REDLOCK_PASSWORD)"),
        OptionSpec("connect-timeout", nil, "D", .duration, default: "500ms",
                   "bound on connecting to each instance, host name lookup included"),
        OptionSpec("op-timeout", nil, "D", .duration, default: "250ms",
                   "bound on each round of requests; a late instance counts as a no"),
        OptionSpec("prefix", nil, "P", .text, default: "none",
                   "prepended to every key (else REDLOCK_PREFIX)"),
        OptionSpec("restart-grace", nil, "D", .duration, default: "off",
                   "a yes from an instance up for less than D does not count (else REDLOCK_RESTART_GRACE)"),
        // TLS, for rediss:// URLs.
        OptionSpec("tls-ca-cert", nil, "FILE", .file, default: "the system trust store",
                   "trust the CA certificates in FILE (PEM) for rediss:// (else REDLOCK_TLS_CA_CERT)"),
        OptionSpec("tls-cert", nil, "FILE", .file,
                   "client certificate (PEM) for servers that ask for one (else REDLOCK_TLS_CERT)"),
        OptionSpec("tls-key", nil, "FILE", .file, default: "in --tls-cert's file",
                   "private key of the client certificate (else REDLOCK_TLS_KEY)"),
        OptionSpec("tls-server-name", nil, "NAME", .text, default: "each URL's host",
                   "name the server certificates must carry, sent as SNI (else REDLOCK_TLS_SERVER_NAME)"),
        .flag("tls-insecure", nil, "do not verify server certificates (else REDLOCK_TLS_INSECURE=1); warns"),
        .flag("quiet", "q", "no waiting status, no warnings"),
        .flag("verbose", "v", "log each round and renewal on stderr"),
        .flag("help", "h", "show help and exit"),
        .flag("version", "V", "show the version and exit"),

        // Taking the lock.
        OptionSpec("ttl", "t", "D", .duration, commands: [.run, .acquire, .extend], default: "30s",
                   "lease length, at least 1s and 3 x --op-timeout; run renews it about every TTL/3, acquire and extend do not",
                   helpByCommand: [
                       .run: "lease length, at least 1s and 3 x --op-timeout; run renews it about every TTL/3",
                       .acquire: "lease length, at least 1s and 3 x --op-timeout; nothing renews it: 'redlock extend' before it ends",
                       .extend: "the new lease length, from now, at least 1s and 3 x --op-timeout; nothing renews it after",
                   ]),
        OptionSpec("wait", "w", "D", .duration, commands: locking, default: "forever",
                   "give up after waiting D"),
        .flag("no-wait", "n", commands: locking,
                   "give up at once if the lock is held"),
        OptionSpec("conflict-exit-code", "E", "N", .integer(0...255), commands: locking, default: "75",
                   "exit status if not acquired in time"),
        OptionSpec("label", nil, "TEXT", .text, commands: locking, default: "the command line",
                   "record TEXT as the holder's command (readable in Redis)"),
        OptionSpec("unreachable-timeout", nil, "D", .duration, commands: locking, default: "1m",
                   "give up with 69 after D of attempts that reach no quorum (or at --wait's end)"),
        // Waiting in line (Lock/Queue). One help line each: `run --help` fits a screen.
        OptionSpec("queue", nil, "MODE", .text, commands: locking, default: "fifo",
                   "fifo: served in line; none: race"),
        OptionSpec("order-key", nil, "N", .integer(0...Int.max), commands: locking,
                   "serve waiters by N, smallest first"),
        .flag("supersede", commands: locking,
                   "give up once a newer waiter is in line"),
        OptionSpec("if-newer", nil, "N", .integer(0...Int.max), commands: [.run],
                   "skip COMMAND unless N is above KEY's mark"),

        // Lock modes (Lock/Kinds): one holder, shared holders, or N slots.
        .flag("exclusive", "x", commands: locking,
                   "one holder at a time (the default)"),
        .flag("shared", "s", commands: locking,
                   "with other shared holders, no exclusive one"),
        OptionSpec("limit", "l", "N", .integer(1...1000), commands: locking,
                   "at most N holders, as N slots (REDLOCK_SLOT)"),
        OptionSpec("slots", nil, "A,B,C", .text, commands: locking,
                   "one holder per named slot (REDLOCK_SLOT)"),

        // Running COMMAND.
        OptionSpec("kill-after", nil, "D", .duration, commands: [.run], default: "min(5s, TTL/3)",
                   "grace between the lost signal and SIGKILL; must be < TTL"),
        OptionSpec("lost-signal", nil, "SIG", .signal, commands: [.run], default: "TERM",
                   "signal sent when the lock is lost"),
        OptionSpec("max-time", nil, "D", .duration, commands: [.run], default: "none",
                   "stop COMMAND after D, exit 124"),
        OptionSpec("min-hold", nil, "D", .duration, commands: [.run], default: "0",
                   "keep KEY held at least D after acquiring, even if COMMAND ends sooner"),
        OptionSpec("leftovers", nil, "kill|wait|ignore", .text, commands: [.run], default: "kill",
                   "processes of the job still running when COMMAND exits: end them (TERM, KILL after --kill-after), hold the lock until they end, or release and leave them"),

        // Automation.
        OptionSpec("once", nil, "ID", .text, commands: [.run],
                   "run COMMAND at most once for KEY and ID"),
        OptionSpec("once-keep", nil, "D", .duration, commands: [.run], default: "168h",
                   "keep the --once done mark D"),
        OptionSpec("events", nil, "FILE", .file, commands: locking,
                   "append JSON event lines to FILE"),
        OptionSpec("events-fd", nil, "N", .integer(1...1_048_575), commands: locking,
                   "write the event lines to descriptor N"),

        // Multi-step scripts.
        .flag("env", commands: [.acquire],
                   "print REDLOCK_TOKEN=... and REDLOCK_FENCING_TOKEN=... lines, not the bare token"),
        OptionSpec("token", nil, "TOKEN", .text, commands: [.extend, .release, .forceRelease],
                   "the holder's token ('redlock acquire' printed it)"),

        // Operators.
        .flag("json", commands: [.inspect, .doctor], "print one JSON document"),
        .flag("long", "l", commands: [.inspect], "the details of each lock (every instance's view), not one row per lock"),
        .flag("yes", "y", commands: [.forceRelease], "do not ask for confirmation"),
    ]

    static func named(_ long: String) -> OptionSpec? { all.first { $0.long == long } }
    /// The option `letter` stands for in `command`. One letter may mean different options
    /// for different commands (`-l`: inspect's `--long`, the locking commands' `--limit`),
    /// never two for the same command; before the command is known, only a letter that
    /// means one option everywhere is resolved.
    static func short(_ letter: Character, for command: Subcommand?) -> ShortLetter {
        let candidates = all.filter { $0.short == letter }
        if let command {
            guard let spec = candidates.first(where: { $0.applies(to: command) }) else {
                return candidates.first.map(ShortLetter.notFor) ?? .unknown
            }
            return .option(spec)
        }
        switch candidates.count {
        case 0: return .unknown
        case 1: return .option(candidates[0])
        default: return .ambiguous(candidates)
        }
    }

    enum ShortLetter {
        case option(OptionSpec)
        case unknown
        /// The letter belongs to other commands' options only (one of them).
        case notFor(OptionSpec)
        /// Before the command: the letter means different options for different commands.
        case ambiguous([OptionSpec])
    }

    /// The options `command` takes, its own first, then the global ones.
    static func options(for command: Subcommand?) -> (own: [OptionSpec], global: [OptionSpec]) {
        let global = all.filter(\.isGlobal)
        guard let command else { return ([], global) }
        return (all.filter { !$0.isGlobal && $0.applies(to: command) }, global)
    }
}
