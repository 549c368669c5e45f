/// A TLS setting that cannot be used (a file missing or unreadable, a key that does not
/// match); the CLI exits 78 with it. Each case says which setting or file, so the CLI can
/// name its option where that helps: the core does not know the options' names.
public enum TLSContextError: Error, Sendable, Equatable, CustomStringConvertible {
    /// libssl could not be loaded (dlopen's reason).
    case openSSLUnavailable(String)
    /// OpenSSL would not create a context (usually out of memory).
    case contextNotCreated(String)
    /// The CA certificates file given could not be loaded.
    case caCertificatesUnloadable(file: String, reason: String)
    /// No CA certificates file was given, and the system's trust store could not be loaded:
    /// giving the file is the cure.
    case trustStoreUnloadable(String)
    /// A client key without the client certificate it belongs to.
    case keyWithoutCertificate(key: String)
    /// The client certificate file could not be loaded.
    case certificateUnloadable(file: String, reason: String)
    /// The client key file (the certificate file when no key was given) could not be loaded.
    case keyUnloadable(file: String, reason: String)
    /// The client key is not the certificate's.
    case keyMismatch(key: String, certificate: String)

    public var description: String {
        switch self {
        case let .openSSLUnavailable(reason):
            return "cannot load OpenSSL for rediss:// (\(reason)); install libssl3"
        case let .contextNotCreated(reason):
            return "cannot create a TLS context: \(reason)"
        case let .caCertificatesUnloadable(file, reason):
            return "cannot load TLS CA certificates from '\(file)': \(reason)"
        case let .trustStoreUnloadable(reason):
            return "cannot load the system's TLS trust store: \(reason)"
        case let .keyWithoutCertificate(key):
            return "TLS key '\(key)' given without a client certificate"
        case let .certificateUnloadable(file, reason):
            return "cannot load TLS client certificate from '\(file)': \(reason)"
        case let .keyUnloadable(file, reason):
            // redlock never asks for a key's password (it runs unattended).
            let encrypted = reason.contains("password") || reason.contains("decrypt")
            return "cannot load TLS client key from '\(file)': \(reason)\(encrypted ? " (an encrypted key is not supported)" : "")"
        case let .keyMismatch(key, certificate):
            return "TLS client key '\(key)' does not match the certificate '\(certificate)'"
        }
    }
}
