// Throwaway certificates for the TLS tests, made with the openssl command-line tool.
//
// TLS tests need a real chain: a CA, a server certificate that names 127.0.0.1 and
// localhost in its subjectAltName, a client certificate for `tls-auth-clients yes`, and an
// unrelated second CA to trust by mistake. EC P-256 keys make all of it take milliseconds.

import Foundation

/// Why the certificates could not be made.
struct CertificateError: Error, CustomStringConvertible {
    let description: String
}

/// A CA, a server and a client certificate (and a stranger CA) in a private temp folder,
/// removed when the object goes.
final class TestCertificates: @unchecked Sendable {
    let scratch: TestScratch

    /// The CA that signed the server and client certificates.
    var caCertificate: String { scratch.file("ca.crt") }
    /// Server certificate for CN=localhost, SAN IP:127.0.0.1, DNS:localhost. It may serve as a
    /// client certificate too: cluster nodes present it to each other on a TLS bus.
    var serverCertificate: String { scratch.file("server.crt") }
    var serverKey: String { scratch.file("server.key") }
    /// Client certificate (extendedKeyUsage clientAuth) signed by the same CA.
    var clientCertificate: String { scratch.file("client.crt") }
    var clientKey: String { scratch.file("client.key") }
    /// A self-signed CA that signed nothing here: trusting it verifies nothing.
    var otherCACertificate: String { scratch.file("other-ca.crt") }

    init() throws {
        scratch = try TestScratch()
        try makeCA(named: "ca", subject: "/CN=redlock test CA")
        try makeCA(named: "other-ca", subject: "/CN=redlock stranger CA")
        try makeLeaf(named: "server", subject: "/CN=localhost",
                     extensions: "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n")
        try makeLeaf(named: "client", subject: "/CN=redlock test client",
                     extensions: "extendedKeyUsage=clientAuth\n")
    }

    private func makeCA(named name: String, subject: String) throws {
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", scratch.file("\(name).key"), "-out", scratch.file("\(name).crt"),
                     "-days", "2", "-subj", subject])
    }

    private func makeLeaf(named name: String, subject: String, extensions: String) throws {
        try extensions.write(toFile: scratch.file("\(name).ext"), atomically: true, encoding: .utf8)
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", scratch.file("\(name).key"), "-out", scratch.file("\(name).csr"), "-subj", subject])
        try openssl(["x509", "-req", "-in", scratch.file("\(name).csr"), "-CA", caCertificate, "-CAkey", scratch.file("ca.key"),
                     "-set_serial", String(UInt32.random(in: 1...UInt32.max)), "-days", "2",
                     "-extfile", scratch.file("\(name).ext"), "-out", scratch.file("\(name).crt")])
    }

    private func openssl(_ arguments: [String]) throws {
        let process = try RedlockProcess(executable: URL(fileURLWithPath: "/usr/bin/openssl"), arguments)
        let result = try process.wait(timeout: 30)
        guard result.status == 0 else {
            throw CertificateError(description: "openssl \(arguments.joined(separator: " ")) failed: \(result)")
        }
    }
}

/// A redis-server that speaks TLS on `tlsPort` with `certificates`' server certificate, and
/// plain RESP on `server.port` as usual (for the tests' own reads, and as a non-TLS peer).
/// Keep this value for as long as the server is needed: the server stops with it.
struct TLSRedisServer {
    let server: RedisServer
    let tlsPort: UInt16

    /// `rediss://[:password@]127.0.0.1:<tlsPort>`.
    func url(password: String? = nil, host: String = "127.0.0.1") -> String {
        "rediss://\(password.map { ":\($0)@" } ?? "")\(host):\(tlsPort)"
    }

    /// With `requireClientCertificates`, TLS clients must show one signed by the CA.
    static func started(_ certificates: TestCertificates, requireClientCertificates: Bool = false,
                        extraArgs: [String] = []) throws -> TLSRedisServer {
        let tlsPort = try freeLoopbackPort()
        let server = try RedisServer.started(extraArgs: [
            "--tls-port", String(tlsPort),
            "--tls-cert-file", certificates.serverCertificate,
            "--tls-key-file", certificates.serverKey,
            "--tls-ca-cert-file", certificates.caCertificate,
            "--tls-auth-clients", requireClientCertificates ? "yes" : "no",
        ] + extraArgs)
        return TLSRedisServer(server: server, tlsPort: tlsPort)
    }
}
