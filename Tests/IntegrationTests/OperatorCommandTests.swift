import Foundation
import Testing

/// `inspect`, `force-release` and `doctor`: what an operator sees and does.
@Suite struct OperatorCommandTests {
    @Test func inspectShowsTheHolderInTextAndJSON() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        // Inspect is shown a lock held on every instance (see holderOnEveryInstance).
        let held = try holderOnEveryInstance(["run", "deploy-prod", "--", "sleep", "3"], key: "deploy-prod", redis: redis)
        #expect(eventually { redis.valuesOf(key: "deploy-prod").filter(isRedlockValue).count == 3 })

        let text = try redlock(["inspect", "deploy-prod"], environment: redis.environment)
        #expect(text.status == 0)
        #expect(text.stdout.contains("pid \(held.pid)"))
        #expect(text.stdout.contains(hostName()))
        #expect(text.stdout.contains("held by a quorum"))
        #expect(text.stdout.split(separator: "\n").allSatisfy { $0.count <= 100 })

        let json = try redlock(["inspect", "--json", "deploy-prod"], environment: redis.environment)
        #expect(json.status == 0)
        let document = try JSON.parse(json.stdout)
        let lock = document["locks"]?[0]
        #expect(lock?["key"]?.stringValue == "deploy-prod")
        #expect(lock?["verdict"]?.stringValue == "held")
        #expect(lock?["holder"]?["pid"]?.intValue == Int(held.pid))
        #expect(lock?["holder"]?["host"]?.stringValue == hostName())
        #expect(lock?["holder"]?["redlock"]?.boolValue == true)
        #expect((lock?["holder"]?["fencing_token"]?.intValue ?? 0) >= 1)
        #expect(lock?["instances"]?.arrayValue?.count == 3)
        #expect(lock?["instances"]?[0]?["state"]?.stringValue == "held")
        #expect((lock?["instances"]?[0]?["ttl_ms"]?.intValue ?? 0) > 20_000)
        #expect(document["quorum"]?.intValue == 2)

        #expect(try held.wait(timeout: 20).status == 0)
        let after = try redlock(["inspect", "deploy-prod"], environment: redis.environment)
        #expect(after.status == 1)
        #expect(after.stdout.contains("free"))
    }

    @Test func inspectShowsAnotherClientsRawValueAndAnUnreachableInstance() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        for server in redis.servers { try server.client().command("SET", "k", "their-token-123", "PX", "60000") }
        redis.servers[2].kill()
        let result = try redlock(["inspect", "--json", "k"], environment: redis.environment)
        #expect(result.status == 0)
        let lock = try JSON.parse(result.stdout)["locks"]?[0]
        #expect(lock?["verdict"]?.stringValue == "held")
        #expect(lock?["holder"]?["redlock"]?.boolValue == false)
        #expect(lock?["holder"]?["raw"]?.stringValue == "their-token-123")
        #expect(lock?["instances"]?[2]?["state"]?.stringValue == "unreachable")
        #expect(lock?["instances"]?[2]?["error"]?.stringValue?.isEmpty == false)
        let text = try redlock(["inspect", "k"], environment: redis.environment)
        #expect(text.stdout.contains("their-token-123") && text.stdout.contains("unreachable"))
    }

    @Test func patternsAndTheListOfAllLocks() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let tokens = try ["job-a", "job-b"].map { key in
            try redlock(["acquire", key], environment: redis.environment).stdout.trimmingCharacters(in: .newlines)
        }
        #expect(tokens.allSatisfy { $0.count >= 22 })
        for server in redis.servers { try server.client().command("SET", "job-not-a-lock", "plain") }

        let pattern = try JSON.parse(try redlock(["inspect", "--json", "job-?"], environment: redis.environment).stdout)
        #expect(Set(pattern["locks"]?.arrayValue?.compactMap { $0["key"]?.stringValue } ?? []) == ["job-a", "job-b"])

        let all = try redlock(["inspect", "--json"], environment: redis.environment)
        #expect(all.status == 0)
        let keys = Set(try JSON.parse(all.stdout)["locks"]?.arrayValue?.compactMap { $0["key"]?.stringValue } ?? [])
        #expect(keys == ["job-a", "job-b"], "only redlock's locks, not other keys or fencing counters")

        let none = try redlock(["inspect", "nothing-*"], environment: redis.environment)
        #expect(none.status == 1)
    }

    @Test func forceReleaseNeedsConfirmationAndWakesAWaiter() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let token = try redlock(["acquire", "--ttl", "60s", "stuck"], environment: redis.environment).stdout.trimmingCharacters(in: .newlines)
        // Held on a quorum; on a loaded machine the acquire round may have been decided
        // without the third instance, so "nothing deleted" is checked instance by instance
        // against what each held here.
        let held = redis.valuesOf(key: "stuck")
        #expect(held.filter(isRedlockValue).count >= 2, "\(held)")
        let keepsWhatItHeld = { (now: [RESPValue?]) in zip(held, now).allSatisfy { before, after in !isRedlockValue(before) || before == after } }

        let refused = try redlock(["force-release", "stuck"], environment: redis.environment)
        #expect(refused.status == 64)
        #expect(refused.stderr.hasPrefix("redlock: ") && refused.stderr.contains("--yes"))
        #expect(keepsWhatItHeld(redis.valuesOf(key: "stuck")), "a refused force-release deletes nothing")

        let wrongToken = try redlock(["force-release", "--yes", "--token", "no-such-token-abcdefgh", "stuck"], environment: redis.environment)
        #expect(wrongToken.status == 1)
        #expect(keepsWhatItHeld(redis.valuesOf(key: "stuck")), "a force-release with another token deletes nothing")

        let waiter = try RedlockProcess(["run", "--wait", "50s", "stuck", "--", "echo", "got it"], environment: redis.environment)
        sleep(milliseconds: 300)
        #expect(waiter.isRunning)
        let started = Date()
        let released = try redlock(["force-release", "--yes", "--token", token, "stuck"], environment: redis.environment)
        #expect(released.status == 0)
        #expect(released.stdout.split(separator: "\n").count == 3)
        #expect(released.stdout.contains("deleted"))
        // The old holder is gone everywhere; the woken waiter may already hold some instances
        // (read once: two reads could straddle its acquiring round).
        #expect(redis.valuesOf(key: "stuck").allSatisfy { $0 == .null || (isRedlockValue($0) && $0?.string?.hasPrefix("redlock1 \(token) ") == false) })
        let result = try waiter.wait(timeout: 30)
        #expect(result.status == 0)
        #expect(result.stdout == "got it\n")
        #expect(Date().timeIntervalSince(started) < 10, "the waiter got the lock long before the 60s lease would have expired")
    }

    /// A token is one holder's: with several keys it matches one at most, and that is a
    /// match (0); 1 only when it matched none.
    @Test func forceReleaseWithATokenAndSeveralKeysExitsByWhetherItMatchedAny() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let token = try redlock(["acquire", "--ttl", "60s", "k1"], environment: redis.environment).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try redlock(["acquire", "--ttl", "60s", "k2"], environment: redis.environment).status == 0)
        let result = try redlock(["force-release", "--yes", "--token", token, "k1", "k2"], environment: redis.environment)
        #expect(result.status == 0, "\(result)")
        #expect(redis.valuesOf(key: "k1").allSatisfy { $0 == .null } && redis.valuesOf(key: "k2").allSatisfy { $0 != .null })
        let none = try redlock(["force-release", "--yes", "--token", token, "k1", "k2"], environment: redis.environment)
        #expect(none.status == 1, "\(none)")
    }

    @Test func forceReleaseWithoutTokenDeletesWhateverHoldsIt() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        for server in redis.servers { try server.client().command("SET", "k", "foreign") }
        let result = try redlock(["force-release", "-y", "k"], environment: redis.environment)
        #expect(result.status == 0)
        #expect(redis.valuesOf(key: "k").allSatisfy { $0 == .null })
        redis.servers[0].kill()
        redis.servers[1].kill()
        #expect(try redlock(["force-release", "-y", "k"], environment: redis.environment).status == 69)
    }

    @Test func doctorOnAHealthyDeployment() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3, extraArgs: ["--appendonly", "yes", "--appendfsync", "always"])
        let text = try redlock(["doctor"], environment: redis.environment)
        #expect(text.status == 0, "\(text)")
        for server in redis.servers { #expect(text.stdout.contains("127.0.0.1:\(server.port)")) }
        #expect(!text.stdout.contains("warning"))
        let json = try JSON.parse(try redlock(["doctor", "--json"], environment: redis.environment).stdout)
        #expect(json["status"]?.stringValue == "ok")
        #expect(json["quorum_reachable"]?.boolValue == true)
        #expect(json["can_fail"]?.intValue == 1)
        #expect(json["instances"]?[0]?["role"]?.stringValue == "master")
        #expect(json["instances"]?[0]?["appendfsync"]?.stringValue == "always")
        #expect(json["instances"]?[0]?["version"]?.stringValue?.isEmpty == false)
    }

    @Test func doctorWarnsAboutAnEvictionPolicy() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3, extraArgs: ["--maxmemory-policy", "volatile-lru"])
        let result = try redlock(["doctor"], environment: redis.environment)
        #expect(result.status == 1)
        #expect(result.stdout.contains("warning") && result.stdout.contains("volatile-lru"))
        #expect(result.stdout.contains("note:"), "no appendfsync always and no --restart-grace: the delayed-restart advice")
    }

    @Test func doctorWithTwoOfThreeDown() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        redis.servers[0].kill()
        redis.servers[1].kill()
        let result = try redlock(["doctor", "--json"], environment: redis.environment)
        #expect(result.status == 69)
        let json = try JSON.parse(result.stdout)
        #expect(json["quorum_reachable"]?.boolValue == false)
        #expect(json["instances"]?[0]?["reachable"]?.boolValue == false)
    }

    @Test func doctorReportsAReplicaAsAnError() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 2)
        try redis.servers[1].client().command("REPLICAOF", "127.0.0.1", String(redis.servers[0].port))
        let result = try redlock(["doctor", "--json"], environment: redis.environment)
        #expect(result.status == 69, "a replica is not usable, so 1 of 2 masters is below the quorum of 2")
        let json = try JSON.parse(result.stdout)
        #expect(json["instances"]?[1]?["status"]?.stringValue == "error")
        #expect(json["instances"]?[1]?["role"]?.stringValue == "slave")
        // It answered: a replica, not "unreachable" (a review's finding), in the row and the line.
        let text = try redlock(["doctor"], environment: redis.environment)
        let row = text.stdout.split(separator: "\n").first { $0.hasPrefix("127.0.0.1:\(redis.servers[1].port) ") } ?? ""
        #expect(row.hasSuffix(" slave") && !text.stdout.contains("unreachable"), "\(text.stdout)")
    }

    @Test func doctorReportsRefusedInfoAndConfigAsUnknownNotAsFailures() throws {
        try RedisServer.requireAvailable()
        let server = try RedisServer.started()
        // Like a managed service: scripts allowed, INFO and CONFIG not.
        try server.client().command("ACL", "SETUSER", "app", "on", ">app-pw-1", "~*", "&*", "+@all", "-info", "-config")
        let url = "redis://app:app-pw-1@127.0.0.1:\(server.port)"
        let json = try redlock(["-r", url, "doctor", "--json"])
        #expect(json.status != 69, "reachable, so the quorum is there: \(json)")
        let row = try JSON.parse(json.stdout)["instances"]?[0]
        #expect(row?["reachable"]?.boolValue == true)
        #expect(row?["status"]?.stringValue == "unknown")
        #expect(row?["role"]?.isNull == true)
        #expect(try redlock(["-r", url, "run", "k", "--", "true"]).status == 0, "and locks still work")
    }

    /// An ACL that refuses the lock's scripts makes every lock command fail (77): doctor
    /// must not call such instances ok. One that refuses TIME leaves the clock unchecked:
    /// not "ok" either (a review found both reported healthy, exit 0).
    @Test func doctorNeverCallsHealthyWhatItCouldNotCheck() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        for server in redis.servers {
            try server.client().command("ACL", "SETUSER", "noscripts", "on", ">pw-1", "~*", "&*", "+@all", "-eval", "-evalsha", "-script")
            try server.client().command("ACL", "SETUSER", "notime", "on", ">pw-2", "~*", "&*", "+@all", "-time")
        }
        let noScripts = redis.servers.map { $0.url(user: "noscripts", password: "pw-1") }.joined(separator: " ")
        let doctor = try redlock(["doctor"], environment: ["REDLOCK_URLS": noScripts])
        #expect(doctor.status == 69, "no instance can hold a lock: \(doctor)")
        #expect(doctor.stdout.contains("cannot run the lock's scripts"), "\(doctor)")
        #expect(try redlock(["acquire", "-n", "k"], environment: ["REDLOCK_URLS": noScripts]).status == 77, "as the lock commands find")

        let noTime = redis.servers.map { $0.url(user: "notime", password: "pw-2") }.joined(separator: " ")
        let json = try redlock(["doctor", "--json"], environment: ["REDLOCK_URLS": noTime])
        #expect(json.status == 1, "usable, but not all checked: \(json)")
        let document = try JSON.parse(json.stdout)
        #expect(document["status"]?.stringValue == "warning")
        #expect(document["instances"]?[0]?["status"]?.stringValue == "unknown")
        let text = try redlock(["doctor"], environment: ["REDLOCK_URLS": noTime])
        #expect(text.stdout.contains("clock not checked: TIME refused"), "\(text)")
    }

    private func hostName() -> String {
        ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? ""
    }
}

/// inspect and doctor never claim more than the instances said.
@Suite struct OperatorTruthTests {
    @Test func inspectWithoutAQuorumOfAnswersIsUnknown() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        redis.servers.forEach { $0.kill() }
        let named = try redlock(["inspect", "k"], environment: redis.environment)
        #expect(named.status == 69)
        #expect(!named.stdout.contains("free"), "\(named.stdout)")
        #expect(named.stdout.contains("unknown"))
        #expect(named.stderr.hasPrefix("redlock: ") && named.stderr.contains("127.0.0.1:\(redis.servers[0].port)"))
        let json = try redlock(["inspect", "--json", "k"], environment: redis.environment)
        #expect(json.status == 69)
        #expect(try JSON.parse(json.stdout)["locks"]?[0]?["verdict"]?.stringValue == "unknown")
        let all = try redlock(["inspect"], environment: redis.environment)
        #expect(all.status == 69)
        #expect(!all.stdout.contains("no locks held"))
    }

    /// On a Redis shared with an application, its hashes and lists are no locks: listing
    /// every lock must not turn "unknown" (69) because they cannot be read as strings.
    @Test func anApplicationsHashesAndListsDoNotMakeTheListingUnknown() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        for server in redis.servers {
            _ = try server.client().command("HSET", "myapp:users", "a", "b")
            _ = try server.client().command("RPUSH", "myapp:queue", "job")
        }
        #expect(try redlock(["acquire", "--ttl", "60s", "deploy"], environment: redis.environment).status == 0)
        let result = try redlock(["inspect"], environment: redis.environment)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("deploy"), "\(result)")
        #expect(!result.stdout.contains("myapp"), "\(result)")
    }

    @Test func splitLockIsShownTheSameWayEveryTime() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        // One instance each for two holders, the third free: no holder has a quorum.
        _ = try redis.servers[2].client().command("SET", "k", "holder-on-third", "PX", "60000")
        _ = try redis.servers[1].client().command("SET", "k", "holder-on-second", "PX", "60000")
        var headlines: Set<String> = []
        for _ in 0..<8 {
            let result = try redlock(["inspect", "--json", "k"], environment: redis.environment)
            #expect(result.status == 1)
            let lock = try JSON.parse(result.stdout)["locks"]?[0]
            #expect(lock?["verdict"]?.stringValue == "split")
            let raw = lock?["holder"]?["raw"]?.stringValue ?? "?"
            headlines.insert(raw)
            // The rows agree with the headline: the holder's instance says held, the other one other.
            let states = (0..<3).map { lock?["instances"]?[$0]?["state"]?.stringValue ?? "?" }
            #expect(states == ["free", raw == "holder-on-second" ? "held" : "other", raw == "holder-on-third" ? "held" : "other"], "\(states) for \(raw)")
        }
        #expect(headlines == ["holder-on-second"], "one stable rule: the holder on the lowest instance among the tied")
    }

    @Test func doctorAgreesWithRunWhenEveryInstanceIsTooYoung() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let text = try redlock(["doctor", "--restart-grace", "1h"], environment: redis.environment)
        #expect(text.status == 69, "run would exit 69: \(text)")
        #expect(!text.stdout.contains("can fail"), "\(text.stdout)")
        let json = try redlock(["doctor", "--json", "--restart-grace", "1h"], environment: redis.environment)
        #expect(json.status == 69)
        #expect(try JSON.parse(json.stdout)["quorum_reachable"]?.boolValue == false)
    }
}

/// Listing every lock on instances full of other keys: reads that time out are not
/// taken for "nothing held".
@Suite struct OperatorListingTruthTests {
    @Test func listingNeverSaysNothingIsHeldWhenReadsTimedOut() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        for server in redis.servers {
            _ = try server.client(timeout: 30).command("EVAL", "for i = 1, tonumber(ARGV[1]) do redis.call('SET', 'other:' .. i, 'x') end return 1", "0", "60000")
        }
        let held = try holderOnEveryInstance(["run", "held-lock", "--", "sleep", "20"], key: "held-lock", redis: redis)
        defer { held.signal(SIGTERM) }
        #expect(eventually { redis.valuesOf(key: "held-lock").filter(isRedlockValue).count == 3 })
        // Too short for reading every key's value: those reads time out on every instance.
        let result = try redlock(["--op-timeout", "30ms", "inspect"], environment: redis.environment)
        #expect(!result.stdout.contains("no locks held"), "\(result.stdout.prefix(2000))")
        #expect(result.stdout.split(separator: "\n").count < 50, "the unreadable keys are counted, not listed")
        if result.status == 0 {
            #expect(result.stdout.contains("held-lock"))
        } else {
            #expect(result.status == 69)
            #expect(result.stderr.hasPrefix("redlock: "))
        }
    }
}
