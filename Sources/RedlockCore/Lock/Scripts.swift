/// The Lua scripts of the algorithm. Each runs atomically on one instance, so "check the
/// token, then act" cannot interleave with another client.
enum Scripts {
    /// KEYS[1] = key, KEYS[2] = its fencing counter; ARGV[1] = our value, ARGV[2] = TTL in
    /// ms, ARGV[3] = our ownership prefix.
    /// When the key is free: increments the counter, stores our value with " fence=N"
    /// appended, and returns {1, N}. When it already holds our token (a retry after a lost
    /// reply): renews it and returns {1, counter}. Otherwise returns {0, PTTL, value} of the
    /// holder, so waiters can cap their sleep and say who holds it. A key set by any other
    /// client with SET NX PX is a holder like any other.
    static let acquire = Script("acquire", """
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
    static let raiseFence = Script("raiseFence", """
        local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
        if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
        return 1
        """)

    /// KEYS[1] = key, ARGV[1] = ownership prefix or "", ARGV[2] = release channel.
    /// Deletes the key whoever holds it, or with a prefix only where it matches, and wakes
    /// waiters. Returns 1 when deleted, 0 when not.
    static let forceRelease = Script("forceRelease", """
        if ARGV[1] ~= '' then
          local value = redis.call('GET', KEYS[1])
          if not value or string.sub(value, 1, #ARGV[1]) ~= ARGV[1] then return 0 end
        end
        local deleted = redis.call('DEL', KEYS[1])
        if deleted > 0 then redis.call('PUBLISH', ARGV[2], 'released') end
        return deleted
        """)

    /// KEYS[1] = key, ARGV[1] = ownership prefix ("redlock1 <token> "), ARGV[2] = TTL in ms.
    /// Sets the TTL only where the key still holds our token: a key that expired or was
    /// taken over is never re-created. Returns 1 when extended, 0 when not ours.
    static let extend = Script("extend", """
        local value = redis.call('GET', KEYS[1])
        if value and string.sub(value, 1, #ARGV[1]) == ARGV[1] then
          return redis.call('PEXPIRE', KEYS[1], ARGV[2])
        end
        return 0
        """)

    /// KEYS[1] = key, ARGV[1] = ownership prefix, ARGV[2] = release channel or "".
    /// Deletes the key only where it holds our token, so a release never removes another
    /// holder's lock, and announces it to waiters. Returns 1 or 0.
    static let release = Script("release", """
        local value = redis.call('GET', KEYS[1])
        if value and string.sub(value, 1, #ARGV[1]) == ARGV[1] then
          redis.call('DEL', KEYS[1])
          if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], 'released') end
          return 1
        end
        return 0
        """)
}
