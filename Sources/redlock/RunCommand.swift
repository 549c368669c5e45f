import Glibc
import RedlockCore

/// `redlock run KEY -- COMMAND`: take the lock, run COMMAND under it, pass its status on.
enum RunCommand {
    /// `run`'s options, checked before anything touches the network.
    struct Options {
        var waiting: LockWaiting
        var commandLine: [String]
        /// What to run and how (without the environment, which needs the lease's token).
        var plan: Runner.Plan

        static func from(_ invocation: Invocation) throws(Failure) -> Options {
            let waiting = try LockWaiting.from(invocation)
            guard !invocation.commandLine.isEmpty else {
                throw Failure.usage("missing COMMAND after KEY", command: "run")
            }
            if invocation.positionals.count > 1 {
                throw Failure.usage("unexpected '\(invocation.positionals[1])' (one KEY per run; COMMAND goes after KEY or '--')", command: "run")
            }
            var lostSignal = Signal.terminate
            if let text = invocation.last("lost-signal") {
                guard let signal = Signal(parsing: text) else {
                    throw Failure.usage("unknown signal '\(text)' for --lost-signal (a name like TERM or a number)", command: "run")
                }
                lostSignal = signal
            }
            let maxTime = try Config.duration(invocation, "max-time")
            if let maxTime, maxTime == .zero {
                throw Failure.usage("--max-time must be more than 0", command: "run")
            }
            var leftovers = Leftovers.kill
            if let text = invocation.last("leftovers") {
                guard let choice = Leftovers(rawValue: text) else {
                    throw Failure.usage("unknown --leftovers '\(text)' (kill, wait or ignore)", command: "run")
                }
                leftovers = choice
            }
            let killAfter = try Config.duration(invocation, "kill-after")
            let minHold = try Config.duration(invocation, "min-hold")
            var plan: Runner.Plan
            do {
                plan = try Runner.Plan(
                    arguments: invocation.commandLine, environment: [], ttl: waiting.ttl, lostSignal: lostSignal,
                    killAfter: killAfter, maxTime: maxTime, minHold: minHold)
            } catch {
                switch error {
                case let .graceNotShorterThanTTL(grace, ttl):
                    throw Failure.usage("--kill-after (\(DurationSyntax.format(grace))) must be shorter than --ttl (\(DurationSyntax.format(ttl)))", command: "run")
                case let .noRoomForRenewal(grace, ttl, _):
                    throw Failure.usage("--kill-after (\(DurationSyntax.format(grace))) leaves no time to renew a --ttl of \(DurationSyntax.format(ttl)); choose a shorter --kill-after or a longer --ttl", command: "run")
                }
            }
            plan.leftovers = leftovers
            return Options(waiting: waiting, commandLine: invocation.commandLine, plan: plan)
        }
    }

    static func execute(_ options: Options, config: Config) throws(Failure) -> Int32 {
        let console = config.console
        let waiting = options.waiting
        let lostSignal = options.plan.teardown.signal
        let maxTime = options.plan.maxTime

        // From here on, the forwarded signals and SIGCHLD arrive through the inbox, and SIGTTOU
        // is blocked so redlock can take the terminal back.
        let inbox: SignalInbox
        do {
            inbox = try SignalInbox(Runner.forwardedSignals + [.child, .terminalOutput])
        } catch {
            throw Failure(.internalError, "cannot set up signal handling: \(error)")
        }

        let redlock = config.makeRedlock()
        let key = config.redisKey(waiting.keyName)
        let value = LockValue.fresh(for: .init(
            host: ProcessIdentity.hostName, pid: ProcessIdentity.processID, user: ProcessIdentity.userName,
            command: options.commandLine.joined(separator: " "),
            acquiredAtMilliseconds: WallClock.millisecondsSinceEpoch()))
        let lease = try waiting.acquire(redlock, key: key, value: value, inbox: inbox, console: console)

        let added = [("REDLOCK_KEY", waiting.keyName), ("REDLOCK_TOKEN", lease.token), ("REDLOCK_FENCING_TOKEN", String(lease.fence))]
        // Compared as bytes: "NAME=" is ASCII, and characters would cost a grapheme walk
        // over the whole environment on the way to exec.
        let replaced = added.map { Array(($0.0 + "=").utf8) }
        var environment = ProcessIdentity.environment.filter { entry in
            !replaced.contains { entry.utf8.starts(with: $0) }
        }
        environment += added.map { "\($0.0)=\($0.1)" }
        var plan = options.plan
        plan.environment = environment
        var lossReport = ""
        let runner = Runner(redlock: redlock, lease: lease, plan: plan, inbox: inbox, terminal: Terminal.foreground()) { event in
            switch event {
            case let .started(pid): console.log("started COMMAND as pid \(pid)")
            case let .renewed(tally): console.log("renewed the lease on \(tally.confirmed) of \(redlock.instances.count) instances")
            case let .renewalFailed(tally):
                console.warn("could not renew the lease on a quorum (\(describe(tally, total: redlock.instances.count))); retrying")
            case let .lockLost(tally):
                lossReport = tally.map { describe($0, total: redlock.instances.count) } ?? "no quorum renewed it in time"
                console.error("lock on '\(waiting.keyName)' lost (\(lossReport)); sending \(lostSignal) to COMMAND")
            case .maxTimeReached:
                console.error("COMMAND ran longer than --max-time \(DurationSyntax.format(maxTime ?? .zero)); sending \(lostSignal)")
            case let .forwarded(signal): console.log("forwarded \(signal) to COMMAND")
            case .killed: console.log("sent SIGKILL to every process of the job")
            case let .stalled(overslept):
                console.warn("redlock was stalled for \(DurationSyntax.formatRough(overslept)) past a renewal; trying one now")
            case let .leftovers(processes, policy):
                let names = processes.map { "\($0.pid) (\($0.name))" }.joined(separator: ", ")
                switch policy {
                case .kill: console.error("COMMAND exited; ending the processes it left running: \(names)")
                case .wait: console.log("COMMAND exited; holding the lock until these end: \(names)")
                case .ignore: console.log("COMMAND exited; leaving these running without the lock: \(names)")
                }
            case let .released(tally, keep):
                if let keep {
                    console.log("left '\(waiting.keyName)' held for \(DurationSyntax.formatRough(keep)) more (--min-hold) on \(tally.confirmed) instances")
                } else {
                    console.log("released '\(waiting.keyName)' on \(tally.confirmed) of \(redlock.instances.count) instances")
                }
                for failure in tally.failures { console.log("release: \(failure)") }
            }
        }
        switch runner.run() {
        case let .completed(status):
            return status.shellStatus
        case let .endedBySignal(signal, toOwnGroup):
            // Released already: die of the same signal, so a calling shell stops too.
            signal.endThisProcess(alsoTheGroup: toOwnGroup)
        case let .lockLost(status):
            throw Failure(.lockLost, "COMMAND was stopped because the lock on '\(waiting.keyName)' was lost (it ended with status \(status.shellStatus))")
        case .timedOut:
            return ExitCode.timedOut.rawValue
        case let .couldNotStart(error):
            throw Failure(error.isNotFound ? .notFound : .cannotExecute, "cannot run '\(error.command)': \(error.errno)")
        }
    }

    static func describe(_ tally: Tally, total: Int) -> String {
        var parts = ["\(tally.confirmed) of \(total) renewed"]
        if tally.refused > 0 { parts.append("\(tally.refused) no longer hold our token") }
        parts += tally.failures.map(\.description)
        return parts.joined(separator: "; ")
    }
}
