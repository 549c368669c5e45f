import Foundation
import Testing

/// ChaosTests' faults (one instance flapping, one restarted empty under --restart-grace)
/// for each lock mode: never a section that breaks the mode's rule. Sections are watched
/// with flock(1) on local files: an exclusive section takes `flock -x`, a shared one
/// `flock -s`, a slot's section `flock -x` on that slot's file, so a broken rule makes some
/// `flock -n` fail and record an overlap.
@Suite struct ModeChaosTests {
    /// Runs `commands` (shell lines, each with "$R" the binary and "$D" the scratch
    /// directory) in loops for `seconds` while instance 0 flaps and instance 2 restarts
    /// empty now and then. Returns the exit codes and the sections counted.
    private static func chaos(_ redis: RedisFixture, _ scratch: TestScratch, seconds: TimeInterval, _ commands: [String]) throws -> (codes: [Int], sections: Int, flaps: Int, restarts: Int) {
        let binary = try RedlockBinary.executableURL().path
        let end = Date().addingTimeInterval(seconds)
        let contenders = try commands.map { command in
            let loop = "while [ $(date +%s) -lt \(Int(end.timeIntervalSince1970)) ]; do \(command); echo $? >> \"$D/codes\"; done"
            return try RedlockProcess(executable: URL(fileURLWithPath: "/bin/sh"), ["-c", loop],
                                      environment: redis.environment.merging(["D": scratch.path, "R": binary]) { $1 })
        }
        var flaps = 0
        var restarts = 0
        var lastRestart = Date()
        while Date() < end {
            redis.servers[0].pause()
            sleep(milliseconds: 250)
            redis.servers[0].resume()
            sleep(milliseconds: 250)
            flaps += 1
            if Date().timeIntervalSince(lastRestart) > 3 {
                try redis.servers[2].restartEmpty()
                restarts += 1
                lastRestart = Date()
            }
        }
        for contender in contenders { _ = try contender.wait(timeout: 60) }
        let sections = scratch.read("sections")?.split(separator: "\n").count ?? 0
        let codes = scratch.read("codes")?.split(separator: "\n").compactMap { Int($0) } ?? []
        return (codes, sections, flaps, restarts)
    }

    /// The delayed-restart rule: --restart-grace >= TTL (as in ChaosTests).
    private static let options = "--ttl 1s --restart-grace 1500ms --wait 3s --op-timeout 150ms"

    @Test func noExclusiveHolderWithAnyoneElse() throws {
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let section = { (mode: String, flag: String) in
            "\"$R\" run \(mode) \(Self.options) rw -- sh -c 'flock -n \(flag) \"$D/detector\" sh -c \"echo x >> $D/sections; sleep 0.05\" || echo overlap >> \"$D/overlaps\"'"
        }
        let result = try Self.chaos(redis, scratch, seconds: 10, [section("-s", "-s"), section("-s", "-s"), section("-x", "-x"), section("-x", "-x")])
        #expect(scratch.read("overlaps") == nil, "an exclusive section overlapped another section")
        #expect(result.sections >= 10, "the lock kept changing hands: \(result.sections) sections")
        #expect(result.codes.allSatisfy { [0, 69, 75, 76].contains($0) }, "exit codes of SPEC only: \(result.codes)")
        #expect(result.flaps >= 15 && result.restarts >= 2)
        print("mode chaos (shared/exclusive): \(result.sections) sections, \(result.flaps) flaps, \(result.restarts) restarts, exit codes \(Dictionary(grouping: result.codes, by: { $0 }).mapValues(\.count))")
    }

    @Test func neverMoreThanNHolders() throws {
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        // One detector file per slot: two holders of one slot would collide there, and a
        // slot outside 1..2 would be recorded.
        let section = "\"$R\" run -l 2 \(Self.options) pool -- sh -c 'case $REDLOCK_SLOT in 1|2) ;; *) echo \"slot $REDLOCK_SLOT\" >> \"$D/overlaps\";; esac; flock -n \"$D/slot-$REDLOCK_SLOT\" sh -c \"echo x >> $D/sections; sleep 0.05\" || echo overlap >> \"$D/overlaps\"'"
        let result = try Self.chaos(redis, scratch, seconds: 10, Array(repeating: section, count: 4))
        #expect(scratch.read("overlaps") == nil, "more than 2 holders, or two on one slot: \(scratch.read("overlaps") ?? "")")
        #expect(result.sections >= 10, "the slots kept changing hands: \(result.sections) sections")
        #expect(result.codes.allSatisfy { [0, 69, 75, 76].contains($0) }, "exit codes of SPEC only: \(result.codes)")
        #expect(result.flaps >= 15 && result.restarts >= 2)
        print("mode chaos (limit 2): \(result.sections) sections, \(result.flaps) flaps, \(result.restarts) restarts, exit codes \(Dictionary(grouping: result.codes, by: { $0 }).mapValues(\.count))")
    }
}
