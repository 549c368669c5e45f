/// One instance's answer to a lock request, decoded once (by the lock's kind) from its reply.
/// Every decision about a round is made from these, never from replies.
public enum Verdict: Sendable, Equatable {
    /// Done: the lock granted (with the fencing token the instance handed out), our TTL
    /// renewed, or our key deleted. Only an acquire carries a fence.
    case granted(fence: Int64?)
    /// Not done: another holder stands there (acquire), or our token does not (extend,
    /// release). `retryAfter`: the earliest those holders could expire.
    case refused(holders: [Holding], retryAfter: Duration?)
    /// No usable answer (including no answer before the round was decided). `permanent`:
    /// the next attempt would fail the same way (a refused password, scripting disabled).
    case failed(RedisError, permanent: Bool)

    public static func failed(_ error: RedisError) -> Verdict { .failed(error, permanent: error.isPermanent) }

    var isGranted: Bool { if case .granted = self { return true } else { return false } }
    var isRefused: Bool { if case .refused = self { return true } else { return false } }
    var error: RedisError? { if case let .failed(error, _) = self { return error } else { return nil } }
}

/// Who holds a lock on one instance, and how long it has left there (nil: no TTL).
public struct Holding: Sendable, Equatable {
    /// The holder's raw value: redlock's holder record, or another client's token.
    public let value: [UInt8]
    public let remaining: Duration?
    /// Which side of KEY it holds: the plain key, one of the shared holders, or a slot.
    public let role: Role

    public enum Role: Sendable, Equatable {
        case exclusive
        case shared
        case slot([UInt8])
    }

    public init(value: [UInt8], remaining: Duration?, role: Role = .exclusive) {
        self.value = value
        self.remaining = remaining
        self.role = role
    }
}

/// The verdicts of one round, by instance: nil where the instance was not asked or has not
/// answered yet (a round is decided on partial ballots).
public struct Ballot: Sendable {
    public var verdicts: [Verdict?]
    /// Instances whose grant does not count: up for less than `--restart-grace`, they may have
    /// lost keys in a restart.
    public var uncounted: Set<Int>

    public init(_ verdicts: [Verdict?], uncounted: Set<Int> = []) {
        self.verdicts = verdicts
        self.uncounted = uncounted
    }

    func indices(where test: (Verdict) -> Bool) -> [Int] {
        verdicts.indices.filter { verdicts[$0].map(test) ?? false }
    }

    /// Grants that count toward a quorum.
    var counted: Int { indices(where: \.isGranted).filter { !uncounted.contains($0) }.count }
    /// Grants from instances too young to count.
    var young: Int { indices(where: \.isGranted).filter { uncounted.contains($0) }.count }
    var granted: Int { indices(where: \.isGranted).count }
    var refused: Int { indices(where: \.isRefused).count }
    var failed: [Int] { indices { $0.error != nil } }
    var pending: Int { verdicts.filter { $0 == nil }.count }
    var permanentFailures: Int {
        verdicts.filter { if case .failed(_, true)? = $0 { return true } else { return false } }.count
    }
}

/// The quorum of N independent instances and every decision over a round's verdicts: the one
/// place that counts votes. Pure: the clock is passed in, so each rule is tested without a
/// server (Tests/RedlockCoreTests/QuorumTests.swift).
public struct Quorum: Sendable, Equatable {
    /// N, the instances of the quorum.
    public let instances: Int

    public init(instances: Int) { self.instances = instances }

    /// floor(N/2) + 1: a majority, so two holders can never both have one.
    public var needed: Int { instances / 2 + 1 }
    /// How many instances may fail (or say no) before nothing can be decided: N - quorum.
    public var spare: Int { instances - needed }

    /// Whether `count` instances (holding, listening, counting) make a quorum.
    public func isReached(by count: Int) -> Bool { count >= needed }

    /// How many of `count` instances may fail before they no longer make a quorum
    /// (negative: they do not make one now).
    public func canLose(of count: Int) -> Int { count - needed }

    // MARK: - Acquire

    public enum Acquisition: Sendable, Equatable {
        /// More answers may still change the outcome.
        case undecided
        /// A quorum granted (and counts).
        case acquired
        /// A quorum answered, but cannot grant: held elsewhere, or split between contenders.
        case busy
        /// Too few instances answered usefully (failed, or too young to count) for a quorum.
        case unreachable
    }

    /// Acquired as soon as a quorum's grants count; busy or unreachable as soon as success is
    /// out of reach and the remaining answers cannot change which of the two it is.
    public func acquisition(_ ballot: Ballot) -> Acquisition {
        if ballot.counted >= needed { return .acquired }
        guard ballot.counted + ballot.pending < needed else { return .undecided }
        if ballot.counted + ballot.refused >= needed { return .busy }
        if ballot.failed.count + ballot.young > spare { return .unreachable }
        return .undecided
    }

    /// Whether trying again cannot help: more instances failed permanently than may fail.
    public func waitingCannotHelp(_ ballot: Ballot) -> Bool {
        ballot.permanentFailures > spare
    }

    // MARK: - Extend

    public enum Renewal: Sendable, Equatable {
        case undecided
        /// A quorum renewed our TTL (whether in time is `validity`'s question).
        case renewed
        /// More instances than may fail say the token is gone: no later attempt can succeed.
        case lost
        /// Not renewed on a quorum this time; a later attempt may succeed.
        case retry
    }

    public func renewal(_ ballot: Ballot) -> Renewal {
        if ballot.granted >= needed { return .renewed }
        guard ballot.granted + ballot.pending < needed else { return .undecided }
        if ballot.refused > spare { return .lost }
        if ballot.refused + ballot.pending <= spare { return .retry }
        return .undecided
    }

    // MARK: - Release

    public enum Release: Sendable, Equatable {
        case undecided
        /// Deleted on a quorum; `missed`: the instances that did not answer, where the key
        /// may stay until its TTL runs out.
        case released(missed: [Int])
        /// A quorum answered, and on too few of them the key held our token.
        case notHeld(missed: [Int])
        /// Fewer than a quorum answered at all.
        case unreachable(missed: [Int])
    }

    public func release(_ ballot: Ballot) -> Release {
        if ballot.granted >= needed { return .released(missed: ballot.failed) }
        guard ballot.granted + ballot.pending < needed else { return .undecided }
        if ballot.granted + ballot.refused >= needed { return .notHeld(missed: ballot.failed) }
        if ballot.failed.count > spare { return .unreachable(missed: ballot.failed) }
        return .undecided
    }

    // MARK: - Reads (inspect, force-release, the waiter's look)

    /// Whether a quorum answered a read: below it, "free" or "nothing held" cannot be said.
    public func answered(_ answers: Int) -> Bool { answers >= needed }

    /// Whether a quorum of a round's results so far are answers: the `decided` of the rounds
    /// that read or tidy up (inspect and its scan, the queue's look, leave and listing, a
    /// writer's withdrawn mark). With `Patience.complete` they then go on without an
    /// instance that has not answered an earlier request, and wait for every other one
    /// until the deadline: one hung instance costs one timeout, not one per round.
    public func answered<Success>(_ results: [Result<Success, RedisError>?]) -> Bool {
        answered(results.filter { if case .success? = $0 { return true } else { return false } }.count)
    }

    /// Whether a key that `stillHeld` instances report held may have been freed: true
    /// unless it stands where an acquire could not get past.
    public func mayHaveFreed(stillHeld: Int) -> Bool { stillHeld <= spare }

    // MARK: - Time

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

    // MARK: - Which holder

    /// The holder shown for a lock whose instances report `values` (by instance): the one
    /// on most instances; a tie goes to the one on the lowest-numbered instance. Values
    /// with the same `identity` are one holder (a redlock value is identified by its token).
    /// Returns the value as the first of its instances reports it, and where it stands.
    public static func leadingHolder(_ values: [(instance: Int, value: [UInt8])], identity: ([UInt8]) -> [UInt8] = { $0 }) -> (value: [UInt8], instances: [Int])? {
        var groups: [(identity: [UInt8], value: [UInt8], instances: [Int])] = []
        for entry in values.sorted(by: { $0.instance < $1.instance }) {
            let id = identity(entry.value)
            if let at = groups.firstIndex(where: { $0.identity == id }) {
                groups[at].instances.append(entry.instance)
            } else {
                groups.append((id, entry.value, [entry.instance]))
            }
        }
        // Groups are in order of their first instance: the first of the largest wins a tie.
        guard var best = groups.first else { return nil }
        for group in groups.dropFirst() where group.instances.count > best.instances.count { best = group }
        return (best.value, best.instances)
    }
}
