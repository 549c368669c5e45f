import Foundation
import Testing

/// A `redlock run KEY` inside COMMAND of a run that holds KEY runs at once; a stale or
/// forged REDLOCK_TOKEN gets nothing.
@Suite struct NestedRunTests {
    private static func env(_ redis: RedisFixture, _ scratch: TestScratch, _ extra: [String: String] = [:]) throws -> [String: String] {
        redis.environment.merging(["D": scratch.path, "B": try RedlockBinary.executableURL().path]) { $1 }.merging(extra) { $1 }
    }

    @Test func aNestedRunOnTheSameKeyRunsAtOnceAndPassesItsStatusOn() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        // -n inside: if the nested run tried to take the lock, it would fail with 75 at once.
        let inner = "\"$B\" run -n deploy -- sh -c 'echo \"$REDLOCK_TOKEN\" > \"$D/inner-token\"; exit 7'; echo $? > \"$D/inner-status\"; echo \"$REDLOCK_TOKEN\" > \"$D/outer-token\""
        let result = try redlock(["run", "--ttl", "5s", "deploy", "--", "sh", "-c", inner], environment: try Self.env(redis, scratch), timeout: 30)
        #expect(result.status == 0, "\(result)")
        #expect(scratch.read("inner-status") == "7\n", "\(result)")
        #expect(scratch.read("inner-token") == scratch.read("outer-token"), "the nested COMMAND runs under its parent's lease")
        // The parent still released it.
        #expect(redis.valuesOf(key: "deploy").allSatisfy { $0?.isNull == true })
    }

    @Test func aKeyThatIsNotUTF8IsComparedAsBytes() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let scratch = try TestScratch()
        // The outer run holds lk-\xff; the inner one on the same bytes runs at once, the one on
        // lk-\xfe (the same text once decoded with U+FFFD) is another lock: free, so taken.
        let script = "\"$B\" run \"$(printf 'lk-\\377')\" -- sh -c '\"$B\" run -n \"$(printf \"lk-\\\\377\")\" -- sh -c \"exit 7\"; echo $? > \"$D/same\"; \"$B\" -v run -n \"$(printf \"lk-\\\\376\")\" -- true 2> \"$D/other\"'"
        let result = try RedlockProcess(executable: URL(fileURLWithPath: "/bin/sh"), ["-c", script],
                                        environment: try Self.env(redis, scratch)).wait(timeout: 60)
        #expect(result.status == 0, "\(result)")
        #expect(scratch.read("same") == "7\n", "\(result)")
        let other = scratch.read("other") ?? ""
        #expect(other.contains("acquired") && !other.contains("held by the run that started this one"), "\(other)")
    }

    @Test func aNestedRunDoesNotReleaseItsParentsLock() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let inner = "\"$B\" run -n deploy -- true; redis_ok=$?; \"$B\" run -n deploy -- true; echo $redis_ok $? > \"$D/statuses\"; touch \"$D/up\"; while [ ! -e \"$D/go\" ]; do sleep 0.05; done"
        let parent = try RedlockProcess(["run", "deploy", "--", "sh", "-c", inner], environment: try Self.env(redis, scratch))
        #expect(eventually { scratch.exists("up") })
        #expect(scratch.read("statuses") == "0 0\n")
        #expect(redis.valuesOf(key: "deploy").filter(isRedlockValue).count == 3, "still held by the parent")
        let outsider = try redlock(["run", "-n", "deploy", "--", "true"], environment: redis.environment)
        #expect(outsider.status == 75, "\(outsider)")
        #expect(FileManager.default.createFile(atPath: scratch.file("go"), contents: nil))
        #expect(try parent.wait(timeout: 20).status == 0)
    }

    @Test func aForgedTokenDoesNotGetThrough() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let holder = try RedlockProcess(["run", "deploy", "--", "sh", "-c", "touch \"$D/up\"; while [ ! -e \"$D/go\" ]; do sleep 0.05; done"],
                                        environment: try Self.env(redis, scratch))
        #expect(eventually { scratch.exists("up") })
        for forged in ["AAAAAAAAAAAAAAAAAAAAAAAA", "", "x y", "*"] {
            let result = try redlock(["run", "-n", "deploy", "--", "sh", "-c", "touch \"$D/ran\""],
                                     environment: try Self.env(redis, scratch, ["REDLOCK_KEY": "deploy", "REDLOCK_TOKEN": forged]))
            #expect(result.status == 75, "\(forged): \(result)")
        }
        // The holder's own token on another KEY: not its parent's lock either.
        let value = redis.valuesOf(key: "deploy").first??.string ?? ""
        let token = String(value.split(separator: " ")[1])
        let other = try redlock(["run", "-n", "deploy", "--", "sh", "-c", "touch \"$D/ran\""],
                                environment: try Self.env(redis, scratch, ["REDLOCK_KEY": "deploy-other", "REDLOCK_TOKEN": token]))
        #expect(other.status == 75, "\(other)")
        #expect(!scratch.exists("ran"))
        #expect(FileManager.default.createFile(atPath: scratch.file("go"), contents: nil))
        #expect(try holder.wait(timeout: 20).status == 0)
    }

    @Test func aLeftoverEnvironmentAfterTheParentReleasedDoesNotBypass() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let first = try redlock(["run", "deploy", "--", "sh", "-c", "printf %s \"$REDLOCK_TOKEN\" > \"$D/token\""], environment: try Self.env(redis, scratch))
        #expect(first.status == 0)
        let stale = scratch.read("token") ?? ""
        #expect(stale.count >= 22)
        let holder = try RedlockProcess(["run", "deploy", "--", "sh", "-c", "touch \"$D/up\"; while [ ! -e \"$D/go\" ]; do sleep 0.05; done"],
                                        environment: try Self.env(redis, scratch))
        #expect(eventually { scratch.exists("up") })
        let result = try redlock(["run", "-n", "deploy", "--", "sh", "-c", "touch \"$D/ran\""],
                                 environment: try Self.env(redis, scratch, ["REDLOCK_KEY": "deploy", "REDLOCK_TOKEN": stale]))
        #expect(result.status == 75, "\(result)")
        #expect(!scratch.exists("ran"))
        #expect(FileManager.default.createFile(atPath: scratch.file("go"), contents: nil))
        #expect(try holder.wait(timeout: 20).status == 0)
        // Free again: the stale environment simply takes the lock the ordinary way.
        let free = try redlock(["run", "-n", "deploy", "--", "sh", "-c", "touch \"$D/ran\""],
                               environment: try Self.env(redis, scratch, ["REDLOCK_KEY": "deploy", "REDLOCK_TOKEN": stale]))
        #expect(free.status == 0 && scratch.exists("ran"), "\(free)")
    }

    @Test func onceInsideANestedRunIsRefused() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let scratch = try TestScratch()
        let inner = "\"$B\" run --once x deploy -- true 2> \"$D/err\"; echo $? > \"$D/status\""
        #expect(try redlock(["run", "deploy", "--", "sh", "-c", inner], environment: try Self.env(redis, scratch)).status == 0)
        #expect(scratch.read("status") == "64\n")
        #expect(scratch.read("err")?.hasPrefix("redlock: --once cannot be used in a nested run") == true, "\(scratch.read("err") ?? "")")
    }
}
