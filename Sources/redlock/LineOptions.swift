import RedlockCore

/// `--queue`, `--order-key` and `--supersede`: whether a waiter lines up in KEY's queue and
/// where. The queue is used for the exclusive lock only; other kinds wait as before.
struct LineOptions {
    /// `--queue fifo` (the default) or `--queue none` (race, as before queues).
    var inLine = true
    var orderKey: Int64?
    var supersede = false

    static func from(_ invocation: Invocation) throws(Failure) -> LineOptions {
        var options = LineOptions()
        let command = invocation.command?.rawValue
        if let mode = invocation.last("queue") {
            switch mode {
            case "fifo": options.inLine = true
            case "none": options.inLine = false
            default: throw Failure.usage("--queue takes fifo or none, not '\(TerminalText.escaped(mode))'", command: command)
            }
        }
        if let text = invocation.last("order-key") {
            guard let key = Int64(text), key >= 0 else {
                throw Failure.usage("--order-key takes a non-negative integer, not '\(TerminalText.escaped(text))'", command: command)
            }
            options.orderKey = key
        }
        options.supersede = invocation.has("supersede")
        if !options.inLine && (options.orderKey != nil || options.supersede) {
            throw Failure.usage("--\(options.supersede ? "supersede" : "order-key") needs the queue (not --queue none)", command: command)
        }
        return options
    }

    /// Takes the lock: in line when waiting with the queue; `-n` tries once, yet lets the
    /// line go first; `--queue none` races as before, and so do shared holders and slots
    /// (`attempt`: how a kind attempts otherwise, Slots' probe then one slot).
    func wait(_ redlock: Redlock, key: [UInt8], value: LockValue, ttl: Duration, policy: WaitPolicy, waiting: Bool,
              pause: (Duration, [FileDescriptor]) -> Bool, onAttempt: (AcquireAttempt) -> Void, onPlace: (QueuePlace) -> Void,
              attempt: (() -> AcquireAttempt)? = nil) -> LineOutcome {
        guard inLine, let exclusive = redlock.kind as? Exclusive else {
            return .outcome(redlock.acquire(key: key, value: value, ttl: ttl, policy: policy, pause: pause, onAttempt: onAttempt, attempt: attempt))
        }
        guard waiting else {
            let once = Redlock(instances: redlock.instances, kind: InLine(ticket: nil, base: exclusive), restartGrace: redlock.restartGrace)
            return .outcome(once.acquire(key: key, value: value, ttl: ttl, policy: policy, pause: pause, onAttempt: onAttempt))
        }
        let ticket = QueueTicket.fresh(orderKey: orderKey, supersedable: supersede, holder: value.holder)
        return redlock.acquireInLine(key: key, value: value, ttl: ttl, ticket: ticket, policy: policy, supersede: supersede,
                                     pause: pause, onAttempt: onAttempt, onPlace: onPlace)
    }
}
