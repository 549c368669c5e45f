import RedlockCore

/// Taking a lock for `run` and `acquire`: how long to wait, what to say while waiting, and
/// what a failure exits with. When to stop is the core's `WaitPolicy`; this renders.
struct LockWaiting {
    let keyName: String
    let ttl: Duration
    /// nil: wait forever.
    let waitLimit: Duration?
    /// `--unreachable-timeout`: how long attempts may reach no quorum before giving up.
    let unreachableTimeout: Duration
    let conflictStatus: Int32

    static func from(_ invocation: Invocation) throws(Failure) -> LockWaiting {
        let command = invocation.command?.rawValue
        guard let keyName = invocation.positionals.first, !keyName.isEmpty else {
            throw Failure.usage("missing KEY", command: command)
        }
        let ttl = try Config.positiveDuration(invocation, "ttl", default: .seconds(30))
        guard ttl >= .milliseconds(10) else {
            throw Failure.usage("--ttl must be at least 10ms", command: command)
        }
        if invocation.has("wait") && invocation.has("no-wait") {
            throw Failure.usage("--wait and --no-wait exclude each other", command: command)
        }
        var waitLimit = try Config.duration(invocation, "wait")
        if invocation.has("no-wait") { waitLimit = .zero }
        let unreachableTimeout = try Config.duration(invocation, "unreachable-timeout") ?? WaitPolicy.defaultUnreachableTimeout
        let conflict = try Config.integer(invocation, "conflict-exit-code", in: 0...255) ?? Int(ExitCode.notAcquired.rawValue)
        return LockWaiting(keyName: keyName, ttl: ttl, waitLimit: waitLimit, unreachableTimeout: unreachableTimeout, conflictStatus: Int32(conflict))
    }

    /// Waits for the lock. A signal in `inbox` ends the wait with status 128+N.
    func acquire(_ redlock: Redlock, key: [UInt8], value: LockValue, inbox: SignalInbox, console: Console) throws(Failure) -> Lease {
        let started = Instant.now()
        let policy = WaitPolicy(deadline: waitLimit.map { started + $0 }, unreachableTimeout: unreachableTimeout)
        var waiting = false
        var lastStatus = Instant(nanoseconds: 0)
        var stoppedBy: Signal?

        let outcome = redlock.acquire(
            key: key, value: value, ttl: ttl, policy: policy,
            pause: { delay, announcements in
                _ = Poll.wait([(inbox.descriptor, .readable)] + announcements.map { ($0, .readable) }, timeout: delay)
                stoppedBy = inbox.drain().first { $0 != .child && $0 != .terminalOutput }
                return stoppedBy == nil
            },
            onAttempt: { attempt in
                log(attempt, console: console)
                guard waitLimit != .zero else { return }
                let now = Instant.now()
                let line = "waiting for '\(keyName)': \(Self.describe(attempt))"
                if !waiting {
                    waiting = true
                    if console.statusIsLive { console.status(line) } else { console.note(line) }
                    lastStatus = now
                } else if console.statusIsLive && now - lastStatus >= .milliseconds(250) {
                    console.status(line)
                    lastStatus = now
                }
            })

        if waiting { console.clearStatus() }
        switch outcome {
        case let .finished(.acquired(lease, failures)):
            for failure in failures { console.log("\(failure) (the quorum held without it)") }
            if waiting {
                console.note("acquired '\(keyName)' after waiting \(DurationSyntax.formatRough(Instant.now() - started))")
            }
            console.log("acquired '\(keyName)' on a quorum in \(DurationSyntax.formatRough(Instant.now() - lease.acquiredAt)), valid for \(DurationSyntax.formatRough(lease.validUntil.remaining()))")
            return lease
        case .interrupted:
            // Ended by a signal: exit as if it had killed us, quietly, as a shell expects.
            let signal = stoppedBy ?? .interrupt
            throw Failure(status: 128 + signal.rawValue, nil)
        case let .finished(.busy(contention)):
            let silent = conflictStatus == 0 || console.quiet
            let how = waitLimit == .zero ? "(--no-wait)" : "after waiting \(DurationSyntax.formatRough(Instant.now() - started))"
            throw Failure(status: conflictStatus, silent ? nil : "'\(keyName)' not acquired \(how): \(Self.describe(.busy(contention)))")
        case let .finished(.unreachable(contention)):
            // An outage, never silenced by -E 0: the lock could not be asked for.
            if contention.youngInstances > 0 {
                let failures = contention.failures.map { "; \($0)" }.joined()
                let denied = contention.failures.contains { $0.error.isAccessDenied }
                throw Failure(denied ? .accessDenied : .unavailable, "cannot acquire '\(keyName)': \(Self.youngText(contention, quorum: redlock.quorum))\(failures)")
            }
            throw Self.unreachable(contention.failures, quorum: redlock.quorum, what: "acquire '\(keyName)'")
        }
    }

    /// Exit 77 when an instance refused us, 69 otherwise; the message names each failure.
    static func unreachable(_ failures: [InstanceError], quorum: Quorum, what: String) -> Failure {
        let denied = failures.contains { $0.error.isAccessDenied }
        let list = failures.map(\.description).joined(separator: "; ")
        let reason = "cannot \(what): fewer than \(quorum.needed) of \(quorum.instances) instances answered (\(list))"
        return Failure(denied ? .accessDenied : .unavailable, reason)
    }

    /// The flag hint for instances too young to count: the core says how many, the CLI names the option.
    static func youngText(_ contention: Contention, quorum: Quorum) -> String {
        "\(contention.youngInstances) of the instances that granted it are up for less than --restart-grace, so they do not count yet (\(quorum.needed) of \(quorum.instances) needed)"
    }

    private func log(_ attempt: AcquireAttempt, console: Console) {
        guard console.verbose, let contention = attempt.contention else { return }
        console.log("'\(keyName)' not acquired: \(contention.holders.count) instance(s) held by others, \(contention.granted) granted, \(contention.failures.count) failed")
        for failure in contention.failures { console.log("\(failure)") }
    }

    /// "held by web-3 pid 4242 (deploy) for 2m13s, lease 21s left".
    static func describe(_ attempt: AcquireAttempt) -> String {
        switch attempt {
        case .acquired:
            return "acquired"
        case let .unreachable(contention):
            if contention.youngInstances > 0 && contention.failures.isEmpty {
                return youngText(contention, quorum: Quorum(instances: contention.ballot.verdicts.count))
            }
            return "fewer than a quorum of instances answered (\(contention.failures.map(\.description).joined(separator: "; ")))"
        case let .busy(contention):
            var text: String
            if let raw = contention.likelyHolder, LockValue.decode(raw) != nil {
                text = "held by " + InstanceStateText.holder(raw)
            } else if contention.holders.isEmpty {
                text = "split between attempts"
            } else {
                text = "held by another client"
            }
            if let left = contention.earliestExpiry { text += ", lease \(DurationSyntax.formatRough(left)) left" }
            return text
        }
    }
}
