/// What kind of lock a key is, and everything that depends on it: the Lua scripts that act
/// on its keys, the decoder from their replies to verdicts, and a read-only script that
/// says who holds it. The quorum rules (Quorum) and the rounds (Redlock) are the same for
/// every kind; only this changes. `Exclusive` (one holder) is the first kind.
///
/// Every key a kind touches for one lock shares the lock key's Redis Cluster hash tag, so a
/// cluster routes a lock's scripts to one node.
public protocol LockKind: Sendable {
    /// Take the lock for `value` for `ttl`; decoded by `acquireVerdict`.
    func acquire(key: [UInt8], value: LockValue, ttl: Duration) -> ScriptCall
    func acquireVerdict(_ reply: Reply) -> Verdict
    /// After an acquire whose granting instances disagree about the fencing counter (a
    /// restart lost it on some): raise it to `fence` (set-if-greater).
    func raiseFence(key: [UInt8], to fence: Int64) -> ScriptCall
    /// Take the lock for `value` with fencing token `fence` on an instance where it is free,
    /// for a holder that already holds it on a quorum (an instance its acquire round was
    /// decided without): the same value as on the others, and the instance's counter raised
    /// to `fence`. Decoded by `stepVerdict`. nil: this kind does not claim (a shared holder
    /// or a slot stands where the plain key's script would make an exclusive one).
    func claim(key: [UInt8], value: LockValue, ttl: Duration, fence: Int64) -> ScriptCall?
    /// Renew the TTL where `token` still holds; decoded by `stepVerdict`.
    func extend(key: [UInt8], token: LockToken, ttl: Duration) -> ScriptCall
    /// Delete where `token` holds; `announce`: wake the waiters. Decoded by `stepVerdict`.
    func release(key: [UInt8], token: LockToken, announce: Bool) -> ScriptCall
    /// Delete whoever holds it, or only where `token` holds; wakes waiters. `stepVerdict`.
    func forceRelease(key: [UInt8], token: LockToken?) -> ScriptCall
    /// The verdict of extend, release and force-release: done, or not ours.
    func stepVerdict(_ reply: Reply) -> Verdict
    /// Read-only: who holds the lock and for how long, decoded by `inspectState`.
    func inspect(key: [UInt8]) -> ScriptCall
    func inspectState(_ reply: Reply) -> KeyState.InstanceState
    /// Whether a Redis key is one of a lock's helper keys (a fencing counter) rather than
    /// a lock: left out of inspect's listings.
    func isHelperKey(_ key: [UInt8]) -> Bool
    /// One plain read-only command whose reply says whether the lock still stands on an
    /// instance (a waiter's look after subscribing); decoded by `isStillHeld`.
    func stillHeldProbe(key: [UInt8]) -> Command
    func isStillHeld(_ reply: Reply) -> Bool
    /// The channel a release of `key` is announced on.
    func releaseChannel(for key: [UInt8]) -> [UInt8]
}

/// One script with its keys and arguments, as a kind asks for it.
public struct ScriptCall: Sendable {
    public let script: LuaScript
    public let keys: [[UInt8]]
    public let arguments: [[UInt8]]

    public init(_ script: LuaScript, keys: [[UInt8]], arguments: [[UInt8]]) {
        self.script = script
        self.keys = keys
        self.arguments = arguments
    }
}

extension LockKind {
    public func claim(key: [UInt8], value: LockValue, ttl: Duration, fence: Int64) -> ScriptCall? { nil }

    /// A TTL as the scripts take it: whole milliseconds, at least 1.
    static func milliseconds(_ duration: Duration) -> [UInt8] {
        Array(String(max(1, duration.milliseconds)).utf8)
    }
}
