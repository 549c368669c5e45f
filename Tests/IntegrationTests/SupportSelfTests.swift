// Tests of the integration-test support code itself, against real redis-server processes.
//
// If the oracle client, the server fixture or the fault proxy were wrong, every
// integration test built on them would be meaningless, so they are checked here first.

import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("Support: Redis fixture and RESP client")
struct RedisSupportSelfTests {
    @Test func fixtureStartsThreeServersThatAnswerPing() throws {
        try RedisServer.requireAvailable()
        let fixture = try RedisFixture(count: 3)
        #expect(fixture.count == 3)
        #expect(Set(fixture.servers.map(\.port)).count == 3)
        for server in fixture.servers {
            #expect(try server.client().command("PING") == .simple("PONG"))
            #expect(server.url == "redis://127.0.0.1:\(server.port)")
        }
        #expect(fixture.urlList == fixture.urls.joined(separator: ","))
        #expect(fixture.environment == ["REDLOCK_URLS": fixture.urlList])
    }

    @Test func setGetRoundTripsAndFixtureReads() throws {
        let fixture = try RedisFixture(count: 2)
        let client = try fixture[0].client()
        #expect(try client.command("SET", "k", "v", "PX", "60000") == .simple("OK"))
        #expect(try client.command("GET", "k") == .bulk("v"))
        #expect(try client.command("GET", "missing") == .null)
        #expect(try client.command("INCRBY", "n", "41").int == 41)
        #expect(try client.command("NOSUCHCOMMAND").isError)
        let binary: [UInt8] = [0, 13, 10, 255, 36]
        #expect(try client.command(arguments: [Array("SET".utf8), Array("b".utf8), binary]) == .simple("OK"))
        #expect(try client.command("GET", "b") == .bulk(binary))
        #expect(try client.command("MGET", "k", "missing") == .array([.bulk("v"), .null]))
        #expect(try client.command("GET", "k").string == "v")

        #expect(fixture.valuesOf(key: "k") == [.bulk("v"), .null])
        let ttls = fixture.pttlOf(key: "k")
        #expect((ttls[0] ?? 0) > 50_000 && (ttls[0] ?? 0) <= 60_000)
        #expect(ttls[1] == -2)
    }

    @Test func passwordProtectedServer() throws {
        let server = try RedisServer.started(extraArgs: ["--requirepass", "s3cret"])
        #expect(server.password == "s3cret")
        #expect(try server.client().command("PING") == .simple("PONG"))
        let anonymous = try RESPClient(port: server.port)
        #expect(try anonymous.command("PING").errorMessage?.hasPrefix("NOAUTH") == true)
        #expect(throws: RESPClientError.self) { try RESPClient(port: server.port, password: "wrong") }
        #expect(server.url(password: "s3cret") == "redis://:s3cret@127.0.0.1:\(server.port)")
    }

    @Test func extraArgsReachTheServer() throws {
        let server = try RedisServer.started(extraArgs: ["--maxmemory-policy", "volatile-lru"])
        let reply = try server.client().command("CONFIG", "GET", "maxmemory-policy")
        #expect(reply == .array([.bulk("maxmemory-policy"), .bulk("volatile-lru")]))
    }

    @Test func badArgumentsFailWithTheServersMessage() throws {
        let server = try RedisServer(extraArgs: ["--no-such-option", "1"])
        #expect {
            try server.start()
        } throws: { error in
            "\(error)".contains("failed to start") && "\(error)".contains("no-such-option")
        }
    }

    @Test func killThenRestartEmptyKeepsThePort() throws {
        let fixture = try RedisFixture(count: 1)
        let server = fixture[0]
        let port = server.port
        let firstPID = server.pid
        try server.client().command("SET", "k", "v")
        server.kill()
        #expect(!server.isRunning)
        #expect(fixture.valuesOf(key: "k") == [nil])
        #expect(fixture.pttlOf(key: "k") == [nil])
        try server.restartEmpty()
        #expect(server.port == port)
        #expect(server.pid != firstPID)
        #expect(try server.client().command("GET", "k") == .null)
        #expect(try server.client().command("DBSIZE") == .integer(0))

        // restartEmpty on a running server works as well.
        try server.client().command("SET", "k2", "v")
        try server.restartEmpty()
        #expect(server.port == port)
        #expect(try server.client().command("DBSIZE") == .integer(0))
    }

    @Test func pauseMakesTheServerSilentAndResumeRevivesIt() throws {
        let server = try RedisServer.started()
        let client = try server.client()  // connected before the pause
        server.pause()
        #expect(server.isPaused)
        let start = Date()
        #expect(throws: RESPClientError.self) { try RESPClient(port: server.port, timeout: 0.3).command("PING") }
        #expect(Date().timeIntervalSince(start) < 3)
        server.resume()
        #expect(try client.command("PING") == .simple("PONG"))
    }

    @Test func deinitStopsTheServerAndRemovesItsDirectory() throws {
        var server: RedisServer? = try RedisServer.started()
        let pid = try #require(server?.pid)
        let dir = try #require(server?.directory)
        server?.pause()  // deinit must cope with a stopped process
        server = nil
        #expect(sendSignal(pid, 0) != 0)  // the process is gone (and reaped)
        #expect(!FileManager.default.fileExists(atPath: dir.path))
    }

    @Test func freePortIsBindable() throws {
        let port = try freeLoopbackPort()
        #expect(port > 0)
        let server = try RedisServer.started(port: port)
        #expect(server.port == port)
    }
}

@Suite("Support: fault proxy")
struct FaultProxySelfTests {
    @Test func passForwardsRequestsAndReplies() throws {
        let server = try RedisServer.started()
        let proxy = try FaultProxy(targetPort: server.port)
        #expect(proxy.url == "redis://127.0.0.1:\(proxy.port)")
        let client = try RESPClient(port: proxy.port)
        #expect(try client.command("PING") == .simple("PONG"))
        #expect(try client.command("SET", "k", "through-proxy") == .simple("OK"))
        #expect(try server.client().command("GET", "k") == .bulk("through-proxy"))
        // A reply larger than one read chunk.
        let big = String(repeating: "x", count: 300_000)
        #expect(try client.command("SET", "big", big) == .simple("OK"))
        #expect(try client.command("GET", "big").string == big)
        #expect(proxy.acceptedConnections == 1)
    }

    @Test func delayHoldsRepliesBack() throws {
        let server = try RedisServer.started()
        let proxy = try FaultProxy(targetPort: server.port, mode: .delay(milliseconds: 200))
        let client = try RESPClient(port: proxy.port)
        let start = DispatchTime.now().uptimeNanoseconds
        #expect(try client.command("PING") == .simple("PONG"))
        let elapsedMs = (DispatchTime.now().uptimeNanoseconds - start) / 1_000_000
        #expect(elapsedMs >= 200)
    }

    @Test func delayRequestsHoldsRequestsBack() throws {
        let server = try RedisServer.started()
        let proxy = try FaultProxy(targetPort: server.port, mode: .delayRequests(milliseconds: 200))
        let client = try RESPClient(port: proxy.port)
        let start = DispatchTime.now().uptimeNanoseconds
        #expect(try client.command("SET", "k", "proxied") == .simple("OK"))
        let elapsedMs = (DispatchTime.now().uptimeNanoseconds - start) / 1_000_000
        #expect(elapsedMs >= 200)
        #expect(try server.client().command("GET", "k") == .bulk("proxied"))
    }

    @Test func garbageIsNotAValidReply() throws {
        let server = try RedisServer.started()
        let proxy = try FaultProxy(targetPort: server.port, mode: .garbage)
        let client = try RESPClient(port: proxy.port, timeout: 2)
        do {
            let reply = try client.command("PING")
            Issue.record("expected a protocol error, got \(reply)")
        } catch let error as RESPClientError {
            guard case .protocolViolation = error else {
                Issue.record("expected a protocol violation, got \(error)")
                return
            }
        }
        // The garbage never reached the server as a command, nor was the PING forwarded.
        #expect(try server.client().command("DBSIZE") == .integer(0))
    }

    @Test func stallNeverAnswers() throws {
        let server = try RedisServer.started()
        let proxy = try FaultProxy(targetPort: server.port, mode: .stall)
        let client = try RESPClient(port: proxy.port, timeout: 0.3)
        let start = Date()
        #expect {
            try client.command("SET", "k", "v")
        } throws: { error in
            if case RESPClientError.timedOut = error { return true }
            return false
        }
        #expect(Date().timeIntervalSince(start) >= 0.25)
        #expect(try server.client().command("EXISTS", "k") == .integer(0))  // never forwarded
    }

    @Test func cutMidReplyClosesHalfwayThroughTheReply() throws {
        let server = try RedisServer.started()
        try server.client().command("SET", "k", String(repeating: "v", count: 1000))
        let proxy = try FaultProxy(targetPort: server.port, mode: .cutMidReply)
        let client = try RESPClient(port: proxy.port, timeout: 2)
        #expect {
            try client.command("GET", "k")
        } throws: { error in
            if case RESPClientError.connectionClosed = error { return true }
            return false
        }
        // The request itself was forwarded: a write through a cut proxy takes effect.
        let writer = try RESPClient(port: proxy.port, timeout: 2)
        #expect(throws: RESPClientError.self) { try writer.command("SET", "written", "yes") }
        #expect(try server.client().command("GET", "written") == .bulk("yes"))
    }

    @Test func modeCanBeSwitchedWhileConnected() throws {
        let server = try RedisServer.started()
        let proxy = try FaultProxy(targetPort: server.port)
        let client = try RESPClient(port: proxy.port, timeout: 0.3)
        #expect(try client.command("PING") == .simple("PONG"))
        proxy.mode = .stall
        #expect(proxy.mode == .stall)
        #expect(throws: RESPClientError.self) { try client.command("PING") }
        proxy.mode = .pass
        let fresh = try RESPClient(port: proxy.port, timeout: 2)
        #expect(try fresh.command("PING") == .simple("PONG"))
    }

    @Test func servesManyConcurrentClients() throws {
        let server = try RedisServer.started()
        let proxy = try FaultProxy(targetPort: server.port, mode: .delay(milliseconds: 100))
        let failures = Counter()
        let group = DispatchGroup()
        let start = Date()
        for i in 0..<8 {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    let client = try RESPClient(port: proxy.port)
                    for j in 0..<3 {
                        let reply = try client.command("SET", "k\(i)-\(j)", "v")
                        if reply != .simple("OK") { failures.increment() }
                    }
                } catch {
                    failures.increment()
                }
            }.start()
        }
        #expect(group.wait(timeout: .now() + 20) == .success)
        #expect(failures.value == 0)
        // 8 clients x 3 sequential round trips of >= 100 ms each: concurrent, so well under 2.4 s.
        #expect(Date().timeIntervalSince(start) < 2.0)
        #expect(proxy.acceptedConnections == 8)
        #expect(try server.client().command("DBSIZE") == .integer(24))
    }

    @Test func deadTargetAndStop() throws {
        let server = try RedisServer.started()
        let proxy = try FaultProxy(targetPort: server.port)
        let client = try RESPClient(port: proxy.port, timeout: 2)
        #expect(try client.command("PING") == .simple("PONG"))
        server.kill()
        #expect(throws: RESPClientError.self) { try client.command("PING") }
        #expect(throws: (any Error).self) { try RESPClient(port: proxy.port, timeout: 2).command("PING") }
        proxy.dropConnections()
        proxy.stop()
        proxy.stop()  // idempotent
        #expect(throws: SocketError.self) { try RESPClient(port: proxy.port, timeout: 1) }
    }
}

@Suite("Support: process runner, polling, JSON")
struct RunnerSelfTests {
    let sh = URL(fileURLWithPath: "/bin/sh")

    @Test func capturesStatusStdoutAndStderr() throws {
        let run = try RedlockProcess(executable: sh, ["-c", "echo out; echo err >&2; exit 3"]).wait(timeout: 10)
        #expect(run.status == 3)
        #expect(run.stdout == "out\n")
        #expect(run.stderr == "err\n")
        #expect(!run.outputStillOpen)
    }

    @Test func reportsDeathBySignalAs128PlusN() throws {
        let process = try RedlockProcess(executable: sh, ["-c", "echo started; exec sleep 30"])
        #expect(eventually(timeout: 5) { process.stdoutSoFar == "started\n" })
        process.signal(SIGTERM)
        let run = try process.wait(timeout: 10)
        #expect(run.status == 128 + SIGTERM)
        #expect(try process.wait() == run)  // cached
    }

    @Test func childStartsWithNoBlockedOrIgnoredSignals() throws {
        // Test worker threads block most signals; a child must not inherit that mask, or it
        // would never see the SIGTERM/SIGINT a test sends it.
        let run = try RedlockProcess(executable: sh, ["-c", "grep -E '^Sig(Blk|Ign)' /proc/self/status"]).wait(timeout: 10)
        let fields = Dictionary(uniqueKeysWithValues: run.stdout.split(separator: "\n").map { line in
            let parts = line.split(separator: ":", maxSplits: 1)
            return (String(parts[0]), UInt64(parts[1].trimmingCharacters(in: .whitespaces), radix: 16) ?? .max)
        })
        #expect(fields["SigBlk"] == 0)
        let standardSignals: UInt64 = (1 << 31) - 1  // 1...31 (glibc reserves 32 and 33)
        #expect(fields["SigIgn"].map { $0 & standardSignals } == 0)
    }

    @Test func environmentIsScrubbedAndMerged() throws {
        let base = RedlockBinary.environment(merging: [:])
        #expect(Set(base.keys).isSubset(of: Set(RedlockBinary.inheritedVariables)))
        #expect(!base.keys.contains { $0.hasPrefix("REDLOCK_") })
        let run = try RedlockProcess(executable: sh, ["-c", "env"], environment: ["REDLOCK_URLS": "redis://x:1"]).wait(timeout: 10)
        let lines = Set(run.stdout.split(separator: "\n").map(String.init))
        #expect(lines.contains("REDLOCK_URLS=redis://x:1"))
        let names = Set(lines.compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) })
        // sh itself may add PWD, SHLVL and _.
        #expect(names.isSubset(of: Set(RedlockBinary.inheritedVariables + ["REDLOCK_URLS", "PWD", "SHLVL", "_"])))
    }

    @Test func stdinModes() throws {
        let fromNull = try RedlockProcess(executable: sh, ["-c", "cat; echo done"]).wait(timeout: 10)
        #expect(fromNull.stdout == "done\n")

        let fromText = try RedlockProcess(executable: sh, ["-c", "cat"], stdin: .text("a\nb\n")).wait(timeout: 10)
        #expect(fromText.stdout == "a\nb\n")

        let piped = try RedlockProcess(executable: sh, ["-c", "while read l; do echo \"got $l\"; done"], stdin: .pipe)
        try piped.writeStdin("one\n")
        #expect(eventually(timeout: 5) { piped.stdoutSoFar == "got one\n" })
        try piped.writeStdin("two\n")
        piped.closeStdin()
        #expect(throws: RedlockRunError.self) { try piped.writeStdin("late\n") }
        #expect(try piped.wait(timeout: 10).stdout == "got one\ngot two\n")

        // Writing to a child that closed its stdin throws instead of killing us with SIGPIPE.
        let closer = try RedlockProcess(executable: sh, ["-c", "exec 0<&-; echo closed; exec sleep 5"], stdin: .pipe)
        #expect(eventually(timeout: 5) { closer.stdoutSoFar == "closed\n" })
        #expect(throws: (any Error).self) { try closer.writeStdin(String(repeating: "x", count: 100_000)) }
        closer.signal(SIGKILL)
        #expect(try closer.wait(timeout: 10).status == 128 + SIGKILL)
    }

    @Test func largeOutputOnBothStreamsDoesNotDeadlock() throws {
        let script = "head -c 1000000 /dev/zero | tr '\\0' a; head -c 1000000 /dev/zero | tr '\\0' b >&2"
        let run = try RedlockProcess(executable: sh, ["-c", script]).wait(timeout: 30)
        #expect(run.status == 0)
        #expect(run.stdout.utf8.count == 1_000_000)
        #expect(run.stderr.utf8.count == 1_000_000)
    }

    @Test func timeoutKillsAndThrows() throws {
        let start = Date()
        let process = try RedlockProcess(executable: sh, ["-c", "echo before; sleep 30; echo after"])
        #expect {
            try process.wait(timeout: 0.5)
        } throws: { error in
            guard case let RedlockRunError.timedOut(_, _, partial) = error else { return false }
            return partial.stdout == "before\n" && partial.status == 128 + SIGKILL
        }
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(!process.isRunning)
    }

    @Test func orphanHoldingThePipesDoesNotHangTheRunner() throws {
        // setsid moves the sleeper out of the process group, so only the pipes tie it to us.
        let process = try RedlockProcess(executable: sh, ["-c", "setsid sleep 10 & echo $!; echo parent-done"])
        let run = try process.wait(timeout: 10)
        #expect(run.status == 0)
        #expect(run.stdout.hasSuffix("\nparent-done\n"))
        #expect(run.outputStillOpen)
        if let orphan = Int32(run.stdout.split(separator: "\n").first ?? "") { sendSignal(orphan, SIGKILL) }
    }

    @Test func locatesTheRedlockBinary() throws {
        let url = try RedlockBinary.executableURL()
        #expect(url.lastPathComponent == "redlock")
        #expect(FileManager.default.isExecutableFile(atPath: url.path))
    }

    @Test func eventuallyPollsUntilTrueOrTimeout() throws {
        var calls = 0
        #expect(eventually(timeout: 2, interval: 0.01) { calls += 1; return calls == 5 })
        #expect(calls == 5)
        let start = Date()
        #expect(!eventually(timeout: 0.2, interval: 0.05) { false })
        #expect(Date().timeIntervalSince(start) >= 0.2)
        struct Boom: Error {}
        #expect(throws: Boom.self) { try eventually { throw Boom() } }
        let before = Date()
        sleep(milliseconds: 50)
        #expect(Date().timeIntervalSince(before) >= 0.05)
    }

    @Test func jsonParsing() throws {
        let json = try JSON.parse(#" {"a": [1, -2.5e2, "x\u00e9\ud83d\ude00\n"], "b": {"c": true, "d": null}, "e": false} "#)
        #expect(json["a"]?[0] == .number(1))
        #expect(json["a"]?[1]?.doubleValue == -250)
        #expect(json["a"]?[2]?.stringValue == "xé😀\n")
        #expect(json["a"]?[3] == nil)
        #expect(json["b"]?["c"] == .bool(true))
        #expect(json["b"]?["d"] == .null)
        #expect(json["e"]?.boolValue == false)
        #expect(json["a"]?[0]?.intValue == 1)
        #expect(json["missing"] == nil)
        #expect(try JSON.parse(json.description) == json)
        #expect(try JSON.parseLines("{\"n\":1}\n\n{\"n\":2}\n").map { $0["n"]?.intValue } == [1, 2])
        for bad in ["", "{} x", "{}{}", "[1,]", "{\"a\":1,}", "01", "1.", "'x'", "\"\u{1}\"", "[1", "{\"a\" 1}", "nul", "\"\\ud800\"", "{\"a\":1,\"a\":2}"] {
            #expect(throws: JSONParseError.self, "\(bad.debugDescription) must be rejected") { try JSON.parse(bad) }
        }
    }
}

/// A thread-safe counter for the concurrency test.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

/// The chaos tests' proof of safety is "no overlap recorded": it means something only if
/// the detector records overlaps that happen and none that do not.
@Suite("Support: overlap detector")
struct OverlapDetectorSelfTests {
    @Test func sectionsNobodyKeepsApartAreSeenToOverlap() throws {
        let redis = try RedisFixture(count: 1)
        let scratch = try TestScratch()
        let unguarded = "sh -c '\(OverlapDetector.section())'"
        let record = try OverlapDetector.watch(Array(repeating: unguarded, count: 4), for: 2, redis: redis, scratch: scratch) { _ in }
        #expect(record.overlaps?.contains("overlap") == true, "\(record.sections) sections, none seen to overlap")
        #expect(record.codes.allSatisfy { $0 == 0 } && !record.codes.isEmpty)
    }

    @Test func sectionsALockKeepsApartAreNot() throws {
        let redis = try RedisFixture(count: 1)
        let scratch = try TestScratch()
        // Exclusive sections one at a time, shared ones together with each other only.
        let exclusive = "flock \"$D/lock\" sh -c '\(OverlapDetector.section(flock: "-x"))'"
        let shared = "flock -s \"$D/lock\" sh -c '\(OverlapDetector.section(flock: "-s"))'"
        let record = try OverlapDetector.watch([exclusive, exclusive, shared, shared], for: 2, redis: redis, scratch: scratch) { _ in }
        #expect(record.overlaps == nil)
        #expect(record.sections >= 10, "\(record.sections) sections")
    }
}
