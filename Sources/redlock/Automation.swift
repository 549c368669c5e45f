import RedlockCore

/// What `run` does for cron jobs, CI and tools beyond holding the lock: `--once ID` (at most
/// once per KEY and ID), `--events` (the event stream), and nested runs (COMMAND calling
/// `redlock run` on its own KEY).
struct Automation {
    /// `--once ID`, as bytes for the mark's key.
    var once: [UInt8]?
    var onceText: String?
    /// `--once-keep D`: the mark's TTL.
    var onceKeep: Duration
    var events: EventStream.Target?

    static let defaultOnceKeep: Duration = .seconds(7 * 24 * 3600)

    static func from(_ invocation: Invocation) throws(Failure) -> Automation {
        let command = invocation.command?.rawValue
        let id = invocation.last("once")
        if let id, id.isEmpty { throw Failure.usage("--once needs a non-empty ID (e.g. --once \"$(date -u +%F)\")", command: command) }
        let keep = try Config.duration(invocation, "once-keep")
        if keep != nil && id == nil { throw Failure.usage("--once-keep applies only with --once ID", command: command) }
        if let keep, keep < .seconds(1) { throw Failure.usage("--once-keep must be at least 1s", command: command) }
        return Automation(once: id.map { Array($0.utf8) }, onceText: id, onceKeep: keep ?? defaultOnceKeep, events: try EventStream.Target.from(invocation))
    }

    // MARK: - Nested runs

    /// When REDLOCK_KEY is KEY (bytes) and REDLOCK_TOKEN holds it on a quorum (one read-only
    /// round), this run is inside COMMAND of the run that holds it: waiting would wait for
    /// its own parent forever. COMMAND then replaces redlock at once: no lock is taken, none
    /// renewed or released (the parent owns the lease). Returns when this is not such a run.
    func runNestedIfParentHolds(config: Config, key: [UInt8], commandLine: [[UInt8]]) throws(Failure) {
        guard let inherited = ProcessIdentity.environmentValueBytes("REDLOCK_KEY"), inherited == key,
              let tokenBytes = ProcessIdentity.environmentValueBytes("REDLOCK_TOKEN"), Self.looksLikeToken(tokenBytes) else { return }
        let console = config.console
        let keyName = TerminalText.escaped(bytes: key)
        let redlock = config.makeRedlock()
        defer { redlock.instances.closeAll() }
        guard redlock.isHeld(key: config.redisKey(key), by: LockToken(String(decoding: tokenBytes, as: UTF8.self))) else {
            console.log("REDLOCK_TOKEN does not hold '\(keyName)' on a quorum: taking the lock as usual")
            return
        }
        if once != nil {
            throw Failure.usage("--once cannot be used in a nested run: the parent run holds '\(keyName)' (put --once on the outer run)", command: "run")
        }
        console.log("'\(keyName)' is held by the run that started this one (REDLOCK_TOKEN): running COMMAND without taking it again")
        redlock.instances.closeAll()
        let error = ProcessImage.replace(with: commandLine)
        let notFound = error == .noSuchFile || error.rawValue == 20 /* ENOTDIR */
        throw Failure(notFound ? .notFound : .cannotExecute, "cannot run '\(TerminalText.escaped(bytes: commandLine[0]))': \(error)")
    }

    /// redlock's tokens are base64url of 18 random bytes: anything else (empty, spaces that
    /// would change the matched prefix) is not one, and is not even asked about.
    static func looksLikeToken(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 22 && bytes.count <= 128 && bytes.allSatisfy { byte in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
    }

    // MARK: - --once

    /// Before COMMAND, under the lock: when a done mark for ID is on any instance of those
    /// that answered, COMMAND does not run; the lock is released (or left for the rest of
    /// `--min-hold`) and redlock exits with the conflict exit code, quietly with -E 0 or -q.
    func skipIfDone(redlock: Redlock, lease: Lease, waiting: LockWaiting, minHold: Duration?, events: EventStream?, console: Console) throws(Failure) {
        guard let once, let onceText else { return }
        let idName = TerminalText.escaped(onceText)
        switch redlock.onceMark(key: lease.key, id: once) {
        case .notDone:
            return
        case let .done(mark):
            events?.emit("skipped", [("reason", .string("once")), ("once", .string(onceText))])
            Self.release(redlock: redlock, lease: lease, minHold: minHold, events: events, console: console)
            let silent = waiting.conflictStatus == 0 || console.quiet
            throw Failure(status: waiting.conflictStatus, silent ? nil : "skipped: '\(waiting.keyName)' already ran for --once '\(idName)'\(Self.describe(mark: mark))")
        case let .unknown(failures):
            Self.release(redlock: redlock, lease: lease, minHold: minHold, events: events, console: console)
            throw LockWaiting.unreachable(failures, quorum: redlock.quorum, what: "read the --once mark '\(idName)' of '\(waiting.keyName)'")
        }
    }

    /// Releases a lease whose COMMAND is skipped (`--once`, `--if-newer`), keeping `--min-hold`.
    static func release(redlock: Redlock, lease: Lease, minHold: Duration?, events: EventStream?, console: Console) {
        var keep: Duration?
        if let minHold {
            let left = minHold - (Instant.now() - lease.acquiredAt)
            if left > .zero { keep = left }
        }
        let tally = redlock.release(lease, keepFor: keep)
        events?.emit("released", Self.releasedFields(tally, redlock: redlock, keptFor: keep, onceMarked: nil))
        for failure in tally.failures { console.log("release: \(failure.withFlagHint)") }
    }

    /// After COMMAND exited 0, while the lease is still ours: writes the mark on every
    /// instance where our token holds. Short of a quorum, a later run may not see it: said
    /// on stderr; the exit status stays COMMAND's.
    func markDone(redlock: Redlock, lease: Lease, waiting: LockWaiting, console: Console) -> Tally? {
        guard let once, let onceText else { return nil }
        let value = OnceMark.Record(host: ProcessIdentity.hostName, pid: ProcessIdentity.processID, atMilliseconds: WallClock.millisecondsSinceEpoch(), fence: lease.fence).encoded
        let tally = redlock.writeOnceMark(lease: lease, id: once, value: value, keep: onceKeep)
        if tally.reachedQuorum {
            console.log("marked '\(waiting.keyName)' done for --once '\(TerminalText.escaped(onceText))' on \(tally.confirmed) of \(redlock.instances.count) instances")
        } else {
            let why = ([tally.refused > 0 ? "\(tally.refused) no longer hold our token" : nil].compactMap { $0 } + tally.failures.map(\.withFlagHint)).joined(separator: "; ")
            console.warn("done mark for --once '\(TerminalText.escaped(onceText))' of '\(waiting.keyName)' written on \(tally.confirmed) of \(redlock.instances.count) instances, fewer than a quorum (\(redlock.quorum.needed)): a later run may run COMMAND again (\(why))")
        }
        return tally
    }

    /// " (done on web-3, pid 4242, at 2026-12-01T02:00:00Z)" from a mark redlock wrote.
    static func describe(mark: [UInt8]) -> String {
        guard let record = OnceMark.Record.decode(mark) else { return "" }
        return " (done on \(TerminalText.escaped(record.host)), pid \(record.pid), at \(TimeFormat.rfc3339(millisecondsSinceEpoch: record.atMilliseconds)))"
    }

    /// For `inspect KEY`: "  once:    2026-12-01 done on web-3, pid 4242, at ..., kept 167h more
    /// (3 of 3 instances)", one line a mark.
    static func onceMarkLines(key: [UInt8], redlock: Redlock) -> [String] {
        redlock.onceMarks(key: key).map { mark in
            var line = "  once:    " + TerminalText.escaped(bytes: mark.id)
            if let record = OnceMark.Record.decode(mark.value) {
                line += " done on \(TerminalText.escaped(record.host)), pid \(record.pid), at \(TimeFormat.rfc3339(millisecondsSinceEpoch: record.atMilliseconds))"
            } else {
                line += " " + TerminalText.escaped(bytes: mark.value)
            }
            if let remaining = mark.remaining { line += ", kept \(DurationSyntax.formatRough(remaining)) more" }
            line += " (\(mark.instances) of \(redlock.instances.count) instances)"
            return InstanceStateText.clipped(line, to: 120)
        }
    }

    // MARK: - Event fields

    static func acquiredFields(_ lease: Lease, redlock: Redlock, waited: Duration) -> [(String, JSONValue)] {
        [("instances", .integer(Int64(redlock.instances.count))), ("quorum", .integer(Int64(redlock.quorum.needed))),
         ("fence", .integer(lease.fence)), ("ttl_ms", .integer(lease.ttl.milliseconds)), ("waited_ms", .integer(waited.milliseconds))]
    }

    static func releasedFields(_ tally: Tally, redlock: Redlock, keptFor: Duration?, onceMarked: Tally?) -> [(String, JSONValue)] {
        var fields = EventStream.counts(tally, instances: redlock.instances.count, done: "released")
        fields.append(("quorum_reached", .bool(tally.reachedQuorum)))
        if let keptFor { fields.append(("kept_ms", .integer(keptFor.milliseconds))) }
        if let onceMarked { fields.append(("once_marked", .integer(Int64(onceMarked.confirmed)))) }
        return fields
    }
}
