import Foundation
import Testing

/// Fencing tokens and the delayed-restart rule.
@Suite struct SafetyTests {
    private func fence(_ redis: RedisFixture, key: String = "fenced") throws -> Int? {
        let result = try redlock(["run", key, "--", "sh", "-c", "echo $REDLOCK_FENCING_TOKEN"], environment: redis.environment)
        guard result.status == 0 else { return nil }
        return Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test func fencingTokensIncreaseWithAnInstanceDownOrRestartedEmpty() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        var tokens: [Int] = []
        for _ in 0..<3 { tokens.append(try #require(try fence(redis))) }
        redis.servers[0].kill()
        for _ in 0..<3 { tokens.append(try #require(try fence(redis))) }
        try redis.servers[0].restartEmpty()
        redis.servers[1].kill()
        // A quorum (2 and the empty 0) answers; 2 kept its counter, so tokens still increase.
        for _ in 0..<3 { tokens.append(try #require(try fence(redis))) }
        #expect(tokens == tokens.sorted() && Set(tokens).count == tokens.count, "\(tokens)")
        let acquired = try redlock(["acquire", "--env", "fenced"], environment: redis.environment)
        let line = acquired.stdout.split(separator: "\n").first { $0.hasPrefix("REDLOCK_FENCING_TOKEN=") }
        #expect(Int(line?.split(separator: "=").last ?? "") ?? 0 > tokens.last!)
    }

    @Test func restartGraceIgnoresVotesOfInstancesThatJustRestarted() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        redis.servers[0].kill()
        try redis.servers[1].restartEmpty()
        // Only 1 (just restarted) and 2 answer: with the grace, 1's vote does not count, and
        // the lock is unavailable (69), not busy (75): no one holds it.
        let strict = try redlock(["run", "-n", "--restart-grace", "30s", "k", "--", "true"], environment: redis.environment)
        #expect(strict.status == 69, "\(strict)")
        #expect(strict.stderr.contains("restart-grace"))
        let byEnvironment = try redlock(["run", "-n", "k", "--", "true"], environment: redis.environment.merging(["REDLOCK_RESTART_GRACE": "30s"]) { $1 })
        #expect(byEnvironment.status == 69)
        #expect(try redlock(["run", "-n", "k", "--", "true"], environment: redis.environment).status == 0)
    }

    @Test func releaseNeverDeletesAnotherHoldersKey() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        // The command outlives nothing: while it runs, the key is replaced everywhere.
        let result = try redlock(["run", "--ttl", "3s", "k", "--", "sh", "-c", "redis-cli -p $P1 set k mine >/dev/null; redis-cli -p $P2 set k mine >/dev/null; redis-cli -p $P3 set k mine >/dev/null"],
                                 environment: redis.environment.merging(["P1": "\(redis.servers[0].port)", "P2": "\(redis.servers[1].port)", "P3": "\(redis.servers[2].port)"]) { $1 })
        #expect(result.status == 0)
        #expect(redis.valuesOf(key: "k").allSatisfy { $0?.string == "mine" })
    }
}
