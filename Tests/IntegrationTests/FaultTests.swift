import Foundation
import Testing

/// Instances that fail, pause, lie or refuse: the quorum rules and exit codes of SPEC.
@Suite struct FaultTests {
    /// A COMMAND that records the lost signal and then exits 3.
    private static let trapping = "trap 'echo lost > \"$D/signal\"; exit 3' TERM; touch \"$D/up\"; while :; do sleep 0.05; done"

    @Test func overwrittenKeyStopsTheCommandAndKeepsTheOtherValue() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let process = try RedlockProcess(["run", "--ttl", "2s", "k", "--", "sh", "-c", Self.trapping],
                                         environment: redis.environment.merging(["D": scratch.path]) { $1 })
        #expect(eventually { scratch.exists("up") })
        for server in redis.servers.prefix(2) {
            _ = try server.client().command("SET", "k", "someone-else")
        }
        let result = try process.wait(timeout: 20)
        #expect(result.status == 76)
        #expect(scratch.read("signal") == "lost\n")
        #expect(result.stderr.contains("redlock: "))
        let values = redis.valuesOf(key: "k")
        #expect(values[0]?.string == "someone-else")
        #expect(values[1]?.string == "someone-else")
    }

    @Test func losingTwoOfThreeInstancesStopsTheCommandBeforeTheLeaseEnds() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let process = try RedlockProcess(["run", "--ttl", "2s", "k", "--", "sh", "-c", Self.trapping],
                                         environment: redis.environment.merging(["D": scratch.path]) { $1 })
        #expect(eventually { scratch.exists("up") })
        let killedAt = Date()
        redis.servers[0].kill()
        redis.servers[1].kill()
        let result = try process.wait(timeout: 20)
        #expect(result.status == 76)
        #expect(scratch.read("signal") == "lost\n")
        // The lease was last renewed before the kill, so it ends at most one TTL after it.
        #expect(Date().timeIntervalSince(killedAt) < 2.0 + 1.0, "redlock must be done before the lease could lapse (with a margin for a busy machine)")
    }

    @Test func oneInstanceDownStillWorks() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        redis.servers[2].kill()
        let result = try redlock(["run", "k", "--", "echo", "ran"], environment: redis.environment)
        #expect(result.status == 0)
        #expect(result.stdout == "ran\n")
    }

    @Test func twoOfThreeDownIsUnavailable() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        redis.servers[1].kill()
        redis.servers[2].kill()
        let immediate = try redlock(["run", "-n", "k", "--", "echo", "ran"], environment: redis.environment)
        #expect(immediate.status == 69)
        #expect(immediate.stdout.isEmpty)
        let lines = immediate.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("redlock: "))
        #expect(immediate.stderr.contains("127.0.0.1:\(redis.servers[1].port)"))
        // Waiting retries unreachable instances like a busy lock; at the deadline it is 69, not 75.
        let waited = try redlock(["run", "-w", "1s", "k", "--", "echo", "ran"], environment: redis.environment)
        #expect(waited.status == 69)
        #expect(waited.stdout.isEmpty)
        #expect(waited.stderr.split(separator: "\n").allSatisfy { $0.hasPrefix("redlock: ") })
        #expect(waited.stderr.split(separator: "\n").last?.contains("fewer than 2 of 3 instances answered") == true)
    }

    @Test func pausedInstanceCostsOnlyTheTimeout() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        // Connect once first so the paused instance has an open connection to hang on too.
        redis.servers[0].pause()
        defer { redis.servers[0].resume() }
        let started = Date()
        let result = try redlock(["run", "--op-timeout", "250ms", "k", "--", "true"], environment: redis.environment)
        #expect(result.status == 0)
        #expect(Date().timeIntervalSince(started) < 0.25 + 0.5 + 2.0, "connect + op timeout plus a generous margin")
    }

    @Test func garbagePeerIsSurvived() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let proxy = try FaultProxy(targetPort: redis.servers[0].port, mode: .garbage)
        let urls = [proxy.url, redis.servers[1].url, redis.servers[2].url].joined(separator: ",")
        let result = try redlock(["-v", "run", "k", "--", "echo", "ran"], environment: ["REDLOCK_URLS": urls])
        #expect(result.status == 0)
        #expect(result.stdout == "ran\n")
        #expect(result.stderr.contains("protocol error"))
    }

    @Test func stalledPeerCountsAsNo() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let proxy = try FaultProxy(targetPort: redis.servers[0].port, mode: .stall)
        let urls = [proxy.url, redis.servers[1].url, redis.servers[2].url].joined(separator: ",")
        let result = try redlock(["run", "k", "--", "echo", "ran"], environment: ["REDLOCK_URLS": urls])
        #expect(result.status == 0)
        #expect(result.stdout == "ran\n")
    }

    @Test func plainSetNXClientExcludesRun() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        for server in redis.servers {
            _ = try server.client().command("SET", "k", "other-client-token", "NX", "PX", "30000")
        }
        let busy = try redlock(["run", "-n", "k", "--", "echo", "ran"], environment: redis.environment)
        #expect(busy.status == 75)
        #expect(busy.stdout.isEmpty)
        #expect(busy.stderr.hasPrefix("redlock: ") && busy.stderr.contains("another client"))
        let quiet = try redlock(["run", "-n", "-E", "0", "k", "--", "echo", "ran"], environment: redis.environment)
        #expect(quiet.status == 0)
        #expect(quiet.stdout.isEmpty && quiet.stderr.isEmpty)
        #expect(redis.valuesOf(key: "k").allSatisfy { $0?.string == "other-client-token" })
    }

    @Test func waitGivesUpAfterTheDeadline() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        _ = try redis.servers[0].client().command("SET", "k", "x", "PX", "30000")
        let result = try redlock(["run", "-w", "500ms", "-E", "9", "k", "--", "true"], environment: redis.environment)
        #expect(result.status == 9)
        // Without a terminal: one line when the wait starts, the reason when it ends.
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].contains("waiting for 'k'") && lines[1].contains("not acquired"), "\(result.stderr)")
        let quiet = try redlock(["run", "-q", "-w", "300ms", "k", "--", "true"], environment: redis.environment)
        #expect(quiet.status == 75)
        #expect(quiet.stderr.isEmpty, "-q: nothing while waiting")
    }

    @Test func waiterTakesTheLockWhenTheHolderExpires() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        for server in redis.servers {
            _ = try server.client().command("SET", "k", "crashed-holder", "PX", "700")
        }
        let result = try redlock(["run", "-w", "10s", "k", "--", "echo", "ran"], environment: redis.environment)
        #expect(result.status == 0)
        #expect(result.stdout == "ran\n")
    }

    @Test func wrongPasswordIsRefusedAndNeverPrinted() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3, extraArgs: ["--requirepass", "right-secret-1"])
        let wrong = "wrong-secret-Zq9"
        let byEnvironment = try redlock(["-v", "run", "k", "--", "true"], environment: redis.environment.merging(["REDLOCK_PASSWORD": wrong]) { $1 })
        #expect(byEnvironment.status == 77)
        #expect(!byEnvironment.stdout.contains(wrong) && !byEnvironment.stderr.contains(wrong))
        let inURL = redis.servers.map { $0.url(password: wrong) }.joined(separator: ",")
        let byURL = try redlock(["-v", "run", "k", "--", "true"], environment: ["REDLOCK_URLS": inURL])
        #expect(byURL.status == 77)
        #expect(!byURL.stdout.contains(wrong) && !byURL.stderr.contains(wrong))
        let missing = try redlock(["run", "k", "--", "true"], environment: redis.environment)
        #expect(missing.status == 77)
        let right = try redlock(["run", "k", "--", "echo", "ok"], environment: redis.environment.merging(["REDLOCK_PASSWORD": "right-secret-1"]) { $1 })
        #expect(right.status == 0)
        #expect(!right.stderr.contains("right-secret-1"))
    }

    @Test func passwordFileIsRead() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1, extraArgs: ["--requirepass", "file-secret-7"])
        let scratch = try TestScratch()
        _ = FileManager.default.createFile(atPath: scratch.file("pw"), contents: Data("file-secret-7\nignored\n".utf8), attributes: [.posixPermissions: 0o600])
        let result = try redlock(["--password-file", scratch.file("pw"), "run", "k", "--", "true"], environment: redis.environment)
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        let unreadable = try redlock(["--password-file", scratch.file("nope"), "run", "k", "--", "true"], environment: redis.environment)
        #expect(unreadable.status == 78)
        #expect(unreadable.stderr.hasPrefix("redlock: "))
        _ = FileManager.default.createFile(atPath: scratch.file("open"), contents: Data("file-secret-7\n".utf8), attributes: [.posixPermissions: 0o644])
        let readable = try redlock(["--password-file", scratch.file("open"), "run", "k", "--", "true"], environment: redis.environment)
        #expect(readable.status == 0)
        #expect(readable.stderr.contains("warning") && readable.stderr.contains("other users"))
        #expect(!readable.stderr.contains("file-secret-7"))
    }
}
