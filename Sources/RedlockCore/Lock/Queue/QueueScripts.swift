/// The queue's Lua scripts. A queue entry is alive while its waiter listens on its own
/// channel (a process that dies closes its connections, so it leaves the line at once), or
/// for `grace` after it joined or last beat (the time to subscribe); and never longer than
/// `entryLifetime` without a heartbeat (a host that vanished without closing its sockets).
/// The queue only ever refuses: every grant still comes from the lock key alone.
enum QueueScripts {
    /// An entry not heartbeated for this long is gone, whoever listens.
    static let entryLifetime = Duration.seconds(90)
    /// A waiter not (yet) listening on its channel counts as present for this long after a beat.
    static let grace = Duration.seconds(3)

    /// Lua helpers shared by every script that looks at a queue. `line` lists the entries
    /// heartbeated within the lifetime, in ticket order (dropping the others); `head` is the
    /// first one whose waiter is still there (dropping the ones before it that are not);
    /// `wake` publishes to a ticket's own channel. `supersedes` is `--supersede`'s rule for
    /// a ticket queued behind another: a larger order key, or, when the other has none, any
    /// later one (an equal key is no newer; a waiter without a key does not supersede one
    /// with a key).
    static let helpers = """
        local function now_ms()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        local function line(q, now)
          local raw = redis.call('HGETALL', q)
          local tickets, beats = {}, {}
          for i = 1, #raw, 2 do
            local beat = tonumber(raw[i + 1]) or 0
            -- A beat from the future (a corrupted or hostile entry: 1e30, inf) would keep
            -- its entry forever, first in line: it counts as no beat.
            if beat > now + \(entryLifetime.milliseconds) then beat = 0 end
            if now - beat < \(entryLifetime.milliseconds) then
              tickets[#tickets + 1] = raw[i]
              beats[raw[i]] = beat
            else
              redis.call('HDEL', q, raw[i])
            end
          end
          table.sort(tickets)
          return tickets, beats
        end
        local function channel(prefix, ticket)
          return prefix .. (string.match(ticket, '^%d+:%d+:([^ ]+)') or '')
        end
        local function head(q, tickets, beats, now, prefix)
          for i = 1, #tickets do
            local t = tickets[i]
            if now - beats[t] < \(grace.milliseconds) or redis.call('PUBSUB', 'NUMSUB', channel(prefix, t))[2] > 0 then
              return t, i
            end
            redis.call('HDEL', q, t)
          end
          return nil, #tickets + 1
        end
        local function wake_head(q, prefix, why)
          if redis.call('EXISTS', q) == 0 then return end
          local now = now_ms()
          local tickets, beats = line(q, now)
          local first = head(q, tickets, beats, now, prefix)
          if first then redis.call('PUBLISH', channel(prefix, first), why) end
        end
        local function supersedes(t, than)
          local key, other = string.sub(t, 1, 19), string.sub(than, 1, 19)
          if other == '\(QueueTicket.unkeyed)' then return t > than end
          return key ~= '\(QueueTicket.unkeyed)' and key > other
        end
        local function join(q, ticket, now, prefix)
          if redis.call('HSET', q, ticket, now) == 1 then
            local tickets = line(q, now)
            for i = 1, #tickets do
              local t = tickets[i]
              if t < ticket and string.match(t, '^%S+ s ') and supersedes(ticket, t) then redis.call('PUBLISH', channel(prefix, t), 'superseded') end
            end
          end
        end
        """

    /// KEYS[1] = key, KEYS[2] = fence; ARGV[1] = our value, ARGV[2] = TTL in ms, ARGV[3] =
    /// the writer mark's TTL in ms ("0": do not mark, the caller will not wait), ARGV[4] = the
    /// hash-tag base, ARGV[5] = our ticket ('' to stay out of the line: `-n`). The ownership
    /// prefix (the value's first two words and a space), the queue key and the waiters'
    /// channel prefix are made here: a request of more than ten words is a protocol error
    /// for a client that has not authenticated, where a missing password must read as
    /// NOAUTH (exit 77).
    /// The writer side's acquire (`Shared.Scripts.acquireExclusive`, same replies: {1,
    /// fence}; {0, PTTL, holder}; {-1, mode} when KEY is used with slots; {0, ms left,
    /// shared holder, 1} marking "a writer waits"), with one more way to refuse: the key
    /// is free of every holder but someone else is first in line ({2, their ticket}). A
    /// refused ticket joins (or stays in) the line, except for a mode conflict, which ends
    /// the wait. A free key with nothing around it costs the same one EXISTS as the
    /// writer side's acquire.
    static let acquire = LuaScript("acquireInLine", sha1: "160f1e969235f8cafd9dd3cde1553f1febd6cd6d", helpers + """

        local prefix = string.match(ARGV[1], '^%S+ %S+ ') or ARGV[1]
        local base = ARGV[4]
        local queue, channels = base .. ':queue', 'redlock:queue:' .. KEYS[1] .. ':'
        local holder = redis.call('GET', KEYS[1])
        if holder then
          if string.sub(holder, 1, #prefix) == prefix then
            redis.call('PEXPIRE', KEYS[1], ARGV[2])
            return {1, tonumber(redis.call('GET', KEYS[2]) or '0') or 0}
          end
          if ARGV[5] ~= '' then join(queue, ARGV[5], now_ms(), channels) end
          return {0, redis.call('PTTL', KEYS[1]), holder}
        end
        local shared, writer = base .. ':shared', base .. ':writer'
        -- The common case, no mode, no shared holder, no waiting writer, nobody in line: one look.
        if redis.call('EXISTS', base .. ':mode', shared, writer, queue) == 0 then
          local fence = redis.call('INCR', KEYS[2])
          redis.call('SET', KEYS[1], ARGV[1] .. ' fence=' .. fence, 'PX', ARGV[2])
          return {1, fence}
        end
        do
          \(Shared.Scripts.refuseAModeInUse)
          local now = now_ms()
          if redis.call('EXISTS', shared) == 1 then
            redis.call('ZREMRANGEBYSCORE', shared, '-inf', now)
            local first = redis.call('ZRANGE', shared, 0, 0, 'WITHSCORES')
            if #first > 0 then
              if ARGV[5] ~= '' then join(queue, ARGV[5], now, channels) end
              if tonumber(ARGV[3]) > 0 then redis.call('SET', writer, ARGV[1], 'PX', ARGV[3]) end
              return {0, tonumber(first[2]) - now, first[1], 1}
            end
          end
          if redis.call('EXISTS', queue) == 1 then
            if ARGV[5] ~= '' then join(queue, ARGV[5], now, channels) end
            local tickets, beats = line(queue, now)
            local first = head(queue, tickets, beats, now, channels)
            if first and first ~= ARGV[5] then return {2, first} end
            if first then redis.call('HDEL', queue, first) end
          end
        end
        local fence = redis.call('INCR', KEYS[2])
        redis.call('SET', KEYS[1], ARGV[1] .. ' fence=' .. fence, 'PX', ARGV[2])
        local marked = redis.call('GET', writer)
        if marked and string.sub(marked, 1, #prefix) == prefix then redis.call('DEL', writer) end
        return {1, fence}
        """)

    /// KEYS[1] = queue; ARGV[1] = our ticket, ARGV[2] = '1' to renew our entry, ARGV[3] =
    /// the waiters' channel prefix. Rejoins if the entry is gone (an instance restarted
    /// empty). Returns {position, waiting, head, the ticket just ahead, the first ticket
    /// behind that supersedes ours} ('' where there is none).
    static let position = LuaScript("queuePosition", sha1: "6e6555a8813bc07c3fb0b4343b7f5b7399ec81fd", helpers + """

        local now = now_ms()
        if ARGV[2] == '1' then join(KEYS[1], ARGV[1], now, ARGV[3]) end
        local tickets, beats = line(KEYS[1], now)
        if not beats[ARGV[1]] then
          join(KEYS[1], ARGV[1], now, ARGV[3])
          tickets, beats = line(KEYS[1], now)
        end
        local first, from = head(KEYS[1], tickets, beats, now, ARGV[3])
        local mine = from
        for i = from, #tickets do if tickets[i] == ARGV[1] then mine = i end end
        local ahead, behind = '', ''
        if mine > from then ahead = tickets[mine - 1] end
        for i = mine + 1, #tickets do
          if supersedes(tickets[i], ARGV[1]) then behind = tickets[i]; break end
        end
        return {mine - from + 1, #tickets - from + 1, first or '', ahead, behind}
        """)

    /// KEYS[1] = key, KEYS[2] = queue; ARGV[1] = our ticket, ARGV[2] = channel prefix.
    /// Leaves the line; when the key is free, wakes whoever is first now.
    static let leave = LuaScript("leaveQueue", sha1: "587001effb469a326bcd7401dbbc8855b88bfc43", helpers + """

        if redis.call('HDEL', KEYS[2], ARGV[1]) == 1 and redis.call('EXISTS', KEYS[1]) == 0 then
          wake_head(KEYS[2], ARGV[2], 'left')
        end
        return 1
        """)

    /// KEYS[1] = queue, ARGV[1] = the waiters' channel prefix. Read-only: the tickets of
    /// the waiters still there, in order, for `inspect`.
    static let list = LuaScript("listQueue", sha1: "46140ed973f8ce0467462ef40495ff1aba8697e6", """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local raw = redis.call('HGETALL', KEYS[1])
        local out = {}
        for i = 1, #raw, 2 do
          local beat = tonumber(raw[i + 1]) or 0
          if beat > now + \(entryLifetime.milliseconds) then beat = 0 end
          local age = now - beat
          if age < \(entryLifetime.milliseconds) then
            local id = string.match(raw[i], '^%d+:%d+:([^ ]+)') or ''
            if age < \(grace.milliseconds) or redis.call('PUBSUB', 'NUMSUB', ARGV[1] .. id)[2] > 0 then out[#out + 1] = raw[i] end
          end
        end
        table.sort(out)
        return out
        """)

    /// KEYS[1] = key, KEYS[2] = mark; ARGV[1] = ownership prefix, ARGV[2] = N. Raises the
    /// high-water mark to N only where the key still holds our token. 1: done, 0: not ours.
    static let raiseMark = LuaScript("raiseMark", sha1: "c2a8ef46c5884070121f6c078998035950eb6f83", """
        local value = redis.call('GET', KEYS[1])
        if not value or string.sub(value, 1, #ARGV[1]) ~= ARGV[1] then return 0 end
        local current = tonumber(redis.call('GET', KEYS[2]) or '-1') or -1
        if current < tonumber(ARGV[2]) then redis.call('SET', KEYS[2], ARGV[2]) end
        return 1
        """)
}
