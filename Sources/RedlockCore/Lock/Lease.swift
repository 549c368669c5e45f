/// A lock held on a quorum: what a successful acquire returns and extend renews.
public struct Lease: Sendable {
    /// The Redis key (with any `--prefix`).
    public let key: [UInt8]
    public let value: LockValue
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

    public var token: String { value.token }
}

extension Lease {
    /// A lease known only by its key and token, as another process knows it (`redlock
    /// extend` and `release` after `redlock acquire`). Its validity is unknown, so it starts
    /// expired; only a successful extend gives it one.
    public static func known(byToken token: String, key: [UInt8], ttl: Duration) -> Lease {
        let holder = LockValue.Holder(host: "", pid: 0, user: "", command: "", acquiredAtMilliseconds: 0)
        let now = Instant.now()
        return Lease(key: key, value: LockValue(token: token, holder: holder), fence: 0, ttl: ttl, acquiredAt: now, validUntil: now)
    }
}
