/// The Lua scripts of the algorithm. Each runs atomically on one instance, so "check the
/// token, then act" cannot interleave with another client.
enum Scripts {
    /// KEYS[1] = key, ARGV[1] = our value, ARGV[2] = TTL in ms.
    /// Returns 1 when the key is ours now (also when it already held our value: a retry after
    /// a lost reply), else {PTTL, value} of the holder so waiters can cap their sleep and say
    /// who holds it. A key set by any other client with SET NX PX is a holder like any other.
    static let acquire = Script("""
        if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
        local holder = redis.call('GET', KEYS[1])
        if holder == ARGV[1] then
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
          return 1
        end
        return {redis.call('PTTL', KEYS[1]), holder}
        """)

    /// KEYS[1] = key, ARGV[1] = ownership prefix ("redlock1 <token> "), ARGV[2] = TTL in ms.
    /// Sets the TTL only where the key still holds our token: a key that expired or was
    /// taken over is never re-created. Returns 1 when extended, 0 when not ours.
    static let extend = Script("""
        local value = redis.call('GET', KEYS[1])
        if value and string.sub(value, 1, #ARGV[1]) == ARGV[1] then
          return redis.call('PEXPIRE', KEYS[1], ARGV[2])
        end
        return 0
        """)

    /// KEYS[1] = key, ARGV[1] = ownership prefix. Deletes the key only where it holds our
    /// token, so a release never removes another holder's lock. Returns 1 or 0.
    static let release = Script("""
        local value = redis.call('GET', KEYS[1])
        if value and string.sub(value, 1, #ARGV[1]) == ARGV[1] then
          redis.call('DEL', KEYS[1])
          return 1
        end
        return 0
        """)
}
