/// What the user could set to cure a TLS failure, as data. The core knows the setting (the
/// client certificate of `TLSConfiguration`), not how a front end spells it: the CLI adds
/// its option's name (`--tls-cert`) where it prints the error.
public enum TLSRemedy: Sendable, Equatable, CustomStringConvertible {
    /// A client certificate and its key: the server refused the handshake without one.
    case clientCertificate
    /// Perhaps a client certificate: the server dropped the connection right after the
    /// handshake, as one that wants a certificate does under TLS 1.3 (it checks only then),
    /// though it may have had another reason.
    case clientCertificatePerhaps

    /// The remedy in words, for the parenthesis after the failure.
    public var description: String {
        switch self {
        case .clientCertificate: return "the server wants a client certificate"
        case .clientCertificatePerhaps: return "does the server want a client certificate?"
        }
    }
}
