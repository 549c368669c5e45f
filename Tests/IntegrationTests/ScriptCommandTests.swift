import Foundation
import Testing

/// `acquire`, `extend` and `release` as the steps of a multi-step script.
@Suite struct ScriptCommandTests {
    @Test func acquireExtendRelease() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let acquired = try redlock(["acquire", "--ttl", "5s", "deploy"], environment: redis.environment)
        #expect(acquired.status == 0)
        let token = acquired.stdout.trimmingCharacters(in: .newlines)
        #expect(token.count >= 22 && !token.contains(" "))
        #expect(redis.valuesOf(key: "deploy").allSatisfy { $0?.string?.hasPrefix("redlock1 \(token) ") == true })

        #expect(try redlock(["acquire", "-n", "deploy"], environment: redis.environment).status == 75)

        #expect(try redlock(["extend", "--token", token, "--ttl", "60s", "deploy"], environment: redis.environment).status == 0)
        #expect(redis.pttlOf(key: "deploy").allSatisfy { ($0 ?? 0) > 50_000 })

        let wrong = try redlock(["release", "--token", "not-the-token-at-all-xyz", "deploy"], environment: redis.environment)
        #expect(wrong.status == 76)
        #expect(wrong.stderr.hasPrefix("redlock: "))
        #expect(redis.valuesOf(key: "deploy").allSatisfy(isRedlockValue))

        #expect(try redlock(["release", "--token", token, "deploy"], environment: redis.environment).status == 0)
        #expect(redis.valuesOf(key: "deploy").allSatisfy { $0 == .null })
        #expect(try redlock(["release", "--token", token, "deploy"], environment: redis.environment).status == 76)
        #expect(try redlock(["extend", "--token", token, "deploy"], environment: redis.environment).status == 76)
    }

    @Test func acquireRecordsTheCallingScriptAsHolder() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let binary = try RedlockBinary.executableURL().path
        let shell = try RedlockProcess(executable: URL(fileURLWithPath: "/bin/sh"), ["-c", "\"$R\" acquire --env step-key; echo shell=$$"],
                                       environment: redis.environment.merging(["R": binary]) { $1 })
        let result = try shell.wait(timeout: 20)
        #expect(result.status == 0)
        #expect(result.stdout.contains("REDLOCK_TOKEN="))
        // Ready for eval and for $GITHUB_ENV alike: NAME=value, nothing to unquote.
        let assignments = result.stdout.split(separator: "\n").dropLast()
        #expect(assignments.map { $0.split(separator: "=").first.map(String.init) ?? "" } == ["REDLOCK_TOKEN", "REDLOCK_FENCING_TOKEN"])
        #expect(assignments.allSatisfy { $0.split(separator: "=").last!.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" } })
        let shellPID = result.stdout.split(separator: "\n").last!.replacingOccurrences(of: "shell=", with: "")
        #expect(redis.valuesOf(key: "step-key")[0]?.string?.contains(" pid=\(shellPID) ") == true)
    }

    @Test func releaseNeedsAQuorumToAnswer() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let token = try redlock(["acquire", "k"], environment: redis.environment).stdout.trimmingCharacters(in: .newlines)
        redis.servers[0].kill()
        redis.servers[1].kill()
        #expect(try redlock(["release", "--token", token, "k"], environment: redis.environment).status == 69)
    }
}
