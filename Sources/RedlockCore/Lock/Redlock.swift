/// The Redlock algorithm over independent masters: acquire, extend and release as single
/// rounds of the lock kind's scripts on every instance. Each reply is decoded once into a
/// verdict; `Quorum` decides each round (and ends it as soon as it is decided).
public final class Redlock {
    public let instances: InstanceSet
    /// What a lock is made of: its scripts and how their replies read.
    public let kind: any LockKind
    /// An instance up for less than this may have lost keys in a restart: its "yes" does not
    /// count toward the quorum (`--restart-grace`). Needs an InstanceSet that tracks uptime;
    /// an instance whose uptime is unknown does not count either.
    public let restartGrace: Duration
    /// What `acquireInLine` left to do after taking the lock, until `finishLeavingLine`.
    var lineLeftovers: LineLeftovers?

    public init(instances: InstanceSet, kind: any LockKind = Exclusive(), restartGrace: Duration = .zero) {
        self.instances = instances
        self.kind = kind
        self.restartGrace = restartGrace
    }

    public var quorum: Quorum { Quorum(instances: instances.count) }

    /// One round of `call`, each reply decoded once with `decode`, ended as soon as `decided`
    /// says so. `counting`: whether a grant from an instance too young for `--restart-grace`
    /// is marked as not counting.
    func vote(_ call: ScriptCall, on targets: [Int]? = nil, notAfter: Instant? = nil, counting: Bool = false, patience: Patience = .brief, decode: @escaping (Reply) -> Verdict, decided: @escaping (Ballot) -> Bool) -> Ballot {
        let ballot = { (results: [Result<Reply, RedisError>?]) -> Ballot in
            let verdicts: [Verdict?] = results.map { result in
                switch result {
                case let .success(reply)?: return decode(reply)
                case let .failure(error)?: return .failed(error)
                case nil: return nil
                }
            }
            var uncounted: Set<Int> = []
            if counting && self.restartGrace > .zero {
                for index in verdicts.indices where verdicts[index]?.isGranted == true {
                    if !(self.instances.uptime(of: index).map { $0 >= self.restartGrace } ?? false) { uncounted.insert(index) }
                }
            }
            return Ballot(verdicts, uncounted: uncounted)
        }
        let results = instances.evaluate(call.script, keys: call.keys, arguments: call.arguments, on: targets, notAfter: notAfter, decided: { decided(ballot($0)) }, patience: patience)
        return ballot(results)
    }

    func failures(in ballot: Ballot) -> [InstanceError] {
        ballot.failed.compactMap { index in ballot.verdicts[index]?.error.map { InstanceError(endpoint: instances.endpoints[index], error: $0) } }
    }

    // MARK: - Acquire

    /// An instance that granted an attempt, and the fencing counter it reported. A struct,
    /// not a tuple: an array of tuples has its type built at run time on first use, which
    /// the first granted attempt, between taking the lock and starting COMMAND, would pay.
    private struct Grant {
        let instance: Int
        let fence: Int64
    }

    /// One attempt to take `key` on a quorum. On failure, whatever it did set is released.
    ///
    /// Costs one round; a second one only when the instances that granted disagree about
    /// the fencing counter (after a restart), to raise it on a quorum before it is used.
    public func tryAcquire(key: [UInt8], value: LockValue, ttl: Duration) -> AcquireAttempt {
        let quorum = self.quorum
        let start = Instant.now()
        // The round ends as soon as the lock is ours. A refusal is not hurried: an instance
        // abandoned then may have granted, so it would need an undo round of its own (and a
        // new connection) for every attempt of every waiter, where waiting for its answer
        // costs a slow instance's reply, and a hung one the timeout, as before.
        let ballot = vote(kind.acquire(key: key, value: value, ttl: ttl), counting: true, decode: kind.acquireVerdict) {
            quorum.acquisition($0) == .acquired
        }
        var failures = self.failures(in: ballot)
        let granted: [Grant] = ballot.verdicts.indices.compactMap { index in
            if case let .granted(fence)? = ballot.verdicts[index] { return Grant(instance: index, fence: fence ?? 0) } else { return nil }
        }
        let decision = quorum.acquisition(ballot)
        if decision == .acquired {
            let fence = granted.map { $0.fence }.max() ?? 0
            let raised = raiseFence(key, to: fence, granted: granted)
            failures += raised.failures
            let end = Instant.now()
            if raised.heldByQuorum && Quorum.validity(ttl: ttl, start: start, end: end) > .zero {
                let lease = Lease(key: key, lockToken: value.lockToken, value: value, fence: fence, ttl: ttl, acquiredAt: start, validUntil: start + ttl - Quorum.driftAllowance(for: ttl))
                return .acquired(lease, failures: failures)
            }
        }
        // Undo a partial acquisition. Instances that failed, or were abandoned when the round
        // was decided, may have set the key before the reply was lost, so they get the
        // release too (unless the connection was never made); instances that refused do not.
        // No announcement: waking every waiter for a partial attempt would only make them
        // split the next vote too. This round waits for every one of them (within the
        // timeouts): a key left behind would keep the lock from everyone until its TTL.
        let mayHaveSet = ballot.failed.filter { index in
            if case .connectionFailed? = ballot.verdicts[index]?.error { return false } else { return true }
        }
        let undo = granted.map { $0.instance } + mayHaveSet
        if !undo.isEmpty {
            _ = vote(kind.release(key: key, token: value.lockToken, announce: false), on: undo, decode: kind.stepVerdict) { _ in false }
        }
        let holders = ballot.verdicts.indices.flatMap { index -> [Contention.Holder] in
            guard case let .refused(holdings, _)? = ballot.verdicts[index] else { return [] }
            return holdings.map { Contention.Holder(instance: index, endpoint: instances.endpoints[index], value: $0.value, remaining: $0.remaining) }
        }
        let contention = Contention(holders: holders, granted: granted.count, youngInstances: ballot.young, failures: failures, ballot: ballot)
        // Granted on a quorum but not valid any more (a round slower than the TTL): busy,
        // as a split vote is; the next attempt may do better.
        return decision == .unreachable ? .unreachable(contention) : .busy(contention)
    }

    /// Makes sure a quorum's counters are at least `fence` before the token is used: the
    /// granting instances that reported less are raised (set-if-greater). Returns whether a
    /// quorum now holds it, and the failures of that round (none when none was needed).
    private func raiseFence(_ key: [UInt8], to fence: Int64, granted: [Grant]) -> (heldByQuorum: Bool, failures: [InstanceError]) {
        let quorum = self.quorum
        let behind = granted.filter { $0.fence < fence }.map { $0.instance }
        let holding = granted.filter { $0.fence >= fence }.map { $0.instance }
        guard !quorum.isReached(by: holding.count) && !behind.isEmpty else { return (quorum.isReached(by: holding.count), []) }
        let raised = vote(kind.raiseFence(key: key, to: fence), on: behind, decode: { _ in .granted(fence: fence) }) { _ in false }
        var ballot = raised
        for index in holding { ballot.verdicts[index] = .granted(fence: fence) }
        return (quorum.isReached(by: ballot.granted), failures(in: raised))
    }

    /// Tries until the lock is taken or `policy` gives up (its deadline, waiting that cannot
    /// help, or `--unreachable-timeout` of attempts that reached no quorum).
    ///
    /// Between attempts it sleeps with `pause(delay, descriptors)`, which must also wake when
    /// one of `descriptors` is readable (the release announcements) and returns false when
    /// the wait must end early (a signal). `onAttempt` is told about each failed attempt
    /// after which it waits, for status lines (the last one is the outcome's).
    public func acquire(
        key: [UInt8], value: LockValue, ttl: Duration, policy: WaitPolicy,
        pause: (Duration, [FileDescriptor]) -> Bool, onAttempt: (AcquireAttempt) -> Void = { _ in },
        attempt makeAttempt: (() -> AcquireAttempt)? = nil
    ) -> AcquireOutcome {
        var policy = policy
        let quorum = self.quorum
        let waiter = Waiter(instances: instances, quorum: quorum, key: key, kind: kind)
        // A kind may attempt otherwise (Slots: probe, then one slot).
        let tryAcquire = makeAttempt ?? { self.tryAcquire(key: key, value: value, ttl: ttl) }
        var attempt = tryAcquire()
        var attemptEnded = Instant.now()
        while true {
            guard let contention = attempt.contention else { return .finished(attempt) }
            // One server under two names would vote twice: waiting cannot cure that, and the
            // caller refuses the configuration (InstanceSet.duplicateIdentities).
            if !instances.duplicateIdentities().isEmpty { return .finished(attempt) }
            let now = Instant.now()
            let decision: Quorum.Acquisition
            if case .unreachable = attempt { decision = .unreachable } else { decision = .busy }
            if policy.next(after: decision, ballot: contention.ballot, quorum: quorum, now: now) == .giveUp {
                return .finished(attempt)
            }
            onAttempt(attempt)
            let deadline = policy.latestRetry
            if waiter.listenIfNeeded(after: attempt) && waiter.mayHaveFreed(after: attempt) {
                // Released between the attempt and the subscription: unheard, so look again.
                attempt = tryAcquire()
                attemptEnded = Instant.now()
                continue
            }
            let wake: Waiter.Wake
            if let deadline, let held = waiter.knownHeld(after: attempt), attemptEnded + held >= deadline {
                // Held past the deadline unless a release is announced: wait for one, and
                // give up at the deadline without a last attempt that could only fail.
                wake = waiter.wait(deadline - now, pause: pause)
                if case .timerExpired = wake { return .finished(attempt) }
            } else {
                // At the deadline otherwise: one last attempt rather than giving up early.
                let planned = waiter.delay(after: attempt)
                wake = waiter.wait(deadline.map { min(planned, $0 - now) } ?? planned, pause: pause)
            }
            switch wake {
            case .interrupted:
                return .interrupted(attempt)
            case .announced, .timerExpired, .deafened:
                attempt = tryAcquire()
                attemptEnded = Instant.now()
            }
        }
    }

    // MARK: - Extend and release

    /// Renews the lease's TTL where our token still stands. The lease's validity moves only
    /// when a quorum renewed it in time.
    ///
    /// Then it takes the lock where the renewal found it free: an acquire round ends once a
    /// quorum granted, so an instance slower than the rest (or one that still held an
    /// expiring key) may never have got it, and the lease would stand on a bare quorum for
    /// its whole life, lost with one more instance although that one is healthy. Such a
    /// take does not count toward this renewal: the renewal's decision is exactly what it
    /// would be without it, and from the next one on, the instance holds our token like
    /// the others (and refuses anyone else). A take where another holder stands is refused,
    /// as any acquire is; instances that did not answer the renewal are not asked.
    public func extend(_ lease: inout Lease, ttl: Duration? = nil, notAfter: Instant? = nil) -> ExtendOutcome {
        let ttl = ttl ?? lease.ttl
        let start = Instant.now()
        let (outcome, ballot) = renew(key: lease.key, token: lease.lockToken, ttl: ttl, notAfter: notAfter)
        if case .extended = outcome {
            lease.validUntil = start + ttl - Quorum.driftAllowance(for: ttl)
            let free = ballot.indices(where: \.isRefused)
            if !free.isEmpty, let value = lease.value, let claim = kind.claim(key: lease.key, value: value, ttl: ttl, fence: lease.fence) {
                _ = vote(claim, on: free, notAfter: notAfter, decode: kind.stepVerdict) { _ in false }
            }
        }
        return outcome
    }

    /// Renews `key`'s TTL where `token` still stands: what `redlock extend` does with a token
    /// that `redlock acquire` printed. Extended only when a quorum renewed it in time.
    public func extend(key: [UInt8], token: LockToken, ttl: Duration, notAfter: Instant? = nil) -> ExtendOutcome {
        renew(key: key, token: token, ttl: ttl, notAfter: notAfter).outcome
    }

    private func renew(key: [UInt8], token: LockToken, ttl: Duration, notAfter: Instant?) -> (outcome: ExtendOutcome, ballot: Ballot) {
        let quorum = self.quorum
        let start = Instant.now()
        let ballot = vote(kind.extend(key: key, token: token, ttl: ttl), notAfter: notAfter, patience: .complete, decode: kind.stepVerdict) {
            quorum.renewal($0) != .undecided
        }
        let tally = Tally(ballot, failures: failures(in: ballot), decision: quorum.release(ballot))
        switch quorum.renewal(ballot) {
        case .renewed where Quorum.validity(ttl: ttl, start: start, end: Instant.now()) > .zero: return (.extended(tally), ballot)
        case .lost: return (.lost(tally), ballot)
        default: return (.failed(tally), ballot)
        }
    }

    /// Deletes the key where it holds our token. With `keepFor`, leaves it held for that
    /// long instead (`--min-hold`), still only where it is ours. The tally says, when a
    /// quorum was missed, how long the key may stay where the release did not arrive.
    public func release(_ lease: Lease, keepFor: Duration? = nil) -> Tally {
        var tally: Tally
        if let keepFor, keepFor.milliseconds > 0 {
            let quorum = self.quorum
            // A release like any other: an instance left out would keep the key for the
            // rest of its TTL instead of `keepFor`.
            let ballot = vote(kind.extend(key: lease.key, token: lease.lockToken, ttl: keepFor), patience: .complete, decode: kind.stepVerdict) {
                quorum.release($0) != .undecided
            }
            tally = Tally(ballot, failures: failures(in: ballot), decision: quorum.release(ballot))
        } else {
            tally = release(key: lease.key, token: lease.lockToken)
        }
        // At most until the TTL of the last renewal runs out.
        tally.keyMayStay = max(.zero, lease.validUntil + Quorum.driftAllowance(for: lease.ttl) - Instant.now())
        return tally
    }

    /// Deletes `key` where `token` holds it, and announces the release to waiters.
    /// A writer that gave up waiting takes its "writer waiting" mark away on every instance
    /// (the mark would otherwise hold new shared holders off for up to its 3 s).
    public func withdrawWritersMark(key: [UInt8], token: LockToken) {
        let call = Exclusive().withdrawMark(key: key, token: token)
        _ = instances.evaluate(call.script, keys: call.keys, arguments: call.arguments, decided: quorum.answered, patience: .complete)
    }

    public func release(key: [UInt8], token: LockToken) -> Tally {
        let quorum = self.quorum
        let ballot = vote(kind.release(key: key, token: token, announce: true), patience: .complete, decode: kind.stepVerdict) {
            quorum.release($0) != .undecided
        }
        return Tally(ballot, failures: failures(in: ballot), decision: quorum.release(ballot))
    }
}

/// How the instances answered a compare-and-act round (extend, release): for reports. The
/// counting is Quorum's; these are its numbers, for people.
public struct Tally: Sendable {
    public let confirmed: Int
    public let refused: Int
    /// The instances that failed or did not answer before the round was decided.
    public let failures: [InstanceError]
    /// The round as a release: done on a quorum, or missed (and where).
    public let decision: Quorum.Release
    /// For a lease's release: how long the key may stay where the release did not arrive.
    public internal(set) var keyMayStay: Duration?

    init(_ ballot: Ballot, failures: [InstanceError], decision: Quorum.Release) {
        confirmed = ballot.granted
        refused = ballot.refused
        self.failures = failures
        self.decision = decision
    }

    /// Whether the round was done on a quorum.
    public var reachedQuorum: Bool {
        if case .released = decision { return true } else { return false }
    }
}

/// One attempt's result.
public enum AcquireAttempt: Sendable {
    case acquired(Lease, failures: [InstanceError])
    /// A quorum answered, but the lock is held (or split between holders).
    case busy(Contention)
    /// Too few instances answered usefully: failed, or too young for `--restart-grace`.
    case unreachable(Contention)

    /// Why the lock was not taken; nil when it was.
    public var contention: Contention? {
        switch self {
        case .acquired: return nil
        case let .busy(contention), let .unreachable(contention): return contention
        }
    }
}

/// What the waiting loop ended with.
public enum AcquireOutcome: Sendable {
    /// The last attempt: `.acquired`, or the refusal when the policy gave up.
    case finished(AcquireAttempt)
    /// A signal ended the wait; the last attempt is given for reporting.
    case interrupted(AcquireAttempt)
}

public enum ExtendOutcome: Sendable {
    case extended(Tally)
    /// Not renewed on a quorum this time; a later attempt may still succeed.
    case failed(Tally)
    /// Too many instances hold another value (or none): the lease cannot be renewed.
    case lost(Tally)
}

/// Who holds a lock that an attempt could not take.
public struct Contention: Sendable {
    public struct Holder: Sendable {
        public let instance: Int
        public let endpoint: Endpoint
        /// The holder's raw value (redlock's holder metadata, or another client's token).
        public let value: [UInt8]
        /// The key's remaining TTL on that instance; nil when it has none.
        public let remaining: Duration?
    }

    public let holders: [Holder]
    /// How many instances granted the attempt (released again since).
    public let granted: Int
    /// Of those, how many were up for less than `--restart-grace` and did not count.
    public let youngInstances: Int
    public let failures: [InstanceError]
    /// The attempt's verdicts, for the waiting policy.
    public let ballot: Ballot

    /// The shortest remaining TTL reported: the earliest the lock could free by expiry.
    public var earliestExpiry: Duration? { holders.compactMap(\.remaining).min() }

    /// When to come back at the latest: the earliest expiry, or sooner where an instance
    /// asked for it (a writer waiting on shared holders refreshes its mark).
    public var retryAfter: Duration? {
        let asked = ballot.verdicts.compactMap { verdict -> Duration? in
            if case let .refused(_, retryAfter)? = verdict { return retryAfter } else { return nil }
        }
        return (asked + [earliestExpiry].compactMap { $0 }).min()
    }

    /// The holder shown on the waiting line: Quorum's one rule (most instances, then the
    /// lowest instance), as inspect shows it.
    public var likelyHolder: [UInt8]? {
        Quorum.leadingHolder(holders.map { ($0.instance, $0.value) }, identity: KeyState.identity)?.value
    }

    /// Whether waiting cannot help: failures that the next attempt would meet again.
    public var permanentFailures: [InstanceError] { failures.filter { $0.error.isPermanent } }
}
