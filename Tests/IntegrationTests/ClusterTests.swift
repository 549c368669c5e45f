import Foundation
import RedlockCore
import Testing

/// redis+cluster://: one Redis Cluster as one instance of the quorum, each command routed
/// to the master that owns its key's slot.
@Suite struct ClusterTests {
    @Test func runInspectAndForceReleaseOnEveryMaster() throws {
        let cluster = try ClusterFixture()
        let url = cluster.url()
        let keys = (0..<3).map { ClusterFixture.key("lock-", onServer: $0) }
        for key in keys {
            let result = try redlock(["-r", url, "run", key, "--", "sh", "-c", "echo \"$REDLOCK_FENCING_TOKEN\""])
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout == "1\n")
            // The lock and its counter live on the master that owns the slot.
            #expect(try cluster.owner(of: key).client().command("GET", "{\(key)}:fence").string == "1")
        }
        // Held locks on all three masters (acquire leaves them held for the TTL).
        var tokens: [String] = []
        for key in keys {
            let acquired = try redlock(["-r", url, "acquire", "--ttl", "60s", key])
            #expect(acquired.status == 0, "\(acquired)")
            tokens.append(acquired.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(isRedlockValue(try cluster.owner(of: key).client().command("GET", key)))
        }
        let one = try redlock(["-r", url, "inspect", keys[1]])
        #expect(one.status == 0, "\(one)")
        #expect(one.stdout.contains("held by a quorum"), "\(one)")
        // A pattern is scanned on every master of the cluster.
        let pattern = try redlock(["-r", url, "inspect", "--json", "lock-*"])
        #expect(pattern.status == 0, "\(pattern)")
        for key in keys { #expect(pattern.stdout.contains("\"\(key)\""), "\(key) missing: \(pattern)") }
        #expect(!pattern.stdout.contains(":fence"))

        let released = try redlock(["-r", url, "force-release", "--yes", keys[0], keys[2]])
        #expect(released.status == 0, "\(released)")
        #expect(try cluster.owner(of: keys[0]).client().command("GET", keys[0]) == .null)
        #expect(try cluster.owner(of: keys[2]).client().command("GET", keys[2]) == .null)
        let byToken = try redlock(["-r", url, "release", "--token", tokens[1], keys[1]])
        #expect(byToken.status == 0, "\(byToken)")

        let doctor = try redlock(["-r", url, "doctor", "--json"])
        let json = try JSON.parse(doctor.stdout)
        #expect(json["instances"]?[0]?["reachable"]?.boolValue == true, "\(doctor)")
        #expect(json["instances"]?[0]?["cluster"]?["masters"]?[2]?.stringValue != nil, "\(doctor)")

        // With every seed listed, a dead first seed is skipped.
        cluster.servers[0].pause()
        defer { cluster.servers[0].resume() }
        let seeds = "redis+cluster://127.0.0.1:\(cluster.servers[0].port),127.0.0.1:\(cluster.servers[1].port)"
        let skipping = try redlock(["-r", seeds, "run", "-n", keys[1], "--", "true"])
        #expect(skipping.status == 0, "\(skipping)")
    }

    @Test func overTLSEveryNodeIsReachedByItsTLSPort() throws {
        let certificates = try TestCertificates()
        let cluster = try ClusterFixture(tls: certificates)
        let url = "rediss+cluster://127.0.0.1:\(cluster.tlsPorts[0])"
        let key = ClusterFixture.key("tls-", onServer: 2)
        let result = try redlock(["--tls-ca-cert", certificates.caCertificate, "-r", url, "run", key, "--", "echo", "ran"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "ran\n")
        #expect(try cluster.servers[2].client().command("GET", "{\(key)}:fence").string == "1")
        let doctor = try JSON.parse(try redlock(["--tls-ca-cert", certificates.caCertificate, "-r", url, "doctor", "--json"]).stdout)
        #expect(doctor["instances"]?[0]?["tls"]?["protocol"]?.stringValue?.hasPrefix("TLSv1.") == true)
        let untrusted = try redlock(["--tls-ca-cert", certificates.otherCACertificate, "-r", url, "run", key, "--", "true"], timeout: 20)
        #expect(untrusted.status == 69, "\(untrusted)")
        #expect(untrusted.stderr.contains("certificate verify failed"), "\(untrusted)")
    }

    @Test func movedAndAskRepliesAreFollowed() throws {
        let cluster = try ClusterFixture()
        let endpoint = try Endpoint.parse(cluster.url(allSeeds: true))
        let instances = InstanceSet(endpoints: [endpoint], connectTimeout: .seconds(2), operationTimeout: .seconds(2))
        let key = ClusterFixture.key("moving-", onServer: 0)
        let slot = String(ClusterSlot.of(Array(key.utf8)))
        func set(_ value: String) -> Result<Reply, RedisError> { instances.broadcast(Command("SET", key, value))[0] }
        func get() -> Result<Reply, RedisError> { instances.broadcast(Command("GET", key))[0] }
        #expect(try set("one").get() == .status("OK"))

        // ASK: the slot is migrating to server 1 and the key is not on server 0 any more.
        _ = try cluster.servers[0].client().command("DEL", key)
        _ = try cluster.servers[1].client().command("CLUSTER", "SETSLOT", slot, "IMPORTING", cluster.ids[0])
        _ = try cluster.servers[0].client().command("CLUSTER", "SETSLOT", slot, "MIGRATING", cluster.ids[1])
        #expect(try set("two").get() == .status("OK"))
        // Server 1 serves the importing slot only after ASKING, as redlock did.
        let importer = try cluster.servers[1].client()
        _ = try importer.command("ASKING")
        #expect(try importer.command("GET", key).string == "two")

        // MOVED: the slot now belongs to server 1; the map this set learned says server 0.
        for server in cluster.servers {
            _ = try server.client().command("CLUSTER", "SETSLOT", slot, "NODE", cluster.ids[1])
        }
        #expect(try get().get() == .bulk(Array("two".utf8)))
        #expect(try get().get() == .bulk(Array("two".utf8)), "after learning the map again")
    }
}
