import Foundation
import Testing

/// rediss://: redlock's TLS over its own non-blocking sockets, against redis-server's TLS
/// port, with certificates made for the test.
@Suite struct TLSTests {
    @Test func runOverTLSWithPasswordAndTheGivenCA() throws {
        try RedisServer.requireAvailable()
        let certificates = try TestCertificates()
        let redis = try TLSRedisServer.started(certificates, extraArgs: ["--requirepass", "tls-secret-7"])
        let url = "rediss://:tls-secret-7@127.0.0.1:\(redis.tlsPort)"
        let result = try redlock(["--tls-ca-cert", certificates.caCertificate, "-r", url, "run", "k", "--", "sh", "-c", "echo \"fence=$REDLOCK_FENCING_TOKEN\""])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "fence=1\n")
        #expect(result.stderr.isEmpty)
        // Released over TLS too, and the fencing counter is the one the plain port sees.
        #expect(try redis.server.client().command("GET", "k") == .null)
        #expect(try redis.server.client().command("GET", "{k}:fence").string == "1")

        // The environment's settings, and a host name checked against the certificate's DNS name.
        let byName = try redlock(["inspect", "k"], environment: [
            "REDLOCK_URLS": "rediss://:tls-secret-7@localhost:\(redis.tlsPort)",
            "REDLOCK_TLS_CA_CERT": certificates.caCertificate,
        ])
        #expect(byName.status == 1, "not held, but reached: \(byName)")
        #expect(!byName.stdout.contains("tls-secret-7") && !byName.stderr.contains("tls-secret-7"))

        let doctor = try redlock(["--tls-ca-cert", certificates.caCertificate, "-r", url, "doctor", "--json"])
        let json = try JSON.parse(doctor.stdout)
        #expect(json["instances"]?[0]?["reachable"]?.boolValue == true, "\(doctor)")
        #expect(json["instances"]?[0]?["tls"]?["enabled"]?.boolValue == true)
        #expect(json["instances"]?[0]?["tls"]?["protocol"]?.stringValue?.hasPrefix("TLSv1.") == true)
        #expect(json["instances"]?[0]?["tls"]?["verified"]?.boolValue == true)
        let text = try redlock(["--tls-ca-cert", certificates.caCertificate, "-r", url, "doctor"])
        #expect(text.stdout.contains("info: 127.0.0.1:\(redis.tlsPort): TLS on, TLSv1."), "\(text)")
        #expect(!text.stdout.contains("tls-secret-7"))
    }

    @Test func anUntrustedCertificateIsANoWithTheReason() throws {
        try RedisServer.requireAvailable()
        let certificates = try TestCertificates()
        let redis = try TLSRedisServer.started(certificates)
        // No -n: a certificate that does not verify must not be waited on forever.
        let result = try redlock(["--tls-ca-cert", certificates.otherCACertificate, "-r", "rediss://127.0.0.1:\(redis.tlsPort)", "run", "k", "--", "true"], timeout: 20)
        #expect(result.status == 69, "\(result)")
        // redis-server sends its CA along with its certificate, so OpenSSL finds the chain's
        // self-signed root untrusted (without the root it would miss the issuer).
        #expect(result.stderr.contains("127.0.0.1:\(redis.tlsPort): TLS handshake failed: certificate verify failed: self-signed certificate in certificate chain")
                || result.stderr.contains("127.0.0.1:\(redis.tlsPort): TLS handshake failed: certificate verify failed: unable to get local issuer certificate"), "\(result)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func aNameTheCertificateDoesNotCarryFails() throws {
        try RedisServer.requireAvailable()
        let certificates = try TestCertificates()
        let redis = try TLSRedisServer.started(certificates)
        let result = try redlock(["-n", "--tls-ca-cert", certificates.caCertificate, "--tls-server-name", "redis.example.com",
                                  "-r", "rediss://127.0.0.1:\(redis.tlsPort)", "run", "k", "--", "true"])
        #expect(result.status == 69, "\(result)")
        #expect(result.stderr.contains("certificate verify failed: hostname mismatch"), "\(result)")
        // The name the certificate does carry works, given for an address URL.
        let named = try redlock(["-n", "--tls-ca-cert", certificates.caCertificate, "--tls-server-name", "localhost",
                                 "-r", "rediss://127.0.0.1:\(redis.tlsPort)", "run", "k", "--", "true"])
        #expect(named.status == 0, "\(named)")
    }

    @Test func aPlainTextPortFailsClearly() throws {
        try RedisServer.requireAvailable()
        let certificates = try TestCertificates()
        let redis = try TLSRedisServer.started(certificates)
        // redis-server takes the ClientHello for the start of an inline command and waits for
        // the rest: the handshake alone can only time out; a plain-text PING on a second
        // socket shows what the port speaks (PermanentFailureTests has the waiting side).
        let result = try redlock(["-n", "--tls-ca-cert", certificates.caCertificate, "-r", "rediss://127.0.0.1:\(redis.server.port)", "run", "k", "--", "true"], timeout: 20)
        #expect(result.status == 69, "\(result)")
        #expect(result.stderr.contains("127.0.0.1:\(redis.server.port): TLS handshake failed: the port answers plain-text Redis (a rediss:// URL for a plain port?)"), "\(result)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func clientCertificatesWhenTheServerAsks() throws {
        try RedisServer.requireAvailable()
        let certificates = try TestCertificates()
        let redis = try TLSRedisServer.started(certificates, requireClientCertificates: true)
        let url = "rediss://127.0.0.1:\(redis.tlsPort)"
        let with = try redlock(["run", "k", "--", "echo", "ran"], environment: [
            "REDLOCK_URLS": url, "REDLOCK_TLS_CA_CERT": certificates.caCertificate,
            "REDLOCK_TLS_CERT": certificates.clientCertificate, "REDLOCK_TLS_KEY": certificates.clientKey,
        ])
        #expect(with.status == 0, "\(with)")
        #expect(with.stdout == "ran\n")
        let without = try redlock(["--tls-ca-cert", certificates.caCertificate, "-r", url, "run", "k", "--", "true"], timeout: 20)
        #expect(without.status == 69, "\(without)")
        #expect(without.stderr.contains("127.0.0.1:\(redis.tlsPort): TLS "), "\(without)")
        #expect(without.stderr.contains("certificate"), "\(without)")
        // The core says a client certificate is wanted; the CLI names the options that give one.
        #expect(without.stderr.contains("--tls-cert, --tls-key"), "\(without)")
    }

    @Test func insecureSkipsVerificationAndSaysSo() throws {
        try RedisServer.requireAvailable()
        let certificates = try TestCertificates()
        let redis = try TLSRedisServer.started(certificates)
        let arguments = ["--tls-ca-cert", certificates.otherCACertificate, "-r", "rediss://127.0.0.1:\(redis.tlsPort)", "run", "k", "--", "echo", "ran"]
        let loud = try redlock(["--tls-insecure"] + arguments)
        #expect(loud.status == 0, "\(loud)")
        #expect(loud.stdout == "ran\n")
        #expect(loud.stderr.hasPrefix("redlock: warning: TLS verification is off"))
        #expect(loud.stderr.split(separator: "\n").count == 1)
        let quiet = try redlock(["-q"] + arguments, environment: ["REDLOCK_TLS_INSECURE": "1"])
        #expect(quiet.status == 0, "\(quiet)")
        #expect(quiet.stderr.isEmpty)
    }

    @Test func aWaiterHearsTheReleaseOverTLS() throws {
        try RedisServer.requireAvailable()
        let certificates = try TestCertificates()
        let redis = try TLSRedisServer.started(certificates)
        let environment = ["REDLOCK_URLS": redis.url(), "REDLOCK_TLS_CA_CERT": certificates.caCertificate]
        let holder = try redlock(["acquire", "--ttl", "60s", "k"], environment: environment)
        #expect(holder.status == 0, "\(holder)")
        let waiter = try RedlockProcess(["run", "--wait", "30s", "k", "--", "echo", "got it"], environment: environment)
        #expect(eventually { waiter.stderrSoFar.contains("waiting for 'k'") })
        sleep(milliseconds: 300)  // the subscription follows the first busy attempt
        let release = try redlock(["release", "--token", holder.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "k"], environment: environment)
        #expect(release.status == 0, "\(release)")
        let released = Date()
        let result = try waiter.wait(timeout: 20)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "got it\n")
        // Subscribed, it sleeps until the announcement; were the message lost (or left
        // decrypted inside OpenSSL, unseen by poll), its fallback timer takes 3 s or more.
        #expect(Date().timeIntervalSince(released) < 2, "the waiter did not hear the release over TLS")
    }

    @Test func aTLSServerThatDiesMidLeaseIsALostLockNotASIGPIPE() throws {
        try RedisServer.requireAvailable()
        let certificates = try TestCertificates()
        let redis = try TLSRedisServer.started(certificates)
        let scratch = try TestScratch()
        let process = try RedlockProcess(["--tls-ca-cert", certificates.caCertificate, "-r", redis.url(), "run", "--ttl", "1s", "k",
                                          "--", "sh", "-c", "touch \"$D/up\"; exec sleep 10"], environment: ["D": scratch.path])
        #expect(eventually { scratch.exists("up") })
        // Writes to a connection the server dropped (a renewal, a close_notify) must not
        // raise SIGPIPE, whose default action would kill redlock and orphan COMMAND.
        redis.server.kill()
        let result = try process.wait(timeout: 20)
        #expect(result.status == 76, "\(result)")
        #expect(result.stderr.contains("lost"), "\(result)")
    }

    /// A large pipeline to a server that stops reading for a while fills the socket: the TLS
    /// write must wait for the socket to drain (WANT_WRITE), not take EAGAIN for a closed
    /// connection. In the static release binary OpenSSL runs on a libc (and errno) of its own,
    /// so this is where a retry decision made from the wrong errno shows.
    @Test func writeBackPressureOverTLSWaitsForTheSocketToDrain() throws {
        try RedisServer.requireAvailable()
        let certificates = try TestCertificates()
        let redis = try TLSRedisServer.started(certificates)
        // 10,000 keys with long names: inspect pipelines a GET and a PTTL for each, about
        // 8 MB of requests, more than the loopback socket buffers hold (4 MB at most here).
        let keyCount = 10_000
        let padding = String(repeating: "x", count: 400)
        let created = try redis.server.client().command(
            "EVAL", "for i = 1, tonumber(ARGV[1]) do redis.call('SET', 'p' .. ARGV[2] .. i, 'v') end return tonumber(ARGV[1])",
            "0", String(keyCount), padding)
        #expect(created.int == Int64(keyCount))
        // Past the handshake and the SCANs (a few kB), the proxy stops reading for 3 s.
        let proxy = try FaultProxy(targetPort: redis.tlsPort, mode: .stopReadingAfter(bytes: 256 * 1024, milliseconds: 3000))
        let result = try redlock(["--tls-ca-cert", certificates.caCertificate, "-r", "rediss://127.0.0.1:\(proxy.port)",
                                  "--op-timeout", "20s", "inspect", "p*"], timeout: 60)
        #expect(result.status == 0, "every key is held, by a plain value, on the one instance: \(result.stderr.prefix(500))")
        #expect(!result.stderr.contains("closed"), "\(result.stderr.prefix(500))")
        #expect(result.stdout.split(separator: "\n").count >= keyCount, "\(result.stdout.suffix(500))")
    }

    @Test func unusableTLSFilesAreConfigurationErrors() throws {
        let scratch = try TestScratch()
        let missing = try redlock(["--tls-ca-cert", scratch.file("nope.crt"), "-r", "rediss://127.0.0.1:1", "run", "k", "--", "true"])
        #expect(missing.status == 78, "\(missing)")
        #expect(missing.stderr.hasPrefix("redlock: cannot load TLS CA certificates from '\(scratch.file("nope.crt"))'"), "\(missing)")
        // A key without its certificate: the CLI names the option that is missing.
        let keyOnly = try redlock(["--tls-key", scratch.file("client.key"), "-r", "rediss://127.0.0.1:1", "run", "k", "--", "true"])
        #expect(keyOnly.status == 78, "\(keyOnly)")
        #expect(keyOnly.stderr == "redlock: TLS key '\(scratch.file("client.key"))' given without a client certificate (--tls-cert)\n", "\(keyOnly)")
        // Without a rediss:// URL the TLS settings are not even read.
        let unused = try redlock(["--tls-ca-cert", scratch.file("nope.crt"), "-r", "redis://127.0.0.1:1", "-n", "run", "k", "--", "true"])
        #expect(unused.status == 69, "\(unused)")
    }
}
