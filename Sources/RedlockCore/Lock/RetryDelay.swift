/// How long to sleep before the next acquire attempt.
///
/// A random delay spreads waiters that woke together, so they do not split the vote again
/// and again; it is capped by the holder's remaining TTL so a lock that expires is taken
/// promptly rather than one full delay late.
enum RetryDelay {
    static let busyRange: ClosedRange<Int64> = 40...160
    static let unreachableRange: ClosedRange<Int64> = 150...400

    static func next(after attempt: AcquireAttempt) -> Duration {
        switch attempt {
        case .acquired:
            return .zero
        case let .busy(contention):
            var delay = Duration.milliseconds(SecureRandom.uniform(in: busyRange))
            if let expiry = contention.earliestExpiry {
                delay = min(delay, expiry + .milliseconds(SecureRandom.uniform(in: 1...10)))
            }
            return delay
        case .unreachable:
            return .milliseconds(SecureRandom.uniform(in: unreachableRange))
        }
    }
}
