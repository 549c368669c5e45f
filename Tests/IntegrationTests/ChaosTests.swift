import Foundation
import Testing

/// Faults while locks change hands: never two critical sections at once, however the
/// instances fail. Overlaps are detected by `flock -n` on a local file inside each section:
/// if a section starts while another still runs, its flock fails and it records an
/// overlap. (A killed section frees its flock as it dies, so a teardown is not mistaken
/// for an overlap.)
@Suite struct ChaosTests {
    private static func section(_ directory: String, hold: String = "0.05") -> [String] {
        ["sh", "-c", "flock -n \"\(directory)/detector\" sh -c 'echo x >> \"\(directory)/sections\"; sleep \(hold)' || echo overlap >> \"\(directory)/overlaps\""]
    }

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
        let binary = try RedlockBinary.executableURL().path
        let end = Date().addingTimeInterval(12)
        // The delayed-restart rule: votes of an instance that restarted empty count only
        // after --restart-grace >= TTL, or a restart could hand out the lock twice.
        let run = "\"$R\" run --ttl 1s --restart-grace 1500ms --wait 3s --op-timeout 150ms chaos -- sh -c 'flock -n \"$D/detector\" sh -c \"echo x >> $D/sections; sleep 0.05\" || echo overlap >> \"$D/overlaps\"'"
        let loop = "while [ $(date +%s) -lt \(Int(end.timeIntervalSince1970)) ]; do \(run); echo $? >> \"$D/codes\"; done"
        let contenders = try (0..<4).map { _ in
            try RedlockProcess(executable: URL(fileURLWithPath: "/bin/sh"), ["-c", loop],
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
        #expect(scratch.read("overlaps") == nil, "critical sections overlapped")
        #expect(sections >= 10, "the lock kept changing hands: \(sections) sections")
        #expect(codes.allSatisfy { [0, 69, 75, 76].contains($0) }, "exit codes of SPEC only: \(codes)")
        #expect(flaps >= 20 && restarts >= 3)
        print("chaos: \(sections) sections, \(flaps) flaps, \(restarts) restarts, exit codes \(Dictionary(grouping: codes, by: { $0 }).mapValues(\.count))")
    }
}
