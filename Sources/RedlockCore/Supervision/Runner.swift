/// COMMAND under a lease: the one place where locks and processes meet.
///
/// The runner starts the job (COMMAND under its guard), renews the lease about every TTL/3,
/// forwards signals, and when the lease can no longer be renewed on a quorum it stops every
/// process of the job before the lease could lapse: the lost signal by (validity end -
/// grace), SIGKILL at validity end, both measured on CLOCK_BOOTTIME. Everything happens on
/// one thread in one poll loop over the signal inbox and the guard's channel, so no timer
/// can be starved by another.
public final class Runner {
    /// What happened, for `-v` logs and the final message.
    public enum Event: Sendable {
        case started(pid: Int32)
        case renewed(Tally)
        case renewalFailed(Tally)
        /// redlock woke up past the moment to stop COMMAND (it was stopped or the machine
        /// paused) while the lease was still valid; it tries one renewal before giving up.
        case stalled(overslept: Duration)
        case lockLost(Tally?)
        case maxTimeReached
        case forwarded(Signal)
        case killed
        /// redlock was not running when the lease ended (stopped on its own), and its guard
        /// killed the job then (COMMAND, or what `--leftovers wait` held the lock for): the
        /// lock is lost, and no lost signal was sent.
        case killedAtLeaseEnd
        /// A process of the job refused a signal: it runs as another user (a set-user-ID
        /// program that made itself root), so nothing redlock sends reaches it.
        case notPermitted(pid: Int32, name: String)
        /// COMMAND ended (before the lease is released: what runs on this event still holds it).
        case exited(TerminationStatus)
        /// COMMAND exited and these processes of the job still run; `Leftovers` says what
        /// the runner does about them.
        case leftovers([(pid: Int32, name: String)], Leftovers)
        case released(Tally, keptFor: Duration?)
    }

    public enum Outcome: Sendable {
        /// COMMAND ended by itself (or of a signal someone sent it).
        case completed(TerminationStatus)
        /// COMMAND died of a signal meant for redlock's caller as well: one redlock forwarded
        /// (`toOwnGroup` false), or the terminal's Ctrl-C or Ctrl-\ that reached only
        /// COMMAND because it had the terminal (`toOwnGroup` true: the group redlock was
        /// started in would have got it too). The caller should die of it, as flock does.
        case endedBySignal(Signal, toOwnGroup: Bool)
        /// The lease could not be renewed; COMMAND was stopped.
        case lockLost(TerminationStatus)
        /// `--max-time` passed; COMMAND was stopped.
        case timedOut(TerminationStatus)
        /// COMMAND could not be started (the lock was released first).
        case couldNotStart(ChildProcess.LaunchError)
    }

    /// Signals redlock passes on to COMMAND's process group.
    public static let forwardedSignals: [Signal] = [.interrupt, .terminate, .hangup, .quit, .user1, .user2]

    /// Signals a terminal sends its foreground group from the keyboard.
    static let keyboardSignals: [Signal] = [.interrupt, .quit]

    private let redlock: Redlock
    private var lease: Lease
    private let plan: Plan
    private let inbox: SignalInbox
    private var terminal: Terminal?
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

    /// After SIGKILL to every process of the job, how long to wait for the guard to see
    /// them gone before releasing anyway (a process in uninterruptible sleep can take a
    /// while; the lock is not ours to keep waiting for it).
    private static let reapAfterKill: Duration = .seconds(2)

    public func run() -> Outcome {
        let job: ChildProcess
        do {
            job = try ChildProcess(arguments: plan.arguments, environment: plan.environment, foregroundTerminal: terminal?.descriptor, childMask: inbox.originalMask, prepared: plan.preparation)
        } catch {
            terminal?.reclaim()
            releaseLease(lost: false)
            return .couldNotStart(error)
        }
        report(.started(pid: job.pid))
        job.killNoLaterThan(lease.validUntil)
        let startedAt = Instant.now()
        let maxTimeAt = plan.maxTime.map { startedAt + $0 }
        var nextRenewal = renewal(after: lease.acquiredAt, every: plan.renewEvery)
        var stop: (reason: Stop, killAt: Instant)?
        var killedAt: Instant?
        var forwarded: Set<Signal> = []
        var terminalReclaimed = false
        var leftoversKillAt: Instant?
        var leftoversNoticed = false

        while true {
            job.poll()
            for refusal in job.takeRefusals() { report(.notPermitted(pid: refusal.pid, name: refusal.name)) }
            if let stopSignal = job.takeStop(), job.status == nil, stop == nil {
                if !suspend(job, stoppedBy: stopSignal, nextRenewal: &nextRenewal) {
                    report(.lockLost(nil))
                    stop = (.lockLost, lease.validUntil)
                }
                continue
            }
            let now = Instant.now()
            if job.status != nil {
                if !terminalReclaimed {
                    terminal?.reclaim()
                    terminalReclaimed = true
                }
                if job.isEmpty { break }
                if let killedAt, now >= killedAt + Self.reapAfterKill { break }
                if stop == nil && !leftoversNoticed {
                    leftoversNoticed = true
                    report(.leftovers(job.remainingProcesses(), plan.leftovers))
                    switch plan.leftovers {
                    case .ignore: break
                    case .wait: leftoversKillAt = nil
                    case .kill:
                        job.signalEveryProcess(.terminate)
                        leftoversKillAt = now + plan.teardown.grace
                    }
                    if plan.leftovers == .ignore { break }
                    continue
                }
            }
            if let current = stop {
                if killedAt == nil && now >= current.killAt {
                    job.signalEveryProcess(.kill)
                    killedAt = now
                    report(.killed)
                    continue
                }
            } else if let at = leftoversKillAt, killedAt == nil, now >= at {
                job.signalEveryProcess(.kill)
                killedAt = now
                continue
            } else if let maxTimeAt, now >= maxTimeAt, job.status == nil {
                report(.maxTimeReached)
                job.signalEveryProcess(plan.teardown.signal)
                stop = (.maxTime, now + plan.teardown.grace)
                continue
            } else if now >= stopPoint {
                if nextRenewal < stopPoint && now < lease.validUntil {
                    // A renewal was due before this point and never happened: redlock was
                    // not running (SIGSTOP, a paused VM). The instances may well still hold
                    // the key; ask them once, in at most half the time left, before
                    // stopping COMMAND. The SIGKILL deadline stays where it was.
                    report(.stalled(overslept: now - nextRenewal))
                    let deadline = lease.validUntil
                    if renew(job, notAfter: now + (deadline - now) / 2, nextRenewal: &nextRenewal) { continue }
                    loseLock(job, tally: nil, killAt: deadline, stop: &stop)
                    continue
                }
                // Renewals kept failing until the last moment that leaves COMMAND its grace.
                loseLock(job, tally: nil, killAt: lease.validUntil, stop: &stop)
                continue
            } else if now >= nextRenewal {
                if !renew(job, notAfter: stopPoint, nextRenewal: &nextRenewal), case let .lost(tally)? = lastFailure {
                    // Another value stands on too many instances: stop COMMAND now, and
                    // kill it no later than the end of what validity we had.
                    loseLock(job, tally: tally, killAt: min(Instant.now() + plan.teardown.grace, lease.validUntil), stop: &stop)
                }
                continue
            }

            var wake = Instant.distantFuture
            if let current = stop {
                if let killedAt {
                    wake = job.status == nil ? .distantFuture : killedAt + Self.reapAfterKill
                } else {
                    wake = current.killAt
                }
            } else {
                wake = min(nextRenewal, stopPoint)
                if let maxTimeAt, job.status == nil { wake = min(wake, maxTimeAt) }
                if let at = leftoversKillAt { wake = min(wake, killedAt.map { $0 + Self.reapAfterKill } ?? at) }
            }
            _ = Poll.wait([(inbox.descriptor, .readable), (job.descriptor, .readable)], timeout: wake.remaining())
            for signal in inbox.drain() where Self.forwardedSignals.contains(signal) {
                if job.status == nil {
                    job.signalGroup(signal)
                    forwarded.insert(signal)
                } else {
                    job.signalEveryProcess(signal)
                }
                report(.forwarded(signal))
            }
        }

        let status = job.status!
        if stop == nil && guardEndedTheJob(job) {
            report(.killedAtLeaseEnd)
            stop = (.lockLost, lease.validUntil)
        }
        job.letGo()
        report(.exited(status))
        switch stop?.reason {
        case .lockLost?:
            releaseLease(lost: true)
            return .lockLost(status)
        case .maxTime?:
            releaseLease(lost: false)
            return .timedOut(status)
        case nil:
            releaseLease(lost: false)
            if case let .signaled(signal) = status {
                if forwarded.contains(signal) { return .endedBySignal(signal, toOwnGroup: false) }
                if terminal != nil && Self.keyboardSignals.contains(signal) { return .endedBySignal(signal, toOwnGroup: true) }
            }
            return .completed(status)
        }
    }

    /// Job control: COMMAND was stopped (Ctrl-Z, or it read the terminal from the
    /// background). The shell waits for redlock, so redlock must stop too for the shell to
    /// get its prompt back; but the lease must be renewed meanwhile. So the rest of the job
    /// is stopped, a keeper (a fork of redlock) renews the lease, and redlock stops itself
    /// with the same signal. When the shell continues redlock (`fg`, `bg`), the keeper
    /// finishes its round and hands the lease back, COMMAND gets the terminal again if
    /// redlock is now in the foreground, and the whole job continues. Returns false when the
    /// lock was lost meanwhile (the keeper has then sent the lost signal to the job).
    private func suspend(_ job: ChildProcess, stoppedBy stopSignal: Signal, nextRenewal: inout Instant) -> Bool {
        job.signalEveryProcess(.stop)
        terminal?.reclaim()
        let due = nextRenewal
        let keeper = Keeper.start { resumed in
            let holds = keepRenewing(job, until: resumed, nextRenewal: due)
            return (lease.validUntil, holds)
        }
        var holds = true
        if let keeper {
            stopSignal.stopThisProcess()
            // Continued: take the lease back from the keeper once its round is over.
            if let answer = keeper.takeBack() {
                lease.validUntil = answer.validUntil
                holds = answer.holds
            }
            // The keeper's rounds went over the same sockets, and its connection state did not
            // come back with the lease: a reply it let go (`Connection.letGo`) or never read
            // would be read here as the answer to another request. The next round connects
            // afresh.
            redlock.instances.closeAll()
        }
        nextRenewal = renewal(after: .now(), every: plan.renewEvery)
        terminal = Terminal.foreground()
        terminal?.give(to: job.pid)
        job.signalEveryProcess(.continue)
        return holds
    }

    /// The keeper's loop (in the forked keeper): renew as the runner would until redlock
    /// writes to or closes `resumed`; true while the lease holds. When it cannot be renewed,
    /// the job gets the lost signal and is continued so it can act on it, and redlock is
    /// continued to see it through.
    private func keepRenewing(_ job: ChildProcess, until resumed: FileDescriptor, nextRenewal start: Instant) -> Bool {
        var nextRenewal = start
        while true {
            let wake = min(nextRenewal, stopPoint)
            if Poll.wait([(resumed, .readable)], timeout: wake.remaining())[0] != [] { return true }
            let now = Instant.now()
            if now >= stopPoint || (now >= nextRenewal && !renew(job, notAfter: stopPoint, nextRenewal: &nextRenewal) && lastFailureIsLost) {
                job.signalEveryProcess(plan.teardown.signal)
                job.signalEveryProcess(.continue)
                Keeper.wakeRedlock()
                return false
            }
        }
    }

    private var lastFailureIsLost: Bool {
        if case .lost? = lastFailure { return true }
        return false
    }

    /// The moment COMMAND must be told to stop unless the lease is renewed before it.
    private var stopPoint: Instant { lease.validUntil - plan.teardown.grace }

    /// The last renewal's failure, for the caller to tell "failed" from "lost".
    private var lastFailure: ExtendOutcome?

    /// One renewal round that must end by `notAfter`; true when the lease was renewed (and
    /// `job`'s guard told its new end: the keeper renews while redlock is stopped too).
    private func renew(_ job: ChildProcess, notAfter: Instant, nextRenewal: inout Instant) -> Bool {
        let roundStart = Instant.now()
        let outcome = redlock.extend(&lease, notAfter: notAfter)
        switch outcome {
        case let .extended(tally):
            job.killNoLaterThan(lease.validUntil)
            report(.renewed(tally))
            nextRenewal = renewal(after: roundStart, every: plan.renewEvery)
            lastFailure = nil
            return true
        case let .failed(tally):
            report(.renewalFailed(tally))
            nextRenewal = renewal(after: Instant.now(), every: retryInterval)
        case .lost:
            nextRenewal = .distantFuture
        }
        lastFailure = outcome
        return false
    }

    /// Tells every process of the job to stop (the lost signal), SIGKILL to follow at `killAt`.
    private func loseLock(_ job: ChildProcess, tally: Tally?, killAt: Instant, stop: inout (reason: Stop, killAt: Instant)?) {
        // Stopped in the middle of a renewal past the lease's end, redlock finds the lock lost
        // when that round ends: the guard has killed the job by then, and no lost signal is
        // sent to anything.
        job.poll()
        if guardEndedTheJob(job) {
            report(.killedAtLeaseEnd)
            stop = (.lockLost, killAt)
            return
        }
        if case let .lost(lostTally)? = lastFailure, tally == nil {
            report(.lockLost(lostTally))
        } else {
            report(.lockLost(tally))
        }
        job.signalEveryProcess(plan.teardown.signal)
        stop = (.lockLost, killAt)
    }

    /// Whether the guard killed the job when the lease ended, redlock not being there to do
    /// it: COMMAND, or the processes the lock was being held for (`--leftovers wait`).
    private func guardEndedTheJob(_ job: ChildProcess) -> Bool {
        job.killedAtLeaseEnd || (job.leftoversKilledAtLeaseEnd && plan.leftovers == .wait)
    }

    /// When to renew next: `every` after `start`, but never later than halfway to the
    /// moment COMMAND would be stopped, so that a long `--kill-after` still leaves room for
    /// renewals (and for a retry after a failed one).
    private func renewal(after start: Instant, every period: Duration) -> Instant {
        min(start + period, start + (stopPoint - start) / 2)
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
