import Foundation
import Testing

/// Waiting in line (SPEC "Waiting in line"): waiters are served in the order they joined,
/// or by `--order-key`; a dead waiter leaves the line; `--supersede` and `--if-newer`.
@Suite struct QueueTests {
    /// Holds KEY with `redlock acquire` (60 s) and returns the token.
    private static func hold(_ key: String, _ redis: RedisFixture) throws -> String {
        let result = try redlock(["acquire", "--ttl", "60s", key], environment: redis.environment)
        #expect(result.status == 0, "\(result)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// How many waiters `inspect --json` lists in KEY's queue.
    private static func queued(_ key: String, _ redis: RedisFixture) -> Int {
        guard let result = try? redlock(["inspect", "--json", key], environment: redis.environment),
              let document = try? JSON.parse(result.stdout) else { return -1 }
        return document["locks"]?[0]?["queue"]?.arrayValue?.count ?? -1
    }

    /// A waiter that appends NAME to $D/order under the lock.
    private static func waiter(_ name: String, _ key: String, _ redis: RedisFixture, _ scratch: TestScratch, options: [String] = []) throws -> RedlockProcess {
        try RedlockProcess(["run", "--wait", "60s"] + options + [key, "--", "sh", "-c", "echo \(name) >> \"$D/order\"; sleep 0.1"],
                           environment: redis.environment.merging(["D": scratch.path]) { $1 })
    }

    @Test func fiveWaitersStartedApartGetTheLockInTheOrderTheyCame() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let token = try Self.hold("deploy", redis)
        var waiters: [RedlockProcess] = []
        for name in ["A", "B", "C", "D", "E"] {
            waiters.append(try Self.waiter(name, "deploy", redis, scratch))
            sleep(milliseconds: 300)
        }
        #expect(eventually { Self.queued("deploy", redis) == 5 })
        #expect(try redlock(["release", "--token", token, "deploy"], environment: redis.environment).status == 0)
        for waiter in waiters { #expect(try waiter.wait(timeout: 30).status == 0) }
        #expect(scratch.read("order") == "A\nB\nC\nD\nE\n")
    }

    @Test func waitingStatusAndInspectShowTheLine() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let token = try Self.hold("deploy", redis)
        let first = try Self.waiter("A", "deploy", redis, scratch, options: ["--order-key", "7"])
        #expect(eventually { Self.queued("deploy", redis) == 1 })
        let second = try Self.waiter("B", "deploy", redis, scratch, options: ["--order-key", "8"])
        #expect(eventually { Self.queued("deploy", redis) == 2 })
        let text = try redlock(["inspect", "deploy"], environment: redis.environment)
        #expect(text.stdout.contains("queue:   2 waiting"), "\(text)")
        #expect(text.stdout.contains("1. ") && text.stdout.contains("pid \(first.pid)") && text.stdout.contains("order key 7"), "\(text)")
        #expect(text.stdout.contains("2. ") && text.stdout.contains("pid \(second.pid)"), "\(text)")
        let document = try JSON.parse(try redlock(["inspect", "--json", "deploy"], environment: redis.environment).stdout)
        let queue = document["locks"]?[0]?["queue"]
        #expect(queue?[0]?["position"]?.intValue == 1)
        #expect(queue?[0]?["pid"]?.intValue == Int(first.pid))
        #expect(queue?[0]?["order_key"]?.intValue == 7)
        #expect(queue?[1]?["pid"]?.intValue == Int(second.pid))
        #expect(queue?[1]?["since"]?.stringValue?.isEmpty == false)
        #expect(try redlock(["release", "--token", token, "deploy"], environment: redis.environment).status == 0)
        let a = try first.wait(timeout: 30)
        let b = try second.wait(timeout: 30)
        #expect(a.stderr.contains("first in line"), "\(a)")
        #expect(b.stderr.contains("2nd in line, behind ") && b.stderr.contains("pid \(first.pid)"), "\(b)")
        // Granted on a quorum, a waiter leaves the line there at once; an instance the round
        // was decided without keeps its entry until the entry's 3 s without a listener pass.
        #expect(eventually(timeout: 5) { Self.queued("deploy", redis) == 0 })
    }

    @Test func killedWaiterLeavesTheLineWithinSecondsAndOneThatGivesUpAtOnce() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let token = try Self.hold("deploy", redis)
        let doomed = try Self.waiter("A", "deploy", redis, scratch)
        #expect(eventually { Self.queued("deploy", redis) == 1 })
        let next = try Self.waiter("B", "deploy", redis, scratch)
        #expect(eventually { Self.queued("deploy", redis) == 2 })
        // First in line, killed: it can never take the lock, and must not block B.
        doomed.signal(SIGKILL)
        _ = try doomed.wait(timeout: 10)
        #expect(eventually(timeout: 5) { Self.queued("deploy", redis) == 1 }, "a dead waiter leaves the line within a few seconds")
        let released = Date()
        #expect(try redlock(["release", "--token", token, "deploy"], environment: redis.environment).status == 0)
        #expect(try next.wait(timeout: 30).status == 0)
        #expect(Date().timeIntervalSince(released) < 8, "served within seconds, not after the dead waiter's entry lifetime")
        #expect(scratch.read("order") == "B\n")

        // A waiter that gives up leaves at once. (First the line empties: an instance that
        // refused B, granted on the others, keeps B's entry for the grace, 3 s.)
        #expect(eventually { Self.queued("deploy", redis) == 0 })
        let again = try Self.hold("deploy", redis)
        let impatient = try redlock(["run", "-q", "--wait", "1s", "deploy", "--", "true"], environment: redis.environment)
        #expect(impatient.status == 75)
        #expect(Self.queued("deploy", redis) == 0, "\((try? redlock(["inspect", "deploy"], environment: redis.environment).stdout) ?? "")")
        _ = again
    }

    /// The first two in line killed together (a CI pipeline cancelled): the third is woken
    /// by nobody (the release is announced to the first, and only the second looked whether
    /// the first was still there), so it must look now and then itself, not only at its
    /// entry's refresh (30 s).
    @Test func theFirstLiveWaiterBehindSeveralKilledOnesIsServedWithinSeconds() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let token = try Self.hold("deploy", redis)
        var doomed: [RedlockProcess] = []
        for (count, name) in ["A", "B"].enumerated() {
            doomed.append(try Self.waiter(name, "deploy", redis, scratch))
            #expect(eventually { Self.queued("deploy", redis) == count + 1 })
        }
        let third = try Self.waiter("C", "deploy", redis, scratch)
        #expect(eventually { Self.queued("deploy", redis) == 3 })
        for waiter in doomed { waiter.signal(SIGKILL) }
        for waiter in doomed { _ = try waiter.wait(timeout: 10) }
        let released = Date()
        #expect(try redlock(["release", "--token", token, "deploy"], environment: redis.environment).status == 0)
        #expect(try third.wait(timeout: 40).status == 0)
        #expect(Date().timeIntervalSince(released) < 15, "served after its own refresh, not within seconds")
        #expect(scratch.read("order") == "C\n")
    }

    /// An entry whose heartbeat lies far in the future (corrupted, or written by someone
    /// hostile: 1e30, inf) counts as no heartbeat: it must not stand first in line forever
    /// (a review found the key impossible to take, and force-release no help).
    @Test func anEntryWithAHeartbeatFromTheFutureDoesNotBlockTheLine() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        for (index, beat) in ["1e30", "inf", "99999999999999"].enumerated() {
            for server in redis.servers {
                _ = try server.client().command("HSET", "{deploy}:queue", "0000000000000000000:0000000000000:poison\(index) - host=x pid=1 user=x", beat)
            }
        }
        let result = try redlock(["run", "--wait", "10s", "deploy", "--", "echo", "ran"], environment: redis.environment)
        #expect(result.status == 0 && result.stdout == "ran\n", "\(result)")
    }

    /// A queue that could not be read is not an empty one: inspect says where it was not
    /// read (a review found an unreadable queue shown as no one waiting).
    @Test func inspectSaysWhereTheQueueCouldNotBeRead() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        for server in redis.servers { _ = try server.client().command("SET", "{deploy}:queue", "not a hash") }
        let text = try redlock(["inspect", "deploy"], environment: redis.environment)
        #expect(text.stdout.contains("queue:   not read on 3 of 3 instances"), "\(text)")
        let json = try JSON.parse(try redlock(["inspect", "--json", "deploy"], environment: redis.environment).stdout)
        #expect(json["locks"]?[0]?["queue_unread"]?.intValue == 3)
    }

    /// A mark that is not a number cannot be compared: 69, saying so, not "fewer answered".
    @Test func aMarkThatIsNotANumberIsSaidSo() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        for server in redis.servers { _ = try server.client().command("SET", "{deploy}:mark", "abc") }
        let result = try redlock(["run", "--if-newer", "5", "deploy", "--", "echo", "ran"], environment: redis.environment)
        #expect(result.status == 69 && result.stdout.isEmpty, "\(result)")
        #expect(result.stderr.contains("not a number on 3 of 3 instances"), "\(result)")
    }

    @Test func orderKeysServeSmallestFirstWhateverTheOrderOfJoining() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let token = try Self.hold("deploy", redis)
        var waiters: [RedlockProcess] = []
        for key in ["30", "10", "20"] {
            waiters.append(try Self.waiter(key, "deploy", redis, scratch, options: ["--order-key", key]))
            #expect(eventually { Self.queued("deploy", redis) == waiters.count })
        }
        #expect(try redlock(["release", "--token", token, "deploy"], environment: redis.environment).status == 0)
        for waiter in waiters { #expect(try waiter.wait(timeout: 30).status == 0) }
        #expect(scratch.read("order") == "10\n20\n30\n")
    }

    @Test func supersededWaiterSkipsNamingTheNewerOne() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let token = try Self.hold("deploy", redis)
        let older = try Self.waiter("old", "deploy", redis, scratch, options: ["--supersede", "--order-key", "41"])
        #expect(eventually { Self.queued("deploy", redis) == 1 })
        let newer = try Self.waiter("new", "deploy", redis, scratch, options: ["--supersede", "--order-key", "42"])
        let skipped = try older.wait(timeout: 15)
        #expect(skipped.status == 75, "\(skipped)")
        let lines = skipped.stderr.split(separator: "\n")
        #expect(lines.last?.hasPrefix("redlock: skipped: ") == true, "\(skipped)")
        #expect(lines.last?.contains("pid \(newer.pid)") == true && lines.last?.contains("order key 42") == true, "\(skipped)")
        #expect(eventually { Self.queued("deploy", redis) == 1 }, "the superseded waiter left the line")
        #expect(try redlock(["release", "--token", token, "deploy"], environment: redis.environment).status == 0)
        #expect(try newer.wait(timeout: 30).status == 0)
        #expect(scratch.read("order") == "new\n")
        // An older waiter that arrives after a newer one is already in line skips too.
        let token2 = try Self.hold("deploy", redis)
        let newest = try Self.waiter("n50", "deploy", redis, scratch, options: ["--supersede", "--order-key", "50"])
        #expect(eventually { Self.queued("deploy", redis) == 1 })
        let late = try redlock(["run", "--wait", "10s", "--supersede", "--order-key", "49", "deploy", "--", "true"], environment: redis.environment)
        #expect(late.status == 75 && late.stderr.contains("redlock: skipped: "), "\(late)")
        #expect(try redlock(["release", "--token", token2, "deploy"], environment: redis.environment).status == 0)
        #expect(try newest.wait(timeout: 30).status == 0)
    }

    /// An equal order key is no newer (SPEC: a larger one supersedes). A waiter with the
    /// same key queued behind does not make it give up; a larger one behind that does.
    @Test func anEqualOrderKeyDoesNotSupersede() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let token = try Self.hold("deploy", redis)
        let first = try Self.waiter("first", "deploy", redis, scratch, options: ["--supersede", "--order-key", "7", "--events", scratch.file("events")])
        #expect(eventually { Self.queued("deploy", redis) == 1 })
        let same = try Self.waiter("same", "deploy", redis, scratch, options: ["--order-key", "7"])
        #expect(eventually { Self.queued("deploy", redis) == 2 })
        // The first waiter's next look (3 s apart, second in line or not) must not skip it.
        sleep(milliseconds: 4000)
        #expect(first.isRunning, "superseded by an equal order key")
        let larger = try Self.waiter("larger", "deploy", redis, scratch, options: ["--order-key", "8"])
        let skipped = try first.wait(timeout: 15)
        #expect(skipped.status == 75 && skipped.stderr.contains("order key 8"), "\(skipped)")
        // --events says so too: COMMAND did not run.
        let last = scratch.read("events")?.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.contains("\"event\":\"skipped\"") && last.contains("\"reason\":\"superseded\"") && last.contains("\"by_order_key\":8"), "\(last)")
        #expect(try redlock(["release", "--token", token, "deploy"], environment: redis.environment).status == 0)
        #expect(try same.wait(timeout: 30).status == 0)
        #expect(try larger.wait(timeout: 30).status == 0)
        #expect(scratch.read("order") == "same\nlarger\n")
    }

    @Test func ifNewerRunsOnlyForALargerNumberAndRecordsOnlySuccess() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let run = { (n: String, command: [String]) throws -> RunResult in
            try redlock(["run", "--if-newer", n, "deploy", "--"] + command, environment: redis.environment)
        }
        #expect(try run("5", ["echo", "five"]).stdout == "five\n")
        let same = try run("5", ["echo", "again"])
        #expect(same.status == 75 && same.stdout.isEmpty, "\(same)")
        #expect(same.stderr.hasPrefix("redlock: skipped: ") && same.stderr.split(separator: "\n").count == 1, "\(same)")
        // A skip is an event, and the lock is released, as for --once.
        let scratch = try TestScratch()
        let older = try redlock(["run", "--if-newer", "4", "--events", scratch.file("events.jsonl"), "deploy", "--", "echo", "older"], environment: redis.environment)
        #expect(older.status == 75 && older.stdout.isEmpty, "\(older)")
        let events = (scratch.read("events.jsonl") ?? "").split(separator: "\n").compactMap { try? JSON.parse(String($0)) }
        #expect(events.map { $0["event"]?.stringValue ?? "" } == ["acquired", "skipped", "released"], "\(events)")
        #expect(events.dropFirst().first?["reason"]?.stringValue == "if_newer" && events.dropFirst().first?["mark"]?.intValue == 5, "\(events)")
        // A failed COMMAND does not move the mark.
        #expect(try run("7", ["false"]).status == 1)
        #expect(try run("6", ["echo", "six"]).stdout == "six\n")
        #expect(try redlock(["run", "-E", "0", "--if-newer", "6", "deploy", "--", "echo", "x"], environment: redis.environment).status == 0)
        // The lock was released after a skip.
        #expect(try redlock(["run", "-n", "deploy", "--", "true"], environment: redis.environment).status == 0)
        // The mark is on every instance that the write reached (all three here).
        for value in redis.commandOnEach("GET", "{deploy}:mark") { #expect(value?.string == "6") }
    }

    @Test func acquireWaitsInLineToo() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let token = try Self.hold("steps", redis)
        let first = try RedlockProcess(["acquire", "--wait", "30s", "steps"], environment: redis.environment)
        #expect(eventually { Self.queued("steps", redis) == 1 })
        let second = try RedlockProcess(["acquire", "--wait", "30s", "steps"], environment: redis.environment)
        #expect(eventually { Self.queued("steps", redis) == 2 })
        #expect(try redlock(["release", "--token", token, "steps"], environment: redis.environment).status == 0)
        let got = try first.wait(timeout: 30)
        #expect(got.status == 0)
        #expect(second.isRunning, "the second waits for the first's release")
        #expect(try redlock(["release", "--token", got.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "steps"], environment: redis.environment).status == 0)
        #expect(try second.wait(timeout: 30).status == 0)
    }

    @Test func noWaitNeverJoinsAndQueueNoneRaces() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        _ = try Self.hold("k", redis)
        #expect(try redlock(["run", "-n", "-q", "k", "--", "true"], environment: redis.environment).status == 75)
        #expect(Self.queued("k", redis) == 0)
        let racer = try RedlockProcess(["run", "--queue", "none", "--wait", "2s", "-q", "k", "--", "true"], environment: redis.environment)
        sleep(milliseconds: 500)
        #expect(Self.queued("k", redis) == 0, "--queue none does not join the line")
        #expect(try racer.wait(timeout: 20).status == 75)
        let bad = try redlock(["run", "--queue", "lifo", "k", "--", "true"], environment: redis.environment)
        #expect(bad.status == 64 && bad.stderr.hasPrefix("redlock: "), "\(bad)")
    }

    /// The queue composes with the reader/writer lock: a writer in line is still the writer
    /// side, so it waits for the shared holders (marking that it waits, so no new one joins),
    /// and the writers behind it keep their order.
    @Test func anExclusiveWaiterInLineWaitsForASharedHolder() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let reader = try redlock(["acquire", "--env", "-s", "--ttl", "60s", "db"], environment: redis.environment)
        #expect(reader.status == 0, "\(reader)")
        let token = reader.stdout.split(separator: "\n").first { $0.hasPrefix("REDLOCK_TOKEN=") }.map { String($0.dropFirst("REDLOCK_TOKEN=".count)) } ?? ""
        let first = try Self.waiter("A", "db", redis, scratch, options: ["--queue", "fifo"])
        #expect(eventually { Self.queued("db", redis) == 1 })
        let second = try Self.waiter("B", "db", redis, scratch)
        #expect(eventually { Self.queued("db", redis) == 2 })
        #expect(eventually { redis.commandOnEach("EXISTS", "{db}:writer").allSatisfy { $0?.int == 1 } }, "the first in line marks that a writer waits")
        // Longer than the mark's TTL: the first in line keeps it up, and nobody gets in.
        for _ in 0..<4 {
            #expect(try redlock(["run", "-n", "-s", "db", "--", "true"], environment: redis.environment).status == 75)
            sleep(milliseconds: 1000)
        }
        #expect(first.isRunning && second.isRunning, "no writer took the lock beside a shared holder")
        #expect(scratch.read("order") == nil || scratch.read("order") == "")
        #expect(redis.commandOnEach("GET", "db").allSatisfy { $0?.string == nil }, "no exclusive holder beside the shared one")
        #expect(try redlock(["release", "--token", token, "db"], environment: redis.environment).status == 0)
        #expect(try first.wait(timeout: 30).status == 0)
        #expect(try second.wait(timeout: 30).status == 0)
        #expect(scratch.read("order") == "A\nB\n")
        // An instance that refused a waiter granted elsewhere keeps its entry for the grace (3 s).
        #expect(eventually { Self.queued("db", redis) == 0 })
    }

    @Test func noWaitDoesNotTakeAFreeLockFromTheFirstInLine() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let token = try Self.hold("deploy", redis)
        let first = try Self.waiter("first", "deploy", redis, scratch)
        #expect(eventually { Self.queued("deploy", redis) == 1 })
        // Stopped, it still listens (its connections stay open): it stays first in line.
        first.signal(SIGSTOP)
        #expect(try redlock(["release", "--token", token, "deploy"], environment: redis.environment).status == 0)
        let jumper = try redlock(["run", "-n", "deploy", "--", "echo", "jumped"], environment: redis.environment)
        #expect(jumper.status == 75 && jumper.stdout.isEmpty, "\(jumper)")
        #expect(jumper.stderr.contains("others are first in line"), "\(jumper)")
        first.signal(SIGCONT)
        #expect(try first.wait(timeout: 30).status == 0)
        #expect(scratch.read("order") == "first\n")
    }

    /// The queue only refuses: with instances restarted empty (queue and lock gone there)
    /// while queued contenders hand the lock around, no two critical sections overlap.
    @Test func queuedContendersNeverOverlapWhileInstancesRestartEmpty() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let run = "\"$R\" run --ttl 1s --restart-grace 1500ms --wait 3s --op-timeout 150ms line -- sh -c '\(OverlapDetector.section())'"
        var restarts = 0
        let record = try OverlapDetector.watch(Array(repeating: run, count: 5), for: 10, redis: redis, scratch: scratch) { end in
            while Date() < end {
                sleep(milliseconds: 1500)
                try redis.servers[restarts % 3].restartEmpty()
                restarts += 1
            }
        }
        #expect(record.overlaps == nil, "critical sections overlapped")
        #expect(record.sections >= 10, "the lock kept changing hands: \(record.sections) sections")
        #expect(record.codes.allSatisfy { [0, 69, 75, 76].contains($0) }, "exit codes of SPEC only: \(record.codes)")
        #expect(restarts >= 4)
    }

    @Test func waitersInLineDoNotPollAndAReleaseWakesOnlyTheFirst() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let token = try Self.hold("held", redis)
        // Load every script first (a first use on a server without it costs an EVALSHA
        // more, after NOSCRIPT): a release, a wait in line that gives up.
        #expect(try redlock(["run", "-n", "warm", "--", "true"], environment: redis.environment).status == 0)
        #expect(try redlock(["run", "-q", "--wait", "300ms", "held", "--", "true"], environment: redis.environment).status == 75)
        var waiters: [RedlockProcess] = []
        for index in 0..<5 {
            waiters.append(try RedlockProcess(["run", "--wait", "60s", "held", "--", "sh", "-c", "echo \(index) >> \"$D/order\"; sleep 1.5"],
                                              environment: redis.environment.merging(["D": scratch.path]) { $1 }))
            #expect(eventually { Self.queued("held", redis) == index + 1 })
        }
        // In line, nobody polls: over 2 s the five send at most the second's looks (every 3 s).
        var before = try redis.servers.map { try $0.callsByCommand() }
        sleep(milliseconds: 2000)
        for (index, server) in redis.servers.enumerated() {
            let after = try server.callsByCommand()
            #expect((after["evalsha"] ?? 0) - (before[index]["evalsha"] ?? 0) <= 1, "\(after)")
        }
        // A release wakes the first alone: the release, its attempt and its leaving, and the
        // second's look every 3 s (then first, it tries once); a herd would be four more
        // attempts at once.
        let windowStart = Date()
        before = try redis.servers.map { try $0.callsByCommand() }
        #expect(try redlock(["release", "--token", token, "held"], environment: redis.environment).status == 0)
        #expect(eventually { scratch.read("order") == "0\n" })
        sleep(milliseconds: 500)
        let looks = Int(Date().timeIntervalSince(windowStart) / 3) + 1
        for (index, server) in redis.servers.enumerated() {
            let after = try server.callsByCommand()
            let sent = { (command: String) in (after[command] ?? 0) - (before[index][command] ?? 0) }
            let changed = after.keys.filter { sent($0) > 0 }.map { "\($0) \(sent($0))" }
            #expect(sent("evalsha") + sent("eval") <= 3 + 2 * looks, "\(changed)")
        }
        for waiter in waiters { #expect(try waiter.wait(timeout: 60).status == 0) }
        #expect(scratch.read("order") == "0\n1\n2\n3\n4\n")
    }

    /// A release lands on the instances one after another. The first in line, woken by the
    /// first instance to let go, must not try before a quorum has: its attempt would be
    /// refused where the holder still stands, undone, and made again (with a fencing
    /// counter to raise), three round trips more on the next holder's way in. So the
    /// hand-off takes one attempt, which its one increment of the fencing counter shows.
    @Test func theFirstInLineTakesTheLockInOneAttemptWhenTheReleaseLandsUnevenly() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let token = try Self.hold("deploy", redis)
        let fences = redis.valuesOf(key: "{deploy}:fence").map { $0?.string.flatMap { Int($0) } }
        #expect(Set(fences).count == 1 && fences[0] != nil, "\(fences)")
        let waiter = try RedlockProcess(["run", "--wait", "30s", "deploy", "--", "sh", "-c", "echo $REDLOCK_FENCING_TOKEN > \"$D/fence\""],
                                        environment: redis.environment.merging(["D": scratch.path]) { $1 })
        // First in line and listening on every instance, asleep until a release.
        #expect(eventually {
            redis.commandOnEach("PUBSUB", "CHANNELS", "redlock:queue:*").allSatisfy { $0?.elements?.count == 1 }
        })
        sleep(milliseconds: 500)
        // The holder's release reaches the first instance at once, the other two 50 ms later.
        let late = try redis.servers.dropFirst().map { try FaultProxy(targetPort: $0.port, mode: .delayRequests(milliseconds: 50)) }
        let urls = ([redis.urls[0]] + late.map(\.url)).joined(separator: ",")
        #expect(try redlock(["release", "--token", token, "deploy"], environment: ["REDLOCK_URLS": urls]).status == 0)
        #expect(try waiter.wait(timeout: 30).status == 0)
        #expect(scratch.read("fence") == "\((fences[0] ?? 0) + 1)\n", "one attempt, one increment of the fencing counter")
        late.forEach { $0.stop() }
    }

    /// Taking the lock in line leaves things to tidy: the subscriptions, and where the
    /// deciding round went on without an instance, our entry there (a round that waits for
    /// that instance). Both wait until COMMAND has started: a stalled instance must not hold
    /// back the next holder's COMMAND by its timeouts.
    @Test func aStalledInstanceDoesNotHoldBackTheNextHoldersCommand() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let token = try Self.hold("deploy", redis)
        let proxy = try FaultProxy(targetPort: redis.servers[2].port)
        let urls = (redis.urls.prefix(2) + [proxy.url]).joined(separator: ",")
        let waiter = try RedlockProcess(["run", "--wait", "30s", "--connect-timeout", "4s", "--op-timeout", "4s", "deploy", "--", "sh", "-c", "touch \"$D/started\""],
                                        environment: ["REDLOCK_URLS": urls, "D": scratch.path])
        #expect(eventually {
            redis.commandOnEach("PUBSUB", "CHANNELS", "redlock:queue:*").allSatisfy { $0?.elements?.count == 1 }
        })
        sleep(milliseconds: 500)
        proxy.mode = .stall
        #expect(try redlock(["release", "--token", token, "deploy"], environment: redis.environment).status == 0)
        #expect(eventually(timeout: 2.5) { scratch.read("started") != nil }, "COMMAND started without waiting out the stalled instance's 4 s")
        _ = try waiter.wait(timeout: 30)
        proxy.stop()
    }
}
