/// The exclusive lock (one holder): one string key holding the holder's value, and a
/// fencing counter `{KEY}:fence` in the same hash slot. A key set by any other client with
/// SET NX PX is a holder like any other, so redlock and other Redlock clients exclude
/// each other.
public struct Exclusive: LockKind {
    /// How long a refused writer's "writer waiting" mark stands (Shared.swift); zero: no
    /// mark (an acquire that will not wait must not hold shared holders off).
    public var marksWaiting: Duration

    public init(marksWaiting: Duration = Exclusive.writerMarkTTL) { self.marksWaiting = marksWaiting }

    /// The writer side of the reader/writer lock on KEY (Shared.swift): also refused while
    /// shared holders stand, and while KEY is used with slots.
    public func acquire(key: [UInt8], value: LockValue, ttl: Duration) -> ScriptCall {
        Self.readerWriterAcquire(key: key, value: value, ttl: ttl, marksWaiting: marksWaiting)
    }

    public func claim(key: [UInt8], value: LockValue, ttl: Duration, fence: Int64) -> ScriptCall? {
        ScriptCall(Scripts.claim, keys: [key, LockKeys.fenceKey(for: key)],
                   arguments: [value.encoded, Self.milliseconds(ttl), Array(String(fence).utf8), LockKeys.tagBase(for: key)])
    }

    public func acquireVerdict(_ reply: Reply) -> Verdict { AnyHolder.acquireVerdict(reply) }

    public func raiseFence(key: [UInt8], to fence: Int64) -> ScriptCall {
        ScriptCall(Scripts.raiseFence, keys: [LockKeys.fenceKey(for: key)], arguments: [Array(String(fence).utf8)])
    }

    public func extend(key: [UInt8], token: LockToken, ttl: Duration) -> ScriptCall {
        ScriptCall(Scripts.extend, keys: [key], arguments: [token.ownershipPrefix, Self.milliseconds(ttl)])
    }

    public func release(key: [UInt8], token: LockToken, announce: Bool) -> ScriptCall {
        ScriptCall(Scripts.release, keys: [key, QueueKeys.queueKey(for: key), LockKeys.writerKey(for: key)], arguments: [token.ownershipPrefix, announce ? releaseChannel(for: key) : [], QueueKeys.waiterChannelPrefix(for: key)])
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

    public func isHelperKey(_ key: [UInt8]) -> Bool { LockKeys.isFenceKey(key) || OnceMark.isMarkKey(key) || QueueKeys.isHelperKey(key) }

    public func releaseChannel(for key: [UInt8]) -> [UInt8] { LockKeys.releaseChannel(for: key) }

    /// A writer that gave up takes its "writer waiting" mark away (`Scripts.withdraw`).
    public func withdrawMark(key: [UInt8], token: LockToken) -> ScriptCall {
        ScriptCall(Scripts.withdraw, keys: [LockKeys.writerKey(for: key)], arguments: [token.ownershipPrefix, releaseChannel(for: key)])
    }
}

extension Exclusive {
    /// The exclusive lock's Lua scripts. Each runs atomically on one instance, so "check the
    /// token, then act" cannot interleave with another client.
    enum Scripts {
        /// KEYS[1] = a fencing counter, ARGV[1] = a token value. Raises the counter to the value
        /// where it is lower (set-if-greater), so a quorum holds at least every token handed out.
        static let raiseFence = LuaScript("raiseFence", sha1: "29321398dc547fc3362a544fc5152f6f034ef572", """
            local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
            if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
            return 1
            """)

        /// KEYS[1] = key, KEYS[2] = its fencing counter, ARGV[1] = value, ARGV[2] = TTL in ms,
        /// ARGV[3] = the holder's fencing token, ARGV[4] = the key's tag base.
        /// A holder's take of an instance its acquire round was decided without: only where
        /// the key is free and KEY is in no other mode (no mode key, no shared holder, even an
        /// expired one: when in doubt, no take). The value is the one the other instances hold,
        /// fence included, and the counter rises to that fence (set-if-greater), as after
        /// `raiseFence`. Returns 1 when taken, 0 when not.
        static let claim = LuaScript("claim", sha1: "c4570a2c2236629790b398c2757c29d3b6e0f16b", """
            local base = ARGV[4]
            if redis.call('EXISTS', KEYS[1], base .. ':mode', base .. ':shared') > 0 then return 0 end
            redis.call('SET', KEYS[1], ARGV[1] .. ' fence=' .. ARGV[3], 'PX', ARGV[2])
            local current = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
            if current < tonumber(ARGV[3]) then redis.call('SET', KEYS[2], ARGV[3]) end
            return 1
            """)

        /// KEYS[1] = key, KEYS[2] = its queue, ARGV[1] = ownership prefix or "", ARGV[2] =
        /// release channel, ARGV[3] = the queue's channel prefix.
        /// Deletes the key whoever holds it, or with a prefix only where it matches, and wakes
        /// waiters: those that race, and the first in line (only it). Returns 1 when deleted, 0 when not.
        static let forceRelease = LuaScript("forceRelease", sha1: "a6d4ddbed10a26ce749c3196d26cbd4207527333", QueueScripts.helpers + """

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
        static let extend = LuaScript("extend", sha1: "995db105eb0c821564be596bcfed63f59ba5c28d", """
            local value = redis.call('GET', KEYS[1])
            if value and string.sub(value, 1, #ARGV[1]) == ARGV[1] then
              return redis.call('PEXPIRE', KEYS[1], ARGV[2])
            end
            return 0
            """)

        /// KEYS[1] = key, KEYS[2] = its queue, KEYS[3] = its "writer waiting" mark, ARGV[1] =
        /// ownership prefix, ARGV[2] = release channel or "" (no announcement), ARGV[3] = the
        /// queue's channel prefix.
        /// Deletes the key only where it holds our token, so a release never removes another
        /// holder's lock, and announces it to waiters: those that race, and the first in line
        /// on its own channel (only it wakes: no herd). An announced release (the holder's
        /// last) takes our own writer mark away too, also where the key is not ours: an
        /// instance that refused us while shared holders stood there still has it, though a
        /// quorum granted. The undo of a failed attempt keeps it: the writer still waits.
        /// Returns 1 or 0.
        static let release = LuaScript("release", sha1: "1af9c851613c9e48f10251200ce62cdce2c43dad", QueueScripts.helpers + """

            if ARGV[2] ~= '' then
              local marked = redis.call('GET', KEYS[3])
              if marked and string.sub(marked, 1, #ARGV[1]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
            end
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

        /// KEYS[1] = KEY's "writer waiting" mark, ARGV[1] = ownership prefix, ARGV[2] = the
        /// release channel. A writer that gives up takes its mark away where it is still
        /// its own, and announces it: shared waiters it held off try again at once instead
        /// of when the mark would have lapsed. Returns 1 when it took a mark away, else 0.
        static let withdraw = LuaScript("withdrawWriterMark", sha1: "77cd114163d302e98716359afe2b673925838dbe", """
            local marked = redis.call('GET', KEYS[1])
            if marked and string.sub(marked, 1, #ARGV[1]) == ARGV[1] then
              redis.call('DEL', KEYS[1])
              redis.call('PUBLISH', ARGV[2], 'released')
              return 1
            end
            return 0
            """)

        /// KEYS[1] = key. Read-only: {value or false, PTTL}, for `inspect`.
        static let inspect = LuaScript("inspect", sha1: "7c4acab28f3f7d97f3fd4354e4273792c8b95b9b", """
            return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}
            """)
    }
}
