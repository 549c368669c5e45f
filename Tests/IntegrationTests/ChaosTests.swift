import Foundation
import Testing

/// Faults while locks change hands: never two critical sections at once, however the
/// instances fail (overlaps are seen by `OverlapDetector`).
@Suite struct ChaosTests {
    @Test func peerThatCutsRepliesMidwayIsSurvived() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let proxy = try FaultProxy(targetPort: redis.servers[0].port, mode: .cutMidReply)
        let urls = [proxy.url, redis.servers[1].url, redis.servers[2].url].joined(separator: ",")
        for _ in 0..<3 {
            let result = try redlock(["run", "k", "--", "echo", "ran"], environment: ["REDLOCK_URLS": urls])
            #expect(result.status == 0)
            #expect(result.stdout == "ran\n")
        }
    }

    @Test func commandThatIgnoresTheLostSignalIsKilledWhenTheLeaseEnds() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        // The shell and its sleep both ignore SIGTERM; only SIGKILL ends them.
        let process = try RedlockProcess(["run", "--ttl", "2s", "k", "--", "sh", "-c", "trap '' TERM; echo $$ > \"$D/pid\"; sleep 60; echo survived > \"$D/survived\""],
                                         environment: redis.environment.merging(["D": scratch.path]) { $1 })
        #expect(eventually { scratch.read("pid")?.hasSuffix("\n") == true })
        let child = Int32(scratch.read("pid")!.trimmingCharacters(in: .whitespacesAndNewlines))!
        // Paused instances neither answer nor let keys expire early: renewals time out.
        let pausedAt = Date()
        redis.servers[0].pause()
        redis.servers[1].pause()
        defer { redis.servers[0].resume(); redis.servers[1].resume() }
        let result = try process.wait(timeout: 30)
        #expect(result.status == 76, "\(result)")
        #expect(processIsGone(child))
        #expect(!scratch.exists("survived"))
        #expect(Date().timeIntervalSince(pausedAt) < 2.0 + 1.5, "SIGKILL by the end of the lease, with a margin for a busy machine")
    }

    @Test func chaosNeverLetsTwoSectionsOverlap() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        // The delayed-restart rule: votes of an instance that restarted empty count only
        // after --restart-grace >= TTL, or a restart could hand out the lock twice.
        let run = "\"$R\" run --ttl 1s --restart-grace 1500ms --wait 3s --op-timeout 150ms chaos -- sh -c '\(OverlapDetector.section())'"
        let result = try OverlapDetector.watchUnderChaos(Array(repeating: run, count: 4), for: 12, redis: redis, scratch: scratch)
        #expect(result.record.overlaps == nil, "critical sections overlapped")
        #expect(result.record.sections >= 10, "the lock kept changing hands: \(result.record.sections) sections")
        #expect(result.record.codes.allSatisfy { [0, 69, 75, 76].contains($0) }, "exit codes of SPEC only: \(result.record.codes)")
        #expect(result.flaps >= 20 && result.restarts >= 3)
        print("chaos: \(result.record.sections) sections, \(result.flaps) flaps, \(result.restarts) restarts, exit codes \(Dictionary(grouping: result.record.codes, by: { $0 }).mapValues(\.count))")
    }
}
