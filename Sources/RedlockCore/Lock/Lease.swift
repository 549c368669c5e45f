/// A lock held on a quorum: what a successful acquire returns and extend renews.
public struct Lease: Sendable {
    /// The Redis key (with any `--prefix`).
    public let key: [UInt8]
    /// What proves it is ours (all extend and release need).
    public let lockToken: LockToken
    /// The whole value the lock was taken with, to take it also where the acquire round was
    /// decided without an instance (`Redlock.extend`); nil for a lease known only by token.
    public let value: LockValue?
    /// The fencing token: greater than every token handed out for this key before, as long
    /// as a quorum of instances keeps its data. A resource that checks it rejects a holder
    /// whose lease ran out (a long pause) once a newer holder has written.
    public let fence: Int64
    public let ttl: Duration
    /// When the acquire round started, on CLOCK_BOOTTIME.
    public let acquiredAt: Instant
    /// The end of the lease's validity: TTL after the last successful round's start, less
    /// the clock-drift allowance. Past this instant another client may hold the lock.
    public internal(set) var validUntil: Instant

    /// The token as COMMAND and `redlock acquire` hand it on.
    public var token: String { lockToken.token }
}
