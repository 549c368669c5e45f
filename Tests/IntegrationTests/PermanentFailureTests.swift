import Foundation
import Testing

/// Failures the next attempt would meet again are permanent: `run --wait` ends at once with
/// a clear error instead of retrying until its deadline (unreachable is not busy).
@Suite struct PermanentFailureTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let serverArgs: [String]
        /// The URL for a server on `port`.
        let url: @Sendable (UInt16) -> String
        let status: Int32
        /// What stderr must say, with the port for "PORT".
        let message: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "database out of range", serverArgs: ["--databases", "2"], url: { "redis://127.0.0.1:\($0)/5" },
             status: 69, message: "127.0.0.1:PORT: cannot select database 5: ERR DB index is out of range"),
        Case(name: "EVALSHA disabled", serverArgs: ["--rename-command", "EVALSHA", ""], url: { "redis://127.0.0.1:\($0)" },
             status: 69, message: "127.0.0.1:PORT: cannot run a command redlock needs: ERR unknown command 'EVALSHA'"),
        Case(name: "EVAL and SCRIPT disabled", serverArgs: ["--rename-command", "EVAL", "", "--rename-command", "SCRIPT", ""], url: { "redis://127.0.0.1:\($0)" },
             status: 69, message: "127.0.0.1:PORT: cannot run a command redlock needs: ERR unknown command 'EVAL'"),
        Case(name: "AUTH refused", serverArgs: ["--requirepass", "right-pw-3"], url: { "redis://:wrong-pw-3@127.0.0.1:\($0)" },
             status: 77, message: "127.0.0.1:PORT: authentication failed"),
    ]

    @Test(arguments: cases)
    func waitingEndsAtOnce(_ failure: Case) throws {
        try RedisServer.requireAvailable()
        let server = try RedisServer.started(extraArgs: failure.serverArgs)
        let started = Date()
        let result = try redlock(["run", "-w", "20s", "k", "--", "echo", "ran"], environment: ["REDLOCK_URLS": failure.url(server.port)], timeout: 40)
        let elapsed = Date().timeIntervalSince(started)
        #expect(result.status == failure.status, "\(result)")
        #expect(result.stdout.isEmpty)
        #expect(elapsed < 10, "waited \(elapsed) s for what no attempt can cure")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.last?.hasPrefix("redlock: ") == true)
        #expect(result.stderr.contains(failure.message.replacingOccurrences(of: "PORT", with: String(server.port))), "\(result)")
        #expect(!result.stderr.contains("with args beginning with"), "the lock's value is not part of the error")
        #expect(!result.stderr.contains("wrong-pw-3"))
    }

    /// A new connection loads each script (SCRIPT LOAD) in the same write as its first
    /// EVALSHA, so EVAL is needed only where SCRIPT is refused.
    @Test func evalAloneDisabledIsNoFailure() throws {
        try RedisServer.requireAvailable()
        let server = try RedisServer.started(extraArgs: ["--rename-command", "EVAL", ""])
        let result = try redlock(["run", "-w", "20s", "k", "--", "echo", "ran"], environment: ["REDLOCK_URLS": server.url], timeout: 40)
        #expect(result.status == 0 && result.stdout == "ran\n", "\(result)")
        #expect((try server.client().command("EXISTS", "k").int) == 0, "released")
    }

    @Test func aReplicaEndsWaitingAtOnce() throws {
        try RedisServer.requireAvailable()
        let master = try RedisServer.started()
        let replica = try RedisServer.started(extraArgs: ["--replicaof", "127.0.0.1", String(master.port), "--replica-read-only", "no"])
        let started = Date()
        let result = try redlock(["run", "-w", "20s", "k", "--", "echo", "ran"], environment: ["REDLOCK_URLS": replica.url], timeout: 40)
        #expect(result.status == 69, "\(result)")
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(result.stderr.contains("127.0.0.1:\(replica.port): is a replica of 127.0.0.1:\(master.port); a replica never votes"), "\(result)")
    }

    /// redis-server takes the ClientHello for the start of an inline command and waits for
    /// the rest: the handshake alone can only time out, like a paused TLS server's. A plain
    /// PING on a second socket tells them apart.
    @Test func aTLSURLOnAPlainPortEndsWaitingAtOnce() throws {
        try RedisServer.requireAvailable()
        let certificates = try TestCertificates()
        let plain = try RedisServer.started(extraArgs: ["--requirepass", "plain-pw-4"])
        let started = Date()
        let result = try redlock(["--tls-ca-cert", certificates.caCertificate, "-r", "rediss://:plain-pw-4@127.0.0.1:\(plain.port)", "run", "-w", "20s", "k", "--", "echo", "ran"], timeout: 40)
        #expect(result.status == 69, "\(result)")
        #expect(Date().timeIntervalSince(started) < 10, "waited for what no attempt can cure")
        #expect(result.stderr.contains("127.0.0.1:\(plain.port): TLS handshake failed: the port answers plain-text Redis (a rediss:// URL for a plain port?)"), "\(result)")
        #expect(!result.stderr.contains("plain-pw-4"))
    }

    /// A TLS server that is only paused is not mistaken for a plain-text port: its attempts
    /// time out and are retried.
    @Test func aPausedTLSServerIsStillATimeout() throws {
        try RedisServer.requireAvailable()
        let certificates = try TestCertificates()
        let redis = try TLSRedisServer.started(certificates)
        redis.server.pause()
        defer { redis.server.resume() }
        let result = try redlock(["--tls-ca-cert", certificates.caCertificate, "-r", "rediss://127.0.0.1:\(redis.tlsPort)", "run", "-w", "2s", "k", "--", "echo", "ran"], timeout: 40)
        #expect(result.status == 69, "\(result)")
        #expect(result.stderr.contains("127.0.0.1:\(redis.tlsPort): timed out in the TLS handshake"), "\(result)")
    }
}
