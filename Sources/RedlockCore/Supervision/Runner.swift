/// COMMAND under a lease: the one place where locks and processes meet.
///
/// The runner starts COMMAND, renews the lease about every TTL/3, forwards signals, and when
/// the lease can no longer be renewed on a quorum it stops COMMAND before the lease could
/// lapse: the lost signal by (validity end - grace), SIGKILL at validity end, both measured
/// on CLOCK_BOOTTIME. Everything happens on one thread in one poll loop over the signal
/// inbox (which also reports the child's exit), so no timer can be starved by another.
public final class Runner {
    public struct Plan: Sendable {
        /// COMMAND and the environment as bytes: what the kernel gave redlock, unchanged.
        public var arguments: [[UInt8]]
        public var environment: [[UInt8]]
        /// How COMMAND is stopped when the lock is lost or `--max-time` passes.
        public var teardown: Teardown
        /// How often the lease is renewed while all is well (TTL/3).
        public var renewEvery: Duration
        public var maxTime: Duration?
        /// `--min-hold`: the key stays held at least this long after acquiring.
        public var minHold: Duration?

        public init(arguments: [[UInt8]], environment: [[UInt8]], teardown: Teardown, renewEvery: Duration, maxTime: Duration? = nil, minHold: Duration? = nil) {
            self.arguments = arguments
            self.environment = environment
            self.teardown = teardown
            self.renewEvery = renewEvery
            self.maxTime = maxTime
            self.minHold = minHold
        }
    }

    /// What happened, for `-v` logs and the final message.
    public enum Event: Sendable {
        case started(pid: Int32)
        case renewed(Tally)
        case renewalFailed(Tally)
        case lockLost(Tally?)
        case maxTimeReached
        case forwarded(Signal)
        case killed
        case released(Tally, keptFor: Duration?)
    }

    public enum Outcome: Sendable {
        /// COMMAND ended by itself (or of a signal someone sent it).
        case completed(TerminationStatus)
        /// The lease could not be renewed; COMMAND was stopped.
        case lockLost(TerminationStatus)
        /// `--max-time` passed; COMMAND was stopped.
        case timedOut(TerminationStatus)
        /// COMMAND could not be started (the lock was released first).
        case couldNotStart(ChildProcess.LaunchError)
    }

    /// Signals redlock passes on to COMMAND's process group.
    public static let forwardedSignals: [Signal] = [.interrupt, .terminate, .hangup, .quit, .user1, .user2]

    /// Called when COMMAND ended by itself, while the lock is still ours and before it is
    /// released: what must be written under the lock (`--if-newer`'s mark).
    public var beforeRelease: ((TerminationStatus) -> Void)?

    private let redlock: Redlock
    private var lease: Lease
    private let plan: Plan
    private let inbox: SignalInbox
    private let terminal: Terminal?
    private let report: (Event) -> Void

    public init(redlock: Redlock, lease: Lease, plan: Plan, inbox: SignalInbox, terminal: Terminal?, report: @escaping (Event) -> Void = { _ in }) {
        self.redlock = redlock
        self.lease = lease
        self.plan = plan
        self.inbox = inbox
        self.terminal = terminal
        self.report = report
    }

    private enum Stop {
        case lockLost
        case maxTime
    }

    public func run() -> Outcome {
        let child: ChildProcess
        do {
            child = try ChildProcess(arguments: plan.arguments, environment: plan.environment, foregroundTerminal: terminal?.descriptor, childMask: inbox.originalMask)
        } catch {
            terminal?.reclaim()
            releaseLease(lost: false)
            return .couldNotStart(error)
        }
        report(.started(pid: child.pid))
        let startedAt = Instant.now()
        let maxTimeAt = plan.maxTime.map { startedAt + $0 }
        var nextRenewal = renewal(after: lease.acquiredAt, every: plan.renewEvery)
        var stop: (reason: Stop, killAt: Instant)?
        var killed = false

        while child.poll() == nil {
            let now = Instant.now()
            if let current = stop {
                if !killed && now >= current.killAt {
                    child.signalGroup(.kill)
                    killed = true
                    report(.killed)
                }
            } else if let maxTimeAt, now >= maxTimeAt {
                report(.maxTimeReached)
                child.signalGroup(plan.teardown.signal)
                stop = (.maxTime, now + plan.teardown.grace)
                continue
            } else if now >= lease.validUntil - plan.teardown.grace {
                // Renewals kept failing until the last moment that leaves COMMAND its grace.
                report(.lockLost(nil))
                child.signalGroup(plan.teardown.signal)
                stop = (.lockLost, lease.validUntil)
                continue
            } else if now >= nextRenewal {
                let roundStart = now
                switch redlock.extend(&lease, notAfter: lease.validUntil - plan.teardown.grace) {
                case let .extended(tally):
                    report(.renewed(tally))
                    nextRenewal = renewal(after: roundStart, every: plan.renewEvery)
                case let .failed(tally):
                    report(.renewalFailed(tally))
                    nextRenewal = renewal(after: Instant.now(), every: retryInterval)
                case let .lost(tally):
                    // Another value stands on too many instances: stop COMMAND now, and
                    // kill it no later than the end of what validity we had.
                    report(.lockLost(tally))
                    child.signalGroup(plan.teardown.signal)
                    stop = (.lockLost, min(Instant.now() + plan.teardown.grace, lease.validUntil))
                }
                continue
            }

            var wake = Instant.distantFuture
            if let current = stop {
                if !killed { wake = current.killAt }
            } else {
                wake = min(nextRenewal, lease.validUntil - plan.teardown.grace)
                if let maxTimeAt { wake = min(wake, maxTimeAt) }
            }
            for signal in inbox.wait(upTo: wake.remaining()) where Self.forwardedSignals.contains(signal) {
                child.signalGroup(signal)
                report(.forwarded(signal))
            }
        }

        let status = child.poll()!
        terminal?.reclaim()
        switch stop?.reason {
        case .lockLost?:
            // Whatever COMMAND started in its group must not outlive the lease either.
            child.signalGroup(.kill)
            releaseLease(lost: true)
            return .lockLost(status)
        case .maxTime?:
            child.signalGroup(.kill)
            releaseLease(lost: false)
            return .timedOut(status)
        case nil:
            beforeRelease?(status)
            releaseLease(lost: false)
            return .completed(status)
        }
    }

    /// When to renew next: `every` after `start`, but never later than halfway to the
    /// moment COMMAND would be stopped, so that a long `--kill-after` still leaves room for
    /// renewals (and for a retry after a failed one).
    private func renewal(after start: Instant, every period: Duration) -> Instant {
        let stopAt = lease.validUntil - plan.teardown.grace
        return min(start + period, start + (stopAt - start) / 2)
    }

    /// After a failed renewal, try again soon, but not so often that a struggling instance
    /// is hammered: a third of the renewal period, between 50 ms and 1 s.
    private var retryInterval: Duration {
        min(max(plan.renewEvery / 3, .milliseconds(50)), .seconds(1))
    }

    private func releaseLease(lost: Bool) {
        var keep: Duration?
        if !lost, let minHold = plan.minHold {
            let left = minHold - (Instant.now() - lease.acquiredAt)
            if left > .zero { keep = left }
        }
        let tally = redlock.release(lease, keepFor: keep)
        report(.released(tally, keptFor: keep))
    }
}
