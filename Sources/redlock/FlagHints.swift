import RedlockCore

// The core's errors say what went wrong and which setting would cure it, in words; only the
// CLI knows how its options are spelled, so it names them here, wherever it prints an error
// of an instance or of the TLS settings (text, JSON and events alike).

extension RedisError {
    /// The description, naming the option that would cure the failure where there is one.
    var withFlagHint: String {
        guard case let .tls(reason, remedy?) = self else { return description }
        return "TLS \(reason) (\(remedy.withFlagHint))"
    }
}

extension InstanceError {
    /// "host:port: " and the error, naming the option that would cure it.
    var withFlagHint: String { "\(endpoint): \(error.withFlagHint)" }
}

extension TLSRemedy {
    /// "the server wants a client certificate: --tls-cert, --tls-key".
    var withFlagHint: String {
        switch self {
        case .clientCertificate: return "\(self): --tls-cert, --tls-key"
        case .clientCertificatePerhaps: return "\(self) --tls-cert, --tls-key"
        }
    }
}

extension TLSContextError {
    /// The description, naming the option to use instead where one would help.
    var withFlagHint: String {
        switch self {
        case .trustStoreUnloadable: return "\(self) (use --tls-ca-cert)"
        case .keyWithoutCertificate: return "\(self) (--tls-cert)"
        default: return description
        }
    }
}
