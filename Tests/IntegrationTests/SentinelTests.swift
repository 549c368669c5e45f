import Foundation
import Testing

/// redis+sentinel://: one instance of the quorum whose master Sentinel names, found again
/// after a failover.
@Suite struct SentinelTests {
    @Test func overTLSToTheSentinelsAndTheMaster() throws {
        let certificates = try TestCertificates()
        let master = try TLSRedisServer.started(certificates)
        let sentinel = try RedisSentinel(monitoring: "tls-locks", master: master.server, masterPort: master.tlsPort, quorum: 1, tls: certificates)
        let url = "rediss+sentinel://127.0.0.1:\(sentinel.tlsPort!)/tls-locks"
        let result = try redlock(["--tls-ca-cert", certificates.caCertificate, "-r", url, "run", "k", "--", "echo", "ran"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "ran\n")
        #expect(try master.server.client().command("GET", "{k}:fence").string == "1")
        let doctor = try JSON.parse(try redlock(["--tls-ca-cert", certificates.caCertificate, "-r", url, "doctor", "--json"]).stdout)
        #expect(doctor["instances"]?[0]?["sentinel"]?["address"]?.stringValue == "127.0.0.1:\(master.tlsPort)")
        #expect(doctor["instances"]?[0]?["tls"]?["protocol"]?.stringValue?.hasPrefix("TLSv1.") == true)
        // A sentinel whose certificate does not verify is a "no" that waiting cannot cure.
        let untrusted = try redlock(["--tls-ca-cert", certificates.otherCACertificate, "-r", url, "run", "k", "--", "true"], timeout: 20)
        #expect(untrusted.status == 69, "\(untrusted)")
        #expect(untrusted.stderr.contains("certificate verify failed") && untrusted.stderr.contains("(sentinel 127.0.0.1:\(sentinel.tlsPort!))"), "\(untrusted)")
    }

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
