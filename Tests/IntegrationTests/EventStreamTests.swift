import Foundation
import Testing

/// `--events FILE` / `--events-fd N`: one JSON object a line, read here as a tool would.
@Suite struct EventStreamTests {
    /// Every line parsed, in order; a line that is not one JSON object fails the test.
    private static func events(_ scratch: TestScratch, _ name: String = "events.jsonl") throws -> [JSON] {
        try JSON.parseLines(scratch.read(name) ?? "")
    }

    private static func names(_ events: [JSON]) -> [String] { events.compactMap { $0["event"]?.stringValue } }

    /// The fields every line carries: the time twice (RFC 3339 UTC and epoch ms), KEY, pid.
    private static func expectCommonFields(_ events: [JSON], key: String, pid: Int32? = nil) {
        for event in events {
            #expect(event["key"]?.stringValue == key, "\(event)")
            let time = event["time"]?.stringValue ?? ""
            #expect(time.hasSuffix("Z") && time.count == "2026-12-01T00:00:00.000Z".count, "\(event)")
            let ms = event["unix_ms"]?.intValue ?? 0
            #expect(abs(Double(ms) / 1000 - Date().timeIntervalSince1970) < 120, "\(event)")
            if let pid { #expect(event["pid"]?.intValue == Int(pid), "\(event)") }
        }
    }

    @Test func aWholeRunIsOneLinePerEventAndNeverTheToken() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let key = "deploy \"prod\"\\é"
        // TTL 1.5s: renewed about every 500 ms while COMMAND sleeps 1.3 s.
        let process = try RedlockProcess(["run", "--events", scratch.file("events.jsonl"), "--ttl", "1500ms", key, "--",
                                          "sh", "-c", "printf %s \"$REDLOCK_TOKEN\" > \"$D/token\"; sleep 1.3; exit 3"],
                                         environment: redis.environment.merging(["D": scratch.path]) { $1 })
        let result = try process.wait(timeout: 30)
        #expect(result.status == 3, "\(result)")
        let events = try Self.events(scratch)
        let names = Self.names(events)
        #expect(names.first == "acquired", "\(names)")
        #expect(names.filter { $0 == "renewed" }.count >= 1, "\(names)")
        #expect(Array(names.suffix(2)) == ["child_exit", "released"], "\(names)")
        #expect(Set(names).isSubset(of: ["acquired", "renewed", "child_exit", "released"]), "\(names)")
        Self.expectCommonFields(events, key: key, pid: process.pid)

        let acquired = events[0]
        #expect(acquired["instances"]?.intValue == 3 && acquired["quorum"]?.intValue == 2)
        #expect((acquired["fence"]?.intValue ?? 0) >= 1 && acquired["ttl_ms"]?.intValue == 1500, "\(acquired)")
        let renewed = events[1]
        #expect(renewed["renewed"]?.intValue == 3 && renewed["failed"]?.intValue == 0, "\(renewed)")
        let exit = events[events.count - 2]
        #expect(exit["status"]?.intValue == 3 && exit["exit_code"]?.intValue == 3 && exit["stopped_by"]?.isNull == true, "\(exit)")
        #expect((exit["child_pid"]?.intValue ?? 0) > 0)
        let released = events[events.count - 1]
        #expect(released["released"]?.intValue == 3 && released["quorum_reached"]?.boolValue == true, "\(released)")

        let token = scratch.read("token") ?? ""
        #expect(token.count >= 22)
        #expect(!(scratch.read("events.jsonl") ?? "").contains(token), "the token is never written")
        #expect(!result.stderr.contains("redlock:"), "\(result)")
    }

    @Test func aWaiterSaysHowLongItWaitedAndAGiveUpIsSkipped() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let holder = try RedlockProcess(["run", "k", "--", "sh", "-c", "touch \"$D/up\"; while [ ! -e \"$D/go\" ]; do sleep 0.05; done"],
                                        environment: redis.environment.merging(["D": scratch.path]) { $1 })
        #expect(eventually { scratch.exists("up") })
        let busy = try redlock(["run", "-n", "--events", scratch.file("busy.jsonl"), "k", "--", "true"], environment: redis.environment)
        #expect(busy.status == 75, "\(busy)")
        let skipped = try Self.events(scratch, "busy.jsonl")
        #expect(Self.names(skipped) == ["skipped"], "\(skipped)")
        #expect(skipped.first?["reason"]?.stringValue == "busy")

        let waiter = try RedlockProcess(["run", "-q", "--wait", "20s", "--events", scratch.file("events.jsonl"), "k", "--", "true"], environment: redis.environment)
        sleep(milliseconds: 700)
        #expect(FileManager.default.createFile(atPath: scratch.file("go"), contents: nil))
        #expect(try holder.wait(timeout: 20).status == 0)
        #expect(try waiter.wait(timeout: 20).status == 0)
        let events = try Self.events(scratch)
        #expect(Self.names(events) == ["queued", "acquired", "child_exit", "released"], "a waiter in line says so: \(events)")
        Self.expectCommonFields(events, key: "k", pid: waiter.pid)
        #expect(events.first?["position"]?.intValue == 1 && events.first?["waiting"]?.intValue == 1, "\(events)")
        #expect((events.dropFirst().first?["waited_ms"]?.intValue ?? 0) >= 500, "\(events)")
    }

    @Test func aLostLockIsReportedBeforeCommandsExitAndTheRelease() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let process = try RedlockProcess(["run", "--events", scratch.file("events.jsonl"), "--ttl", "2s", "k", "--",
                                          "sh", "-c", "trap 'exit 3' TERM; touch \"$D/up\"; while :; do sleep 0.05; done"],
                                         environment: redis.environment.merging(["D": scratch.path]) { $1 })
        #expect(eventually { scratch.exists("up") })
        for server in redis.servers.prefix(2) {
            _ = try server.client().command("SET", "k", "someone-else")
        }
        let result = try process.wait(timeout: 20)
        #expect(result.status == 76, "\(result)")
        let events = try Self.events(scratch)
        let names = Self.names(events).filter { $0 != "renewed" && $0 != "renew_failed" }
        #expect(names == ["acquired", "lost", "child_exit", "released"], "\(events)")
        let lost = events.first { $0["event"]?.stringValue == "lost" }
        #expect(lost?["reason"]?.stringValue == "held_elsewhere", "\(String(describing: lost))")
        #expect(lost?["signal"]?.stringValue == "SIGTERM")
        #expect(lost?["refused"]?.intValue == 2)
        let exit = events.first { $0["event"]?.stringValue == "child_exit" }
        #expect(exit?["stopped_by"]?.stringValue == "lost" && exit?["status"]?.intValue == 3, "\(String(describing: exit))")
        let released = events.last
        #expect(released?["quorum_reached"]?.boolValue == false, "\(String(describing: released))")
    }

    @Test func anInheritedDescriptorGetsTheLines() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let scratch = try TestScratch()
        let binary = try RedlockBinary.executableURL().path
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "exec 7>>\"$D/events.jsonl\"; exec \"$B\" run --events-fd 7 k -- sh -c 'exit 5'"]
        shell.environment = RedlockBinary.environment(merging: redis.environment.merging(["D": scratch.path, "B": binary]) { $1 })
        try shell.run()
        shell.waitUntilExit()
        #expect(shell.terminationStatus == 5)
        let events = try Self.events(scratch)
        #expect(Self.names(events) == ["acquired", "child_exit", "released"], "\(events)")
        #expect(events[1]["exit_code"]?.intValue == 5)
    }

    @Test func acquireWritesWhetherItGotTheLock() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let first = try redlock(["acquire", "--events", scratch.file("events.jsonl"), "--ttl", "30s", "k"], environment: redis.environment)
        #expect(first.status == 0, "\(first)")
        let token = first.stdout.trimmingCharacters(in: .newlines)
        #expect(token.count >= 22, "stdout is still the token alone: \(first)")
        let second = try redlock(["acquire", "-n", "--events", scratch.file("events.jsonl"), "k"], environment: redis.environment)
        #expect(second.status == 75, "\(second)")
        let events = try Self.events(scratch)
        #expect(Self.names(events) == ["acquired", "skipped"], "\(events)")
        #expect(events.first?["fence"]?.intValue == 1 && events.last?["reason"]?.stringValue == "busy")
        #expect(!(scratch.read("events.jsonl") ?? "").contains(token))
    }

    @Test func aKeyThatIsNotUTF8IsGivenExactlyInBase64() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let scratch = try TestScratch()
        let result = try RedlockProcess(executable: URL(fileURLWithPath: "/bin/sh"),
                                        ["-c", "\"$R\" run --events \"$D/events.jsonl\" \"$(printf 'lk-\\377')\" -- true"],
                                        environment: redis.environment.merging(["D": scratch.path, "R": try RedlockBinary.executableURL().path]) { $1 }).wait(timeout: 60)
        #expect(result.status == 0, "\(result)")
        let events = try Self.events(scratch)
        #expect(Self.names(events) == ["acquired", "child_exit", "released"], "\(events)")
        for event in events {
            #expect(event["key"]?.stringValue == "lk-\u{FFFD}" && event["key_base64"]?.stringValue == "bGst/w==", "\(event)")
        }
    }

    @Test func anEventsTargetThatCannotBeWrittenIsAConfigurationError() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let missing = try redlock(["run", "--events", "/nonexistent/dir/events", "k", "--", "true"], environment: redis.environment)
        #expect(missing.status == 78, "\(missing)")
        #expect(missing.stderr.hasPrefix("redlock: ") && missing.stderr.split(separator: "\n").count == 1, "\(missing)")
        let closed = try redlock(["run", "--events-fd", "9", "k", "--", "true"], environment: redis.environment)
        #expect(closed.status == 78, "\(closed)")
        let both = try redlock(["run", "--events", "/tmp/x", "--events-fd", "9", "k", "--", "true"], environment: redis.environment)
        #expect(both.status == 64, "\(both)")
    }
}
