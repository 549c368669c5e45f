import Foundation
import Testing

/// What a new user meets in the first hour: quiet cron jobs, a short usage, a clear hint.
@Suite struct FirstHourTests {
    /// `-E 0` is "someone else is running it, fine": cron must get no mail, whether the
    /// wait runs out or the lock comes free during it.
    @Test func conflictExitCodeZeroIsQuietWhileWaiting() throws {
        let redis = try RedisFixture(count: 1)
        try redis.servers[0].client().command("SET", "k", "x", "PX", "60000")
        let gaveUp = try redlock(["run", "-E", "0", "-w", "300ms", "k", "--", "echo", "ran"], environment: redis.environment)
        #expect(gaveUp.status == 0, "\(gaveUp)")
        #expect(gaveUp.stderr.isEmpty && gaveUp.stdout.isEmpty, "\(gaveUp)")

        try redis.servers[0].client().command("SET", "k", "x", "PX", "1200")
        let waited = try redlock(["run", "-E", "0", "-w", "20s", "k", "--", "echo", "ran"], environment: redis.environment)
        #expect(waited.status == 0, "\(waited)")
        #expect(waited.stdout == "ran\n", "\(waited)")
        #expect(waited.stderr.isEmpty, "\(waited)")
    }

    @Test func bareRedlockPrintsAShortUsageOnStandardError() throws {
        let result = try redlock([])
        #expect(result.status == 64)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("usage: redlock"))
        #expect(result.stderr.split(separator: "\n").count <= 12, "\(result.stderr)")
    }

    @Test func aKeyAndACommandWithoutRunGetTheLineToType() throws {
        let result = try redlock(["mykey", "true"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("redlock run mykey -- true"), "\(result)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }
}
