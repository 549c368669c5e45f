/// The exclusive lock (one holder): one string key holding the holder's value, and a
/// fencing counter `{KEY}:fence` in the same hash slot. A key set by any other client with
/// SET NX PX is a holder like any other, so redlock and other Redlock clients exclude
/// each other.
public struct Exclusive: LockKind {
    public init() {}

    public func acquire(key: [UInt8], value: LockValue, ttl: Duration) -> ScriptCall {
        ScriptCall(Scripts.acquire, keys: [key, LockKeys.fenceKey(for: key)], arguments: [value.encoded, Self.milliseconds(ttl), value.lockToken.ownershipPrefix])
    }

    /// {1, fence}: granted; {0, PTTL, holder}: refused.
    public func acquireVerdict(_ reply: Reply) -> Verdict {
        guard case let .array(items) = reply else { return .failed(.unexpectedReply("\(reply)")) }
        if items.count == 2 && items[0] == .integer(1) { return .granted(fence: items[1].integer ?? 0) }
        if items.count == 3 && items[0] == .integer(0) {
            let pttl = items[1].integer ?? -1
            let remaining: Duration? = pttl >= 0 ? .milliseconds(pttl) : nil
            let raw: [UInt8]
            if case let .bulk(bytes) = items[2] { raw = bytes } else { raw = [] }
            return .refused(holders: [Holding(value: raw, remaining: remaining)], retryAfter: remaining)
        }
        return .failed(.unexpectedReply("\(reply)"))
    }

    public func raiseFence(key: [UInt8], to fence: Int64) -> ScriptCall {
        ScriptCall(Scripts.raiseFence, keys: [LockKeys.fenceKey(for: key)], arguments: [Array(String(fence).utf8)])
    }

    public func extend(key: [UInt8], token: LockToken, ttl: Duration) -> ScriptCall {
        ScriptCall(Scripts.extend, keys: [key], arguments: [token.ownershipPrefix, Self.milliseconds(ttl)])
    }

    public func release(key: [UInt8], token: LockToken, announce: Bool) -> ScriptCall {
        ScriptCall(Scripts.release, keys: [key, QueueKeys.queueKey(for: key)], arguments: [token.ownershipPrefix, announce ? releaseChannel(for: key) : [], QueueKeys.waiterChannelPrefix(for: key)])
    }

    public func forceRelease(key: [UInt8], token: LockToken?) -> ScriptCall {
        ScriptCall(Scripts.forceRelease, keys: [key, QueueKeys.queueKey(for: key)], arguments: [token?.ownershipPrefix ?? [], releaseChannel(for: key), QueueKeys.waiterChannelPrefix(for: key)])
    }

    /// 1: done; 0: not ours (or nothing to delete).
    public func stepVerdict(_ reply: Reply) -> Verdict {
        switch reply {
        case .integer(let done) where done > 0: return .granted(fence: nil)
        case .integer(0): return .refused(holders: [], retryAfter: nil)
        default: return .failed(.unexpectedReply("\(reply)"))
        }
    }

    public func inspect(key: [UInt8]) -> ScriptCall {
        ScriptCall(Scripts.inspect, keys: [key], arguments: [])
    }

    /// {value or nil, PTTL}.
    public func inspectState(_ reply: Reply) -> KeyState.InstanceState {
        guard let items = reply.elements, items.count == 2 else { return .failed(.unexpectedReply("\(reply)")) }
        switch items[0] {
        case .null: return .free
        case let .bulk(value):
            let remaining = items[1].integer.flatMap { $0 >= 0 ? Duration.milliseconds($0) : nil }
            return .held([Holding(value: value, remaining: remaining)])
        default: return .failed(.unexpectedReply("\(items[0])"))
        }
    }

    /// PTTL: -2 when the key is gone.
    public func stillHeldProbe(key: [UInt8]) -> Command { Command("PTTL", [key]) }

    public func isStillHeld(_ reply: Reply) -> Bool { reply != .integer(-2) && reply.integer != nil }

    public func isHelperKey(_ key: [UInt8]) -> Bool { LockKeys.isFenceKey(key) || QueueKeys.isHelperKey(key) }

    public func releaseChannel(for key: [UInt8]) -> [UInt8] { LockKeys.releaseChannel(for: key) }
}

extension Exclusive {
    /// The exclusive lock's Lua scripts. Each runs atomically on one instance, so "check the
    /// token, then act" cannot interleave with another client.
    enum Scripts {
        /// KEYS[1] = key, KEYS[2] = its fencing counter; ARGV[1] = our value, ARGV[2] = TTL in
        /// ms, ARGV[3] = our ownership prefix.
        /// When the key is free: increments the counter, stores our value with " fence=N"
        /// appended, and returns {1, N}. When it already holds our token (a retry after a lost
        /// reply): renews it and returns {1, counter}. Otherwise returns {0, PTTL, value} of the
        /// holder, so waiters can cap their sleep and say who holds it. A key set by any other
        /// client with SET NX PX is a holder like any other.
        static let acquire = LuaScript("acquire", """
            local holder = redis.call('GET', KEYS[1])
            if holder then
              if string.sub(holder, 1, #ARGV[3]) == ARGV[3] then
                redis.call('PEXPIRE', KEYS[1], ARGV[2])
                return {1, tonumber(redis.call('GET', KEYS[2]) or '0') or 0}
              end
              return {0, redis.call('PTTL', KEYS[1]), holder}
            end
            local fence = redis.call('INCR', KEYS[2])
            redis.call('SET', KEYS[1], ARGV[1] .. ' fence=' .. fence, 'PX', ARGV[2])
            return {1, fence}
            """)

        /// KEYS[1] = a fencing counter, ARGV[1] = a token value. Raises the counter to the value
        /// where it is lower (set-if-greater), so a quorum holds at least every token handed out.
        static let raiseFence = LuaScript("raiseFence", """
            local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
            if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
            return 1
            """)

        /// KEYS[1] = key, KEYS[2] = its queue, ARGV[1] = ownership prefix or "", ARGV[2] =
        /// release channel, ARGV[3] = the queue's channel prefix.
        /// Deletes the key whoever holds it, or with a prefix only where it matches, and wakes
        /// waiters: those that race, and the first in line (only it). Returns 1 when deleted, 0 when not.
        static let forceRelease = LuaScript("forceRelease", QueueScripts.helpers + """

            if ARGV[1] ~= '' then
              local value = redis.call('GET', KEYS[1])
              if not value or string.sub(value, 1, #ARGV[1]) ~= ARGV[1] then return 0 end
            end
            local deleted = redis.call('DEL', KEYS[1])
            if deleted > 0 then
              redis.call('PUBLISH', ARGV[2], 'released')
              wake_head(KEYS[2], ARGV[3], 'released')
            end
            return deleted
            """)

        /// KEYS[1] = key, ARGV[1] = ownership prefix ("redlock1 <token> "), ARGV[2] = TTL in ms.
        /// Sets the TTL only where the key still holds our token: a key that expired or was
        /// taken over is never re-created. Returns 1 when extended, 0 when not ours.
        static let extend = LuaScript("extend", """
            local value = redis.call('GET', KEYS[1])
            if value and string.sub(value, 1, #ARGV[1]) == ARGV[1] then
              return redis.call('PEXPIRE', KEYS[1], ARGV[2])
            end
            return 0
            """)

        /// KEYS[1] = key, KEYS[2] = its queue, ARGV[1] = ownership prefix, ARGV[2] = release
        /// channel or "" (no announcement), ARGV[3] = the queue's channel prefix.
        /// Deletes the key only where it holds our token, so a release never removes another
        /// holder's lock, and announces it to waiters: those that race, and the first in line
        /// on its own channel (only it wakes: no herd). Returns 1 or 0.
        static let release = LuaScript("release", QueueScripts.helpers + """

            local value = redis.call('GET', KEYS[1])
            if value and string.sub(value, 1, #ARGV[1]) == ARGV[1] then
              redis.call('DEL', KEYS[1])
              if ARGV[2] ~= '' then
                redis.call('PUBLISH', ARGV[2], 'released')
                wake_head(KEYS[2], ARGV[3], 'released')
              end
              return 1
            end
            return 0
            """)

        /// KEYS[1] = key. Read-only: {value or false, PTTL}, for `inspect`.
        static let inspect = LuaScript("inspect", """
            return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}
            """)
    }
}
