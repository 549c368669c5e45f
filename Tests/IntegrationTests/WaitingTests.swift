import Foundation
import Testing

/// How waiters wait: woken by release announcements, not by polling, and never deaf.
/// These are the racing waiters (`--queue none`); QueueTests has the same for the line.
@Suite struct WaitingTests {
    @Test func waitersAttemptOnceAndThenSleepUntilTheirDeadline() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        // Held by another client for longer than anyone waits: nothing can free it unheard.
        for server in redis.servers {
            _ = try server.client().command("SET", "held", "someone-else", "PX", "60000")
        }
        // Load the script first, so that the count below is of EVALSHA alone.
        #expect(try redlock(["run", "--queue", "none", "-n", "held", "--", "true"], environment: redis.environment).status == 75)
        let before = try redis.servers.map { try $0.callsByCommand() }
        let waiters = try (0..<4).map { _ in
            try RedlockProcess(["run", "--queue", "none", "-q", "--wait", "2s", "held", "--", "true"], environment: redis.environment)
        }
        for waiter in waiters { #expect(try waiter.wait(timeout: 30).status == 75) }
        for (index, server) in redis.servers.enumerated() {
            let after = try server.callsByCommand()
            let sent = { (command: String) in (after[command] ?? 0) - (before[index][command] ?? 0) }
            // One attempt each when they start; no polling, and no last attempt at the
            // deadline, since no release was announced.
            #expect(sent("evalsha") == waiters.count, "\(after)")
            #expect(sent("subscribe") == waiters.count)
            // The look after subscribing (a release just before it would have gone unheard).
            #expect(sent("pttl") <= 2 * waiters.count, "one inside each attempt, one look each")
        }
    }

    /// The look after subscribing is for a release announced while the waiter subscribed:
    /// another client's lock never announces one, so a waiter on it does not look (a
    /// command less per waiter and instance); a waiter on a lock redlock holds does.
    @Test func aWaiterLooksAfterSubscribingOnlyWhereAReleaseCouldHaveBeenAnnounced() throws {
        try RedisServer.requireAvailable()
        let server = try RedisServer.started()
        let environment = ["REDLOCK_URLS": server.url]
        _ = try server.client().command("SET", "theirs", "someone-else", "PX", "60000")
        #expect(try redlock(["acquire", "--ttl", "60s", "ours"], environment: environment).status == 0)
        // Load the script first: every attempt below is one EVALSHA.
        #expect(try redlock(["run", "--queue", "none", "-n", "theirs", "--", "true"], environment: environment).status == 75)
        for (key, looks) in [("theirs", 0), ("ours", 1)] {
            _ = try server.client().command("CONFIG", "RESETSTAT")
            #expect(try redlock(["run", "--queue", "none", "-q", "--wait", "300ms", key, "--", "true"], environment: environment).status == 75)
            let calls = try server.callsByCommand()
            #expect(calls["evalsha"] == 1 && calls["subscribe"] == 1, "\(key): \(calls)")
            #expect(calls["pttl"] == 1 + looks, "\(key): one PTTL inside the attempt, \(looks) look after subscribing: \(calls)")
        }
    }

    @Test func waiterWhoseSubscriptionsAreCutStillHearsTheRelease() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let token = try redlock(["acquire", "--ttl", "60s", "held"], environment: redis.environment).stdout.trimmingCharacters(in: .newlines)
        let waiter = try RedlockProcess(["run", "--queue", "none", "--wait", "50s", "held", "--", "echo", "got it"], environment: redis.environment)
        let subscribed = eventually(timeout: 10) {
            redis.commandOnEach("PUBSUB", "NUMSUB", "redlock:released:held").allSatisfy { $0?.elements?.last?.int == 1 }
        }
        #expect(subscribed)
        // Two of three subscriptions gone: the waiter can no longer hear every release.
        for server in redis.servers.prefix(2) {
            _ = try server.client().command("CLIENT", "KILL", "TYPE", "pubsub")
        }
        let resubscribed = eventually(timeout: 10) {
            redis.commandOnEach("PUBSUB", "NUMSUB", "redlock:released:held").allSatisfy { $0?.elements?.last?.int == 1 }
        }
        #expect(resubscribed, "the waiter subscribes again where it lost its subscription")
        let started = Date()
        #expect(try redlock(["release", "--token", token, "held"], environment: redis.environment).status == 0)
        let result = try waiter.wait(timeout: 30)
        #expect(result.status == 0)
        #expect(result.stdout == "got it\n")
        #expect(Date().timeIntervalSince(started) < 5, "woken by the release, not by the 60s lease running out")
    }

    @Test func keyDeletedWithoutAnnouncementIsNoticedWithinTheCheckInterval() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        for server in redis.servers {
            _ = try server.client().command("SET", "held", "someone-else", "PX", "120000")
        }
        let waiter = try RedlockProcess(["run", "--wait", "60s", "held", "--", "echo", "got it"], environment: redis.environment)
        sleep(milliseconds: 500)
        let started = Date()
        for server in redis.servers { _ = try server.client().command("DEL", "held") }
        let result = try waiter.wait(timeout: 40)
        #expect(result.status == 0)
        #expect(result.stdout == "got it\n")
        // The SPEC's bound for a delete nobody announced: 12 s (10 s plus jitter), with room
        // for a slow machine; far sooner than the 120 s the key had left.
        #expect(Date().timeIntervalSince(started) < 20)
    }
}
