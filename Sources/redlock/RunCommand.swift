import Glibc
import RedlockCore

/// `redlock run KEY -- COMMAND`: take the lock, run COMMAND under it, pass its status on.
enum RunCommand {
    /// `run`'s options, checked before anything touches the network.
    struct Options {
        var waiting: LockWaiting
        var commandLine: [[UInt8]]
        var teardown: Teardown
        var maxTime: Duration?
        var minHold: Duration?
        var ifNewer: IfNewer?

        static func from(_ invocation: Invocation) throws(Failure) -> Options {
            let waiting = try LockWaiting.from(invocation)
            guard !invocation.commandLine.isEmpty else {
                throw Failure.usage("missing COMMAND after KEY", command: "run")
            }
            if invocation.positionals.count > 1 {
                throw Failure.usage("unexpected '\(invocation.positionals[1])' (one KEY per run; COMMAND goes after KEY or '--')", command: "run")
            }
            let ttl = waiting.ttl
            let grace = try Config.duration(invocation, "kill-after") ?? min(.seconds(5), ttl / 3)
            guard grace < ttl else {
                throw Failure.usage("--kill-after (\(DurationSyntax.format(grace))) must be shorter than --ttl (\(DurationSyntax.format(ttl)))", command: "run")
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
            return Options(
                waiting: waiting, commandLine: invocation.commandLine,
                teardown: Teardown(signal: lostSignal, grace: grace),
                maxTime: maxTime, minHold: try Config.duration(invocation, "min-hold"), ifNewer: try IfNewer.from(invocation))
        }
    }

    static func execute(_ options: Options, config: Config) throws(Failure) -> Int32 {
        let console = config.console
        let waiting = options.waiting
        let ttl = waiting.ttl
        let lostSignal = options.teardown.signal
        let maxTime = options.maxTime

        // From here on, the forwarded signals and SIGCHLD arrive through the inbox, and SIGTTOU
        // is blocked so redlock can take the terminal back.
        let inbox: SignalInbox
        do {
            inbox = try SignalInbox(Runner.forwardedSignals + [.child, .terminalOutput])
        } catch {
            throw Failure(.internalError, "cannot set up signal handling: \(error)")
        }

        let redlock = config.makeRedlock()
        let key = config.redisKey(waiting.key)
        let value = LockValue.fresh(for: .init(
            host: ProcessIdentity.hostName, pid: ProcessIdentity.processID, user: ProcessIdentity.userName,
            command: waiting.label ?? options.commandLine.map { TerminalText.escaped(bytes: $0) }.joined(separator: " "),
            acquiredAtMilliseconds: WallClock.millisecondsSinceEpoch()))
        let lease = try waiting.acquire(redlock, key: key, value: value, inbox: inbox, console: console)
        try options.ifNewer?.check(redlock, lease: lease, key: key, keyName: waiting.keyName, conflictStatus: waiting.conflictStatus, console: console)

        // Bytes, as the kernel gave them: KEY and the environment reach COMMAND unchanged.
        let added: [(String, [UInt8])] = [("REDLOCK_KEY", waiting.key), ("REDLOCK_TOKEN", Array(lease.token.utf8)), ("REDLOCK_FENCING_TOKEN", Array(String(lease.fence).utf8))]
        let replaced = added.map { Array(($0.0 + "=").utf8) }
        var environment = ProcessIdentity.environmentBytes.filter { entry in
            !replaced.contains { entry.starts(with: $0) }
        }
        environment += added.map { Array(($0.0 + "=").utf8) + $0.1 }
        let plan = Runner.Plan(
            arguments: options.commandLine, environment: environment, teardown: options.teardown,
            renewEvery: ttl / 3, maxTime: maxTime, minHold: options.minHold)
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
            case .killed: console.log("sent SIGKILL to COMMAND's process group")
            case let .released(tally, keep):
                if let keep {
                    console.log("left '\(waiting.keyName)' held for \(DurationSyntax.formatRough(keep)) more (--min-hold) on \(tally.confirmed) instances")
                } else {
                    console.log("released '\(waiting.keyName)' on \(tally.confirmed) of \(redlock.instances.count) instances")
                }
                for failure in tally.failures { console.log("release: \(failure)") }
                if keep == nil, !tally.reachedQuorum, !tally.failures.isEmpty {
                    let stay = tally.keyMayStay.map { " for up to \(DurationSyntax.formatRough($0)) (its TTL)" } ?? " until its TTL runs out"
                    console.warn("release of '\(waiting.keyName)' missed a quorum (\(tally.confirmed) of \(redlock.quorum.instances) released); the key may stay\(stay) on \(tally.failures.map(\.description).joined(separator: "; "))")
                }
            }
        }
        if let ifNewer = options.ifNewer {
            runner.beforeRelease = { status in
                if status.shellStatus == 0 { ifNewer.record(redlock, lease: lease, key: key, keyName: waiting.keyName, console: console) }
            }
        }
        switch runner.run() {
        case let .completed(status):
            return status.shellStatus
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
        parts += tally.failures.map(\.description)
        return parts.joined(separator: "; ")
    }
}
