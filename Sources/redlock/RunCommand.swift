import Glibc
import RedlockCore

/// `redlock run KEY -- COMMAND`: take the lock, run COMMAND under it, pass its status on.
enum RunCommand {
    /// `run`'s options, checked before anything touches the network.
    struct Options {
        var waiting: LockWaiting
        var commandLine: [[UInt8]]
        /// What to run and how (without the environment, which needs the lease's token).
        var plan: Runner.Plan
        /// `--once ID`, `--once-keep`, `--events`/`--events-fd` (Automation.swift).
        var automation: Automation
        /// `--if-newer N`: checked once the lock is held, recorded after COMMAND exits 0.
        var ifNewer: IfNewer?

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
            return Options(waiting: waiting, commandLine: invocation.commandLine, plan: plan, automation: try Automation.from(invocation), ifNewer: try IfNewer.from(invocation))
        }
    }

    static func execute(_ options: Options, config: Config) throws(Failure) -> Int32 {
        let console = config.console
        let waiting = options.waiting
        let lostSignal = options.plan.teardown.signal
        let maxTime = options.plan.maxTime

        // A nested run whose parent holds KEY runs COMMAND in redlock's place, now (before
        // any signal is blocked: COMMAND inherits the mask).
        try options.automation.runNestedIfParentHolds(config: config, key: waiting.key, commandLine: options.commandLine)

        // From here on, the forwarded signals and SIGCHLD arrive through the inbox, and SIGTTOU
        // is blocked so redlock can take the terminal back.
        let inbox: SignalInbox
        do {
            inbox = try SignalInbox(Runner.forwardedSignals + [.child, .terminalOutput])
        } catch {
            throw Failure(.internalError, "cannot set up signal handling: \(error)")
        }

        let key = config.redisKey(waiting.key)
        let redlock = config.makeRedlock(kind: waiting.kind(for: key))
        let automation = options.automation
        let events = try automation.events.map { target throws(Failure) in try EventStream.open(target, key: waiting.key, console: console) }
        // COMMAND's environment without the variables the lock sets. When redlock may wait,
        // it is handed to the guard now: once the lock is ours, only those variables are left
        // to copy (the next holder's start is part of every hand-off; waiting is not).
        let lockVariables = ["REDLOCK_KEY", "REDLOCK_TOKEN", "REDLOCK_FENCING_TOKEN"] + (LockWaiting.namesSlots(redlock) ? ["REDLOCK_SLOT"] : [])
        let replaced = lockVariables.map { Array(($0 + "=").utf8) }
        let baseEnvironment = ProcessIdentity.environmentBytes.filter { entry in
            !replaced.contains { entry.starts(with: $0) }
        }
        var plan = options.plan
        if waiting.waitLimit != .zero {
            plan.preparation = ChildProcess.prepare(arguments: plan.arguments, environment: baseEnvironment)
        }
        let askedAt = Instant.now()
        let value = LockValue.fresh(for: .init(
            host: ProcessIdentity.hostName, pid: ProcessIdentity.processID, user: ProcessIdentity.userName,
            // Shell-quoted, so the record keeps the argument boundaries: inspect can show
            // `sh -c 'sleep 60 # a "quoted" arg'`, not an ambiguous join of the words.
            command: waiting.label ?? ShellWord.line(options.commandLine.map { TerminalText.escaped(bytes: $0) }),
            acquiredAtMilliseconds: WallClock.millisecondsSinceEpoch()))
        let lease = try waiting.acquire(redlock, key: key, value: value, inbox: inbox, console: console, events: events)
        events?.emit("acquired", Automation.acquiredFields(lease, redlock: redlock, waited: Instant.now() - askedAt))
        try automation.skipIfDone(redlock: redlock, lease: lease, waiting: waiting, minHold: options.plan.minHold, events: events, console: console)
        try options.ifNewer?.check(redlock, lease: lease, key: key, waiting: waiting, minHold: options.plan.minHold, events: events, console: console)

        // Bytes, as the kernel gave them: KEY and the environment reach COMMAND unchanged.
        var added: [(String, [UInt8])] = [("REDLOCK_KEY", waiting.key), ("REDLOCK_TOKEN", Array(lease.token.utf8)), ("REDLOCK_FENCING_TOKEN", Array(String(lease.fence).utf8))]
        if let slot = LockWaiting.slot(of: lease, in: redlock) { added.append(("REDLOCK_SLOT", slot)) }
        plan.environment = baseEnvironment + added.map { Array(($0.0 + "=").utf8) + $0.1 }
        var lossReport = ""
        var childPID: Int32 = 0
        var stoppedBy: String?
        var onceMarked: Tally?
        let runner = Runner(redlock: redlock, lease: lease, plan: plan, inbox: inbox, terminal: Terminal.foreground()) { event in
            switch event {
            case let .started(pid):
                childPID = pid
                // Waiting in line left its subscriptions (and maybe a round) for now, when
                // they no longer delay COMMAND.
                redlock.finishLeavingLine()
                console.log("started COMMAND as pid \(pid)")
            case let .renewed(tally):
                events?.emit("renewed", EventStream.counts(tally, instances: redlock.instances.count, done: "renewed") + [("ttl_ms", .integer(waiting.ttl.milliseconds))])
                console.log("renewed the lease on \(tally.confirmed) of \(redlock.instances.count) instances")
            case let .renewalFailed(tally):
                events?.emit("renew_failed", EventStream.counts(tally, instances: redlock.instances.count, done: "renewed"))
                console.warn("could not renew the lease on a quorum (\(describe(tally, total: redlock.instances.count))); retrying")
            case let .lockLost(tally):
                stoppedBy = "lost"
                var fields: [(String, JSONValue)] = [("reason", .string(tally == nil ? "not_renewed_in_time" : "held_elsewhere")), ("signal", .string(lostSignal.description))]
                if let tally { fields += EventStream.counts(tally, instances: redlock.instances.count, done: "renewed") }
                events?.emit("lost", fields)
                lossReport = tally.map { describe($0, total: redlock.instances.count) } ?? "no quorum renewed it in time"
                console.error("lock on '\(waiting.keyName)' lost (\(lossReport)); sending \(lostSignal) to COMMAND")
            case .killedAtLeaseEnd:
                stoppedBy = "lost"
                events?.emit("lost", [("reason", .string("not_renewed_in_time")), ("signal", .string(Signal.kill.description))])
                lossReport = "redlock was not running when the lease ended"
                console.error("lock on '\(waiting.keyName)' lost: redlock was stopped past the lease's end, and its guard killed the job (SIGKILL)")
            case .maxTimeReached:
                stoppedBy = "max_time"
                console.error("COMMAND ran longer than --max-time \(DurationSyntax.format(maxTime ?? .zero)); sending \(lostSignal)")
            case let .forwarded(signal): console.log("forwarded \(signal) to COMMAND")
            case .killed: console.log("sent SIGKILL to every process of the job")
            case let .notPermitted(pid, name):
                console.error("cannot stop pid \(pid) (\(name)) of the job: not permitted (it runs as another user, as a set-user-ID program may); it may run on without the lock")
            case let .stalled(overslept):
                console.warn("redlock was stalled for \(DurationSyntax.formatRough(overslept)) past a renewal; trying one now")
            case let .leftovers(processes, policy):
                let names = processes.map { "\($0.pid) (\($0.name))" }.joined(separator: ", ")
                switch policy {
                case .kill: console.error("COMMAND exited; ending the processes it left running: \(names)")
                case .wait: console.log("COMMAND exited; holding the lock until these end: \(names)")
                case .ignore: console.log("COMMAND exited; leaving these running without the lock: \(names)")
                }
            case let .exited(status):
                events?.emit("child_exit", [("child_pid", .integer(Int64(childPID)))] + EventStream.status(status) + [("stopped_by", .optional(stoppedBy))])
                // Still under the lock: the done mark is written only while our token holds.
                if stoppedBy == nil && status == .exited(0) {
                    onceMarked = automation.markDone(redlock: redlock, lease: lease, waiting: waiting, console: console)
                    options.ifNewer?.record(redlock, lease: lease, key: key, keyName: waiting.keyName, console: console)
                }
            case let .released(tally, keep):
                events?.emit("released", Automation.releasedFields(tally, redlock: redlock, keptFor: keep, onceMarked: onceMarked))
                if let keep {
                    console.log("left '\(waiting.keyName)' held for \(DurationSyntax.formatRough(keep)) more (--min-hold) on \(tally.confirmed) instances")
                } else {
                    console.log("released '\(waiting.keyName)' on \(tally.confirmed) of \(redlock.instances.count) instances")
                }
                for failure in tally.failures { console.log("release: \(failure.withFlagHint)") }
                if keep == nil, !tally.reachedQuorum, !tally.failures.isEmpty {
                    let stay = tally.keyMayStay.map { " for up to \(DurationSyntax.formatRough($0)) (its TTL)" } ?? " until its TTL runs out"
                    console.warn("release of '\(waiting.keyName)' missed a quorum (\(tally.confirmed) of \(redlock.quorum.instances) released); the key may stay\(stay) on \(tally.failures.map(\.withFlagHint).joined(separator: "; "))")
                }
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
            throw Failure(error.isNotFound ? .notFound : .cannotExecute, "cannot run '\(TerminalText.escaped(bytes: options.commandLine[0]))': \(error.errno)")
        }
    }

    static func describe(_ tally: Tally, total: Int) -> String {
        var parts = ["\(tally.confirmed) of \(total) renewed"]
        if tally.refused > 0 { parts.append("\(tally.refused) no longer hold our token") }
        parts += tally.failures.map(\.withFlagHint)
        return parts.joined(separator: "; ")
    }
}
