import Foundation
import Testing

/// redis+sentinel://: one instance of the quorum whose master Sentinel names, found again
/// after a failover.
@Suite struct SentinelTests {
    @Test func runFindsTheMasterAndFindsTheNewOneAfterAFailover() throws {
        let deployment = try SentinelFixture(extraArgs: ["--requirepass", "sentinel-pw-5"])
        let url = deployment.url(password: "sentinel-pw-5")
        let first = try redlock(["-r", url, "run", "k", "--", "sh", "-c", "echo \"fence=$REDLOCK_FENCING_TOKEN\""])
        #expect(first.status == 0, "\(first)")
        #expect(first.stdout == "fence=1\n")
        #expect(try deployment.master.client().command("GET", "{k}:fence").string == "1")
        #expect(!first.stderr.contains("sentinel-pw-5"))

        // A sentinel that is down is skipped; a master name no sentinel knows is a clear "no".
        let downPort = try freeLoopbackPort()
        let skipping = url.replacingOccurrences(of: "@", with: "@127.0.0.1:\(downPort),")
        let second = try redlock(["-r", skipping, "run", "-n", "k", "--", "true"])
        #expect(second.status == 0, "\(second)")
        // A sentinel that hangs gets its share of --connect-timeout, then the next is asked.
        deployment.sentinels[0].pause()
        let hanging = try redlock(["-r", url, "run", "-n", "k", "--", "true"])
        deployment.sentinels[0].resume()
        #expect(hanging.status == 0, "\(hanging)")
        let unknown = try redlock(["-r", url.replacingOccurrences(of: "/locks", with: "/nosuch"), "run", "-n", "k", "--", "true"])
        #expect(unknown.status == 69, "\(unknown)")
        #expect(unknown.stderr.contains("no sentinel named the master 'nosuch'"), "\(unknown)")
        #expect(unknown.stderr.contains("does not know 'nosuch'"), "\(unknown)")
        #expect(!unknown.stderr.contains("sentinel-pw-5"))

        let doctor = try redlock(["-r", url, "doctor", "--json"])
        let json = try JSON.parse(doctor.stdout)
        #expect(json["instances"]?[0]?["role"]?.stringValue == "master", "\(doctor)")
        #expect(json["instances"]?[0]?["sentinel"]?["master"]?.stringValue == "locks")
        #expect(json["instances"]?[0]?["sentinel"]?["address"]?.stringValue == "127.0.0.1:\(deployment.master.port)")
        #expect(!doctor.stdout.contains("sentinel-pw-5"))

        #expect(try deployment.failOver(), "the sentinels did not promote the replica in time")
        let after = try redlock(["-r", url, "run", "k", "--", "sh", "-c", "echo \"fence=$REDLOCK_FENCING_TOKEN\""])
        #expect(after.status == 0, "\(after)")
        // The counter came over with replication, and the new master raised it.
        #expect(after.stdout == "fence=4\n")
        #expect(try deployment.replica.client().command("GET", "{k}:fence").string == "4")
        let text = try redlock(["-r", url, "doctor"])
        #expect(text.stdout.contains("info: \(url.split(separator: "@").last.map { "locks via sentinel " + $0.dropLast("/locks".count) } ?? ""): Sentinel master 'locks' is at 127.0.0.1:\(deployment.replica.port)"), "\(text)")
    }
}
