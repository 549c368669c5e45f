import Foundation
import Testing

/// SPEC "Lock modes": shared holders, a writer that waits for them (and holds new ones off),
/// slots, and a KEY that keeps one mode while anyone holds it.
@Suite struct LockModeTests {
    private static func acquire(_ arguments: [String], _ redis: RedisFixture) throws -> [String: String] {
        let result = try redlock(["acquire", "--env"] + arguments, environment: redis.environment)
        #expect(result.status == 0, "\(result)")
        var values: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return values
    }

    @Test func sharedHoldersHoldTogetherAndExcludeAnExclusiveHolder() throws {
        let redis = try RedisFixture(count: 3)
        let first = try Self.acquire(["-s", "db"], redis)
        let second = try Self.acquire(["--shared", "db"], redis)
        #expect(first["REDLOCK_TOKEN"] != second["REDLOCK_TOKEN"])
        #expect(try redlock(["run", "-n", "db", "--", "true"], environment: redis.environment).status == 75)
        #expect(try redlock(["run", "-n", "-x", "db", "--", "true"], environment: redis.environment).status == 75)
        #expect(try redlock(["release", "--token", first["REDLOCK_TOKEN"]!, "db"], environment: redis.environment).status == 0)
        #expect(try redlock(["run", "-n", "db", "--", "true"], environment: redis.environment).status == 75, "one shared holder is left")
        #expect(try redlock(["release", "--token", second["REDLOCK_TOKEN"]!, "db"], environment: redis.environment).status == 0)
        let writer = try Self.acquire(["db"], redis)
        #expect(try redlock(["run", "-n", "-s", "db", "--", "true"], environment: redis.environment).status == 75, "no shared holder beside an exclusive one")
        #expect(try redlock(["release", "--token", writer["REDLOCK_TOKEN"]!, "db"], environment: redis.environment).status == 0)
        let result = try redlock(["run", "-n", "-s", "db", "--", "sh", "-c", "echo $REDLOCK_KEY"], environment: redis.environment)
        #expect(result.status == 0 && result.stdout == "db\n", "\(result)")
    }

    @Test func everyHolderHasItsOwnStrictlyIncreasingFencingToken() throws {
        let redis = try RedisFixture(count: 3)
        let fences = try [["-s", "k"], ["-s", "k"], ["-s", "k"]].map { try Self.acquire($0, redis)["REDLOCK_FENCING_TOKEN"].flatMap { Int($0) } ?? 0 }
        #expect(fences == [1, 2, 3])
        #expect(try redlock(["force-release", "--yes", "k"], environment: redis.environment).status == 0)
        #expect(try Self.acquire(["k"], redis)["REDLOCK_FENCING_TOKEN"] == "4", "exclusive and shared share KEY's counter")
        // Each slot is its own mutex with its own counter.
        let slotA = try Self.acquire(["--slots", "a", "s"], redis)
        #expect(slotA["REDLOCK_SLOT"] == "a" && slotA["REDLOCK_FENCING_TOKEN"] == "1")
        #expect(try redlock(["release", "--token", slotA["REDLOCK_TOKEN"]!, "s"], environment: redis.environment).status == 0)
        #expect(try Self.acquire(["--slots", "a", "s"], redis)["REDLOCK_FENCING_TOKEN"] == "2")
    }

    @Test func aSharedHolderThatStopsRenewingExpiresOnItsOwn() throws {
        let redis = try RedisFixture(count: 3)
        _ = try Self.acquire(["-s", "--ttl", "1s", "db"], redis)
        let renewed = try Self.acquire(["-s", "--ttl", "60s", "db"], redis)
        sleep(milliseconds: 1500)
        // The dead holder is gone, though the set lives as long as the longest holder.
        #expect(try redlock(["run", "-n", "db", "--", "true"], environment: redis.environment).status == 75)
        #expect(try redlock(["release", "--token", renewed["REDLOCK_TOKEN"]!, "db"], environment: redis.environment).status == 0)
        #expect(try redlock(["run", "-n", "db", "--", "true"], environment: redis.environment).status == 0)
    }

    @Test func aWaitingWriterHoldsNewSharedHoldersOffAndGetsInWhenTheyLeave() throws {
        let redis = try RedisFixture(count: 3)
        let reader = try Self.acquire(["-s", "--ttl", "60s", "db"], redis)
        let writer = try RedlockProcess(["run", "--wait", "30s", "db", "--", "echo", "writer"], environment: redis.environment)
        #expect(eventually { redis.commandOnEach("EXISTS", "{db}:writer").allSatisfy { $0?.int == 1 } }, "the writer marks that it waits")
        // Held off (for longer than the mark's TTL: the waiting writer refreshes it).
        for _ in 0..<4 {
            #expect(try redlock(["run", "-n", "-s", "db", "--", "true"], environment: redis.environment).status == 75)
            sleep(milliseconds: 1000)
        }
        #expect(writer.isRunning)
        let released = Date()
        #expect(try redlock(["release", "--token", reader["REDLOCK_TOKEN"]!, "db"], environment: redis.environment).status == 0)
        let result = try writer.wait(timeout: 30)
        #expect(result.status == 0 && result.stdout == "writer\n", "\(result)")
        #expect(Date().timeIntervalSince(released) < 5, "woken by the release, not the reader's 60 s lease")
        #expect(redis.commandOnEach("EXISTS", "{db}:writer").allSatisfy { $0?.int == 0 }, "the writer took its mark away")
        #expect(try redlock(["run", "-n", "-s", "db", "--", "true"], environment: redis.environment).status == 0)
    }

    /// A writer granted by a quorum may have been refused, and have left its "writer
    /// waiting" mark, where a shared holder still stood: its release takes the mark away
    /// there too, instead of leaving it to hold new shared holders off for its TTL (3 s).
    /// A writer that gives up waiting takes its mark away at once: a new shared holder is
    /// not held off for the 3 s the mark would have stood (a review found it refused, and
    /// told the writer that gave up was the holder).
    @Test func aWriterThatGivesUpTakesItsMarkAwayAtOnce() throws {
        let redis = try RedisFixture(count: 3)
        _ = try Self.acquire(["-s", "--ttl", "30s", "wm"], redis)
        let writer = try redlock(["run", "--wait", "1s", "wm", "--", "true"], environment: redis.environment)
        #expect(writer.status == 75, "\(writer)")
        let reader = try redlock(["run", "-s", "-n", "wm", "--", "true"], environment: redis.environment)
        #expect(reader.status == 0, "the mark of a writer that gave up still held readers off: \(reader)")
    }

    @Test func aWritersReleaseTakesItsMarkAwayWhereItWasRefused() throws {
        let redis = try RedisFixture(count: 3)
        // A shared holder on the third instance only (its score: the expiry, on the server's clock).
        let time = try redis.servers[2].client().command("TIME")
        let now = (Int64(time.elements?.first?.string ?? "0") ?? 0) * 1000
        #expect(try redis.servers[2].client().command("ZADD", "{db}:shared", String(now + 60_000), "redlock1 other host=h pid=1 user=u at=0 cmd=x fence=1").int == 1)
        let result = try redlock(["run", "--wait", "10s", "db", "--", "true"], environment: redis.environment)
        #expect(result.status == 0, "\(result)")
        #expect(redis.commandOnEach("EXISTS", "{db}:writer").allSatisfy { $0?.int == 0 }, "the writer's mark stayed: \(redis.commandOnEach("GET", "{db}:writer"))")
    }

    @Test func aWriterThatDoesNotWaitLeavesNoMark() throws {
        let redis = try RedisFixture(count: 3)
        _ = try Self.acquire(["-s", "db"], redis)
        #expect(try redlock(["run", "-n", "db", "--", "true"], environment: redis.environment).status == 75)
        #expect(redis.commandOnEach("EXISTS", "{db}:writer").allSatisfy { $0?.int == 0 })
        #expect(try redlock(["run", "-n", "-s", "db", "--", "true"], environment: redis.environment).status == 0)
    }

    @Test func aLimitHandsOutAtMostNDistinctSlots() throws {
        let redis = try RedisFixture(count: 3)
        let holders = try (0..<3).map { _ in try Self.acquire(["-l", "3", "pool"], redis) }
        #expect(Set(holders.compactMap { $0["REDLOCK_SLOT"] }) == ["1", "2", "3"])
        let full = try redlock(["run", "-n", "--limit", "3", "pool", "--", "true"], environment: redis.environment)
        #expect(full.status == 75, "\(full)")
        #expect(try redlock(["release", "--token", holders[1]["REDLOCK_TOKEN"]!, "pool"], environment: redis.environment).status == 0)
        let result = try redlock(["run", "-n", "-l", "3", "pool", "--", "sh", "-c", "echo $REDLOCK_SLOT"], environment: redis.environment)
        #expect(result.status == 0 && result.stdout == holders[1]["REDLOCK_SLOT"]! + "\n", "\(result)")
    }

    @Test func contendersSpreadOverTheSlots() throws {
        let redis = try RedisFixture(count: 3)
        var first: Set<String> = []
        for _ in 0..<12 {
            let result = try redlock(["run", "-n", "-l", "4", "spread", "--", "sh", "-c", "echo $REDLOCK_SLOT"], environment: redis.environment)
            #expect(result.status == 0)
            first.insert(result.stdout)
        }
        #expect(first.count > 1, "a free pool is not always entered by slot 1: \(first)")
    }

    @Test func namedSlotsGiveTheSlotsName() throws {
        let redis = try RedisFixture(count: 3)
        let first = try Self.acquire(["--slots", "db-a,db-b", "dbs"], redis)
        let result = try redlock(["run", "-n", "--slots", "db-a,db-b", "dbs", "--", "sh", "-c", "echo $REDLOCK_SLOT"], environment: redis.environment)
        #expect(result.status == 0, "\(result)")
        #expect(Set([first["REDLOCK_SLOT"]!, result.stdout.trimmingCharacters(in: .newlines)]) == ["db-a", "db-b"])
    }

    @Test func aKeyInUseInAnotherModeIsRefusedAtOnceWith78() throws {
        let redis = try RedisFixture(count: 3)
        _ = try Self.acquire(["-l", "2", "k"], redis)
        for mode in [["-x"], ["-s"], ["-l", "3"], ["--slots", "a,b"]] {
            let started = Date()
            let result = try redlock(["run", "--wait", "30s"] + mode + ["k", "--", "true"], environment: redis.environment)
            #expect(result.status == 78, "\(mode): \(result)")
            #expect(result.stderr.contains("limit 2"), "names the mode in use: \(result.stderr)")
            #expect(Date().timeIntervalSince(started) < 5, "at once, even with --wait")
        }
        _ = try Self.acquire(["-s", "r"], redis)
        let result = try redlock(["run", "--wait", "30s", "-l", "2", "r", "--", "true"], environment: redis.environment)
        #expect(result.status == 78 && result.stderr.contains("shared"), "\(result)")
        _ = try Self.acquire(["w"], redis)
        let exclusive = try redlock(["acquire", "--wait", "30s", "--slots", "x", "w"], environment: redis.environment)
        #expect(exclusive.status == 78 && exclusive.stderr.contains("exclusive"), "\(exclusive)")
        #expect(exclusive.stderr.split(separator: "\n").count == 1 && exclusive.stderr.hasPrefix("redlock: "))
    }

    /// Options that order holders one after another mean nothing to holders that run side
    /// by side: a usage error, not silently ignored (two `-s --if-newer` runs ran at once).
    @Test(arguments: [["--if-newer", "3"], ["--once", "d1"], ["--supersede"], ["--order-key", "2"]])
    func optionsThatOrderHoldersNeedAnExclusiveLock(_ option: [String]) throws {
        for mode in [["-s"], ["-l", "2"], ["--slots", "a,b"]] {
            let result = try redlock(["run"] + mode + option + ["k", "--", "true"])
            #expect(result.status == 64, "\(mode) \(option): \(result)")
            #expect(result.stderr.hasPrefix("redlock: \(option[0]) needs an exclusive lock"), "\(result.stderr)")
        }
        #expect(try redlock(["acquire", "-s", "--order-key", "2", "k"]).status == 64)
    }

    @Test func aModeEndsWithItsLastHolder() throws {
        let redis = try RedisFixture(count: 3)
        let held = try Self.acquire(["-l", "2", "k"], redis)
        #expect(try redlock(["release", "--token", held["REDLOCK_TOKEN"]!, "k"], environment: redis.environment).status == 0)
        #expect(try redlock(["run", "-n", "k", "--", "true"], environment: redis.environment).status == 0)
        // A holder that died: its slot expires, and the mode with it.
        _ = try Self.acquire(["-l", "2", "--ttl", "1s", "k"], redis)
        sleep(milliseconds: 1300)
        #expect(try redlock(["run", "-n", "-s", "k", "--", "true"], environment: redis.environment).status == 0)
    }

    @Test func extendReleaseAndForceReleaseWorkInEveryMode() throws {
        let redis = try RedisFixture(count: 3)
        for mode in [["-x"], ["-s"], ["-l", "1"], ["--slots", "a"]] {
            let key = "m" + mode.joined()
            let held = try Self.acquire(mode + ["--ttl", "2s", key], redis)
            let token = held["REDLOCK_TOKEN"]!
            #expect(try redlock(["extend", "--ttl", "60s", "--token", token, key], environment: redis.environment).status == 0, "\(mode)")
            sleep(milliseconds: 2300)
            #expect(try redlock(["run", "-n"] + mode + [key, "--", "true"], environment: redis.environment).status == (mode == ["-s"] ? 0 : 75), "\(mode): extended past its first TTL")
            #expect(try redlock(["extend", "--token", "not-the-token", key], environment: redis.environment).status == 76)
            #expect(try redlock(["release", "--token", token, key], environment: redis.environment).status == 0, "\(mode)")
            #expect(try redlock(["release", "--token", token, key], environment: redis.environment).status == 76, "\(mode): released once")
            _ = try Self.acquire(mode + [key], redis)
            #expect(try redlock(["force-release", "--yes", key], environment: redis.environment).status == 0)
            #expect(try redlock(["run", "-n", key, "--", "true"], environment: redis.environment).status == 0, "\(mode): nothing left")
        }
    }

    /// Redis answers a client without a password NOAUTH only for requests of at most 10
    /// arguments (a protocol error otherwise, which is not a refusal and would be waited on).
    @Test(arguments: [["-x"], ["-s"], ["-l", "9"], ["--slots", "a,b,c,d,e,f,g,h,i,j,k"]])
    func aMissingPasswordIsRefusedWith77InEveryMode(_ mode: [String]) throws {
        let redis = try RedisFixture(count: 3, extraArgs: ["--requirepass", "pw-7"])
        let result = try redlock(["run"] + mode + ["k", "--", "true"], environment: redis.environment)
        #expect(result.status == 77, "\(mode): \(result)")
        for step in [["extend", "--token", "t", "k"], ["release", "--token", "t", "k"], ["inspect", "k"]] {
            #expect(try redlock(step, environment: redis.environment).status == 77, "\(step)")
        }
    }

    /// Under --prefix, and by a pattern, a lock held only shared or in slots is found by
    /// its mode key (`{app:rd}:shared`), which the prefix's pattern does not match: a review
    /// found "no locks held" while both were.
    @Test func inspectFindsSharedAndSlotLocksUnderAPrefixAndByAPattern() throws {
        let redis = try RedisFixture(count: 3)
        for arguments in [["-s", "rd"], ["-l", "2", "sl"]] {
            #expect(try redlock(["--prefix", "app:", "acquire", "--ttl", "60s"] + arguments, environment: redis.environment).status == 0)
        }
        let every = try redlock(["--prefix", "app:", "inspect"], environment: redis.environment)
        let rows = every.stdout.split(separator: "\n")
        #expect(every.status == 0 && rows.contains { $0.hasPrefix("rd ") } && rows.contains { $0.hasPrefix("sl ") }, "\(every)")
        let pattern = try redlock(["--prefix", "app:", "inspect", "r*"], environment: redis.environment)
        #expect(pattern.status == 0 && pattern.stdout.split(separator: "\n").contains { $0.hasPrefix("rd ") }, "\(pattern)")
    }

    @Test func inspectListsSharedHoldersAndSlots() throws {
        let redis = try RedisFixture(count: 3)
        let readers = try (0..<2).map { _ in try Self.acquire(["-s", "--label", "reader", "r"], redis) }
        let slot = try Self.acquire(["--slots", "a,b", "--label", "worker", "p"], redis)
        // Several keys are one row each; -l gives each one's holders.
        let text = try redlock(["inspect", "-l", "r", "p"], environment: redis.environment)
        #expect(text.status == 0, "\(text)")
        for reader in readers { #expect(text.stdout.contains(reader["REDLOCK_TOKEN"]!), "\(text.stdout)") }
        #expect(text.stdout.contains("shared"))
        #expect(text.stdout.contains("slot \(slot["REDLOCK_SLOT"]!)"), "\(text.stdout)")
        // Each holder's line is whole: who holds it, not cut at a table's width.
        let holderLines = text.stdout.split(separator: "\n").filter { $0.hasPrefix("  shared:") }
        #expect(holderLines.count == 2 && holderLines.allSatisfy { $0.contains(" pid ") && !$0.hasSuffix("…") }, "\(text.stdout)")
        let listing = try redlock(["inspect"], environment: redis.environment)
        let rows = listing.stdout.split(separator: "\n")
        #expect(rows.contains { $0.hasPrefix("r ") } && rows.contains { $0.hasPrefix("p ") }, "locks held only shared or in slots are listed: \(listing.stdout)")
        let json = try redlock(["inspect", "--json", "r", "p"], environment: redis.environment)
        let document = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let locks = document?["locks"] as? [[String: Any]] ?? []
        let holders = locks.map { ($0["holders"] as? [[String: Any]]) ?? [] }
        #expect(holders.count == 2 && holders[0].count == 2 && holders[1].count == 1, "\(json.stdout)")
        #expect(Set(holders[0].compactMap { $0["mode"] as? String }) == ["shared"])
        #expect(holders[1].first?["slot"] as? String == slot["REDLOCK_SLOT"])
    }
}

/// Every key of a mode shares KEY's hash tag, so a Redis Cluster runs its scripts on one
/// master (the scripts name the helper keys from the tag: same slot, as Redis requires).
@Suite struct LockModeClusterTests {
    @Test func everyModeWorksOnACluster() throws {
        let cluster = try ClusterFixture()
        let url = cluster.url()
        let key = ClusterFixture.key("modes-", onServer: 1)
        let shared = try redlock(["-r", url, "acquire", "-s", key])
        #expect(shared.status == 0, "\(shared)")
        #expect(try redlock(["-r", url, "run", "-n", "-s", key, "--", "true"]).status == 0)
        #expect(try redlock(["-r", url, "run", "-n", key, "--", "true"]).status == 75)
        #expect(try redlock(["-r", url, "release", "--token", shared.stdout.trimmingCharacters(in: .whitespacesAndNewlines), key]).status == 0)
        let slot = try redlock(["-r", url, "run", "-l", "3", key, "--", "sh", "-c", "echo $REDLOCK_SLOT"])
        #expect(slot.status == 0 && ["1\n", "2\n", "3\n"].contains(slot.stdout), "\(slot)")
        let held = try redlock(["-r", url, "acquire", "--slots", "a,b", key])
        #expect(held.status == 0, "\(held)")
        let inspected = try redlock(["-r", url, "inspect", key])
        #expect(inspected.status == 0 && inspected.stdout.contains("slot "), "\(inspected)")
        #expect(try redlock(["-r", url, "run", "-n", key, "--", "true"]).status == 78)
        #expect(try redlock(["-r", url, "force-release", "--yes", key]).status == 0)
        #expect(try redlock(["-r", url, "run", "-n", key, "--", "true"]).status == 0)
    }
}
