/// The exclusive lock taken in line: Exclusive in every way but the acquire, which is the
/// writer side's acquire (Shared.swift: refused while shared holders stand or KEY is used
/// with slots) and also refuses a waiter that is not first in KEY's queue on that instance
/// (and puts a refused waiter in the line). A quorum of "first in line" is needed because a quorum of grants
/// is: the queue only refuses, so a queue lost in a restart can delay a waiter, never
/// make two holders.
public struct InLine: LockKind {
    /// The writer side it composes with: its `marksWaiting` says whether a refusal by shared
    /// holders marks "a writer waits" (zero for `-n`, which will not wait).
    let base: Exclusive
    /// Our ticket; nil for an attempt that must not join (`-n`) but still lets the line go first.
    let ticket: QueueTicket?

    public init(ticket: QueueTicket?, base: Exclusive = Exclusive()) {
        self.ticket = ticket
        self.base = base
    }

    /// Ten words at most (EVALSHA, sha, 2, two keys, five arguments): a client that has not
    /// authenticated must read NOAUTH, and a longer request is a protocol error instead. The
    /// script derives the ownership prefix, the queue's key and the waiters' channel itself.
    public func acquire(key: [UInt8], value: LockValue, ttl: Duration) -> ScriptCall {
        let marks = base.marksWaiting > .zero ? Self.milliseconds(base.marksWaiting) : Array("0".utf8)
        return ScriptCall(QueueScripts.acquire,
                          keys: [key, LockKeys.fenceKey(for: key)],
                          arguments: [value.encoded, Self.milliseconds(ttl), marks, LockKeys.tagBase(for: key), ticket?.encoded ?? []])
    }

    /// Exclusive's replies, and {2, ticket}: free, but someone else is first in line.
    public func acquireVerdict(_ reply: Reply) -> Verdict {
        if case let .array(items) = reply, items.count == 2, items[0] == .integer(2) {
            return .refused(holders: [], retryAfter: nil)
        }
        return base.acquireVerdict(reply)
    }

    /// The holder is out of the line by now: its claims are the plain writer's.
    public func claim(key: [UInt8], value: LockValue, ttl: Duration, fence: Int64) -> ScriptCall? { base.claim(key: key, value: value, ttl: ttl, fence: fence) }
    public func raiseFence(key: [UInt8], to fence: Int64) -> ScriptCall { base.raiseFence(key: key, to: fence) }
    public func extend(key: [UInt8], token: LockToken, ttl: Duration) -> ScriptCall { base.extend(key: key, token: token, ttl: ttl) }
    public func release(key: [UInt8], token: LockToken, announce: Bool) -> ScriptCall { base.release(key: key, token: token, announce: announce) }
    public func forceRelease(key: [UInt8], token: LockToken?) -> ScriptCall { base.forceRelease(key: key, token: token) }
    public func stepVerdict(_ reply: Reply) -> Verdict { base.stepVerdict(reply) }
    public func inspect(key: [UInt8]) -> ScriptCall { base.inspect(key: key) }
    public func inspectState(_ reply: Reply) -> KeyState.InstanceState { base.inspectState(reply) }
    public func isHelperKey(_ key: [UInt8]) -> Bool { base.isHelperKey(key) }
    public func stillHeldProbe(key: [UInt8]) -> Command { base.stillHeldProbe(key: key) }
    public func isStillHeld(_ reply: Reply) -> Bool { base.isStillHeld(reply) }
    public func releaseChannel(for key: [UInt8]) -> [UInt8] { base.releaseChannel(for: key) }
}
