import Foundation
import Testing

/// The job (COMMAND and everything it starts) lives and dies with redlock and with the lock,
/// and a calling shell sees what it would see with flock.
@Suite struct JobTests {
    private func pid(_ scratch: TestScratch, _ name: String) -> Int32? {
        guard let text = scratch.read(name), text.hasSuffix("\n") else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Ctrl-C from a script's point of view: SIGINT to the whole process group of the shell
    /// (the shell, redlock; COMMAND is in a group of its own). flock dies of the signal and
    /// the shell stops its loop; redlock must too, after releasing.
    @Test func interruptedCommandStopsTheCallingShellLoop() throws {
        let redis = try interruptShellLoop(step: "\"$R\" run k -- sh -c 'touch \"$D/mark$0\"; sleep 5' $i", settle: 200)
        #expect(redis.valuesOf(key: "k").allSatisfy { $0 == .null }, "released before dying")
    }

    /// The same Ctrl-C while redlock is still waiting for the lock: it leaves the line and
    /// dies of the signal (an exit status of 130 would read to bash as a child that handled
    /// it, and the loop would go on to wait again).
    @Test func interruptedWaitStopsTheCallingShellLoop() throws {
        let redis = try interruptShellLoop(step: "touch \"$D/mark$i\"; \"$R\" run k -- true", settle: 400) { redis in
            for server in redis.servers { try server.client().command("SET", "k", "busy", "PX", "60000") }
        }
        #expect(redis.valuesOf(key: "k").allSatisfy { $0?.string == "busy" })
    }

    /// Runs `for i in 1 2 3; do STEP; done` in bash (the step touches $D/mark$i once
    /// started), sends SIGINT to the shell's whole group `settle` ms after the first mark,
    /// and expects the loop to have stopped there with the shell killed by SIGINT.
    private func interruptShellLoop(step: String, settle: Int, prepare: (RedisFixture) throws -> Void = { _ in }) throws -> RedisFixture {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        try prepare(redis)
        let scratch = try TestScratch()
        let loop = "for i in 1 2 3; do \(step); echo \"iter$i $?\" >> \"$D/log\"; done; echo end >> \"$D/log\""
        let shell = try RedlockProcess(executable: URL(fileURLWithPath: "/bin/bash"), ["-c", loop],
                                       environment: redis.environment.merging(["D": scratch.path, "R": try RedlockBinary.executableURL().path]) { $1 })
        #expect(eventually { scratch.exists("mark1") })
        sleep(milliseconds: settle)
        shell.signalGroup(SIGINT)
        let result = try shell.wait(timeout: 30)
        #expect(!scratch.exists("mark2"), "the loop went on: \(scratch.read("log") ?? "")")
        #expect(result.status == 128 + SIGINT, "\(result)")
        return redis
    }

    /// A cron wrapper's log reader that died leaves redlock's stderr a pipe nobody reads: the
    /// first warning (here --max-time's) must cost redlock the message, not its life before
    /// it has released the lock and passed on the status.
    @Test func aDeadStderrReaderDoesNotKillRedlockBeforeItReleases() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let pipeline = "\"$R\" run --max-time 1s k -- sleep 5 2>&1 >/dev/null | true; echo ${PIPESTATUS[0]} > \"$D/status\""
        let shell = try RedlockProcess(executable: URL(fileURLWithPath: "/bin/bash"), ["-c", pipeline],
                                       environment: redis.environment.merging(["D": scratch.path, "R": try RedlockBinary.executableURL().path]) { $1 })
        _ = try shell.wait(timeout: 30)
        #expect(scratch.read("status") == "124\n", "redlock died of SIGPIPE (141) instead of exiting 124: \(scratch.read("status") ?? "")")
        #expect(redis.valuesOf(key: "k").allSatisfy { $0 == .null }, "the lock was left held")
    }

    /// A stall of redlock shorter than the lease (SIGSTOP right after a renewal, longer than
    /// the renewal and stop points, shorter than the validity) must not cost COMMAND its run.
    @Test func stallShorterThanTheLeaseRenewsInsteadOfKilling() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let process = try RedlockProcess(["run", "--ttl", "6s", "k", "--", "sh", "-c", "touch \"$D/up\"; sleep 9; echo finished"],
                                         environment: redis.environment.merging(["D": scratch.path]) { $1 })
        #expect(eventually { scratch.exists("up") })
        // Wait for a renewal: the key's PTTL jumps back up.
        let client = try redis.servers[0].client()
        var last: Int64?
        let renewed = eventually(timeout: 10, interval: 0.01) {
            guard case let .integer(pttl)? = try? client.command("PTTL", "k") else { return false }
            defer { last = pttl }
            return last.map { pttl > $0 + 1000 } ?? false
        }
        #expect(renewed)
        process.signal(SIGSTOP)
        sleep(milliseconds: 4300)
        process.signal(SIGCONT)
        let result = try process.wait(timeout: 30)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("finished"))
    }

    /// redlock stopped on its own (SIGSTOP, a debugger) while COMMAND runs on: COMMAND must
    /// still not outlive the lease, so the guard kills the job when the lease ends. Found by
    /// a review: the job ran on until redlock was continued, next to a second holder.
    @Test func redlockStoppedAloneStillEndsTheJobWhenTheLeaseEnds() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let process = try RedlockProcess(["run", "--ttl", "2s", "k", "--", "sh", "-c", "echo $$ > \"$D/command\"; while :; do sleep 0.05; done"],
                                         environment: redis.environment.merging(["D": scratch.path]) { $1 })
        #expect(eventually { pid(scratch, "command") != nil })
        let command = try #require(pid(scratch, "command"))
        defer { kill(command, SIGKILL) }
        process.signal(SIGSTOP)
        // The lease ends at most 2 s after the last renewal; redlock stays stopped meanwhile.
        #expect(eventually(timeout: 6) { processIsGone(command) }, "COMMAND ran on past the lease while redlock was stopped")
        let second = try redlock(["run", "-n", "k", "--", "true"], environment: redis.environment)
        process.signal(SIGCONT)
        let result = try process.wait(timeout: 20)
        #expect(second.status == 0, "the lease had lapsed: \(second)")
        #expect(result.status == 76, "\(result)")
        #expect(result.stderr.contains("its guard killed the job") && !result.stderr.contains("sending SIGTERM"), "\(result)")
    }

    /// With --leftovers wait the lock is held for what COMMAND left running: the guard
    /// killing that at the lease's end, while redlock was stopped, is a lost lock too (a
    /// review found it passed off as COMMAND's success, exit 0).
    @Test func leftoversTheLockWasHeldForKilledAtTheLeasesEndAreALoss() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let scratch = try TestScratch()
        let process = try RedlockProcess(["run", "--ttl", "1s", "--leftovers", "wait", "k", "--", "sh", "-c", "sleep 5 & touch \"$D/up\""],
                                         environment: redis.environment.merging(["D": scratch.path]) { $1 })
        #expect(eventually { scratch.exists("up") })
        process.signal(SIGSTOP)
        sleep(milliseconds: 2500)
        process.signal(SIGCONT)
        let result = try process.wait(timeout: 20)
        #expect(result.status == 76, "\(result)")
    }

    /// The other side of the same: COMMAND ended under the lock while redlock was stopped,
    /// and the lease ran out only after. Nothing was lost: COMMAND's status stands.
    @Test func aCommandThatEndedBeforeTheLeaseWhileRedlockWasStoppedKeepsItsStatus() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let scratch = try TestScratch()
        let process = try RedlockProcess(["run", "--ttl", "1s", "k", "--", "sh", "-c", "touch \"$D/up\"; sleep 0.3; echo done; exit 3"],
                                         environment: redis.environment.merging(["D": scratch.path]) { $1 })
        #expect(eventually { scratch.exists("up") })
        process.signal(SIGSTOP)
        sleep(milliseconds: 2500)
        process.signal(SIGCONT)
        let result = try process.wait(timeout: 20)
        #expect(result.status == 3, "\(result)")
        #expect(result.stdout == "done\n" && !result.stderr.contains("lost"), "\(result)")
    }

    /// `kill -9` of redlock takes the whole job: a grandchild, one that left the session
    /// (setsid), and a set-user-ID COMMAND (the kernel clears the parent-death signal when
    /// exec changes the effective user, so only a guard can catch it).
    @Test func sigkillOfRedlockEndsTheWholeJob() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let script = "sleep 60 & echo $! > \"$D/grandchild\"; setsid sh -c 'echo $$ > \"$D/detached\"; exec sleep 60' & while :; do sleep 0.05; done"
        let process = try RedlockProcess(["run", "--ttl", "10s", "k", "--", "sh", "-c", script],
                                         environment: redis.environment.merging(["D": scratch.path]) { $1 })
        #expect(eventually { pid(scratch, "grandchild") != nil && pid(scratch, "detached") != nil })
        let grandchild = try #require(pid(scratch, "grandchild"))
        let detached = try #require(pid(scratch, "detached"))
        defer { kill(grandchild, SIGKILL); kill(detached, SIGKILL) }
        process.signal(SIGKILL)
        _ = try process.wait(timeout: 10)
        #expect(eventually(timeout: 2) { processIsGone(grandchild) }, "grandchild survived")
        #expect(eventually(timeout: 2) { processIsGone(detached) }, "setsid'd grandchild survived")
    }

    /// `kill -9 %1` in a shell kills redlock's whole process group at once.
    @Test func sigkillOfRedlocksProcessGroupEndsTheWholeJob() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        let scratch = try TestScratch()
        let script = "setsid sh -c 'echo $$ > \"$D/detached\"; exec sleep 60' & while :; do sleep 0.05; done"
        let process = try RedlockProcess(["run", "--ttl", "10s", "k", "--", "sh", "-c", script],
                                         environment: redis.environment.merging(["D": scratch.path]) { $1 })
        #expect(eventually { pid(scratch, "detached") != nil })
        let detached = try #require(pid(scratch, "detached"))
        defer { kill(detached, SIGKILL) }
        process.signalGroup(SIGKILL)
        _ = try process.wait(timeout: 10)
        #expect(eventually(timeout: 2) { processIsGone(detached) }, "setsid'd grandchild survived")
    }

    @Test func sigkillOfRedlockEndsASetUserIDCommand() throws {
        try RedisServer.requireAvailable()
        guard getuid() == 0 else { return }  // only root can make a copy owned by another user
        let redis = try RedisFixture(count: 1)
        let scratch = try TestScratch()
        let copy = scratch.file("sleep-as-nobody")
        try FileManager.default.copyItem(atPath: "/bin/sleep", toPath: copy)
        let nobody = try #require(getpwnam("nobody")).pointee.pw_uid
        #expect(chown(copy, nobody, gid_t(UInt32.max)) == 0)
        #expect(chmod(copy, 0o4755) == 0)
        let process = try RedlockProcess(["run", "--ttl", "10s", "k", "--", copy, "60"], environment: redis.environment)
        var command: Int32?
        #expect(eventually {
            command = descendants(of: process.pid).first { ownerOf($0) == nobody }
            return command != nil
        })
        let setUserID = try #require(command)
        defer { kill(setUserID, SIGKILL) }
        process.signal(SIGKILL)
        _ = try process.wait(timeout: 10)
        #expect(eventually(timeout: 2) { processIsGone(setUserID) }, "set-user-ID COMMAND survived")
    }

    /// A set-user-ID program that makes itself root for good (setresuid, as sudo's child
    /// may) cannot be signalled by an unprivileged redlock or its guard. That cannot be
    /// helped, but it must be said: a review found the leftover running on silently after
    /// redlock had "ended" it and released the lock.
    @Test func aProcessOfTheJobThatRefusesSignalsIsNamed() throws {
        try RedisServer.requireAvailable()
        guard getuid() == 0 else { return }  // only root can make a set-user-ID root copy
        let redis = try RedisFixture(count: 1)
        let directory = try TestScratch()
        chmod(directory.path, 0o777)  // COMMAND runs as nobody and writes the leftover's pid here
        let rootpriv = directory.file("rootpriv")
        try FileManager.default.copyItem(atPath: "/usr/bin/setpriv", toPath: rootpriv)
        #expect(chown(rootpriv, 0, 0) == 0 && chmod(rootpriv, 0o4755) == 0)
        let script = "\(rootpriv) --reuid=0 --regid=0 --clear-groups sleep 30 & echo $! > \(directory.file("leftover")); sleep 0.3; exit 0"
        let process = try RedlockProcess(executable: URL(fileURLWithPath: "/usr/bin/setpriv"),
                                         ["--reuid=65534", "--regid=65534", "--clear-groups", try RedlockBinary.executableURL().path,
                                          "run", "k", "--", "sh", "-c", script], environment: redis.environment)
        let result = try process.wait(timeout: 30)
        if let leftover = pid(directory, "leftover") { kill(leftover, SIGKILL) }
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.contains("redlock: cannot stop pid ") && result.stderr.contains("not permitted"), "\(result)")
    }

    /// A lost lock ends every process of the job, not only COMMAND's process group.
    @Test func lostLockEndsADetachedGrandchild() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let script = "setsid sh -c 'echo $$ > \"$D/detached\"; trap \"\" TERM; exec sleep 60' & while :; do sleep 0.05; done"
        let process = try RedlockProcess(["run", "--ttl", "2s", "k", "--", "sh", "-c", script],
                                         environment: redis.environment.merging(["D": scratch.path]) { $1 })
        #expect(eventually { pid(scratch, "detached") != nil })
        let detached = try #require(pid(scratch, "detached"))
        defer { kill(detached, SIGKILL) }
        for server in redis.servers { _ = try? server.client().command("FLUSHALL") }
        let result = try process.wait(timeout: 20)
        #expect(result.status == 76, "\(result)")
        #expect(eventually(timeout: 2) { processIsGone(detached) }, "detached grandchild survived the lost lock")
    }
}

/// `--leftovers`: processes of the job still running when COMMAND exits.
@Suite struct LeftoversTests {
    @Test func byDefaultTheyAreEndedAndNamedOnOneLine() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        // A name with an escape sequence in it must not reach the terminal raw.
        let evil = scratch.file("evil\u{1B}[2J")
        try FileManager.default.copyItem(atPath: "/bin/sleep", toPath: evil)
        // COMMAND exits only once both have exec'd, so that their names are what redlock reads.
        let script = "\"$EVIL\" 30 & f=$!; echo $f > \"$D/first\"; sh -c 'trap \"\" TERM; echo $$ > \"$D/stubborn\"; exec sleep 30' & "
            + "until [ -s \"$D/stubborn\" ] && [ \"$(readlink /proc/$f/exe)\" = \"$EVIL\" ] && [ \"$(cat /proc/$(cat \"$D/stubborn\")/comm)\" = sleep ]; do sleep 0.02; done; exit 3"
        let result = try redlock(["run", "--kill-after", "500ms", "k", "--", "sh", "-c", script],
                                 environment: redis.environment.merging(["D": scratch.path, "EVIL": evil]) { $1 }, timeout: 30)
        let first = try #require(Int32(scratch.read("first")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""))
        let stubborn = try #require(Int32(scratch.read("stubborn")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""))
        defer { kill(first, SIGKILL); kill(stubborn, SIGKILL) }
        #expect(result.status == 3, "COMMAND's status passes through: \(result)")
        #expect(processIsGone(first) && processIsGone(stubborn), "leftovers still run")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("redlock: "), "\(result.stderr)")
        #expect(result.stderr.contains("\(first) (evil\\x1b[2J)") && result.stderr.contains("\(stubborn) (sleep)"), "\(result.stderr)")
        #expect(!result.stderr.contains("\u{1B}"))
        #expect(redis.valuesOf(key: "k").allSatisfy { $0 == .null })
    }

    @Test func waitHoldsTheLockUntilTheyEnd() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let process = try RedlockProcess(["run", "--leftovers", "wait", "--ttl", "1s", "k", "--", "sh", "-c", "(sleep 2.5; touch \"$D/finished\") & touch \"$D/exited\""],
                                         environment: redis.environment.merging(["D": scratch.path]) { $1 })
        #expect(eventually { scratch.exists("exited") })
        sleep(milliseconds: 1500)
        #expect(process.isRunning)
        #expect(redis.valuesOf(key: "k").filter(isRedlockValue).count >= 2, "held and renewed past the TTL")
        let result = try process.wait(timeout: 20)
        #expect(result.status == 0, "\(result)")
        #expect(scratch.exists("finished"))
        #expect(redis.valuesOf(key: "k").allSatisfy { $0 == .null })
    }

    @Test func ignoreReleasesAtOnceAndLeavesThemRunning() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let result = try redlock(["run", "--leftovers", "ignore", "k", "--", "sh", "-c", "(sleep 1; touch \"$D/finished\") >/dev/null 2>&1 &"],
                                 environment: redis.environment.merging(["D": scratch.path]) { $1 })
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty)
        #expect(!scratch.exists("finished"))
        #expect(redis.valuesOf(key: "k").allSatisfy { $0 == .null })
        #expect(eventually(timeout: 5) { scratch.exists("finished") })
    }

    @Test func anUnknownChoiceIsAUsageError() throws {
        let result = try redlock(["run", "--leftovers", "keep", "k", "--", "true"])
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("redlock: ") && result.stderr.contains("kill, wait or ignore"))
    }
}

/// Every process below `pid`, found through /proc/PID/task/TID/children.
func descendants(of pid: Int32) -> [Int32] {
    var found: [Int32] = []
    var queue = [pid]
    while let next = queue.popLast() {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(next)/task")) ?? []
        for task in tasks {
            let text = (try? String(contentsOfFile: "/proc/\(next)/task/\(task)/children", encoding: .utf8)) ?? ""
            for child in text.split(separator: " ").compactMap({ Int32($0) }) {
                found.append(child)
                queue.append(child)
            }
        }
    }
    return found
}

/// The effective user of a process, from /proc/PID/status.
func ownerOf(_ pid: Int32) -> uid_t? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") }) else { return nil }
    let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
    return fields.count > 2 ? uid_t(fields[2]) : nil
}
