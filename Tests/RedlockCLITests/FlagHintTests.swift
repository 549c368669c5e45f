import Testing
@testable import redlock
@testable import RedlockCore

/// The core says which setting would cure an error; the CLI names its option, so the line a
/// user reads is as helpful as when the core carried the flag names itself.
@Suite struct FlagHintTests {
    private let endpoint = Endpoint(address: .tcp(host: "127.0.0.1", port: 6380), usesTLS: true)

    @Test func aMissingClientCertificateNamesTheOptions() {
        let refused = RedisError.tls("error: tlsv13 alert certificate required", remedy: .clientCertificate)
        #expect(InstanceError(endpoint: endpoint, error: refused).withFlagHint
            == "127.0.0.1:6380: TLS error: tlsv13 alert certificate required (the server wants a client certificate: --tls-cert, --tls-key)")
        let dropped = RedisError.tls("error: connection dropped right after the handshake", remedy: .clientCertificatePerhaps)
        #expect(dropped.withFlagHint
            == "TLS error: connection dropped right after the handshake (does the server want a client certificate? --tls-cert, --tls-key)")
    }

    @Test func anErrorWithoutARemedyReadsAsTheCoreSaysIt() {
        for error: RedisError in [.tls("handshake failed: wrong version number"), .connectionClosed, .authenticationFailed("WRONGPASS")] {
            #expect(error.withFlagHint == error.description)
        }
    }

    @Test func tlsSettingErrorsNameTheOptionToUse() {
        #expect(TLSContextError.trustStoreUnloadable("no such file").withFlagHint
            == "cannot load the system's TLS trust store: no such file (use --tls-ca-cert)")
        #expect(TLSContextError.keyWithoutCertificate(key: "client.key").withFlagHint
            == "TLS key 'client.key' given without a client certificate (--tls-cert)")
        let unreadable = TLSContextError.caCertificatesUnloadable(file: "ca.pem", reason: "no such file")
        #expect(unreadable.withFlagHint == unreadable.description)
    }
}
