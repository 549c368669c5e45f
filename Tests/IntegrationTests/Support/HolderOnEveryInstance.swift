import Foundation
import Glibc

/// Starts `redlock` with `arguments` (a `run` that holds `key`) and returns it once `key`
/// holds a redlock value on every instance of `redis`.
///
/// An acquire round ends when a quorum granted, giving the others a brief grace: on a loaded
/// machine the slowest instance can be left without the key, and the lock is then held on a
/// quorum, which is all Redlock promises. A test whose subject needs the key on every
/// instance (what inspect shows for each) starts the holder again, after it released, until
/// it is; the test's own expectations then check its subject, not the race.
func holderOnEveryInstance(_ arguments: [String], key: String, redis: RedisFixture, environment: [String: String]? = nil, attempts: Int = 5) throws -> RedlockProcess {
    let environment = environment ?? redis.environment
    var attempt = 1
    while true {
        let holder = try RedlockProcess(arguments, environment: environment)
        if eventually(timeout: 5, { redis.valuesOf(key: key).filter(isRedlockValue).count == redis.servers.count }) || attempt == attempts {
            return holder
        }
        holder.signal(SIGTERM)
        _ = try? holder.wait(timeout: 20)
        _ = eventually(timeout: 5) { redis.valuesOf(key: key).allSatisfy { $0 == .null } }
        attempt += 1
    }
}
