import RedlockCore

/// Taking a lock for `run` and `acquire`: how long to wait, what to say while waiting, and
/// what a failure exits with. When to stop is the core's `WaitPolicy`; this renders.
struct LockWaiting {
    /// KEY as given (bytes), and as messages show it (escaped).
    let key: [UInt8]
    let keyName: String
    let ttl: Duration
    /// nil: wait forever.
    let waitLimit: Duration?
    /// `--unreachable-timeout`: how long attempts may reach no quorum before giving up.
    let unreachableTimeout: Duration
    let conflictStatus: Int32
    /// `--label`: recorded as the holder's command instead of the command line.
    let label: String?
    /// `acquire --events`/`--events-fd` (run keeps its own in `Automation`).
    var events: EventStream.Target? = nil
    /// `-x`, `-s`, `-l N`, `--slots` (LockModeOptions.swift).
    let mode: LockMode
    /// `--queue`, `--order-key`, `--supersede`: how waiters line up (Lock/Queue).
    var line = LineOptions()

    static func from(_ invocation: Invocation) throws(Failure) -> LockWaiting {
        let command = invocation.command?.rawValue
        guard let key = invocation.positionalBytes.first, !key.isEmpty else {
            throw Failure.usage("missing KEY", command: command)
        }
        let keyName = TerminalText.escaped(bytes: key)
        let ttl = try Config.ttl(invocation)
        if invocation.has("wait") && invocation.has("no-wait") {
            throw Failure.usage("--wait and --no-wait exclude each other", command: command)
        }
        var waitLimit = try Config.duration(invocation, "wait")
        if invocation.has("no-wait") { waitLimit = .zero }
        let unreachableTimeout = try Config.duration(invocation, "unreachable-timeout") ?? WaitPolicy.defaultUnreachableTimeout
        let conflict = try Config.integer(invocation, "conflict-exit-code", in: 0...255) ?? Int(ExitCode.notAcquired.rawValue)
        let mode = try mode(invocation)
        try refuseExclusiveOnlyOptions(invocation, in: mode)
        var waiting = LockWaiting(key: key, keyName: keyName, ttl: ttl, waitLimit: waitLimit, unreachableTimeout: unreachableTimeout, conflictStatus: Int32(conflict), label: invocation.last("label"), mode: mode)
        waiting.line = try LineOptions.from(invocation)
        return waiting
    }

    /// Waits for the lock. A signal in `inbox` ends the wait with status 128+N.
    func acquire(_ redlock: Redlock, key: [UInt8], value: LockValue, inbox: SignalInbox, console: Console, events: EventStream? = nil) throws(Failure) -> Lease {
        let console = conflictStatus == 0 ? console.withoutProgress() : console
        let started = Instant.now()
        let policy = WaitPolicy(deadline: waitLimit.map { started + $0 }, unreachableTimeout: unreachableTimeout)
        var waiting = false
        var lastStatus = Instant(nanoseconds: 0)
        var stoppedBy: Signal?
        /// The attempt the live line shows, and when it was made (its lease counts down).
        var shown: (attempt: AcquireAttempt, at: Instant)?

        var place: QueuePlace?
        let pause = { (delay: Duration, announcements: [FileDescriptor]) -> Bool in
                let end = Instant.now() + delay
                while true {
                    // On a terminal the line is redrawn every second, however long the pause.
                    let slice = shown != nil && console.statusIsLive ? min(end.remaining(), .seconds(1)) : end.remaining()
                    let ready = Poll.wait([(inbox.descriptor, .readable)] + announcements.map { ($0, .readable) }, timeout: slice)
                    stoppedBy = inbox.drain().first { $0 != .child && $0 != .terminalOutput }
                    if stoppedBy != nil { return false }
                    if ready.contains(where: { !$0.isEmpty }) || end.remaining() == .zero { return true }
                    if let shown { console.status("waiting for '\(keyName)': \(Self.describe(shown.attempt, elapsed: Instant.now() - shown.at, place: place))") }
                }
            }
        // Whether an attempt left our "writer waiting" mark (refused by shared holders).
        var marked = false
        let onAttempt = { (attempt: AcquireAttempt) -> Void in
                if Self.leftAWriterMark(attempt) { marked = true }
                log(attempt, console: console)
                guard waitLimit != .zero else { return }
                let now = Instant.now()
                shown = (attempt, now)
                let line = "waiting for '\(keyName)': \(Self.describe(attempt, place: place))"
                if !waiting {
                    waiting = true
                    if console.statusIsLive { console.status(line) } else { console.note(line) }
                    lastStatus = now
                } else if console.statusIsLive && now - lastStatus >= .milliseconds(250) {
                    console.status(line)
                    lastStatus = now
                }
            }
        // `--events`: "queued" with the first place we learn, "position" when it changes.
        let onPlace = { (now: QueuePlace) -> Void in
            let before = place
            place = now
            guard let events, before?.position != now.position else { return }
            events.emit(before == nil ? "queued" : "position", [("position", .integer(Int64(now.position))), ("waiting", .integer(Int64(now.waiting)))])
        }
        let outcome: AcquireOutcome
        let ended = self.line.wait(redlock, key: key, value: value, ttl: ttl, policy: policy, waiting: waitLimit != .zero, pause: pause, onAttempt: onAttempt, onPlace: onPlace,
                                   attempt: (redlock.kind as? Slots).map { redlock.slotAttempts($0, value: value, ttl: ttl) })
        // A writer that waited and gives up (its deadline, a signal, a newer waiter) takes its
        // "writer waiting" mark away at once: SPEC, a waiter that gives up leaves at once, and
        // the mark held new shared holders off for up to 3 s more.
        // Only where an attempt left one: a waiter refused by a plain holder pays no round.
        let gaveUpMarked: Bool
        switch ended {
        case .outcome(.finished(.acquired)): gaveUpMarked = false
        case let .outcome(.finished(last)), let .outcome(.interrupted(last)): gaveUpMarked = marked || Self.leftAWriterMark(last)
        case .superseded: gaveUpMarked = marked
        }
        if gaveUpMarked && mode == .exclusive && waitLimit != .zero { redlock.withdrawWritersMark(key: key, token: value.lockToken) }
        switch ended {
        case let .outcome(finished):
            outcome = finished
        case let .superseded(by: newer):
            if waiting { console.clearStatus() }
            let who = newer.map { QueueText.waiter($0) } ?? "a newer waiter"
            var fields: [(String, JSONValue)] = [("reason", .string("superseded")), ("waited_ms", .integer((Instant.now() - started).milliseconds))]
            if let newer {
                fields += [("by_host", .string(newer.holder.host)), ("by_pid", .integer(Int64(newer.holder.pid)))]
                if let key = newer.orderKey { fields.append(("by_order_key", .integer(key))) }
            }
            events?.emit("skipped", fields)
            throw Failure(status: conflictStatus, console.quiet ? nil : "skipped: '\(keyName)' superseded by \(who), queued after us (--supersede)")
        }

        if waiting { console.clearStatus() }
        if !redlock.instances.duplicateIdentities().isEmpty, case let .finished(.acquired(lease, _)) = outcome {
            // A lock "acquired" by one server's double vote is no lock: give it back first.
            _ = redlock.release(lease)
        }
        try DuplicateServers.refuse(redlock)
        if case let .finished(attempt) = outcome, let inUse = attempt.contention?.modeConflict { throw modeConflict(inUse) }
        switch outcome {
        case let .finished(.acquired(lease, failures)):
            for failure in failures { console.log("\(failure.withFlagHint) (the quorum held without it)") }
            if waiting {
                console.note("acquired '\(keyName)' after waiting \(DurationSyntax.formatRough(Instant.now() - started))")
            }
            console.log("acquired '\(keyName)' on a quorum in \(DurationSyntax.formatRough(Instant.now() - lease.acquiredAt)), valid for \(DurationSyntax.formatRough(lease.validUntil.remaining()))")
            return lease
        case .interrupted:
            throw Failure.endedBy(stoppedBy ?? .interrupt)
        case let .finished(.busy(contention)):
            let silent = conflictStatus == 0 || console.quiet
            let how = waitLimit == .zero ? "(--no-wait)" : "after waiting \(DurationSyntax.formatRough(Instant.now() - started))"
            events?.emit("skipped", [("reason", .string("busy")), ("waited_ms", .integer((Instant.now() - started).milliseconds))])
            throw Failure(status: conflictStatus, silent ? nil : "'\(keyName)' not acquired \(how): \(Self.describe(.busy(contention)))")
        case let .finished(.unreachable(contention)):
            // An outage, never silenced by -E 0: the lock could not be asked for.
            if contention.youngInstances > 0 {
                let failures = contention.failures.map { "; \($0.withFlagHint)" }.joined()
                let denied = contention.failures.contains { $0.error.isAccessDenied }
                throw Failure(denied ? .accessDenied : .unavailable, "cannot acquire '\(keyName)': \(Self.youngText(contention, quorum: redlock.quorum))\(failures)")
            }
            throw Self.unreachable(contention.failures, quorum: redlock.quorum, what: "acquire '\(keyName)'")
        }
    }

    /// Exit 77 when an instance refused us, 69 otherwise; the message names each failure.
    static func unreachable(_ failures: [InstanceError], quorum: Quorum, what: String) -> Failure {
        let denied = failures.contains { $0.error.isAccessDenied }
        let list = failures.map(\.withFlagHint).joined(separator: "; ")
        // Answers that refuse for good (an ACL, a key of another type) are answers: not
        // "fewer answered", but refused, as they would be again.
        let refusedForGood = !failures.isEmpty && failures.allSatisfy { $0.error.isPermanent }
        let reason = refusedForGood
            ? "cannot \(what): \(failures.count) of \(quorum.instances) instances refused, as they would every time (\(list))"
            : "cannot \(what): fewer than \(quorum.needed) of \(quorum.instances) instances answered (\(list))"
        return Failure(denied ? .accessDenied : .unavailable, reason)
    }

    /// Whether `attempt` was refused by shared holders somewhere, where the writer's acquire
    /// leaves its "writer waiting" mark.
    static func leftAWriterMark(_ attempt: AcquireAttempt) -> Bool {
        attempt.contention?.ballot.verdicts.contains { verdict in
            if case let .refused(holdings, _)? = verdict { return holdings.contains { $0.role == .shared } }
            return false
        } ?? false
    }

    /// The flag hint for instances too young to count: the core says how many, the CLI names the option.
    static func youngText(_ contention: Contention, quorum: Quorum) -> String {
        "\(contention.youngInstances) of the instances that granted it are up for less than --restart-grace, so they do not count yet (\(quorum.needed) of \(quorum.instances) needed)"
    }

    private func log(_ attempt: AcquireAttempt, console: Console) {
        guard console.verbose, let contention = attempt.contention else { return }
        console.log("'\(keyName)' not acquired: \(contention.holders.count) instance(s) held by others, \(contention.granted) granted, \(contention.failures.count) failed")
        for failure in contention.failures { console.log(failure.withFlagHint) }
    }

    /// "held by web-3 pid 4242 (deploy) for 2m13s, lease 21s left".
    static func describe(_ attempt: AcquireAttempt, elapsed: Duration = .zero, place: QueuePlace? = nil) -> String {
        if let place, case .busy = attempt {
            let held = describe(attempt, elapsed: elapsed)
            return QueueText.place(place) + (attempt.contention?.holders.isEmpty == true ? "" : "; " + held)
        }
        switch attempt {
        case .acquired:
            return "acquired"
        case let .unreachable(contention):
            if contention.youngInstances > 0 && contention.failures.isEmpty {
                return youngText(contention, quorum: Quorum(instances: contention.ballot.verdicts.count))
            }
            return "fewer than a quorum of instances answered (\(contention.failures.map(\.withFlagHint).joined(separator: "; ")))"
        case let .busy(contention):
            var text: String
            if let raw = contention.likelyHolder, LockValue.decode(raw) != nil {
                text = "held by " + InstanceStateText.holder(raw)
            } else if contention.holders.isEmpty && contention.granted == 0 {
                text = "free, but others are first in line"
            } else if contention.holders.isEmpty {
                text = "split between attempts"
            } else {
                text = "held by another client"
            }
            if let left = contention.earliestExpiry { text += ", lease \(DurationSyntax.formatRough(max(.zero, left - elapsed))) left" }
            return text
        }
    }
}
