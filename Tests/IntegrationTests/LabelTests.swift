import Foundation
import Testing

/// `--label TEXT` is what the lock value records instead of the command line, which
/// anyone who can read Redis reads (a password in an argument, say).
@Suite struct LabelTests {
    private func storedValue(_ redis: RedisFixture, _ key: String) -> String {
        redis.valuesOf(key: key).first.flatMap { $0 }.map(\.description) ?? ""
    }

    @Test func runRecordsTheLabelInsteadOfTheCommandLine() throws {
        let redis = try RedisFixture(count: 1)
        // --min-hold leaves the value in place after COMMAND ends, for the test to read.
        let labelled = try redlock(["run", "--label", "nightly report", "--min-hold", "30s", "k", "--", "echo", "--password=hunter2"], environment: redis.environment)
        #expect(labelled.status == 0, "\(labelled)")
        let value = storedValue(redis, "k")
        #expect(value.contains(" cmd=nightly%20report"), "\(value)")
        #expect(!value.contains("hunter2"), "\(value)")

        let plain = try redlock(["run", "--min-hold", "30s", "j", "--", "echo", "visible"], environment: redis.environment)
        #expect(plain.status == 0)
        #expect(storedValue(redis, "j").contains(" cmd=echo%20visible"))
    }

    @Test func acquireRecordsTheLabel() throws {
        let redis = try RedisFixture(count: 1)
        let result = try redlock(["acquire", "--label", "deploy #42", "k"], environment: redis.environment)
        #expect(result.status == 0, "\(result)")
        #expect(storedValue(redis, "k").contains(" cmd=deploy%20#42"), "\(storedValue(redis, "k"))")
        let shown = try redlock(["inspect", "k"], environment: redis.environment)
        #expect(shown.stdout.contains("deploy #42"), "\(shown)")
    }
}
