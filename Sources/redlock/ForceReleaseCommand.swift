import Glibc
import RedlockCore

/// `redlock force-release [--yes] [--token T] KEY...`: clear a stuck lock, whoever holds it.
///
/// KEY is exact: a KEY with `* ? [` is refused (64) rather than read as a pattern, so that
/// a deletion never reaches keys the operator did not name (a pattern would match slots,
/// queue entries and fencing counters too); `redlock inspect PATTERN` lists the keys.
enum ForceReleaseCommand {
    struct Options {
        /// The keys as given: bytes, deleted unchanged.
        var keys: [[UInt8]]
        var token: String?
        var confirmed: Bool
    }

    static func options(_ invocation: Invocation) throws(Failure) -> Options {
        guard !invocation.positionalBytes.isEmpty, !invocation.positionalBytes.contains([]) else {
            throw Failure.usage("missing KEY", command: "force-release")
        }
        if let pattern = invocation.positionalBytes.first(where: InspectCommand.isPattern) {
            let shown = TerminalText.escaped(bytes: pattern)
            throw Failure.usage("force-release takes exact keys, not a pattern: '\(shown)'; list the keys with 'redlock inspect \(shown)' and name each", command: "force-release")
        }
        var token: String?
        if let given = invocation.last("token") {
            token = try StepCommands.checkedToken(given, command: "force-release")
        }
        return Options(keys: invocation.positionalBytes, token: token, confirmed: invocation.has("yes"))
    }

    /// How long apart the two reads of each key's TTL are: a holder whose TTL rose between
    /// them is renewing (a live `redlock run`).
    static let renewalWatch = Duration.milliseconds(1_200)

    static func execute(_ options: Options, config: Config) throws(Failure) -> Int32 {
        // Every mode: the plain key, shared holders, slots (AnyHolder).
        let redlock = config.makeRedlock(kind: AnyHolder())
        let console = config.console
        let keys = options.keys.map(config.redisKey)
        // Only a person at a terminal can confirm; a script must say --yes.
        if !options.confirmed && !FileDescriptor.standardInput.isTerminal {
            throw Failure.usage("refusing to delete without confirmation: no terminal to ask on; pass --yes", command: "force-release")
        }
        let firstReadEnded: Instant
        let before = redlock.inspect(keys)
        firstReadEnded = Instant.now()
        if !options.confirmed {
            for state in before {
                writeToTerminal(InspectCommand.text(state, config: config, redlock: redlock) + "\n")
            }
        }
        warnAboutRenewingHolders(before, readBy: firstReadEnded, redlock: redlock, config: config)
        if !options.confirmed {
            let what = options.keys.count == 1 ? "'\(TerminalText.escaped(bytes: options.keys[0]))'" : "these \(options.keys.count) keys"
            writeToTerminal("Delete \(what) on every instance\(options.token == nil ? ", whoever holds it" : " where the token matches")? [y/N] ")
            let answer = readLine(strippingNewline: true)?.lowercased() ?? ""
            guard answer == "y" || answer == "yes" else {
                console.note("nothing deleted")
                return ExitCode.negative.rawValue
            }
        }

        try DuplicateServers.refuse(redlock, askingFirst: true)
        // A token is one holder's, so with several keys it matches one at most: 1 only when
        // it matched none (the man page's "nothing matched TOKEN").
        var matched = false
        for (name, key) in zip(options.keys, keys) {
            let shown = TerminalText.escaped(bytes: name)
            var failures: [InstanceError] = []
            let done = redlock.forceRelease(key, token: options.token.map(LockToken.init))
            for (index, result) in done.results.enumerated() {
                let endpoint = redlock.instances.endpoints[index]
                switch result {
                case .success(true):
                    console.print("\(shown): \(endpoint): deleted")
                case .success(false):
                    console.print("\(shown): \(endpoint): \(options.token == nil ? "not held" : "not held with that token")")
                case let .failure(error):
                    console.print("\(shown): \(endpoint): \(TerminalText.escaped(error.withFlagHint))")
                    failures.append(InstanceError(endpoint: endpoint, error: error))
                }
            }
            if !done.quorumAnswered {
                throw LockWaiting.unreachable(failures, quorum: redlock.quorum, what: "force-release '\(shown)'")
            }
            if done.deletedAnywhere { matched = true }
        }
        return options.token != nil && !matched ? ExitCode.negative.rawValue : ExitCode.success.rawValue
    }

    /// One warning line per key whose holder is alive and renewing: deleting it makes that
    /// `redlock run` lose the lock and stop its COMMAND.
    ///
    /// Nothing but a renewal gives a key back time, so each held key's TTL is read twice,
    /// at least `renewalWatch` apart: a TTL that fell by less than the time that surely
    /// passed between the two reads (on an instance where the same value stands) was
    /// renewed. `run` renews every TTL/3, so a holder with a TTL up to about 3.6 s is always
    /// caught, a longer one only when a renewal falls between the reads: no warning is not
    /// a promise that the holder is gone.
    private static func warnAboutRenewingHolders(_ before: [KeyState], readBy firstReadEnded: Instant, redlock: Redlock, config: Config) {
        let held = before.filter { $0.holder != nil }
        guard !held.isEmpty else { return }
        let deadline = firstReadEnded + renewalWatch
        while Instant.now() < deadline { _ = Poll.wait([], timeout: deadline - Instant.now()) }
        // The second read starts now: at least this long after the first one ended.
        let surelyPassed = Instant.now() - firstReadEnded
        let after = redlock.inspect(held.map(\.key))
        for (first, second) in zip(held, after) {
            let renewed = first.instances.indices.contains { index in
                guard case let .held(old) = first.instances[index], case let .held(new) = second.instances[index],
                      let oldValue = old.first, let newValue = new.first, oldValue.value == newValue.value,
                      let oldRemaining = oldValue.remaining, let newRemaining = newValue.remaining else { return false }
                // PTTL is in whole milliseconds: a few of slack against rounding.
                return newRemaining > oldRemaining - surelyPassed + .milliseconds(5)
            }
            guard renewed, let raw = second.holder ?? first.holder else { continue }
            config.console.warn("'\(InspectCommand.displayName(first.key, config: config))' is held by a live holder that renews it (\(InstanceStateText.holder(raw))): deleting it stops its COMMAND")
        }
    }

    /// The holder's details and the prompt, on stderr (stdout is the report of what was
    /// deleted), every line escaped.
    private static func writeToTerminal(_ text: String) {
        FileDescriptor.standardError.writeAll(TerminalText.escapedKeepingNewlines(text))
    }
}
