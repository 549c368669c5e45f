import Foundation
import Glibc
import Testing

/// Rounds end when their outcome is decided, and an outage is told apart from a busy lock:
/// a hung instance costs nothing, unreachable servers end a wait, a missed release is said.
@Suite struct DecidedRoundTests {
    @Test func hungInstanceDoesNotSlowARun() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        redis.servers[0].pause()
        defer { redis.servers[0].resume() }
        let started = Date()
        let result = try redlock(["run", "--op-timeout", "2s", "--connect-timeout", "2s", "k", "--", "true"], environment: redis.environment)
        let elapsed = Date().timeIntervalSince(started)
        #expect(result.status == 0, "\(result)")
        // Waiting out the timeouts would take at least 2 s per round (acquire and release):
        // a round decided by the two live instances ends long before.
        #expect(elapsed < 1.5, "took \(elapsed) s: a round waited for the hung instance")
        #expect(redis.servers[1...].allSatisfy { server in (try? server.client().command("EXISTS", "k").int) == 0 })
    }

    /// Runs `redlock -v ARGUMENTS` against three servers, the third paused throughout
    /// (`prepare` first sets up the others); the result, the paused one's address and
    /// stderr's lines.
    private func verboseWithTheThirdHung(_ arguments: [String], prepare: (RedisFixture) throws -> Void = { _ in }) throws -> (RunResult, String, [Substring]) {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        try prepare(redis)
        redis.servers[2].pause()
        defer { redis.servers[2].resume() }
        let result = try redlock(["-v"] + arguments, environment: redis.environment)
        return (result, "127.0.0.1:\(redis.servers[2].port)", result.stderr.split(separator: "\n"))
    }

    /// `-v` says what a decided round did about an instance it went on without: not waited
    /// for, and why, rather than "timed out" after a millisecond. The acquire gave the hung
    /// instance its grace; the release, which would wait for every instance, does not wait
    /// for one that has not answered the acquire yet.
    @Test func anInstanceTheRoundWentOnWithoutIsSaidNotWaitedFor() throws {
        let (result, hung, lines) = try verboseWithTheThirdHung(["run", "--op-timeout", "5s", "k", "--", "true"])
        #expect(result.status == 0, "\(result)")
        #expect(lines.contains { $0.hasPrefix("redlock: acquire") && $0.contains("\(hung) not waited for (the others decided the round first) after ") },
                "\(result.stderr)")
        #expect(lines.contains { $0.hasPrefix("redlock: release: ") && $0.contains("\(hung) not waited for (no reply yet to an earlier request) after ") },
                "\(result.stderr)")
        #expect(!result.stderr.contains("timed out"), "\(result.stderr)")
    }

    /// A waiter's own rounds in the line (a look, a leave) go on without a hung instance
    /// once a quorum answered: each cost the whole timeout before, and a waiter giving up
    /// at its --wait deadline overran it by seconds (2 s took 5.3).
    @Test func theLinesRoundsDoNotWaitForAHungInstance() throws {
        let (result, hung, lines) = try verboseWithTheThirdHung(["run", "-w", "2s", "k", "--", "true"]) { redis in
            for server in redis.servers.prefix(2) { _ = try server.client().command("SET", "k", "busy", "PX", "60000") }
        }
        #expect(result.status == 75, "\(result)")
        for label in ["queuePosition", "leaveQueue"] {
            let rounds = lines.filter { $0.hasPrefix("redlock: \(label): ") }
            #expect(!rounds.isEmpty && rounds.allSatisfy { $0.contains("\(hung) not waited for") }, "\(label): \(result.stderr)")
        }
    }

    /// inspect's later rounds (the queue) go on without an instance that did not answer the
    /// first: one hung instance cost inspect a timeout per round (2.25 s at the defaults).
    @Test func inspectWaitsForAHungInstanceOnce() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        redis.servers[2].pause()
        defer { redis.servers[2].resume() }
        let result = try redlock(["inspect", "k"], environment: redis.environment)
        let hung = "127.0.0.1:\(redis.servers[2].port)"
        #expect(result.stdout.contains("queue:   not read on 1 of 3 instances (\(hung): not waited for"), "\(result)")
    }

    /// A release decided by two instances still waits for the third, which answered the
    /// acquire and is only slower now: an abandoned release can go down with its connection,
    /// and the key would stay there until its TTL. When redlock exits, the key is gone from
    /// every instance that answers.
    @Test func aReleaseWaitsForASlowerInstanceThatAnsweredTheAcquire() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let proxy = try FaultProxy(targetPort: redis.servers[2].port)
        let scratch = try TestScratch()
        let urls = [redis.servers[0].url, redis.servers[1].url, proxy.url].joined(separator: " ")
        let process = try RedlockProcess(["-v", "run", "k", "--", "sh", "-c", "touch \"$D/up\"; while [ ! -e \"$D/go\" ]; do sleep 0.02; done"],
                                         environment: ["REDLOCK_URLS": urls, "D": scratch.path])
        #expect(eventually { scratch.exists("up") })
        // From now on the third instance gets requests 40 ms late (within --op-timeout).
        proxy.mode = .delayRequests(milliseconds: 40)
        #expect(FileManager.default.createFile(atPath: scratch.file("go"), contents: nil))
        let result = try process.wait(timeout: 20)
        #expect(result.status == 0, "\(result)")
        #expect(redis.servers[0...1].allSatisfy { server in (try? server.client().command("EXISTS", "k").int) == 0 })
        // The property is about an instance that answered the acquire round (-v says "ok");
        // on a loaded machine the round may have been decided before it answered, and an
        // instance that did not answer the round before is not waited for (a hung one).
        let answeredAcquire = result.stderr.split(separator: "\n").contains { line in
            line.hasPrefix("redlock: acquire") && line.contains("127.0.0.1:\(proxy.port) ok in")
        }
        if answeredAcquire {
            #expect((try? redis.servers[2].client().command("EXISTS", "k").int) == 0,
                    "the key stayed on an instance that answered the acquire and was only slower: \(result.stderr)")
        }
    }

    /// An instance slower than the others is left behind by the decided acquire round, and
    /// its request still runs there (the FaultProxy delivers what a client sent before it
    /// hung up, as TCP does). The release must follow it there, or the key stays until its
    /// TTL. With the third instance 40 ms late from the start, when redlock has exited, the
    /// acquire has run on all three and the key is on none.
    @Test func aReleaseFollowsTheAcquireToAnInstanceTheRoundLeftBehind() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let proxy = try FaultProxy(targetPort: redis.servers[2].port, mode: .delayRequests(milliseconds: 40))
        let urls = [redis.servers[0].url, redis.servers[1].url, proxy.url].joined(separator: " ")
        let result = try redlock(["run", "left-behind", "--", "true"], environment: ["REDLOCK_URLS": urls])
        #expect(result.status == 0, "\(result)")
        let third = try redis.servers[2].client()
        #expect(eventually(timeout: 5) { (try? third.command("GET", "{left-behind}:fence"))?.string == "1" }, "the acquire never reached the third instance")
        #expect(eventually(timeout: 5) { (try? third.command("EXISTS", "left-behind").int) == 0 }, "the key stayed on the instance the acquire round left behind")
        #expect(redis.servers[0...1].allSatisfy { server in (try? server.client().command("EXISTS", "left-behind").int) == 0 })
    }

    /// The round that leaves an instance behind keeps its connection: the release follows the
    /// acquire on it (no connection could overtake it there), and the late reply is read and
    /// dropped. The third instance, 40 ms late, sees one connection for the whole run, where
    /// closing it cost a second connection and a second handshake for the release.
    @Test func theInstanceLeftBehindKeepsItsConnection() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let proxy = try FaultProxy(targetPort: redis.servers[2].port, mode: .delayRequests(milliseconds: 40))
        let admin = try redis.servers[2].client()
        func connectionsSoFar() throws -> Int? {
            let info = try admin.command("INFO", "stats").string ?? ""
            let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("total_connections_received:") }
            return line.flatMap { Int($0.split(separator: ":")[1]) }
        }
        let before = try #require(try connectionsSoFar())
        let urls = [redis.servers[0].url, redis.servers[1].url, proxy.url].joined(separator: " ")
        let result = try redlock(["run", "kept", "--", "true"], environment: ["REDLOCK_URLS": urls])
        #expect(result.status == 0, "\(result)")
        #expect(eventually(timeout: 5) { (try? admin.command("GET", "{kept}:fence"))?.string == "1" }, "the acquire never reached the third instance")
        #expect(eventually(timeout: 5) { (try? admin.command("EXISTS", "kept").int) == 0 }, "the key stayed on the instance the acquire round left behind")
        #expect(try connectionsSoFar() == before + 1, "redlock connected to the instance it left behind more than once")
    }

    /// An instance a little slower than the others (5 ms) that misses one renewal (stopped
    /// for longer than --op-timeout) is waited for again as soon as it has answered: the
    /// renewals after it and the release reach all three. Before, once it had missed a
    /// round it was let go in every decided round for the rest of the run, and the lease
    /// stood on a bare quorum ("released on 2 of 3").
    @Test func anInstanceThatMissedARenewalIsWaitedForAgainOnceItAnswers() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let proxy = try FaultProxy(targetPort: redis.servers[2].port, mode: .delay(milliseconds: 5))
        let urls = [redis.servers[0].url, redis.servers[1].url, proxy.url].joined(separator: " ")
        let process = try RedlockProcess(["-v", "--op-timeout", "300ms", "run", "--ttl", "3s", "k", "--", "sleep", "6"],
                                         environment: ["REDLOCK_URLS": urls])
        Thread.sleep(forTimeInterval: 0.5)
        redis.servers[2].pause()
        Thread.sleep(forTimeInterval: 1.2)
        redis.servers[2].resume()
        let result = try process.wait(timeout: 30)
        #expect(result.status == 0, "\(result)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("redlock: extend:") && $0.contains("failed") }, "no renewal missed the stopped instance: \(result.stderr)")
        #expect(lines.contains { $0.hasPrefix("redlock: released 'k' on 3 of 3") }, "the release left the instance out: \(result.stderr)")
    }

    /// An acquire round ends once a quorum granted, so an instance can be left without the
    /// key: here the third still holds another client's key, which expires 1.5 s later. The
    /// renewals take the lock there once it is free, so the lock survives the loss of an
    /// instance it was first taken on. Before, the lease stood on the first two for its
    /// whole life, and the death of one of them ended COMMAND (76) with a healthy third.
    @Test func renewalsTakeTheLockWhereTheAcquireLeftAnInstanceBehind() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        #expect(try redis.servers[2].client().command("SET", "k", "another client's key", "PX", "1500").string == "OK")
        var environment = redis.environment
        environment["D"] = scratch.path
        let process = try RedlockProcess(["run", "--ttl", "3s", "k", "--", "sh", "-c", "touch \"$D/up\"; while [ ! -e \"$D/go\" ]; do sleep 0.05; done"],
                                         environment: environment)
        #expect(eventually { scratch.exists("up") })
        let ours = try redis.servers[0].client().command("GET", "k")
        #expect(ours.string?.hasPrefix("redlock1 ") == true, "\(ours)")
        // Renewed every second: the third holds our value within a renewal of the expiry.
        // The same value there, fencing token included, and the counter raised to it.
        #expect(eventually(timeout: 6) { (try? redis.servers[2].client().command("GET", "k")) == ours },
                "the third instance never got the lock: \(redis.valuesOf(key: "k"))")
        let fence = ours.string.flatMap { $0.split(separator: "=").last }.flatMap { Int64($0) }
        let counter = try redis.servers[2].client().command("GET", "{k}:fence").string.flatMap { Int64($0) }
        #expect(fence != nil && counter == fence, "value's fence \(String(describing: fence)), counter \(String(describing: counter))")
        redis.servers[0].kill()
        // Two renewals later the lock still stands, on the second and the third.
        Thread.sleep(forTimeInterval: 2.5)
        #expect(FileManager.default.createFile(atPath: scratch.file("go"), contents: nil))
        let result = try process.wait(timeout: 20)
        #expect(result.status == 0, "COMMAND was stopped although two of three instances held the lock: \(result)")
    }

    /// A new connection loads the script in the same write as its EVALSHA, so a server that
    /// has not cached the script yet (new, or restarted) is done in one round trip, and even
    /// when the round is decided without its reply. Here the third server is paused through
    /// the acquire round: its request waits in the socket, and it runs it when it resumes.
    /// By SHA1 alone it answered NOSCRIPT, to a connection closed long before: the key never
    /// got there (the renewals would take it only a third of the TTL later).
    @Test func aRoundDecidedWithoutAServerThatNeverSawTheScriptStillReachesIt() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        var environment = redis.environment
        environment["D"] = scratch.path
        redis.servers[2].pause()
        let process = try RedlockProcess(["run", "--ttl", "60s", "k", "--", "sh", "-c", "touch \"$D/up\"; while [ ! -e \"$D/go\" ]; do sleep 0.05; done"],
                                         environment: environment)
        #expect(eventually { scratch.exists("up") })
        redis.servers[2].resume()
        let ours = try redis.servers[0].client().command("GET", "k")
        #expect(ours.string?.hasPrefix("redlock1 ") == true, "\(ours)")
        #expect(eventually(timeout: 5) { (try? redis.servers[2].client().command("GET", "k")) == ours },
                "the paused server did not take the lock when it resumed: \(redis.valuesOf(key: "k"))")
        #expect(FileManager.default.createFile(atPath: scratch.file("go"), contents: nil))
        #expect(try process.wait(timeout: 20).status == 0)
    }

    @Test func hungInstanceDoesNotStarveRenewals() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        redis.servers[2].pause()
        defer { redis.servers[2].resume() }
        // Renewed every 500 ms; a round that waited for the hung instance would run into its
        // timeouts (a new connection to it: 2 s to connect, 500 ms to answer), past the 1.5 s
        // lease: the lock would never be valid when taken (before this change redlock kept
        // trying until killed) or lost when renewed (76). The TTL is the shortest that
        // --op-timeout 500ms allows (3 x op-timeout).
        let result = try redlock(["run", "--ttl", "1500ms", "--op-timeout", "500ms", "--connect-timeout", "2s", "k", "--", "sleep", "3"], environment: redis.environment, timeout: 20)
        #expect(result.status == 0, "\(result)")
    }

    @Test func noQuorumGivesUpAfterTheUnreachableTimeout() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        redis.servers[1].kill()
        redis.servers[2].kill()
        let process = try RedlockProcess(["run", "--unreachable-timeout", "1s", "k", "--", "echo", "ran"], environment: redis.environment)
        let result = try process.wait(timeout: 15)
        #expect(result.status == 69, "\(result)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.split(separator: "\n").last?.hasPrefix("redlock: ") == true)
        #expect(result.stderr.contains("127.0.0.1:\(redis.servers[1].port)"))
    }

    @Test func unreachableTimeoutIsAUsableOption() throws {
        let bad = try redlock(["run", "--unreachable-timeout", "soon", "k", "--", "true"])
        #expect(bad.status == 64)
        let help = try redlock(["run", "--help"])
        #expect(help.stdout.contains("--unreachable-timeout"))
    }

    /// A lock key (or its queue) of another type on a quorum: every attempt would meet the
    /// WRONGTYPE again, so a wait ends at once (69), saying so, instead of retrying until
    /// its deadline (a review's finding: 20 s of --wait).
    @Test func aKeyOfAnotherTypeEndsAWaitAtOnce() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        for server in redis.servers { _ = try server.client().command("HSET", "k", "field", "value") }
        let started = Date()
        let result = try redlock(["run", "--wait", "20s", "k", "--", "true"], environment: redis.environment)
        #expect(result.status == 69, "\(result)")
        #expect(result.stderr.contains("refused, as they would every time") && result.stderr.contains("not a string"), "\(result)")
        #expect(Date().timeIntervalSince(started) < 10, "waited for the deadline")
    }

    @Test func permanentFailuresEndAWaitAtOnce() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3, extraArgs: ["--requirepass", "right-secret-2"])
        let wrong = redis.servers.map { $0.url(password: "wrong-secret") }.joined(separator: ",")
        let started = Date()
        let process = try RedlockProcess(["run", "k", "--", "true"], environment: ["REDLOCK_URLS": wrong])
        let result = try process.wait(timeout: 15)
        #expect(result.status == 77, "\(result)")
        #expect(Date().timeIntervalSince(started) < 5)
    }

    @Test func tooYoungInstancesMakeTheLockUnavailableNotBusy() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let once = try redlock(["run", "-n", "--restart-grace", "1h", "k", "--", "echo", "ran"], environment: redis.environment)
        #expect(once.status == 69, "\(once)")
        #expect(once.stdout.isEmpty)
        #expect(once.stderr.contains("restart-grace"))
        let quiet = try redlock(["run", "-n", "-E", "0", "--restart-grace", "1h", "k", "--", "echo", "ran"], environment: redis.environment)
        #expect(quiet.status == 69, "-E 0 silences a busy lock, not an outage: \(quiet)")
        #expect(quiet.stderr.hasPrefix("redlock: "))
        let waited = try redlock(["run", "-w", "1s", "--restart-grace", "1h", "k", "--", "echo", "ran"], environment: redis.environment)
        #expect(waited.status == 69, "\(waited)")
        #expect(redis.valuesOf(key: "k").allSatisfy { $0 == nil || $0?.string == nil }, "nothing left behind")
    }

    @Test func releaseThatMissesAQuorumIsReported() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let pids = redis.servers.prefix(2).compactMap(\.pid).map(String.init).joined(separator: " ")
        defer { redis.servers.prefix(2).forEach { kill($0.pid ?? 0, SIGCONT) } }
        let result = try redlock(["run", "--op-timeout", "200ms", "--ttl", "20s", "k", "--", "sh", "-c", "kill -STOP \(pids); exit 7"], environment: redis.environment)
        #expect(result.status == 7, "COMMAND's status, whatever the release: \(result)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("redlock: "), "\(result.stderr)")
        #expect(result.stderr.contains("127.0.0.1:\(redis.servers[0].port)") && result.stderr.contains("127.0.0.1:\(redis.servers[1].port)"))
        #expect(result.stderr.contains("20s") || result.stderr.contains("19s"), "how long the key may stay: \(result.stderr)")
    }
}
