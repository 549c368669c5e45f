/// How redlock talks TLS to `rediss://` instances: one setting for all of them, from
/// `--tls-*` options or `REDLOCK_TLS_*`.
///
/// Verification is on unless `verifiesPeer` is turned off (`--tls-insecure`): the server's
/// certificate must chain to a trusted CA and name the host (or `serverName`).
public struct TLSConfiguration: Sendable, Equatable {
    /// PEM file of the CAs to trust; nil: the system trust store.
    public var caCertificateFile: String?
    /// PEM client certificate (chain), for servers that ask for one (`tls-auth-clients`).
    public var certificateFile: String?
    /// PEM private key of the client certificate; nil: it is in `certificateFile`.
    public var keyFile: String?
    /// The name to verify and to send as SNI instead of each URL's host.
    public var serverName: String?
    public var verifiesPeer: Bool

    public init(caCertificateFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil,
                serverName: String? = nil, verifiesPeer: Bool = true) {
        self.caCertificateFile = caCertificateFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.serverName = serverName
        self.verifiesPeer = verifiesPeer
    }
}
