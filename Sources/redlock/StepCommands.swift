import Glibc
import RedlockCore

/// `acquire`, `extend` and `release`: the lock's steps as separate processes, for CI jobs
/// whose steps cannot share one `redlock run`.
enum StepCommands {
    /// What `extend` and `release` act on.
    struct Target {
        /// KEY as given (bytes), and as messages show it.
        var key: [UInt8]
        var keyName: String
        var token: String
        var ttl: Duration
    }

    static func acquireOptions(_ invocation: Invocation) throws(Failure) -> LockWaiting {
        var waiting = try LockWaiting.from(invocation)
        try expectOnlyKey(invocation)
        waiting.events = try EventStream.Target.from(invocation)
        return waiting
    }

    static func target(_ invocation: Invocation) throws(Failure) -> Target {
        let (key, token) = try keyAndToken(invocation)
        return Target(key: key, keyName: TerminalText.escaped(bytes: key), token: token, ttl: try Config.ttl(invocation))
    }

    static func acquire(_ waiting: LockWaiting, printEnvironment: Bool, config: Config) throws(Failure) -> Int32 {
        let inbox: SignalInbox
        do {
            inbox = try SignalInbox([.interrupt, .terminate, .hangup, .quit])
        } catch {
            throw Failure(.internalError, "cannot set up signal handling: \(error)")
        }
        // The holder is the script that called us: it is what holds the lock from now on.
        let parent = ProcessIdentity.parentProcessID
        let value = LockValue.fresh(for: .init(
            host: ProcessIdentity.hostName, pid: parent, user: ProcessIdentity.userName,
            command: waiting.label ?? ProcessIdentity.commandLine(of: parent) ?? "",
            acquiredAtMilliseconds: WallClock.millisecondsSinceEpoch()))
        let key = config.redisKey(waiting.key)
        let redlock = config.makeRedlock(kind: waiting.kind(for: key))
        let events = try waiting.events.map { target throws(Failure) in try EventStream.open(target, key: waiting.key, console: config.console) }
        let askedAt = Instant.now()
        let lease = try waiting.acquire(redlock, key: key, value: value, inbox: inbox, console: config.console, events: events)
        events?.emit("acquired", Automation.acquiredFields(lease, redlock: redlock, waited: Instant.now() - askedAt))
        if printEnvironment {
            // Both values are URL-safe characters or digits: valid for eval and $GITHUB_ENV
            // alike; a slot's name is quoted for the shell.
            let slot = LockWaiting.slot(of: lease, in: redlock).map { "\nREDLOCK_SLOT=" + ShellWord.quoted(String(decoding: $0, as: UTF8.self)) } ?? ""
            config.console.print("REDLOCK_TOKEN=\(lease.token)\nREDLOCK_FENCING_TOKEN=\(lease.fence)\(slot)")
        } else {
            config.console.print(lease.token)
        }
        redlock.finishLeavingLine()
        return ExitCode.success.rawValue
    }

    static func extend(_ target: Target, config: Config) throws(Failure) -> Int32 {
        // Any mode: the holder is found by its token (AnyHolder).
        let redlock = config.makeRedlock(kind: AnyHolder())
        let outcome = redlock.extend(key: config.redisKey(target.key), token: LockToken(target.token), ttl: target.ttl)
        try DuplicateServers.refuse(redlock)
        switch outcome {
        case let .extended(tally):
            config.console.log("extended '\(target.keyName)' on \(tally.confirmed) of \(redlock.quorum.instances) instances")
            return ExitCode.success.rawValue
        case let .lost(tally), let .failed(tally):
            throw failure(tally, quorum: redlock.quorum, keyName: target.keyName, action: "extend")
        }
    }

    static func release(_ target: Target, config: Config) throws(Failure) -> Int32 {
        // Any mode: the holder is found by its token (AnyHolder).
        let redlock = config.makeRedlock(kind: AnyHolder())
        let tally = redlock.release(key: config.redisKey(target.key), token: LockToken(target.token))
        try DuplicateServers.refuse(redlock)
        if tally.reachedQuorum {
            config.console.log("released '\(target.keyName)' on \(tally.confirmed) of \(redlock.quorum.instances) instances")
            return ExitCode.success.rawValue
        }
        throw failure(tally, quorum: redlock.quorum, keyName: target.keyName, action: "release")
    }

    /// Not done on a quorum: 76 when enough instances answered that the token is not there,
    /// 69/77 when too few answered to say (Quorum decided which).
    private static func failure(_ tally: Tally, quorum: Quorum, keyName: String, action: String) -> Failure {
        if case .notHeld = tally.decision {
            return Failure(.lockLost, "cannot \(action) '\(keyName)': not held with that token (\(tally.confirmed) of \(quorum.instances) instances hold it)")
        }
        return LockWaiting.unreachable(tally.failures, quorum: quorum, what: "\(action) '\(keyName)'")
    }

    private static func keyAndToken(_ invocation: Invocation) throws(Failure) -> ([UInt8], String) {
        let command = invocation.command?.rawValue
        guard let token = invocation.last("token"), !token.isEmpty else {
            throw Failure.usage("missing --token TOKEN (the token 'redlock acquire' printed)", command: command)
        }
        guard let key = invocation.positionalBytes.first, !key.isEmpty else {
            throw Failure.usage("missing KEY", command: command)
        }
        try expectOnlyKey(invocation)
        return (key, try checkedToken(token, command: command))
    }

    /// A --token value as given, or a usage error: a token is letters, digits, '-' and '_'
    /// (a space would also break the "redlock1 <token> " prefix the scripts compare).
    static func checkedToken(_ token: String, command: String?) throws(Failure) -> String {
        guard !token.isEmpty, token.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw Failure.usage("'\(token)' is not a redlock token", command: command)
        }
        return token
    }

    private static func expectOnlyKey(_ invocation: Invocation) throws(Failure) {
        if invocation.positionals.count > 1 {
            throw Failure.usage("unexpected '\(invocation.positionals[1])' after KEY", command: invocation.command?.rawValue)
        }
    }
}
