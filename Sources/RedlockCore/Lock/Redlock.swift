/// The Redlock algorithm over independent masters: acquire, extend and release as single
/// rounds of scripts on every instance, decided by a quorum and bounded by validity.
public final class Redlock {
    public let instances: InstanceSet
    /// An instance up for less than this may have lost keys in a restart: its "yes" does not
    /// count toward the quorum (`--restart-grace`). Needs an InstanceSet that tracks uptime;
    /// an instance whose uptime is unknown does not count either.
    public let restartGrace: Duration

    public init(instances: InstanceSet, restartGrace: Duration = .zero) {
        self.instances = instances
        self.restartGrace = restartGrace
    }

    public var quorum: Int { instances.quorum }

    /// The allowance for clock drift between this host and the instances: TTL * 1% + 2 ms,
    /// as in the Redlock description.
    public static func driftAllowance(for ttl: Duration) -> Duration {
        ttl.scaled(by: 0.01) + .milliseconds(2)
    }

    /// How long a lock taken in a round that started at `start` and ended at `end` is valid
    /// from `end`: TTL - elapsed - drift (zero or less means not valid at all).
    public static func validity(ttl: Duration, start: Instant, end: Instant) -> Duration {
        ttl - (end - start) - driftAllowance(for: ttl)
    }

    // MARK: - Acquire

    /// One attempt to take `key` on a quorum. On failure, whatever it did set is released.
    ///
    /// Costs one round; a second one only when the instances that granted disagree about
    /// the fencing counter (after a restart), to raise it on a quorum before it is used.
    public func tryAcquire(key: [UInt8], value: LockValue, ttl: Duration) -> AcquireAttempt {
        let encoded = value.encoded
        let fenceKey = LockKeys.fenceKey(for: key)
        let start = Instant.now()
        let results = instances.evaluate(Scripts.acquire, keys: [key, fenceKey], arguments: [encoded, Self.milliseconds(ttl), value.ownershipPrefix])
        var granted: [(instance: Int, fence: Int64)] = []
        var holders: [Contention.Holder] = []
        var failures: [InstanceError] = []
        var tooYoung: [Int] = []
        for (index, result) in results.enumerated() {
            switch result {
            case let .success(.array(items)) where items.count == 2 && items[0] == .integer(1):
                if restartGrace > .zero && !(instances.uptime(of: index).map { $0 >= restartGrace } ?? false) {
                    tooYoung.append(index)
                }
                granted.append((index, items[1].integer ?? 0))
            case let .success(.array(items)) where items.count == 3 && items[0] == .integer(0):
                let pttl = items[1].integer ?? -1
                let raw: [UInt8]
                if case let .bulk(bytes) = items[2] { raw = bytes } else { raw = [] }
                holders.append(Contention.Holder(instance: index, endpoint: instances.endpoints[index], value: raw, remaining: pttl >= 0 ? .milliseconds(pttl) : nil))
            case let .success(other):
                failures.append(InstanceError(endpoint: instances.endpoints[index], error: .unexpectedReply("\(other)")))
            case let .failure(error):
                failures.append(InstanceError(endpoint: instances.endpoints[index], error: error))
            case nil:
                break
            }
        }
        let counted = granted.count - tooYoung.count
        var fence: Int64 = 0
        var fenceHeld = false
        if counted >= quorum {
            fence = granted.map { $0.fence }.max() ?? 0
            let raised = raiseFence(fenceKey, to: fence, granted: granted)
            failures += raised.failures
            fenceHeld = raised.heldByQuorum
        }
        let end = Instant.now()
        if fenceHeld && Self.validity(ttl: ttl, start: start, end: end) > .zero {
            let lease = Lease(key: key, value: value, fence: fence, ttl: ttl, acquiredAt: start, validUntil: start + ttl - Self.driftAllowance(for: ttl))
            return .acquired(lease, failures: failures)
        }
        // Undo a partial acquisition. Instances that failed may have set the key before the
        // reply was lost, so they get the release too; instances that refused do not.
        let undo = granted.map { $0.instance } + failures.compactMap { failure in instances.endpoints.firstIndex(of: failure.endpoint) }
        if !undo.isEmpty {
            // No announcement: waking every waiter for a partial attempt would only make
            // them split the next vote too.
            _ = instances.evaluate(Scripts.release, keys: [key], arguments: [value.ownershipPrefix, []], on: undo)
        }
        let contention = Contention(holders: holders, granted: granted.count, youngInstances: tooYoung.count, failures: failures)
        if granted.count + holders.count >= quorum {
            return .busy(contention)
        }
        return .unreachable(contention)
    }

    /// Makes sure a quorum's counters are at least `fence` before the token is used: the
    /// granting instances that reported less are raised (set-if-greater). Returns whether a
    /// quorum now holds it, and the failures of that round (none when none was needed).
    private func raiseFence(_ fenceKey: [UInt8], to fence: Int64, granted: [(instance: Int, fence: Int64)]) -> (heldByQuorum: Bool, failures: [InstanceError]) {
        let behind = granted.filter { $0.fence < fence }.map { $0.instance }
        var holding = granted.count - behind.count
        var failures: [InstanceError] = []
        if holding < quorum && !behind.isEmpty {
            let results = instances.evaluate(Scripts.raiseFence, keys: [fenceKey], arguments: [Array(String(fence).utf8)], on: behind)
            for index in behind {
                switch results[index] {
                case .success?: holding += 1
                case let .failure(error)?: failures.append(InstanceError(endpoint: instances.endpoints[index], error: error))
                case nil: break
                }
            }
        }
        return (holding >= quorum, failures)
    }

    /// Tries until the lock is taken or `deadline` passes (nil: forever).
    ///
    /// Between attempts it sleeps with `pause(delay, descriptors)`, which must also wake when
    /// one of `descriptors` is readable (the release announcements) and returns false when
    /// the wait must end early (a signal). `onContention` is told about each failed attempt,
    /// for status lines, and returns false when waiting longer cannot help (a refused
    /// password does not fix itself).
    public func acquire(
        key: [UInt8], value: LockValue, ttl: Duration, deadline: Instant?,
        pause: (Duration, [FileDescriptor]) -> Bool, onContention: (AcquireAttempt) -> Bool = { _ in true }
    ) -> AcquireOutcome {
        let waiter = Waiter(instances: instances, key: key)
        var attempt = tryAcquire(key: key, value: value, ttl: ttl)
        var attemptEnded = Instant.now()
        while true {
            if case .acquired = attempt { return .finished(attempt) }
            if !onContention(attempt) { return .finished(attempt) }
            let now = Instant.now()
            if let deadline, now >= deadline { return .finished(attempt) }
            if waiter.listenIfNeeded(after: attempt) && waiter.mayHaveFreed() {
                // Released between the attempt and the subscription: unheard, so look again.
                attempt = tryAcquire(key: key, value: value, ttl: ttl)
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
                attempt = tryAcquire(key: key, value: value, ttl: ttl)
                attemptEnded = Instant.now()
            }
        }
    }

    // MARK: - Extend and release

    /// Renews the lease's TTL where our token still stands. The lease's validity moves only
    /// when a quorum renewed it in time.
    public func extend(_ lease: inout Lease, ttl: Duration? = nil, notAfter: Instant? = nil) -> ExtendOutcome {
        let ttl = ttl ?? lease.ttl
        let start = Instant.now()
        let results = instances.evaluate(Scripts.extend, keys: [lease.key], arguments: [lease.value.ownershipPrefix, Self.milliseconds(ttl)], notAfter: notAfter)
        let end = Instant.now()
        let tally = Tally(results, endpoints: instances.endpoints)
        if tally.confirmed >= quorum && Self.validity(ttl: ttl, start: start, end: end) > .zero {
            lease.validUntil = start + ttl - Self.driftAllowance(for: ttl)
            return .extended(tally)
        }
        // Instances that said "not yours" will not change their minds: when too many did,
        // no later attempt can reach a quorum and the lease is lost now.
        if tally.refused > instances.count - quorum { return .lost(tally) }
        return .failed(tally)
    }

    /// Deletes the key where it holds our token. With `keepFor`, leaves it held for that
    /// long instead (`--min-hold`), still only where it is ours.
    public func release(_ lease: Lease, keepFor: Duration? = nil) -> Tally {
        let results: [Result<Reply, RedisError>?]
        if let keepFor, keepFor.milliseconds > 0 {
            results = instances.evaluate(Scripts.extend, keys: [lease.key], arguments: [lease.value.ownershipPrefix, Self.milliseconds(keepFor)])
        } else {
            let channel = LockKeys.releaseChannel(for: lease.key)
            results = instances.evaluate(Scripts.release, keys: [lease.key], arguments: [lease.value.ownershipPrefix, channel])
        }
        return Tally(results, endpoints: instances.endpoints)
    }

    static func milliseconds(_ duration: Duration) -> [UInt8] {
        Array(String(max(1, duration.milliseconds)).utf8)
    }
}

/// How the instances answered a compare-and-act script (1 = done, 0 = not ours).
public struct Tally: Sendable {
    public var confirmed = 0
    public var refused = 0
    public var failures: [InstanceError] = []

    init(_ results: [Result<Reply, RedisError>?], endpoints: [Endpoint]) {
        for (index, result) in results.enumerated() {
            switch result {
            case .success(.integer(1)): confirmed += 1
            case .success(.integer(0)): refused += 1
            case let .success(other): failures.append(InstanceError(endpoint: endpoints[index], error: .unexpectedReply("\(other)")))
            case let .failure(error): failures.append(InstanceError(endpoint: endpoints[index], error: error))
            case nil: break
            }
        }
    }
}

/// One attempt's result.
public enum AcquireAttempt: Sendable {
    case acquired(Lease, failures: [InstanceError])
    /// A quorum answered, but the lock is held (or split between holders).
    case busy(Contention)
    /// Fewer than a quorum of instances answered at all.
    case unreachable(Contention)
}

/// What the waiting loop ended with.
public enum AcquireOutcome: Sendable {
    /// The last attempt: `.acquired`, or the refusal at the deadline.
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

    /// The shortest remaining TTL reported: the earliest the lock could free by expiry.
    public var earliestExpiry: Duration? { holders.compactMap(\.remaining).min() }

    /// The holder most instances reported (for the waiting line).
    public var likelyHolder: [UInt8]? {
        var counts: [[UInt8]: Int] = [:]
        for holder in holders { counts[holder.value, default: 0] += 1 }
        return counts.max { $0.value < $1.value }?.key
    }
}
