import Glibc

/// A point in time on CLOCK_BOOTTIME: monotonic, and it keeps counting while the machine is
/// suspended. Lease validity must be measured this way: a laptop that sleeps through a lease
/// must wake up knowing the lease is gone, and a wall clock may jump.
public struct Instant: Comparable, Hashable, Sendable {
    /// Nanoseconds since boot.
    public let nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static func now() -> Instant {
        var spec = timespec()
        // CLOCK_BOOTTIME cannot fail on Linux >= 2.6.39 with a valid pointer.
        clock_gettime(CLOCK_BOOTTIME, &spec)
        return Instant(nanoseconds: Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec))
    }

    /// An instant later than any real one: "no deadline".
    public static let distantFuture = Instant(nanoseconds: .max / 2)

    /// An instant earlier than any real one: "already due".
    public static let distantPast = Instant(nanoseconds: .min / 2)

    public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    public static func + (lhs: Instant, rhs: Duration) -> Instant {
        Instant(nanoseconds: lhs.nanoseconds &+ rhs.nanoseconds)
    }

    public static func - (lhs: Instant, rhs: Duration) -> Instant {
        Instant(nanoseconds: lhs.nanoseconds &- rhs.nanoseconds)
    }

    public static func - (lhs: Instant, rhs: Instant) -> Duration {
        .nanoseconds(lhs.nanoseconds - rhs.nanoseconds)
    }

    /// Time left until this instant, never negative.
    public func remaining(from now: Instant = .now()) -> Duration {
        max(.zero, self - now)
    }
}

extension Duration {
    /// Whole nanoseconds (durations in redlock never approach Int64's range).
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000
    }

    /// Whole milliseconds, rounded down: what Redis's PX and PEXPIRE take.
    public var milliseconds: Int64 { nanoseconds / 1_000_000 }

    /// Milliseconds rounded up, for poll timeouts: waking early would spin.
    public var millisecondsRoundedUp: Int64 { (nanoseconds + 999_999) / 1_000_000 }

    /// `self * factor`, for the drift allowance (TTL * 0.01) and TTL/3 schedules.
    public func scaled(by factor: Double) -> Duration {
        .nanoseconds(Int64((Double(nanoseconds) * factor).rounded()))
    }

    // The standard library's `Duration / Int` and `Duration * Int` are generic over
    // BinaryInteger and reach redlock unspecialized: their first call looks up associated
    // types at run time, on the path to the first request. These concrete ones win overload
    // resolution and are plain arithmetic.

    /// `duration / divisor`, rounded toward zero to the nanosecond.
    public static func / (duration: Duration, divisor: Int) -> Duration {
        .nanoseconds(duration.nanoseconds / Int64(divisor))
    }

    /// `duration * factor`.
    public static func * (duration: Duration, factor: Int) -> Duration {
        .nanoseconds(duration.nanoseconds * Int64(factor))
    }
}

/// Wall-clock time, only for what people read ("acquired at"), never for lease arithmetic.
public enum WallClock {
    public static func millisecondsSinceEpoch() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}
