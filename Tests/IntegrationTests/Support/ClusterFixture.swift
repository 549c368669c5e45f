// A three-master Redis Cluster for the redis+cluster:// tests, built by hand the way
// redis-cli --cluster create would: cluster-enabled servers, CLUSTER MEET, and the slots
// split in three with CLUSTER ADDSLOTSRANGE. No replicas: the tests are about routing.

import Foundation
import RedlockCore

final class ClusterFixture: @unchecked Sendable {
    let servers: [RedisServer]
    /// With TLS: each server's TLS port (the cluster bus is TLS too, and a TLS client is
    /// told the nodes' TLS ports).
    let tlsPorts: [UInt16]
    /// Each server's node id, in the order of `servers`.
    let ids: [String]
    /// The slot ranges each server was given.
    static let ranges: [ClosedRange<Int>] = [0...5460, 5461...10922, 10923...16383]

    init(tls certificates: TestCertificates? = nil) throws {
        try RedisServer.requireAvailable()
        // The bus ports are chosen too: port+10000 could be taken, or above 65535. A port
        // chosen here can be taken by another test's server before this one binds it, so a
        // server that does not start is tried again with new ports.
        var busPorts: [UInt16] = []
        var tlsPorts: [UInt16] = []
        var started: [RedisServer] = []
        for _ in 0..<3 {
            var lastError: (any Error)?
            for _ in 0..<5 {
                let busPort = try freeLoopbackPort()
                let tlsPort = try certificates.map { _ in try freeLoopbackPort() }
                var arguments = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                                 "--cluster-node-timeout", "5000", "--cluster-port", String(busPort)]
                if let certificates, let tlsPort {
                    arguments += ["--tls-port", String(tlsPort), "--tls-cluster", "yes",
                                  "--tls-cert-file", certificates.serverCertificate, "--tls-key-file", certificates.serverKey,
                                  "--tls-ca-cert-file", certificates.caCertificate, "--tls-auth-clients", "no"]
                }
                do {
                    started.append(try RedisServer.started(extraArgs: arguments))
                    busPorts.append(busPort)
                    if let tlsPort { tlsPorts.append(tlsPort) }
                    lastError = nil
                    break
                } catch {
                    lastError = error
                }
            }
            if let lastError { throw lastError }
        }
        self.tlsPorts = tlsPorts
        servers = started
        ids = try servers.map { try $0.client().command("CLUSTER", "MYID").string ?? "" }
        for (index, server) in servers.enumerated() {
            let range = Self.ranges[index]
            _ = try server.client().command("CLUSTER", "ADDSLOTSRANGE", String(range.lowerBound), String(range.upperBound))
        }
        for (server, busPort) in zip(servers, busPorts).dropFirst() {
            _ = try servers[0].client().command("CLUSTER", "MEET", "127.0.0.1", String(server.port), String(busPort))
        }
        let formed = eventually(timeout: 20, interval: 0.1) {
            servers.allSatisfy { server in
                guard let client = try? server.client(),
                      let info = (try? client.command("CLUSTER", "INFO"))?.string,
                      let slots = (try? client.command("CLUSTER", "SLOTS"))?.elements else { return false }
                return info.contains("cluster_state:ok") && slots.count == 3
            }
        }
        guard formed else {
            throw RedisServerError.failedToStart(port: servers[0].port, reason: "the cluster did not form", log: servers[0].log())
        }
    }

    /// `redis+cluster://127.0.0.1:<port>` with the first server as the only seed, or all.
    func url(allSeeds: Bool = false) -> String {
        "redis+cluster://" + (allSeeds ? servers : [servers[0]]).map { "127.0.0.1:\($0.port)" }.joined(separator: ",")
    }

    /// The server that owns `key`'s slot.
    func owner(of key: String) -> RedisServer {
        let slot = ClusterSlot.of(Array(key.utf8))
        return servers[Self.ranges.firstIndex { $0.contains(slot) }!]
    }

    /// A key with `prefix` whose slot is on server `index`.
    static func key(_ prefix: String, onServer index: Int) -> String {
        for n in 0... {
            let key = "\(prefix)\(n)"
            if ranges[index].contains(ClusterSlot.of(Array(key.utf8))) { return key }
        }
        fatalError("unreachable")
    }
}
