/// Extend, release, force-release and inspect for a key in any mode: the holder is found by
/// its token (the plain key, a shared holder, or a slot named by the mode key). What
/// `redlock extend/release/force-release/inspect` use: they are not told the mode.
public struct AnyHolder: LockKind {
    public init() {}

    /// {1, fence}: granted; {0, PTTL, holder}: refused; {0, PTTL, holder, 1}: refused by a
    /// shared holder while we wait as a writer (come back within `writerRetry`, to refresh
    /// the mark); {-1, mode}: KEY is in use in another mode. Every mode's acquire reads so.
    static func acquireVerdict(_ reply: Reply) -> Verdict {
        guard case let .array(items) = reply else { return .failed(.unexpectedReply("\(reply)")) }
        if items.count == 2 && items[0] == .integer(1) { return .granted(fence: items[1].integer ?? 0) }
        if items.count == 2 && items[0] == .integer(-1) { return ModeConflict.verdict(items[1]) }
        if (items.count == 3 || items.count == 4) && items[0] == .integer(0) {
            let pttl = items[1].integer ?? -1
            let remaining: Duration? = pttl >= 0 ? .milliseconds(pttl) : nil
            let raw: [UInt8]
            if case let .bulk(bytes) = items[2] { raw = bytes } else { raw = [] }
            var retryAfter = remaining
            if items.count == 4 { retryAfter = min(remaining ?? Exclusive.writerRetry, Exclusive.writerRetry) }
            return .refused(holders: [Holding(value: raw, remaining: remaining, role: items.count == 4 ? .shared : .exclusive)], retryAfter: retryAfter)
        }
        return .failed(.unexpectedReply("\(reply)"))
    }

    public func acquire(key: [UInt8], value: LockValue, ttl: Duration) -> ScriptCall { Exclusive().acquire(key: key, value: value, ttl: ttl) }
    public func acquireVerdict(_ reply: Reply) -> Verdict { Self.acquireVerdict(reply) }
    public func raiseFence(key: [UInt8], to fence: Int64) -> ScriptCall { Exclusive().raiseFence(key: key, to: fence) }


    public func extend(key: [UInt8], token: LockToken, ttl: Duration) -> ScriptCall {
        ScriptCall(Scripts.step, keys: [key], arguments: [Array("extend".utf8), token.ownershipPrefix, Self.milliseconds(ttl), LockKeys.tagBase(for: key), []])
    }

    public func release(key: [UInt8], token: LockToken, announce: Bool) -> ScriptCall {
        ScriptCall(Scripts.step, keys: [key], arguments: [Array("release".utf8), token.ownershipPrefix, [], LockKeys.tagBase(for: key), announce ? releaseChannel(for: key) : []])
    }

    public func forceRelease(key: [UInt8], token: LockToken?) -> ScriptCall {
        if let token {
            return ScriptCall(Scripts.step, keys: [key], arguments: [Array("release".utf8), token.ownershipPrefix, [], LockKeys.tagBase(for: key), releaseChannel(for: key)])
        }
        return ScriptCall(Scripts.step, keys: [key], arguments: [Array("clear".utf8), [], [], LockKeys.tagBase(for: key), releaseChannel(for: key)])
    }

    public func stepVerdict(_ reply: Reply) -> Verdict { Exclusive().stepVerdict(reply) }

    public func inspect(key: [UInt8]) -> ScriptCall {
        ScriptCall(Scripts.inspect, keys: [key], arguments: [LockKeys.tagBase(for: key)])
    }

    /// {exclusive value or false, its PTTL, {shared value, ms left, ...}, {slot, value, PTTL, ...}}.
    public func inspectState(_ reply: Reply) -> KeyState.InstanceState {
        guard let items = reply.elements, items.count == 4 else { return .failed(.unexpectedReply("\(reply)")) }
        var holdings: [Holding] = []
        if case let .bulk(value) = items[0] {
            holdings.append(Holding(value: value, remaining: items[1].integer.flatMap { $0 >= 0 ? Duration.milliseconds($0) : nil }))
        }
        let shared = items[2].elements ?? []
        for pair in stride(from: 0, to: shared.count - 1, by: 2) {
            guard case let .bulk(value) = shared[pair] else { continue }
            holdings.append(Holding(value: value, remaining: shared[pair + 1].integer.map { .milliseconds(max(0, $0)) }, role: .shared))
        }
        let slots = items[3].elements ?? []
        for triple in stride(from: 0, to: slots.count - 2, by: 3) {
            guard case let .bulk(name) = slots[triple], case let .bulk(value) = slots[triple + 1] else { continue }
            holdings.append(Holding(value: value, remaining: slots[triple + 2].integer.flatMap { $0 >= 0 ? Duration.milliseconds($0) : nil }, role: .slot(name)))
        }
        return holdings.isEmpty ? .free : .held(holdings)
    }

    public func isHelperKey(_ key: [UInt8]) -> Bool { LockKeys.isFenceKey(key) || LockKeys.isModeHelperKey(key) || OnceMark.isMarkKey(key) || QueueKeys.isHelperKey(key) }
    public func stillHeldProbe(key: [UInt8]) -> Command { Command("PTTL", [key]) }
    public func isStillHeld(_ reply: Reply) -> Bool { reply != .integer(-2) && reply.integer != nil }
    public func releaseChannel(for key: [UInt8]) -> [UInt8] { LockKeys.releaseChannel(for: key) }

    enum Scripts {
        /// KEYS: key; ARGV: "extend" | "release" | "clear", ownership prefix, TTL ms, tag
        /// base, channel or "". Finds the holder whose value
        /// starts with the prefix (plain key, shared holder, then the mode's slots) and
        /// renews or deletes it; "clear" deletes every holder of every mode. A release also
        /// deletes our own "writer waiting" mark, held or not. 1: done, 0: not ours.
        /// An announced release also wakes the first in KEY's queue (`{KEY}:queue`, named
        /// here from the tag base, as its channel from KEY: still ten words at most), which
        /// listens on its own channel only.
        static let step = LuaScript("step", sha1: "9d692e0e6c790fedb68151c95b62923fb060049d", ModeLua.prelude + QueueScripts.helpers + """

            local action, prefix, ttl, channel = ARGV[1], ARGV[2], ARGV[3], ARGV[5]
            local key, shared, modeKey, writer, slots = KEYS[1], ARGV[4] .. ':shared', ARGV[4] .. ':mode', ARGV[4] .. ':writer', ARGV[4] .. ':slot:'
            local function done()
              if action ~= 'extend' and channel ~= '' then
                redis.call('PUBLISH', channel, 'released')
                wake_head(ARGV[4] .. ':queue', 'redlock:queue:' .. KEYS[1] .. ':', 'released')
              end
              return 1
            end
            if action == 'release' and owns(redis.call('GET', writer), prefix) then redis.call('DEL', writer) end
            local mode = redis.call('GET', modeKey)
            if action == 'clear' then
              local deleted = redis.call('DEL', key, shared, writer)
              if mode then
                for _, name in ipairs(slotNames(mode)) do deleted = deleted + redis.call('DEL', slots .. name) end
                redis.call('DEL', modeKey)
              end
              if deleted > 0 then return done() end
              return 0
            end
            if owns(redis.call('GET', key), prefix) then
              if action == 'extend' then return redis.call('PEXPIRE', key, ttl) end
              redis.call('DEL', key)
              return done()
            end
            if redis.call('EXISTS', shared) == 1 then
              local now = nowMs()
              redis.call('ZREMRANGEBYSCORE', shared, '-inf', now)
              for _, member in ipairs(redis.call('ZRANGE', shared, 0, -1)) do
                if owns(member, prefix) then
                  if action == 'extend' then
                    redis.call('ZADD', shared, now + tonumber(ttl), member)
                  else
                    redis.call('ZREM', shared, member)
                  end
                  local last = redis.call('ZRANGE', shared, -1, -1, 'WITHSCORES')
                  if #last > 0 then redis.call('PEXPIREAT', shared, last[2]) end
                  return done()
                end
              end
            end
            if mode then
              for _, name in ipairs(slotNames(mode)) do
                local slot = slots .. name
                if owns(redis.call('GET', slot), prefix) then
                  if action == 'extend' then
                    redis.call('PEXPIRE', slot, ttl)
                    if redis.call('PTTL', modeKey) < tonumber(ttl) then redis.call('PEXPIRE', modeKey, ttl) end
                    return 1
                  end
                  redis.call('DEL', slot)
                  if not slotsLive(mode, slots) then redis.call('DEL', modeKey) end
                  return done()
                end
              end
            end
            return 0
            """)

        /// KEYS: key; ARGV: tag base. Read-only.
        static let inspect = LuaScript("inspectModes", sha1: "b6d63697931102fb8e80c3323bb324cf33e94d64", ModeLua.prelude + """
            local sharedKey, modeKey, slotPrefix = ARGV[1] .. ':shared', ARGV[1] .. ':mode', ARGV[1] .. ':slot:'
            local now = nowMs()
            local shared = {}
            local members = redis.call('ZRANGEBYSCORE', sharedKey, '(' .. now, '+inf', 'WITHSCORES')
            for i = 1, #members, 2 do
              shared[#shared + 1] = members[i]
              shared[#shared + 1] = math.floor(tonumber(members[i + 1]) - now)
            end
            local slots = {}
            local mode = redis.call('GET', modeKey)
            if mode then
              for _, name in ipairs(slotNames(mode)) do
                local value = redis.call('GET', slotPrefix .. name)
                if value then
                  slots[#slots + 1] = name
                  slots[#slots + 1] = value
                  slots[#slots + 1] = redis.call('PTTL', slotPrefix .. name)
                end
              end
            end
            return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]), shared, slots}
            """)
    }
}
