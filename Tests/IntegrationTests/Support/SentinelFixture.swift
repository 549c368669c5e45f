// A Sentinel-managed deployment for the redis+sentinel:// tests: one master, one replica
// and three sentinels (redis-server --sentinel) on free loopback ports, quorum 2.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One `redis-server --sentinel` process with a generated config (Sentinel rewrites its
/// config file, so each gets its own folder). Killed on deinit.
final class RedisSentinel: @unchecked Sendable {
    let port: UInt16
    /// With TLS: the sentinel's TLS port (it reaches the master over TLS too).
    let tlsPort: UInt16?
    let scratch: TestScratch
    private let process: ChildProcess

    /// Starts a sentinel that monitors `master` as `name` (at `masterPort`, default its
    /// plain port). With `tls`, the sentinel also listens on a TLS port and talks TLS to
    /// the master.
    init(monitoring name: String, master: RedisServer, masterPort: UInt16? = nil, quorum: Int, password: String? = nil,
         tls certificates: TestCertificates? = nil) throws {
        guard let executable = RedisServer.executableURL else { throw RedisServerError.notInstalled }
        scratch = try TestScratch()
        let tlsPort = try certificates.map { _ in try freeLoopbackPort() }
        self.tlsPort = tlsPort
        let tlsLines = certificates.map { certificates in
            """
            tls-port \(tlsPort!)
            tls-cert-file \(certificates.serverCertificate)
            tls-key-file \(certificates.serverKey)
            tls-ca-cert-file \(certificates.caCertificate)
            tls-auth-clients no
            tls-replication yes
            """
        } ?? ""
        var lastError = ""
        for _ in 1...10 {
            let port = try freeLoopbackPort()
            let config = """
                port \(port)
                bind 127.0.0.1
                daemonize no
                dir \(scratch.path)
                logfile \(scratch.file("sentinel.log"))
                sentinel monitor \(name) 127.0.0.1 \(masterPort ?? master.port) \(quorum)
                sentinel down-after-milliseconds \(name) 1000
                sentinel failover-timeout \(name) 10000
                \(password.map { "sentinel auth-pass \(name) \($0)" } ?? "")
                \(tlsLines)

                """
            try config.write(toFile: scratch.file("sentinel.conf"), atomically: true, encoding: .utf8)
            let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
            defer { close(devNull) }
            let process = try ChildProcess(executable: executable.path, arguments: [scratch.file("sentinel.conf"), "--sentinel"],
                                           environment: ProcessInfo.processInfo.environment,
                                           stdin: devNull, stdout: devNull, stderr: devNull, currentDirectory: scratch.path)
            let ready = eventually(timeout: 10) {
                if process.terminationStatus != nil { return true }
                guard let client = try? RESPClient(port: port, timeout: 1) else { return false }
                return (try? client.command("PING")) == .simple("PONG")
            }
            if ready && process.terminationStatus == nil {
                self.port = port
                self.process = process
                return
            }
            process.signal(SIGKILL)
            process.waitForExit()
            lastError = (try? String(contentsOfFile: scratch.file("sentinel.log"), encoding: .utf8)) ?? ""
        }
        throw RedisServerError.failedToStart(port: 0, reason: "sentinel did not start", log: lastError)
    }

    deinit {
        process.signal(SIGKILL)
        process.waitForExit()
    }

    func client() throws -> RESPClient { try RESPClient(port: port) }

    /// SIGSTOP: connections are accepted by the kernel but never answered.
    func pause() { process.signal(SIGSTOP) }

    func resume() { process.signal(SIGCONT) }

    /// The master's address as this sentinel gives it ("127.0.0.1:6379"), nil on error.
    func masterAddress(_ name: String) -> String? {
        guard let reply = try? client().command("SENTINEL", "get-master-addr-by-name", name),
              let items = reply.elements, items.count == 2,
              let host = items[0].string, let port = items[1].string else { return nil }
        return "\(host):\(port)"
    }
}

/// A master, its replica and three sentinels watching them as `name`.
final class SentinelFixture: @unchecked Sendable {
    let name: String
    let master: RedisServer
    let replica: RedisServer
    let sentinels: [RedisSentinel]

    init(name: String = "locks", extraArgs: [String] = []) throws {
        try RedisServer.requireAvailable()
        self.name = name
        master = try RedisServer.started(extraArgs: extraArgs)
        replica = try RedisServer.started(extraArgs: extraArgs + ["--replicaof", "127.0.0.1", String(master.port)] + Self.masterAuth(extraArgs))
        let master = self.master
        sentinels = try (0..<3).map { _ in try RedisSentinel(monitoring: name, master: master, quorum: 2, password: master.password) }
    }

    /// The replica authenticates to its master with the same password.
    private static func masterAuth(_ extraArgs: [String]) -> [String] {
        guard let index = extraArgs.firstIndex(of: "--requirepass"), index + 1 < extraArgs.count else { return [] }
        return ["--masterauth", extraArgs[index + 1]]
    }

    /// `redis+sentinel://[:password@]s1,s2,s3/name`.
    func url(password: String? = nil, database: Int? = nil) -> String {
        let hosts = sentinels.map { "127.0.0.1:\($0.port)" }.joined(separator: ",")
        return "redis+sentinel://\(password.map { ":\($0)@" } ?? "")\(hosts)/\(name)" + (database.map { "/\($0)" } ?? "")
    }

    /// Promotes the replica with `SENTINEL FAILOVER` and waits until every sentinel names
    /// it and it answers ROLE as master. Returns whether that happened in time.
    func failOver(timeout: TimeInterval = 30) throws -> Bool {
        // A sentinel can only promote a replica it has seen (through the master's INFO).
        guard eventually(timeout: timeout, interval: 0.1, {
            ((try? sentinels[0].client().command("SENTINEL", "replicas", name))?.elements?.count ?? 0) > 0
                && (try? replica.client().command("INFO", "replication"))?.string?.contains("master_link_status:up") == true
        }) else { return false }
        let reply = try sentinels[0].client().command("SENTINEL", "FAILOVER", name)
        guard reply == .simple("OK") else { return false }
        let promoted = "127.0.0.1:\(replica.port)"
        return eventually(timeout: timeout, interval: 0.1) {
            sentinels.allSatisfy { $0.masterAddress(name) == promoted }
                && (try? replica.client().command("ROLE"))?.elements?.first?.string == "master"
        }
    }
}
