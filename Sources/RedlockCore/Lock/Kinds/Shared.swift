/// The shared side of the reader/writer lock: holders in `{KEY}:shared` (score = expiry),
/// refused while KEY has an exclusive holder or a writer waits; an exclusive acquire
/// (Exclusive's script) is refused while a shared holder stands. Extend, release and
/// force-release find the holder by token in whatever mode (AnyHolder).
public struct Shared: LockKind {
    public init() {}

    public func acquire(key: [UInt8], value: LockValue, ttl: Duration) -> ScriptCall {
        ScriptCall(Scripts.acquire, keys: [key, LockKeys.fenceKey(for: key)], arguments: [value.encoded, Self.milliseconds(ttl), LockKeys.tagBase(for: key)])
    }

    public func acquireVerdict(_ reply: Reply) -> Verdict { AnyHolder.acquireVerdict(reply) }
    public func raiseFence(key: [UInt8], to fence: Int64) -> ScriptCall { Exclusive().raiseFence(key: key, to: fence) }
    public func extend(key: [UInt8], token: LockToken, ttl: Duration) -> ScriptCall { AnyHolder().extend(key: key, token: token, ttl: ttl) }
    public func release(key: [UInt8], token: LockToken, announce: Bool) -> ScriptCall { AnyHolder().release(key: key, token: token, announce: announce) }
    public func forceRelease(key: [UInt8], token: LockToken?) -> ScriptCall { AnyHolder().forceRelease(key: key, token: token) }
    public func stepVerdict(_ reply: Reply) -> Verdict { Exclusive().stepVerdict(reply) }
    public func inspect(key: [UInt8]) -> ScriptCall { AnyHolder().inspect(key: key) }
    public func inspectState(_ reply: Reply) -> KeyState.InstanceState { AnyHolder().inspectState(reply) }
    public func isHelperKey(_ key: [UInt8]) -> Bool { AnyHolder().isHelperKey(key) }
    /// A writer or a waiting writer: the plain key or the marker.
    public func stillHeldProbe(key: [UInt8]) -> Command { Command("EXISTS", [key, LockKeys.writerKey(for: key)]) }
    public func isStillHeld(_ reply: Reply) -> Bool { (reply.integer ?? 0) > 0 }
    public func releaseChannel(for key: [UInt8]) -> [UInt8] { LockKeys.releaseChannel(for: key) }

    enum Scripts {
        /// KEYS: key, fence; ARGV: value, TTL ms, tag base (the shared set, writer marker,
        /// mode and slots are named from it). {1, fence}: joined (or renewed, on a retry);
        /// {0, PTTL, holder}: an exclusive holder or a waiting writer; {-1, mode}: KEY is
        /// used with slots.
        static let acquire = LuaScript("acquireShared", sha1: "1540b582d9bc21c057a84bd2f65e3992f702f0a9", ModeLua.prelude + """
            local prefix = ownerPrefix(ARGV[1])
            local shared, writer, mode, slots = ARGV[3] .. ':shared', ARGV[3] .. ':writer', ARGV[3] .. ':mode', ARGV[3] .. ':slot:'
            local now = nowMs()
            redis.call('ZREMRANGEBYSCORE', shared, '-inf', now)
            for _, member in ipairs(redis.call('ZRANGE', shared, 0, -1)) do
              if owns(member, prefix) then
                redis.call('ZADD', shared, now + tonumber(ARGV[2]), member)
                local last = redis.call('ZRANGE', shared, -1, -1, 'WITHSCORES')
                redis.call('PEXPIREAT', shared, last[2])
                return {1, fenceOf(member)}
              end
            end
            local holder = redis.call('GET', KEYS[1])
            if holder then return {0, redis.call('PTTL', KEYS[1]), holder} end
            local stored = redis.call('GET', mode)
            if stored then
              if slotsLive(stored, slots) then return {-1, stored} end
              redis.call('DEL', mode)
            end
            local waiting = redis.call('GET', writer)
            if waiting then return {0, redis.call('PTTL', writer), waiting} end
            local fence = redis.call('INCR', KEYS[2])
            redis.call('ZADD', shared, now + tonumber(ARGV[2]), ARGV[1] .. ' fence=' .. fence)
            local last = redis.call('ZRANGE', shared, -1, -1, 'WITHSCORES')
            redis.call('PEXPIREAT', shared, last[2])
            return {1, fence}
            """)

        /// Exclusive's acquire, as the writer side of the reader/writer lock. KEYS: key,
        /// fence; ARGV: value, TTL ms, ownership prefix, marker TTL ms ("0": do not mark, the
        /// caller will not wait), tag base. As the plain acquire, and besides: {-1, mode}
        /// when KEY is used with slots; {0, ms left, holder, 1} while a shared holder stands,
        /// marking "a writer waits" so that no new one joins. Every `run KEY` pays for it:
        /// no closures, and the slots looked at only when a mode key stands
        /// (`refuseAModeInUse`).
        /// Lua inlined where a writer acquires (here and in the queue's acquire, which must
        /// refuse exactly as this does): a key in slot mode refuses with {-1, mode} while any
        /// of its slots is held; a mode key a crash left behind is removed. Inlined, not a
        /// function of `ModeLua.prelude`: every `run KEY` sends these scripts' SHA1, which is
        /// computed from their text at start-up. Needs `base`, the key's hash-tag base.
        static let refuseAModeInUse = """
            local stored = redis.call('GET', base .. ':mode')
            if stored then
              local names = {}
              local n = string.match(stored, '^limit (%d+)$')
              if n then
                for i = 1, tonumber(n) do names[#names + 1] = tostring(i) end
              else
                for name in string.gmatch(string.sub(stored, 7), '[^,]+') do names[#names + 1] = name end
              end
              for _, name in ipairs(names) do
                if redis.call('EXISTS', base .. ':slot:' .. name) == 1 then return {-1, stored} end
              end
              redis.call('DEL', base .. ':mode')
            end
            """

        static let acquireExclusive = LuaScript("acquire", sha1: "12bb13bf1823263811b18359bda321e0bc254e6c", """
            local holder = redis.call('GET', KEYS[1])
            if holder then
              if string.sub(holder, 1, #ARGV[3]) == ARGV[3] then
                redis.call('PEXPIRE', KEYS[1], ARGV[2])
                return {1, tonumber(redis.call('GET', KEYS[2]) or '0') or 0}
              end
              return {0, redis.call('PTTL', KEYS[1]), holder}
            end
            local base = ARGV[5]
            local shared, writer = base .. ':shared', base .. ':writer'
            -- The common case, no mode, no shared holder, no waiting writer: one look.
            if redis.call('EXISTS', base .. ':mode', shared, writer) == 0 then
              local fence = redis.call('INCR', KEYS[2])
              redis.call('SET', KEYS[1], ARGV[1] .. ' fence=' .. fence, 'PX', ARGV[2])
              return {1, fence}
            end
            \(refuseAModeInUse)
            if redis.call('EXISTS', shared) == 1 then
              local t = redis.call('TIME')
              local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
              redis.call('ZREMRANGEBYSCORE', shared, '-inf', now)
              local first = redis.call('ZRANGE', shared, 0, 0, 'WITHSCORES')
              if #first > 0 then
                if tonumber(ARGV[4]) > 0 then redis.call('SET', writer, ARGV[1], 'PX', ARGV[4]) end
                return {0, tonumber(first[2]) - now, first[1], 1}
              end
            end
            local fence = redis.call('INCR', KEYS[2])
            redis.call('SET', KEYS[1], ARGV[1] .. ' fence=' .. fence, 'PX', ARGV[2])
            local marked = redis.call('GET', writer)
            if marked and string.sub(marked, 1, #ARGV[3]) == ARGV[3] then redis.call('DEL', writer) end
            return {1, fence}
            """)
    }
}

extension Exclusive {
    /// The writer side's acquire call (see `Shared.Scripts.acquireExclusive`).
    static func readerWriterAcquire(key: [UInt8], value: LockValue, ttl: Duration, marksWaiting: Duration) -> ScriptCall {
        ScriptCall(Shared.Scripts.acquireExclusive, keys: [key, LockKeys.fenceKey(for: key)],
                   arguments: [value.encoded, milliseconds(ttl), value.lockToken.ownershipPrefix, marksWaiting > .zero ? milliseconds(marksWaiting) : Array("0".utf8), LockKeys.tagBase(for: key)])
    }

    /// How long a waiting writer's mark stands without being refreshed: a writer refused by
    /// shared holders tries again at least this often (Waiter caps its sleep by `retryAfter`).
    public static let writerMarkTTL = Duration.seconds(3)
    /// How often a waiting writer comes back, well inside its mark's TTL.
    static let writerRetry = Duration.seconds(1)
}
