import Foundation
import Testing

/// `run --once ID`: COMMAND runs at most once per KEY and ID, whatever the hosts' clocks.
@Suite struct OnceTests {
    /// A COMMAND that counts its runs in $D/runs, then exits with $RC (0 by default).
    private static let counting = ["sh", "-c", "echo ran >> \"$D/runs\"; exit ${RC:-0}"]

    private static func runs(_ scratch: TestScratch) -> Int {
        (scratch.read("runs") ?? "").split(separator: "\n").count
    }

    private static func env(_ redis: RedisFixture, _ scratch: TestScratch, _ extra: [String: String] = [:]) -> [String: String] {
        redis.environment.merging(["D": scratch.path]) { $1 }.merging(extra) { $1 }
    }

    @Test func aSecondRunWithTheSameIDSkipsWithTheConflictCode() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let first = try redlock(["run", "--once", "2026-12-01", "nightly", "--"] + Self.counting, environment: Self.env(redis, scratch))
        #expect(first.status == 0, "\(first)")
        let second = try redlock(["run", "--once", "2026-12-01", "nightly", "--"] + Self.counting, environment: Self.env(redis, scratch))
        #expect(second.status == 75, "\(second)")
        #expect(Self.runs(scratch) == 1)
        #expect(second.stderr.hasPrefix("redlock: skipped: ") && second.stderr.split(separator: "\n").count == 1, "\(second)")
        #expect(second.stderr.contains("2026-12-01"), "\(second)")
        // The lock was released after the skip; another ID runs.
        #expect(redis.valuesOf(key: "nightly").allSatisfy { $0?.isNull == true })
        let other = try redlock(["run", "--once", "2026-12-02", "nightly", "--"] + Self.counting, environment: Self.env(redis, scratch))
        #expect(other.status == 0, "\(other)")
        #expect(Self.runs(scratch) == 2)
    }

    @Test func theMarkSharesTheKeysHashTagAndKeepsForOnceKeep() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        #expect(try redlock(["run", "--once", "a", "--once-keep", "1h", "nightly", "--"] + Self.counting, environment: Self.env(redis, scratch)).status == 0)
        for pttl in redis.pttlOf(key: "{nightly}:once:a") {
            #expect((pttl ?? 0) > 3_500_000 && (pttl ?? 0) <= 3_600_000, "\(String(describing: pttl))")
        }
        #expect(try redlock(["run", "--once", "b", "nightly", "--"] + Self.counting, environment: Self.env(redis, scratch)).status == 0)
        for pttl in redis.pttlOf(key: "{nightly}:once:b") {
            #expect((pttl ?? 0) > 7 * 86_400_000 - 60_000 && (pttl ?? 0) <= 7 * 86_400_000, "default 7 days: \(String(describing: pttl))")
        }
        // A key that has a hash tag keeps it.
        #expect(try redlock(["run", "--once", "c", "{jobs}.nightly", "--"] + Self.counting, environment: Self.env(redis, scratch)).status == 0)
        #expect(redis.valuesOf(key: "{jobs}.nightly:once:c").allSatisfy { $0?.string?.hasPrefix("redlock-once ") == true })
        // The mark holds no token, and inspect does not list marks as locks.
        let value = redis.valuesOf(key: "{nightly}:once:a").first??.string ?? ""
        #expect(!value.contains("redlock1"), "\(value)")
        let listed = try redlock(["inspect", "*nightly*"], environment: redis.environment)
        #expect(listed.status == 1 && !listed.stdout.contains("once"), "\(listed)")
        // The key's detail view shows its marks: who, when, how long they stay, where.
        let detail = try redlock(["inspect", "nightly"], environment: redis.environment)
        #expect(detail.stdout.contains("\n  once:    a done on "), "\(detail)")
        #expect(detail.stdout.contains("\n  once:    b done on ") && detail.stdout.contains("(3 of 3 instances)"), "\(detail)")
    }

    @Test func aFailedCommandLeavesNoMark() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let failed = try redlock(["run", "--once", "d", "nightly", "--"] + Self.counting, environment: Self.env(redis, scratch, ["RC": "4"]))
        #expect(failed.status == 4, "\(failed)")
        #expect(redis.valuesOf(key: "{nightly}:once:d").allSatisfy { $0?.isNull == true })
        let retried = try redlock(["run", "--once", "d", "nightly", "--"] + Self.counting, environment: Self.env(redis, scratch))
        #expect(retried.status == 0, "\(retried)")
        #expect(Self.runs(scratch) == 2)
    }

    @Test func aCommandStoppedByRedlockLeavesNoMarkEvenWhenItExitsZero() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        // It exits 0 on the lost signal: still not done, since it was stopped.
        let stopped = try redlock(["run", "--once", "d", "--max-time", "300ms", "nightly", "--",
                                   "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.05; done"], environment: Self.env(redis, scratch))
        #expect(stopped.status == 124, "\(stopped)")
        #expect(redis.valuesOf(key: "{nightly}:once:d").allSatisfy { $0?.isNull == true })
    }

    @Test func conflictExitCodeZeroSkipsQuietly() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let scratch = try TestScratch()
        #expect(try redlock(["run", "-E", "0", "--once", "d", "nightly", "--"] + Self.counting, environment: Self.env(redis, scratch)).status == 0)
        let skipped = try redlock(["run", "-E", "0", "--once", "d", "nightly", "--"] + Self.counting, environment: Self.env(redis, scratch))
        #expect(skipped.status == 0 && skipped.stderr.isEmpty && skipped.stdout.isEmpty, "\(skipped)")
        #expect(Self.runs(scratch) == 1)
        let other = try redlock(["run", "-E", "3", "--once", "d", "nightly", "--"] + Self.counting, environment: Self.env(redis, scratch))
        #expect(other.status == 3, "\(other)")
    }

    @Test func theMarkSurvivesAnInstanceRestartedEmpty() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        #expect(try redlock(["run", "--once", "d", "nightly", "--"] + Self.counting, environment: Self.env(redis, scratch)).status == 0)
        for index in 0..<3 {
            try redis[index].restartEmpty()
            let again = try redlock(["run", "--once", "d", "nightly", "--"] + Self.counting, environment: Self.env(redis, scratch))
            #expect(again.status == 75, "after restarting instance \(index): \(again)")
            // Put the mark back where the restart lost it, as a successful run would have.
            if index < 2 {
                let value = redis.valuesOf(key: "{nightly}:once:d")[(index + 1) % 3]?.string ?? ""
                _ = try redis[index].client().command("SET", "{nightly}:once:d", value, "PX", "600000")
            }
        }
        #expect(Self.runs(scratch) == 1)
    }

    @Test func aMarkOnOneAnsweringInstanceIsEnough() throws {
        // Written on a quorum {0, 1}; instance 0 restarted empty; 2 never had it: only 1 of
        // the answering instances has it, and that is enough.
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        #expect(try redlock(["run", "--once", "d", "nightly", "--"] + Self.counting, environment: Self.env(redis, scratch)).status == 0)
        _ = try redis[2].client().command("DEL", "{nightly}:once:d")
        try redis[0].restartEmpty()
        let again = try redlock(["run", "--once", "d", "nightly", "--"] + Self.counting, environment: Self.env(redis, scratch))
        #expect(again.status == 75, "\(again)")
        #expect(Self.runs(scratch) == 1)
    }

    @Test func badOnceArgumentsAreUsageErrors() throws {
        for arguments in [["--once", ""], ["--once-keep", "1h"], ["--once", "x", "--once-keep", "0"]] {
            let result = try redlock(["run"] + arguments + ["k", "--", "true"])
            #expect(result.status == 64, "\(arguments): \(result)")
        }
    }
}
