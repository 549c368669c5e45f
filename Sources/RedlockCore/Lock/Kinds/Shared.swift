/// The lock modes of one KEY, and the keys they use. Exclusive and shared are the two sides
/// of one reader/writer lock; a limit (or named slots) is a set of ordinary mutexes. A key
/// keeps one mode while anyone holds it, so the two families never mix on one KEY.
///
/// Every mode is safe over independent masters for the same reason as the plain lock: each
/// conflict is between two holders, each holder stands on a majority, two majorities share
/// an instance, and on that instance the check-and-grant is one atomic script. Counting
/// holders per instance (a semaphore granted on a majority of "count < N") is not used: with
/// 3 instances and 2 permits, holders on {1,2}, {2,3} and {1,3} each hold a majority while
/// every instance counts only 2.
public enum LockMode: Sendable, Equatable {
    case exclusive
    case shared
    /// N slots, each an ordinary mutex: `--limit N` names them 1..N, `--slots A,B,C` by name.
    case slots([[UInt8]], named: Bool)

    /// What the mode key stores, and what a refusal names: "limit 3", "slots a,b,c".
    public var description: String {
        switch self {
        case .exclusive: return "exclusive"
        case .shared: return "shared"
        case let .slots(names, named):
            return named ? "slots " + names.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ",") : "limit \(names.count)"
        }
    }
}

extension LockKeys {
    /// What every key derived from a lock's key starts with, in its hash tag: `deploy` ->
    /// `{deploy}`, `{jobs}.nightly` -> itself. The mode scripts take it as an argument and
    /// name the helper keys from it: an unauthenticated client may send at most 10
    /// arguments (Redis answers more with a protocol error, not NOAUTH), so the scripts keep
    /// under that.
    public static func tagBase(for key: [UInt8]) -> [UInt8] {
        hasHashTag(key) ? key : [UInt8(ascii: "{")] + key + [UInt8(ascii: "}")]
    }

    /// A key derived from a lock's key in its hash tag: `deploy` -> `{deploy}<suffix>`.
    static func derived(_ key: [UInt8], _ suffix: String) -> [UInt8] { tagBase(for: key) + Array(suffix.utf8) }

    /// The sorted set of shared holders: member = holder value, score = its expiry (ms, the
    /// server's TIME), so each shared holder expires on its own.
    public static func sharedKey(for key: [UInt8]) -> [UInt8] { derived(key, ":shared") }
    /// "An exclusive holder is waiting": set by a writer refused by shared holders, with a
    /// short TTL the waiting writer refreshes; no new shared holder joins while it stands.
    public static func writerKey(for key: [UInt8]) -> [UInt8] { derived(key, ":writer") }
    /// The mode of a key used with a limit or named slots ("limit 3"), written with the
    /// first holder, expiring with the last.
    public static func modeKey(for key: [UInt8]) -> [UInt8] { derived(key, ":mode") }
    /// What every slot key starts with: `{deploy}:slot:`.
    public static func slotPrefix(for key: [UInt8]) -> [UInt8] { derived(key, ":slot:") }
    public static func slotKey(for key: [UInt8], name: [UInt8]) -> [UInt8] { slotPrefix(for: key) + name }

    /// The lock a mode's shared set or mode key belongs to (`{deploy}:shared` -> `deploy`),
    /// so that a lock held only shared or in slots is listed by its KEY; nil for other keys.
    public static func lockKey(ofModeKey key: [UInt8]) -> [UInt8]? {
        for suffix in [":shared", ":mode"] {
            let tail = Array(suffix.utf8)
            guard key.count > tail.count, Array(key.suffix(tail.count)) == tail else { continue }
            let base = Array(key.dropLast(tail.count))
            guard hasHashTag(base) else { return nil }
            // `{deploy}` without anything around the tag was made from `deploy`.
            if base.first == UInt8(ascii: "{"), base.last == UInt8(ascii: "}"), !base.dropFirst().dropLast().contains(where: { $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "}") }) {
                return Array(base.dropFirst().dropLast())
            }
            return base
        }
        return nil
    }

    /// Whether a Redis key is one of the helper keys of a mode (left out of listings).
    public static func isModeHelperKey(_ key: [UInt8]) -> Bool {
        guard key.first == UInt8(ascii: "{") || hasHashTag(key) else { return false }
        let text = String(decoding: key, as: UTF8.self)
        return text.hasSuffix(":shared") || text.hasSuffix(":writer") || text.hasSuffix(":mode") || text.contains("}:slot:")
    }
}

/// A refusal because KEY is in use in another mode: a configuration error, not contention.
/// The scripts answer {-1, mode}; decoded as a permanent failure with this prefix, so a
/// waiting acquire gives up at once (WaitPolicy) and the CLI exits 78 naming the mode.
public enum ModeConflict {
    static let marker = "REDLOCKMODE "

    static func verdict(_ mode: Reply) -> Verdict {
        .failed(.server(marker + (mode.text ?? "another mode")), permanent: true)
    }

    /// The mode in use, when `error` is a mode refusal.
    public static func modeInUse(_ error: RedisError) -> String? {
        guard case let .server(message) = error, message.hasPrefix(marker) else { return nil }
        return String(message.dropFirst(marker.count))
    }
}

extension Ballot {
    /// The mode KEY is in use in, when some instance refused for that reason.
    public var modeConflict: String? {
        verdicts.lazy.compactMap { $0?.error.flatMap(ModeConflict.modeInUse) }.first
    }
}

extension Contention {
    public var modeConflict: String? { ballot.modeConflict }
}

/// Lua shared by the mode scripts. `now`: the server's clock in ms (TIME), so expiries are
/// the instance's own, as PX is. `slotsLive(mode, prefix)`: whether any slot of a stored
/// mode is held (a mode key left behind by a crash does not refuse anyone).
enum ModeLua {
    static let prelude = """
        local function nowMs()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        local function slotNames(mode)
          local names = {}
          local n = string.match(mode, '^limit (%d+)$')
          if n then
            for i = 1, tonumber(n) do names[#names + 1] = tostring(i) end
          else
            for name in string.gmatch(string.sub(mode, 7), '[^,]+') do names[#names + 1] = name end
          end
          return names
        end
        local function slotsLive(mode, prefix)
          for _, name in ipairs(slotNames(mode)) do
            if redis.call('EXISTS', prefix .. name) == 1 then return true end
          end
          return false
        end
        local function ownerPrefix(value)
          return string.match(value, '^%S+ %S+ ') or value
        end
        local function owns(value, prefix)
          return value and string.sub(value, 1, #prefix) == prefix
        end
        local function fenceOf(value)
          return tonumber(string.match(value, ' fence=(%d+)$') or '0') or 0
        end

        """
}

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
        static let acquire = LuaScript("acquireShared", ModeLua.prelude + """
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
        /// no closures, and the mode's helpers only when a mode key stands (then the slots
        /// are looked at through `ModeLua`).
        static let acquireExclusive = LuaScript("acquire", """
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

    public func isHelperKey(_ key: [UInt8]) -> Bool { LockKeys.isFenceKey(key) || LockKeys.isModeHelperKey(key) }
    public func stillHeldProbe(key: [UInt8]) -> Command { Command("PTTL", [key]) }
    public func isStillHeld(_ reply: Reply) -> Bool { reply != .integer(-2) && reply.integer != nil }
    public func releaseChannel(for key: [UInt8]) -> [UInt8] { LockKeys.releaseChannel(for: key) }

    enum Scripts {
        /// KEYS: key; ARGV: "extend" | "release" | "clear", ownership prefix, TTL ms, tag
        /// base, channel or "". Finds the holder whose value
        /// starts with the prefix (plain key, shared holder, then the mode's slots) and
        /// renews or deletes it; "clear" deletes every holder of every mode. 1: done, 0: not ours.
        static let step = LuaScript("step", ModeLua.prelude + """
            local action, prefix, ttl, channel = ARGV[1], ARGV[2], ARGV[3], ARGV[5]
            local key, shared, modeKey, writer, slots = KEYS[1], ARGV[4] .. ':shared', ARGV[4] .. ':mode', ARGV[4] .. ':writer', ARGV[4] .. ':slot:'
            local function done()
              if action ~= 'extend' and channel ~= '' then redis.call('PUBLISH', channel, 'released') end
              return 1
            end
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
        static let inspect = LuaScript("inspectModes", ModeLua.prelude + """
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
