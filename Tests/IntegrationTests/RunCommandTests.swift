import Foundation
import Testing

/// `redlock run` end to end: the built binary against real redis-server processes.
@Suite struct RunCommandTests {
    @Test func sixProcessesTakeTurnsWithoutOverlap() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let binary = try RedlockBinary.executableURL().path
        // Each critical section claims a directory: mkdir fails if another section is inside.
        let section = "mkdir \"$D/inside\" || { echo overlap >> \"$D/overlaps\"; exit 1; }; echo x >> \"$D/sections\"; sleep 0.02; rmdir \"$D/inside\""
        let loop = "for i in 1 2 3 4 5 6 7 8; do \"$R\" run --wait 60s shared-key -- sh -c '\(section)' || echo \"failed $?\" >> \"$D/failures\"; done"
        let workers = try (0..<6).map { _ in
            try RedlockProcess(executable: URL(fileURLWithPath: "/bin/sh"), ["-c", loop],
                               environment: redis.environment.merging(["D": scratch.path, "R": binary]) { $1 })
        }
        for worker in workers { _ = try worker.wait(timeout: 240) }
        #expect(scratch.read("overlaps") == nil)
        #expect(scratch.read("failures") == nil)
        #expect(scratch.read("sections")?.split(separator: "\n").count == 48)
        #expect(redis.valuesOf(key: "shared-key").allSatisfy { $0 == nil || $0 == .null })
    }

    @Test func exitStatusPassesThrough() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        #expect(try redlock(["run", "k", "--", "sh", "-c", "exit 7"], environment: redis.environment).status == 7)
        #expect(try redlock(["run", "k", "--", "sh", "-c", "kill -TERM $$"], environment: redis.environment).status == 128 + 15)
        #expect(try redlock(["run", "k", "--", "true"], environment: redis.environment).status == 0)
    }

    @Test func commandNotFoundOrNotExecutableReleasesTheLock() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        _ = FileManager.default.createFile(atPath: scratch.file("script"), contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o644])
        let missing = try redlock(["run", "k", "--", "no-such-command-anywhere"], environment: redis.environment)
        #expect(missing.status == 127)
        #expect(missing.stderr.hasPrefix("redlock: "))
        let denied = try redlock(["run", "k", "--", scratch.file("script")], environment: redis.environment)
        #expect(denied.status == 126)
        #expect(redis.valuesOf(key: "k").allSatisfy { $0 == .null })
        // Released, not left to expire: the next run gets it at once.
        #expect(try redlock(["run", "-n", "k", "--", "true"], environment: redis.environment).status == 0)
    }

    @Test func stdinAndEnvironmentReachTheCommand() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let result = try redlock(["run", "k", "--", "sh", "-c", "cat; echo \"key=$REDLOCK_KEY token=$REDLOCK_TOKEN\""], environment: redis.environment, stdin: "hello from stdin\n")
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.first == "hello from stdin")
        let token = lines.last?.split(separator: "=").last.map(String.init) ?? ""
        #expect(lines.last?.hasPrefix("key=k token=") == true)
        #expect(token.count >= 22)
        #expect(result.stderr.isEmpty, "stderr carries nothing on success: \(result.stderr)")
    }

    /// COMMAND's arguments and environment are handed to the guard while redlock waits, and
    /// only the lock's variables are added once it is taken: after a wait in line, COMMAND
    /// still gets every variable of redlock's own environment, byte for byte, and exactly
    /// one of each lock variable, the new ones (inherited values are replaced, not doubled).
    @Test func afterAWaitCommandGetsTheWholeEnvironmentAndTheLocksVariablesOnce() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let holder = try RedlockProcess(["run", "env-key", "--", "sh", "-c", "touch \"$D/held\"; sleep 1"],
                                        environment: redis.environment.merging(["D": scratch.path]) { $1 })
        #expect(eventually { scratch.read("held") != nil })
        let big = String(repeating: "x", count: 100_000)
        let environment = redis.environment.merging([
            "REDLOCK_KEY": "inherited-key", "REDLOCK_TOKEN": "inherited-token", "REDLOCK_FENCING_TOKEN": "0",
            "KEPT_PLAIN": "plain value", "KEPT_BIG": big,
        ]) { $1 }
        let waiter = try redlock(["run", "--wait", "30s", "env-key", "--", "sh", "-c",
                                  "env | grep -c '^REDLOCK_KEY='; env | grep -c '^REDLOCK_TOKEN='; env | grep -c '^REDLOCK_FENCING_TOKEN='; echo \"$REDLOCK_KEY $KEPT_PLAIN ${#KEPT_BIG} $1\"", "sh", "arg with spaces"],
                                 environment: environment)
        _ = try holder.wait(timeout: 30)
        #expect(waiter.status == 0, "\(waiter.stderr)")
        let lines = waiter.stdout.split(separator: "\n").map(String.init)
        #expect(lines == ["1", "1", "1", "env-key plain value 100000 arg with spaces"])
    }

    /// REDLOCK_SLOT is the lock's only in slot mode: an exclusive run leaves an inherited
    /// one as it is, a run with a limit replaces it with its slot, once, after a wait.
    @Test func anInheritedSlotVariableIsReplacedOnlyInSlotMode() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let environment = redis.environment.merging(["REDLOCK_SLOT": "inherited"]) { $1 }
        let show = "env | grep -c '^REDLOCK_SLOT='; echo \"$REDLOCK_SLOT\""
        let exclusive = try redlock(["run", "--wait", "10s", "slot-env-x", "--", "sh", "-c", show], environment: environment)
        #expect(exclusive.status == 0, "\(exclusive.stderr)")
        #expect(exclusive.stdout == "1\ninherited\n")

        let scratch = try TestScratch()
        // Both slots taken, so the limited run below waits before it gets one.
        let holders = try (1...2).map { index in
            try RedlockProcess(["run", "-l", "2", "slot-env", "--", "sh", "-c", "touch \"$D/held-$REDLOCK_SLOT\"; sleep 1"],
                               environment: redis.environment.merging(["D": scratch.path]) { $1 })
        }
        #expect(eventually { scratch.read("held-1") != nil && scratch.read("held-2") != nil })
        let limited = try redlock(["run", "-l", "2", "--wait", "30s", "slot-env", "--", "sh", "-c", show], environment: environment)
        for holder in holders { _ = try holder.wait(timeout: 30) }
        #expect(limited.status == 0, "\(limited.stderr)")
        let lines = limited.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2 && lines[0] == "1" && ["1", "2"].contains(lines[1]), "\(limited.stdout)")
    }

    @Test func commandWithoutDoubleDash() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let result = try redlock(["run", "k", "echo", "-n", "--ttl"], environment: redis.environment)
        #expect(result.status == 0)
        #expect(result.stdout == "--ttl")
    }

    @Test func sigtermReachesTheCommandAndTheKeyIsReleased() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let process = try RedlockProcess(["run", "k", "--", "sh", "-c", "trap 'echo got-term > \"$D/term\"; exit 0' TERM; touch \"$D/up\"; while :; do sleep 0.05; done"],
                                         environment: redis.environment.merging(["D": scratch.path]) { $1 })
        #expect(eventually { scratch.exists("up") })
        process.signal(SIGTERM)
        let result = try process.wait(timeout: 20)
        #expect(result.status == 0)
        #expect(scratch.read("term") == "got-term\n")
        #expect(redis.valuesOf(key: "k").allSatisfy { $0 == .null })
    }

    @Test func signalWhileWaitingEndsTheWait() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        for server in redis.servers { try server.client().command("SET", "k", "busy", "PX", "60000") }
        let waiter = try RedlockProcess(["run", "k", "--", "echo", "ran"], environment: redis.environment)
        sleep(milliseconds: 400)
        #expect(waiter.isRunning)
        waiter.signal(SIGTERM)
        let result = try waiter.wait(timeout: 10)
        #expect(result.status == 128 + 15)
        #expect(result.stdout.isEmpty)
        #expect(redis.valuesOf(key: "k").allSatisfy { $0?.string == "busy" })
    }

    @Test func interruptIsForwardedOnce() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let scratch = try TestScratch()
        let process = try RedlockProcess(["run", "k", "--", "sh", "-c", "trap 'echo int >> \"$D/ints\"' INT; touch \"$D/up\"; i=0; while [ $i -lt 20 ]; do sleep 0.05; i=$((i+1)); done"],
                                         environment: redis.environment.merging(["D": scratch.path]) { $1 })
        #expect(eventually { scratch.exists("up") })
        process.signal(SIGINT)
        let result = try process.wait(timeout: 20)
        #expect(result.status == 0)
        #expect(scratch.read("ints") == "int\n")
    }

    @Test func sigkillOfRedlockKillsTheCommandAndTheLockExpires() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let process = try RedlockProcess(["run", "--ttl", "2s", "k", "--", "sh", "-c", "echo $$ > \"$D/pid\"; while :; do sleep 0.05; done"],
                                         environment: redis.environment.merging(["D": scratch.path]) { $1 })
        #expect(eventually { scratch.read("pid")?.hasSuffix("\n") == true })
        let child = Int32(scratch.read("pid")!.trimmingCharacters(in: .whitespacesAndNewlines))!
        process.signal(SIGKILL)
        _ = try process.wait(timeout: 10)
        #expect(eventually(timeout: 5) { processIsGone(child) })
        for pttl in redis.pttlOf(key: "k") {
            #expect(pttl != nil && pttl! <= 2000)
        }
        #expect(eventually(timeout: 5) { redis.valuesOf(key: "k").allSatisfy { $0 == .null } })
    }

    @Test func shortTTLIsRenewedWhileTheCommandRuns() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let process = try RedlockProcess(["run", "--ttl", "1s", "k", "--", "sleep", "3"], environment: redis.environment)
        #expect(eventually { redis.valuesOf(key: "k").filter(isRedlockValue).count >= 2 })
        var samples = 0
        let end = Date().addingTimeInterval(2.5)
        while Date() < end {
            let holding = redis.valuesOf(key: "k").filter(isRedlockValue).count
            #expect(holding >= 2, "a quorum must hold the key the whole time")
            samples += 1
            sleep(milliseconds: 100)
        }
        #expect(samples >= 10)
        #expect(try process.wait(timeout: 20).status == 0)
    }

    /// A long --kill-after moves the teardown point before TTL/3: renewals must come sooner.
    @Test func longKillAfterStillRenewsInTime() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let result = try redlock(["run", "--ttl", "2s", "--kill-after", "1500ms", "k", "--", "sleep", "3"], environment: redis.environment, timeout: 30)
        #expect(result.status == 0, "\(result)")
    }

    @Test func maxTimeStopsTheCommandWith124() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let result = try redlock(["run", "--max-time", "300ms", "k", "--", "sleep", "10"], environment: redis.environment, timeout: 20)
        #expect(result.status == 124)
        #expect(result.stderr.hasPrefix("redlock: "))
        #expect(redis.valuesOf(key: "k") == [.null])
    }

    @Test func minHoldLeavesTheKeyWithTheRestOfTheTime() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        #expect(try redlock(["run", "--min-hold", "5s", "k", "--", "true"], environment: redis.environment).status == 0)
        for pttl in redis.pttlOf(key: "k") {
            #expect(pttl != nil && pttl! > 3000 && pttl! <= 5000)
        }
        #expect(try redlock(["run", "-n", "k", "--", "true"], environment: redis.environment).status == 75)
    }

    @Test(arguments: ["key with spaces", "ключ-🔒-ключ", String(repeating: "k", count: 1000)])
    func awkwardKeys(_ key: String) throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        // Held for 3 s: long enough that a loaded machine still finds it held below.
        let held = try holderOnEveryInstance(["run", key, "--", "sleep", "3"], key: key, redis: redis)
        #expect(eventually { redis.valuesOf(key: key).filter(isRedlockValue).count == 3 })
        #expect(try redlock(["run", "-n", key, "--", "true"], environment: redis.environment).status == 75)
        #expect(try held.wait(timeout: 20).status == 0)
        #expect(redis.valuesOf(key: key).allSatisfy { $0 == .null })
    }

    @Test func prefixIsPrependedToTheKey() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let held = try RedlockProcess(["run", "--prefix", "locks:", "k", "--", "sleep", "1"], environment: redis.environment)
        #expect(eventually { isRedlockValue(redis.valuesOf(key: "locks:k")[0]) })
        #expect(try redlock(["run", "-n", "k", "--", "true"], environment: redis.environment.merging(["REDLOCK_PREFIX": "locks:"]) { $1 }).status == 75)
        #expect(try held.wait(timeout: 20).status == 0)
    }
}
