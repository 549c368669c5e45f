/// At most N holders of KEY, as N slots `{KEY}:slot:1..N` (or named ones), each an ordinary
/// Redlock mutex: a holder of a slot stands on a majority of instances, two holders of one
/// slot would need two majorities, and those share an instance. Nothing counts holders per
/// instance (unsafe over independent masters: see LockMode).
///
/// The first attempt takes a random slot as the plain lock is taken (one round when the
/// pool has room there). Otherwise an attempt reads every slot on every instance in one
/// round (read-only), picks a slot free on the most instances, starting from a random slot
/// so that contenders spread, and then takes that slot. The mode key `{KEY}:mode` ("limit
/// 3", "slots a,b") is written with the first holder and expires with the last, so KEY
/// cannot be used meanwhile in another mode (an exclusive or shared holder, another limit).
///
/// This kind's `key` arguments are slot keys (a lease's key is its slot's); releases are
/// announced on KEY's channel, so a waiter hears every slot.
public struct Slots: LockKind {
    /// The lock's key (with any prefix), not a slot's.
    public let key: [UInt8]
    public let names: [[UInt8]]
    public let mode: LockMode

    public init(key: [UInt8], names: [[UInt8]], named: Bool) {
        self.key = key
        self.names = names
        mode = .slots(names, named: named)
    }

    public var slotKeys: [[UInt8]] { names.map { LockKeys.slotKey(for: key, name: $0) } }

    /// The slot a slot key is, for `REDLOCK_SLOT`.
    public func slotName(of slotKey: [UInt8]) -> [UInt8]? {
        let prefix = LockKeys.slotPrefix(for: key)
        guard slotKey.starts(with: prefix) else { return nil }
        return Array(slotKey.dropFirst(prefix.count))
    }

    private var modeText: [UInt8] { Array(mode.description.utf8) }

    public func acquire(key slotKey: [UInt8], value: LockValue, ttl: Duration) -> ScriptCall {
        ScriptCall(Scripts.acquire, keys: [slotKey, LockKeys.fenceKey(for: slotKey), key],
                   arguments: [value.encoded, Self.milliseconds(ttl), modeText, LockKeys.tagBase(for: key)])
    }

    public func acquireVerdict(_ reply: Reply) -> Verdict { AnyHolder.acquireVerdict(reply) }
    public func raiseFence(key slotKey: [UInt8], to fence: Int64) -> ScriptCall { Exclusive().raiseFence(key: slotKey, to: fence) }

    public func extend(key slotKey: [UInt8], token: LockToken, ttl: Duration) -> ScriptCall {
        ScriptCall(Scripts.extend, keys: [slotKey, LockKeys.modeKey(for: key)], arguments: [token.ownershipPrefix, Self.milliseconds(ttl)])
    }

    public func release(key slotKey: [UInt8], token: LockToken, announce: Bool) -> ScriptCall {
        ScriptCall(Scripts.release, keys: [slotKey, LockKeys.modeKey(for: key)],
                   arguments: [token.ownershipPrefix, announce ? releaseChannel(for: key) : [], LockKeys.slotPrefix(for: key)])
    }

    public func forceRelease(key _: [UInt8], token: LockToken?) -> ScriptCall { AnyHolder().forceRelease(key: key, token: token) }
    public func stepVerdict(_ reply: Reply) -> Verdict { Exclusive().stepVerdict(reply) }
    public func inspect(key _: [UInt8]) -> ScriptCall { AnyHolder().inspect(key: key) }
    public func inspectState(_ reply: Reply) -> KeyState.InstanceState { AnyHolder().inspectState(reply) }
    public func isHelperKey(_ key: [UInt8]) -> Bool { AnyHolder().isHelperKey(key) }

    /// Whether every slot is taken there: EXISTS over the slot keys.
    public func stillHeldProbe(key _: [UInt8]) -> Command { Command("EXISTS", slotKeys) }
    public func isStillHeld(_ reply: Reply) -> Bool { reply.integer == Int64(names.count) }
    public func releaseChannel(for _: [UInt8]) -> [UInt8] { LockKeys.releaseChannel(for: key) }

    /// The probe: KEYS = KEY; ARGV: our mode, tag base (the slots are named from the mode:
    /// a client without a password must get NOAUTH, which needs at most 10 arguments).
    /// Read-only. {mode in use or false, {PTTL (-2: free), value or false} per slot}.
    var probe: ScriptCall {
        ScriptCall(Scripts.probe, keys: [key], arguments: [modeText, LockKeys.tagBase(for: key)])
    }

    enum Scripts {
        static let probe = LuaScript("probeSlots", sha1: "c2b7f79a13fe0869d4b59013531f8699afa37a1c", ModeLua.prelude + """
            local prefix = ARGV[2] .. ':slot:'
            local conflict = false
            local stored = redis.call('GET', ARGV[2] .. ':mode')
            if stored and stored ~= ARGV[1] and slotsLive(stored, prefix) then conflict = stored
            elseif redis.call('EXISTS', KEYS[1]) == 1 then conflict = 'exclusive'
            elseif redis.call('ZCOUNT', ARGV[2] .. ':shared', '(' .. nowMs(), '+inf') > 0 then conflict = 'shared' end
            local slots = {}
            for _, name in ipairs(slotNames(ARGV[1])) do
              slots[#slots + 1] = redis.call('PTTL', prefix .. name)
              slots[#slots + 1] = redis.call('GET', prefix .. name)
            end
            return {conflict, slots}
            """)

        /// KEYS: slot, its fence, KEY; ARGV: value, TTL ms, our mode, tag base. The plain
        /// acquire on the slot, refused with {-1, mode} when KEY is in use in another mode;
        /// the mode key lives as long as the longest slot.
        static let acquire = LuaScript("acquireSlot", sha1: "61ebc6511db038c488981739295a31d5c575f02e", ModeLua.prelude + """
            local modeKey, shared = ARGV[4] .. ':mode', ARGV[4] .. ':shared'
            local function keepMode()
              if redis.call('PTTL', modeKey) < tonumber(ARGV[2]) then
                redis.call('SET', modeKey, ARGV[3], 'PX', ARGV[2])
              end
            end
            local holder = redis.call('GET', KEYS[1])
            if holder then
              if owns(holder, ownerPrefix(ARGV[1])) then
                redis.call('PEXPIRE', KEYS[1], ARGV[2])
                keepMode()
                return {1, tonumber(redis.call('GET', KEYS[2]) or '0') or 0}
              end
              return {0, redis.call('PTTL', KEYS[1]), holder}
            end
            local stored = redis.call('GET', modeKey)
            if stored and stored ~= ARGV[3] then
              if slotsLive(stored, ARGV[4] .. ':slot:') then return {-1, stored} end
              redis.call('DEL', modeKey)
            end
            if redis.call('EXISTS', KEYS[3]) == 1 then return {-1, 'exclusive'} end
            if redis.call('ZCOUNT', shared, '(' .. nowMs(), '+inf') > 0 then return {-1, 'shared'} end
            local fence = redis.call('INCR', KEYS[2])
            redis.call('SET', KEYS[1], ARGV[1] .. ' fence=' .. fence, 'PX', ARGV[2])
            if stored ~= ARGV[3] then redis.call('SET', modeKey, ARGV[3], 'PX', ARGV[2]) else keepMode() end
            return {1, fence}
            """)

        /// KEYS: slot, mode; ARGV: ownership prefix, TTL ms. Renews the slot where it is ours,
        /// and the mode key with it. 1 or 0.
        static let extend = LuaScript("extendSlot", sha1: "4510bc31412490a1eb5f8e5370397e150f020e7b", ModeLua.prelude + """
            if not owns(redis.call('GET', KEYS[1]), ARGV[1]) then return 0 end
            redis.call('PEXPIRE', KEYS[1], ARGV[2])
            if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
            return 1
            """)

        /// KEYS: slot, mode; ARGV: ownership prefix, channel or "", slot prefix. Deletes the
        /// slot where it is ours; the mode key goes with the last slot. 1 or 0.
        static let release = LuaScript("releaseSlot", sha1: "7db4baf264f38a72f6811d9ddf79ea9aa1748f78", ModeLua.prelude + """
            if not owns(redis.call('GET', KEYS[1]), ARGV[1]) then return 0 end
            redis.call('DEL', KEYS[1])
            local mode = redis.call('GET', KEYS[2])
            if mode and not slotsLive(mode, ARGV[3]) then redis.call('DEL', KEYS[2]) end
            if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], 'released') end
            return 1
            """)
    }
}

extension Redlock {
    /// The attempts of a waiting acquire of a slot: the first takes a random slot at once
    /// (one round, as the plain lock: a pool with room is entered as fast as a mutex), and
    /// falls back to the probe when that slot is taken; later ones probe first.
    public func slotAttempts(_ slots: Slots, value: LockValue, ttl: Duration) -> () -> AcquireAttempt {
        var first = true
        return {
            if first {
                first = false
                let slot = Int(SecureRandom.uniform(in: 0...Int64(slots.names.count - 1)))
                let guess = self.tryAcquire(key: slots.slotKeys[slot], value: value, ttl: ttl)
                guard case .busy = guess, guess.contention?.modeConflict == nil else { return guess }
            }
            return self.tryAcquireSlot(slots, value: value, ttl: ttl)
        }
    }

    /// One attempt at a slot: the probe round, then the plain acquire of the slot free on
    /// the most instances (from a random start, so contenders spread). No second round when
    /// no slot is free on a quorum: the probe's answer is the refusal.
    public func tryAcquireSlot(_ slots: Slots, value: LockValue, ttl: Duration) -> AcquireAttempt {
        let probe = slots.probe
        let results = instances.evaluate(probe.script, keys: probe.keys, arguments: probe.arguments)
        let count = slots.names.count
        var free = Array(repeating: 0, count: count)
        var verdicts: [Verdict?] = []
        var holders: [Contention.Holder] = []
        for (index, result) in results.enumerated() {
            switch result {
            case let .success(reply)?:
                guard let items = reply.elements, items.count == 2, let cells = items[1].elements, cells.count == 2 * count else {
                    verdicts.append(.failed(.unexpectedReply("\(reply)")))
                    continue
                }
                if items[0] != .null && items[0] != .integer(0) {
                    verdicts.append(ModeConflict.verdict(items[0]))
                    continue
                }
                var held: [Holding] = []
                for slot in 0..<count {
                    let pttl = cells[2 * slot].integer ?? -2
                    if pttl == -2 { free[slot] += 1; continue }
                    let value: [UInt8]
                    if case let .bulk(bytes) = cells[2 * slot + 1] { value = bytes } else { value = [] }
                    let holding = Holding(value: value, remaining: pttl >= 0 ? .milliseconds(pttl) : nil)
                    held.append(holding)
                    holders.append(Contention.Holder(instance: index, endpoint: instances.endpoints[index], value: value, remaining: holding.remaining))
                }
                verdicts.append(.refused(holders: held, retryAfter: held.compactMap(\.remaining).min()))
            case let .failure(error)?: verdicts.append(.failed(error))
            case nil: verdicts.append(.failed(.connectionClosed))
            }
        }
        let ballot = Ballot(verdicts)
        let best = free.max() ?? 0
        if ballot.modeConflict == nil && quorum.isReached(by: best) {
            let start = Int(SecureRandom.uniform(in: 0...Int64(count - 1)))
            let slot = (0..<count).map { (start + $0) % count }.first { free[$0] == best }!
            return tryAcquire(key: slots.slotKeys[slot], value: value, ttl: ttl)
        }
        let contention = Contention(holders: holders, granted: 0, youngInstances: 0, failures: failures(in: ballot), ballot: ballot)
        return quorum.answered(instances.count - ballot.failed.count) || ballot.modeConflict != nil ? .busy(contention) : .unreachable(contention)
    }
}
