/// The subcommands, with the words `--help` and the man page use for them.
enum Subcommand: String, CaseIterable, Sendable {
    case run
    case acquire
    case extend
    case release
    case inspect
    case forceRelease = "force-release"
    case doctor
    case help

    var synopsis: String {
        switch self {
        case .run: return "run [RUN OPTIONS] KEY [--] COMMAND [ARG...]"
        case .acquire: return "acquire [LOCK OPTIONS] KEY"
        case .extend: return "extend --token TOKEN [--ttl D] KEY"
        case .release: return "release --token TOKEN KEY"
        case .inspect: return "inspect [--json] [-l] [KEY|PATTERN...]"
        case .forceRelease: return "force-release [--yes] [--token TOKEN] KEY..."
        case .doctor: return "doctor [--json]"
        case .help: return "help [COMMAND]"
        }
    }

    var summary: String {
        switch self {
        case .run: return "run COMMAND while holding KEY; exit with its status"
        case .acquire: return "take KEY and print its token; nothing extends the lease"
        case .extend: return "renew KEY's lease, if still held with TOKEN"
        case .release: return "release KEY, if still held with TOKEN"
        case .inspect: return "show who holds KEY, and its TTL on each instance"
        case .forceRelease: return "delete KEY on every instance, whoever holds it"
        case .doctor: return "check every instance and the quorum"
        case .help: return "show help for redlock or a command"
        }
    }

    /// A paragraph for `redlock COMMAND --help`.
    var details: String {
        switch self {
        case .run:
            return """
                Acquires KEY on a quorum of the Redis instances, runs COMMAND (directly, no shell) \
                in its own process group, renews the lease about every TTL/3, and releases KEY \
                when COMMAND ends. Exits with COMMAND's status (128+N if it died of signal N). \
                If the lease cannot be renewed, COMMAND gets the lost signal before the lease \
                could lapse and SIGKILL when it does, and redlock exits 76. COMMAND gets \
                REDLOCK_KEY, REDLOCK_TOKEN, REDLOCK_FENCING_TOKEN (grows with each holder: \
                what the lock protects refuses a smaller one) and REDLOCK_SLOT (-l, --slots).
                """
        case .acquire:
            return """
                Acquires KEY and prints the token on stdout (with --env, the lines \
                REDLOCK_TOKEN=... and REDLOCK_FENCING_TOKEN=..., ready for eval or $GITHUB_ENV). The holder recorded is the calling process (the script). Nothing \
                renews the lease: use 'redlock extend' before it ends, and 'redlock release'.
                """
        case .extend:
            return "Sets KEY's TTL anew, from now, where it still holds TOKEN; nothing renews it after that (only 'redlock run' keeps its own lease alive). Exits 76 if the lock is no longer held with TOKEN."
        case .release:
            return "Deletes KEY where it still holds TOKEN. Exits 76 if it expired or belongs to another token."
        case .inspect:
            return """
                Shows, for each KEY, the holder (host, pid, user, command, since when) when redlock \
                set it, or the raw value when another client did; the remaining TTL and state on \
                each instance; and whether a quorum holds it. A KEY with * ? or [ is a pattern, \
                found with SCAN on every instance; no KEY lists every lock redlock holds. Exits 0 \
                when every named key is held by a quorum, 1 otherwise, 69 when a quorum is unreachable.
                """
        case .forceRelease:
            return """
                Deletes KEY on every reachable instance, whoever holds it, and wakes waiters. On a \
                terminal it shows the holder and asks first; elsewhere it needs --yes. With \
                --token, deletes only where the holder's token is TOKEN (exit 1 if none matched).
                """
        case .doctor:
            return """
                Checks every instance: reachable, round trip, version, role, eviction policy, \
                persistence, uptime and clock offset; then whether a quorum is reachable. Exits 0 \
                when healthy, 1 on warnings, 69 when a quorum is unreachable.
                """
        case .help:
            return "Shows the help of redlock, or of COMMAND."
        }
    }
}
