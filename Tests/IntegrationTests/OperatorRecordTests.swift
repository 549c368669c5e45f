import Foundation
import Testing

/// inspect's rows and details, and force-release's care: what an operator reads before
/// deleting someone's lock (issue 13, "The holder's record").
@Suite struct OperatorRecordTests {
    private func shell(_ script: String, environment: [String: String]) throws -> RunResult {
        try RedlockProcess(executable: URL(fileURLWithPath: "/bin/sh"), ["-c", script],
                           environment: environment.merging(["R": try RedlockBinary.executableURL().path]) { $1 }).wait(timeout: 60)
    }

    @Test func severalKeysOrAPatternShowOneRowPerLockAndLongShowsDetails() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        for key in ["job-a", "job-b"] {
            #expect(try redlock(["acquire", "--ttl", "60s", key], environment: redis.environment).status == 0)
        }
        // Another process's value whose host holds a newline and a forged row.
        let forged = "redlock1 tokentokentokentokentoke host=evil%0Ajob-z%20%20forged%20pid%201 pid=7 user=x at=0 cmd=x"
        for server in redis.servers { try server.client().command("SET", "job-c", forged, "PX", "60000") }

        let rows = try redlock(["inspect", "job-*"], environment: redis.environment)
        #expect(rows.status == 0, "\(rows)")
        let lines = rows.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == 4, "a header and one row per lock: \(rows.stdout)")
        #expect(lines.first?.hasPrefix("KEY") == true && lines.first?.contains("HOLDER") == true && lines.first?.contains("QUORUM") == true)
        #expect(lines.dropFirst().map { $0.prefix(5) }.sorted() == ["job-a", "job-b", "job-c"])
        #expect(lines.contains { $0.hasPrefix("job-c") && $0.contains("evil\\x0ajob-z") })
        #expect(lines.filter { $0.hasPrefix("job-a") || $0.hasPrefix("job-b") }.allSatisfy { $0.contains("held 3/3") && $0.contains("pid ") })
        #expect(!rows.stdout.contains("verdict:"))

        let named = try redlock(["inspect", "job-a", "job-b"], environment: redis.environment)
        #expect(named.stdout.split(separator: "\n").count == 3, "\(named.stdout)")

        let everything = try redlock(["inspect"], environment: redis.environment)
        #expect(everything.stdout.split(separator: "\n").count == 4, "\(everything.stdout)")

        for flag in ["-l", "--long"] {
            let long = try redlock(["inspect", flag, "job-*"], environment: redis.environment)
            #expect(long.status == 0)
            #expect(long.stdout.components(separatedBy: "verdict: held").count - 1 == 3, "\(long.stdout)")
        }
        let single = try redlock(["inspect", "job-a"], environment: redis.environment)
        #expect(single.stdout.contains("verdict: held"), "one KEY shows its details")

        // JSON is the same document whatever the text layout.
        let json = try JSON.parse(try redlock(["inspect", "--json", "job-*"], environment: redis.environment).stdout)
        #expect(json["locks"]?.arrayValue?.count == 3)
    }

    @Test func keysThatAreNotUTF8AreInspectedAndForceReleasedAsGiven() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        #expect(try shell("\"$R\" acquire \"$(printf 'lk-\\377')\"", environment: redis.environment).status == 0)
        // lk-\xfe is another, free key; lk-\xff is held and shown escaped, never as U+FFFD.
        let other = try shell("\"$R\" inspect \"$(printf 'lk-\\376')\"", environment: redis.environment)
        #expect(other.status == 1, "\(other)")
        #expect(other.stdout.contains("lk-\\xfe: free"), "\(other)")
        let held = try shell("\"$R\" inspect \"$(printf 'lk-\\377')\"", environment: redis.environment)
        #expect(held.status == 0, "\(held)")
        #expect(held.stdout.contains("lk-\\xff: held"), "\(held)")
        let listed = try shell("\"$R\" inspect --json", environment: redis.environment)
        #expect(listed.stdout.contains("lk-\\\\xff"), "\(listed)")
        #expect(!listed.stdout.contains("\u{FFFD}"))

        let released = try shell("\"$R\" force-release --yes \"$(printf 'lk-\\377')\"", environment: redis.environment)
        #expect(released.status == 0, "\(released)")
        #expect(released.stdout.contains("lk-\\xff: "), "\(released)")
        let stored = try redis.servers[0].client().command(arguments: [Array("EXISTS".utf8), Array("lk-".utf8) + [0xFF]])
        #expect(stored == .integer(0))
    }

    @Test func forceReleaseRefusesAPattern() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        #expect(try redlock(["acquire", "--ttl", "60s", "job-a"], environment: redis.environment).status == 0)
        let result = try redlock(["force-release", "--yes", "job-*"], environment: redis.environment)
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("redlock: ") && result.stderr.contains("pattern") && result.stderr.contains("redlock inspect job-*"))
        #expect(result.stdout.isEmpty)
        #expect(redis.valuesOf(key: "job-a").allSatisfy(isRedlockValue), "nothing deleted")
    }

    @Test func forceReleaseWarnsWhenTheHolderIsAliveAndRenewing() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let holder = try holderOnEveryInstance(["run", "--ttl", "1s", "renewed", "--", "sleep", "30"], key: "renewed", redis: redis)
        #expect(eventually { redis.valuesOf(key: "renewed").filter(isRedlockValue).count == 3 })
        let result = try redlock(["force-release", "--yes", "renewed"], environment: redis.environment)
        #expect(result.status == 0, "\(result)")
        let warnings = result.stderr.split(separator: "\n").filter { $0.contains("renews it") }
        #expect(warnings.count == 1, "\(result.stderr)")
        #expect(warnings.first?.hasPrefix("redlock: warning: 'renewed'") == true && warnings.first?.contains("pid \(holder.pid)") == true)
        #expect(try holder.wait(timeout: 30).status == 76, "the holder lost the lock and stopped COMMAND")

        // A lease nobody renews (acquire) gives no such warning.
        #expect(try redlock(["acquire", "--ttl", "60s", "still"], environment: redis.environment).status == 0)
        let quiet = try redlock(["force-release", "--yes", "still"], environment: redis.environment)
        #expect(quiet.status == 0)
        #expect(!quiet.stderr.contains("renews"), "\(quiet.stderr)")
    }
}

@Suite struct HolderCommandRecordTests {
    @Test func inspectShowsTheHoldersCommandShellQuoted() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let held = try RedlockProcess(["run", "quoted", "--", "sh", "-c", "sleep 60 # a \"quoted\" arg", "it's"], environment: redis.environment)
        defer { held.signal(SIGTERM); _ = try? held.wait(timeout: 20) }
        #expect(eventually { isRedlockValue(redis.valuesOf(key: "quoted")[0]) })
        let shown = try redlock(["inspect", "quoted"], environment: redis.environment)
        #expect(shown.stdout.contains("  command: sh -c 'sleep 60 # a \"quoted\" arg' 'it'\\''s'\n"), "\(shown.stdout)")
        let json = try JSON.parse(try redlock(["inspect", "--json", "quoted"], environment: redis.environment).stdout)
        #expect(json["locks"]?[0]?["holder"]?["command"]?.stringValue == "sh -c 'sleep 60 # a \"quoted\" arg' 'it'\\''s'")
    }
}

@Suite struct MinHoldRecordTests {
    @Test func inspectSaysWhenTheKeyOutlivesItsHolderOnThisHost() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let run = try redlock(["run", "--min-hold", "30s", "kept", "--", "true"], environment: redis.environment)
        #expect(run.status == 0)
        #expect(redis.valuesOf(key: "kept").allSatisfy(isRedlockValue), "--min-hold keeps the key after COMMAND")
        let details = try redlock(["inspect", "kept"], environment: redis.environment)
        #expect(details.status == 0)
        #expect(details.stdout.contains("  holder:  ended (pid "), "\(details.stdout)")
        #expect(details.stdout.contains("--min-hold"))
        let row = try redlock(["inspect", "kept", "other"], environment: redis.environment)
        #expect(row.stdout.split(separator: "\n").contains { $0.hasPrefix("kept") && $0.contains(", ended") }, "\(row.stdout)")
        let json = try JSON.parse(try redlock(["inspect", "--json", "kept"], environment: redis.environment).stdout)
        #expect(json["locks"]?[0]?["holder"]?["ended"]?.boolValue == true)

        // A holder that still runs is not ended.
        let live = try holderOnEveryInstance(["run", "alive", "--", "sleep", "30"], key: "alive", redis: redis)
        defer { live.signal(SIGTERM); _ = try? live.wait(timeout: 20) }
        #expect(eventually { redis.valuesOf(key: "alive").filter(isRedlockValue).count == 3 })
        let alive = try redlock(["inspect", "alive"], environment: redis.environment)
        #expect(!alive.stdout.contains("ended"), "\(alive.stdout)")
        let aliveJSON = try JSON.parse(try redlock(["inspect", "--json", "alive"], environment: redis.environment).stdout)
        #expect(aliveJSON["locks"]?[0]?["holder"]?["ended"]?.boolValue == false)
    }
}

/// force-release at a terminal (script(1) gives a real pseudo-terminal): the holder, the
/// warning, then the prompt, all escaped.
@Suite struct ForceReleasePromptTests {
    @Test func thePromptComesAfterTheHolderAndTheWarningAndNoChangesNothing() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let holder = try RedlockProcess(["run", "--ttl", "1s", "busy", "--", "sleep", "30"], environment: redis.environment)
        defer { holder.signal(SIGTERM); _ = try? holder.wait(timeout: 20) }
        #expect(eventually { redis.valuesOf(key: "busy").filter(isRedlockValue).count == 3 })
        let command = "(sleep 3; printf 'n\\n'; sleep 1) | script -qec '\"$R\" force-release busy; echo status=$?' /dev/null"
        let result = try RedlockProcess(executable: URL(fileURLWithPath: "/bin/sh"), ["-c", command],
                                        environment: redis.environment.merging(["R": try RedlockBinary.executableURL().path]) { $1 }).wait(timeout: 30)
        let text = result.stdout
        let details = text.range(of: "busy: held by")
        let warning = text.range(of: "redlock: warning: 'busy' is held by a live holder that renews it")
        let prompt = text.range(of: "Delete 'busy' on every instance, whoever holds it? [y/N]")
        #expect(details != nil && warning != nil && prompt != nil, "\(text)")
        if let details, let warning, let prompt {
            #expect(details.lowerBound < warning.lowerBound && warning.lowerBound < prompt.lowerBound, "\(text)")
        }
        #expect(text.contains("nothing deleted") && text.contains("status=1"), "\(text)")
        #expect(holder.isRunning, "declining changed nothing")
        #expect(redis.valuesOf(key: "busy").allSatisfy(isRedlockValue))
    }
}
