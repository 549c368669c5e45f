/// When a waiting acquire stops trying: at the `--wait` deadline, at once when waiting
/// cannot help (too many permanent failures), and after `--unreachable-timeout` of
/// attempts none of which reached a quorum (unreachable is not busy: a cron job must not
/// pile up behind servers that are down). Pure over the instants it is given.
public struct WaitPolicy: Sendable {
    /// Give up at this instant (`--wait`; now for `--no-wait`); nil: wait for a busy lock forever.
    public var deadline: Instant?
    /// Give up after attempts have failed to reach a quorum for this long.
    public var unreachableTimeout: Duration
    /// When the current run of unreachable attempts began; nil after an attempt that reached one.
    private var unreachableSince: Instant?

    /// The default `--unreachable-timeout`.
    public static let defaultUnreachableTimeout = Duration.seconds(60)

    public init(deadline: Instant?, unreachableTimeout: Duration = Self.defaultUnreachableTimeout) {
        self.deadline = deadline
        self.unreachableTimeout = unreachableTimeout
    }

    public enum Next: Sendable, Equatable {
        case tryAgain
        /// The deadline passed, or waiting cannot help.
        case giveUp
    }

    /// What to do after an attempt that ended at `now` without the lock.
    public mutating func next(after decision: Quorum.Acquisition, ballot: Ballot, quorum: Quorum, now: Instant) -> Next {
        // KEY in use in another mode (a configuration error): no wait can change it.
        if quorum.waitingCannotHelp(ballot) || ballot.modeConflict != nil { return .giveUp }
        if let deadline, now >= deadline { return .giveUp }
        guard decision == .unreachable else {
            unreachableSince = nil
            return .tryAgain
        }
        let since = unreachableSince ?? now
        unreachableSince = since
        return now - since >= unreachableTimeout ? .giveUp : .tryAgain
    }

    /// The latest instant the next attempt may start: the deadline, or the end of the
    /// unreachable allowance while instances are unreachable.
    public var latestRetry: Instant? {
        let unreachableEnd = unreachableSince.map { $0 + unreachableTimeout }
        switch (deadline, unreachableEnd) {
        case let (deadline?, end?): return min(deadline, end)
        case let (deadline?, nil): return deadline
        case let (nil, end?): return end
        case (nil, nil): return nil
        }
    }
}
