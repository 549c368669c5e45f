/// The exclusive lock taken in line: Exclusive in every way but the acquire, which also
/// refuses a waiter that is not first in KEY's queue on that instance (and puts a refused
/// waiter in the line). A quorum of "first in line" is needed because a quorum of grants
/// is: the queue only refuses, so a queue lost in a restart can delay a waiter, never
/// make two holders.
public struct InLine: LockKind {
    let base = Exclusive()
    /// Our ticket; nil for an attempt that must not join (`-n`) but still lets the line go first.
    let ticket: QueueTicket?

    public init(ticket: QueueTicket?) { self.ticket = ticket }

    public func acquire(key: [UInt8], value: LockValue, ttl: Duration) -> ScriptCall {
        ScriptCall(QueueScripts.acquire,
                   keys: [key, LockKeys.fenceKey(for: key), QueueKeys.queueKey(for: key)],
                   arguments: [value.encoded, Self.milliseconds(ttl), value.lockToken.ownershipPrefix, ticket?.encoded ?? []])
    }

    /// Exclusive's replies, and {2, ticket}: free, but someone else is first in line.
    public func acquireVerdict(_ reply: Reply) -> Verdict {
        if case let .array(items) = reply, items.count == 2, items[0] == .integer(2) {
            return .refused(holders: [], retryAfter: nil)
        }
        return base.acquireVerdict(reply)
    }

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
