import RedlockCore

/// `run --if-newer N`: COMMAND runs only when N is larger than KEY's high-water mark, and
/// the mark becomes N after it succeeds (see Redlock.highWaterMark for why a quorum read
/// and a quorum write under our token are enough).
struct IfNewer {
    let value: Int64

    static func from(_ invocation: Invocation) throws(Failure) -> IfNewer? {
        guard let text = invocation.last("if-newer") else { return nil }
        guard let value = Int64(text), value >= 0 else {
            throw Failure.usage("--if-newer takes a non-negative integer, not '\(TerminalText.escaped(text))'", command: "run")
        }
        return IfNewer(value: value)
    }

    /// With the lock held: goes on when N is newer; otherwise releases the lock (as a
    /// `--once` skip does: `--min-hold` kept, the `skipped` and `released` events written)
    /// and throws the conflict exit (or 69 when the mark cannot be read from a quorum).
    func check(_ redlock: Redlock, lease: Lease, key: [UInt8], waiting: LockWaiting, minHold: Duration?, events: EventStream?, console: Console) throws(Failure) {
        switch redlock.highWaterMark(key: key) {
        case let .mark(mark?) where mark >= value:
            events?.emit("skipped", [("reason", .string("if_newer")), ("if_newer", .integer(value)), ("mark", .integer(mark))])
            Automation.release(redlock: redlock, lease: lease, minHold: minHold, events: events, console: console)
            let silent = console.quiet || waiting.conflictStatus == 0
            throw Failure(status: waiting.conflictStatus, silent ? nil : "skipped: '\(waiting.keyName)' already ran with \(mark), not older than --if-newer \(value)")
        case .mark:
            return
        case let .unknown(notANumber):
            Automation.release(redlock: redlock, lease: lease, minHold: minHold, events: events, console: console)
            var reasons: [String] = []
            if notANumber > 0 { reasons.append("it is not a number on \(notANumber) of \(redlock.quorum.instances) instances (a mark redlock did not write)") }
            if notANumber < redlock.quorum.instances - redlock.quorum.needed + 1 {
                // Not enough non-numbers to explain it alone: some instances did not answer.
                reasons.append("fewer than \(redlock.quorum.needed) of \(redlock.quorum.instances) instances answered with a mark")
            }
            let why = reasons.joined(separator: "; ")
            throw Failure(.unavailable, "cannot read the mark of '\(waiting.keyName)' for --if-newer: \(why)")
        }
    }

    /// After COMMAND exited 0, while the lock is still ours: the mark becomes N.
    func record(_ redlock: Redlock, lease: Lease, key: [UInt8], keyName: String, console: Console) {
        if !redlock.raiseHighWaterMark(key: key, token: lease.lockToken, to: value) {
            console.warn("could not raise the mark of '\(keyName)' to \(value) on a quorum (--if-newer); a later run with a smaller N may still run")
        }
    }
}
