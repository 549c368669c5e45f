extension Runner {
    /// What to run under the lease and how to look after it: the runner's policy (renewal
    /// period, kill-after default, what is safe) lives here, so that every front end gets
    /// the same answers and the CLI only parses and words the refusals.
    public struct Plan: Sendable {
        public var arguments: [[UInt8]]
        public var environment: [[UInt8]]
        /// The lease length asked for (`--ttl`).
        public let ttl: Duration
        /// How COMMAND is stopped when the lock is lost or `--max-time` passes.
        public let teardown: Teardown
        /// How often the lease is renewed while all is well (TTL/3).
        public let renewEvery: Duration
        public var maxTime: Duration?
        /// `--min-hold`: the key stays held at least this long after acquiring.
        public var minHold: Duration?
        /// What happens to processes of the job that outlive COMMAND.
        public var leftovers: Leftovers = .kill
        /// COMMAND's arguments and environment as handed to the guard while waiting
        /// (`ChildProcess.prepare`); `environment` is that plus the lock's variables.
        public var preparation: ChildProcess.Preparation?

        /// Why a plan cannot be run safely.
        public enum Refusal: Error, Sendable, Equatable {
            /// The grace (kill-after) is not shorter than the lease: COMMAND would be told to
            /// stop before it starts, or not in time.
            case graceNotShorterThanTTL(grace: Duration, ttl: Duration)
            /// Between acquiring and the moment COMMAND must be told to stop there is no room
            /// for even one renewal round, so COMMAND would be stopped at once.
            case noRoomForRenewal(grace: Duration, ttl: Duration, room: Duration)
        }

        /// The least time between acquiring and the stop point that leaves a renewal round
        /// any chance: Redis counts TTLs in whole milliseconds, so less is no round at all.
        public static let minimumRenewalRoom: Duration = .milliseconds(1)

        /// The renewal period for a lease of `ttl`: a third, so two renewals can fail before
        /// the lease is in danger.
        public static func renewalPeriod(forTTL ttl: Duration) -> Duration { ttl / 3 }

        /// `--kill-after`'s default: the smaller of 5 s and TTL/3.
        public static func defaultGrace(forTTL ttl: Duration) -> Duration { min(.seconds(5), ttl / 3) }

        /// A plan for `arguments` under a lease of `ttl`; refuses a grace that leaves COMMAND
        /// unprotected or no time to renew.
        public init(arguments: [[UInt8]], environment: [[UInt8]], ttl: Duration, lostSignal: Signal = .terminate,
                    killAfter: Duration? = nil, maxTime: Duration? = nil, minHold: Duration? = nil) throws(Refusal) {
            let grace = killAfter ?? Self.defaultGrace(forTTL: ttl)
            guard grace < ttl else { throw .graceNotShorterThanTTL(grace: grace, ttl: ttl) }
            let room = ttl - Quorum.driftAllowance(for: ttl) - grace
            guard room >= Self.minimumRenewalRoom else {
                throw .noRoomForRenewal(grace: grace, ttl: ttl, room: room)
            }
            self.arguments = arguments
            self.environment = environment
            self.ttl = ttl
            self.teardown = Teardown(signal: lostSignal, grace: grace)
            self.renewEvery = Self.renewalPeriod(forTTL: ttl)
            self.maxTime = maxTime
            self.minHold = minHold
        }
    }
}
