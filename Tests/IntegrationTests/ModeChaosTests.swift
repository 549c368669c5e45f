import Foundation
import Testing

/// ChaosTests' faults (one instance flapping, one restarted empty under --restart-grace)
/// for each lock mode: never a section that breaks the mode's rule. Sections are watched
/// with flock(1) on local files (`OverlapDetector`): an exclusive section takes `flock -x`,
/// a shared one `flock -s`, a slot's section `flock -x` on that slot's file, so a broken
/// rule makes some `flock -n` fail and record an overlap.
@Suite struct ModeChaosTests {
    /// The delayed-restart rule: --restart-grace >= TTL (as in ChaosTests).
    private static let options = "--ttl 1s --restart-grace 1500ms --wait 3s --op-timeout 150ms"

    @Test func noExclusiveHolderWithAnyoneElse() throws {
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let section = { (mode: String, flag: String) in
            "\"$R\" run \(mode) \(Self.options) rw -- sh -c '\(OverlapDetector.section(flock: flag))'"
        }
        let result = try OverlapDetector.watchUnderChaos([section("-s", "-s"), section("-s", "-s"), section("-x", "-x"), section("-x", "-x")], for: 10, redis: redis, scratch: scratch)
        #expect(result.record.overlaps == nil, "an exclusive section overlapped another section")
        #expect(result.record.sections >= 10, "the lock kept changing hands: \(result.record.sections) sections")
        #expect(result.record.codes.allSatisfy { [0, 69, 75, 76].contains($0) }, "exit codes of SPEC only: \(result.record.codes)")
        #expect(result.flaps >= 15 && result.restarts >= 2)
        print("mode chaos (shared/exclusive): \(result.record.sections) sections, \(result.flaps) flaps, \(result.restarts) restarts, exit codes \(Dictionary(grouping: result.record.codes, by: { $0 }).mapValues(\.count))")
    }

    @Test func neverMoreThanNHolders() throws {
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        // One detector file per slot: two holders of one slot would collide there, and a
        // slot outside 1..2 would be recorded.
        let section = "\"$R\" run -l 2 \(Self.options) pool -- sh -c 'case $REDLOCK_SLOT in 1|2) ;; *) echo \"slot $REDLOCK_SLOT\" >> \"$D/overlaps\";; esac; \(OverlapDetector.section(file: "slot-$REDLOCK_SLOT"))'"
        let result = try OverlapDetector.watchUnderChaos(Array(repeating: section, count: 4), for: 10, redis: redis, scratch: scratch)
        #expect(result.record.overlaps == nil, "more than 2 holders, or two on one slot: \(result.record.overlaps ?? "")")
        #expect(result.record.sections >= 10, "the slots kept changing hands: \(result.record.sections) sections")
        #expect(result.record.codes.allSatisfy { [0, 69, 75, 76].contains($0) }, "exit codes of SPEC only: \(result.record.codes)")
        #expect(result.flaps >= 15 && result.restarts >= 2)
        print("mode chaos (limit 2): \(result.record.sections) sections, \(result.flaps) flaps, \(result.restarts) restarts, exit codes \(Dictionary(grouping: result.record.codes, by: { $0 }).mapValues(\.count))")
    }
}
