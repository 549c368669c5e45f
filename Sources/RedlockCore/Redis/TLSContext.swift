import COpenSSL

/// The TLS settings of a run, loaded once: trusted CAs, the client certificate and the
/// verification mode, shared by every `rediss://` connection (each has its own
/// `TLSSession`). Owns its `SSL_CTX` and frees it in deinit.
///
/// Loading happens before any connection is made, so a missing or unreadable file is a
/// configuration error, not a "no" from every instance.
public final class TLSContext {
    public let configuration: TLSConfiguration
    /// The `SSL_CTX *`; only `TLSSession` uses it.
    let handle: OpaquePointer
    /// The socket BIO that writes with MSG_NOSIGNAL (see copenssl.h), for every session.
    let socketMethod: OpaquePointer

    public init(_ configuration: TLSConfiguration) throws(TLSContextError) {
        self.configuration = configuration
        // OpenSSL is loaded here, at the first rediss:// URL, not at every start (copenssl.h).
        var reason = [CChar](repeating: 0, count: 256)
        guard copenssl_load(&reason, reason.count) == 1 else {
            let text = String(decoding: reason.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw .openSSLUnavailable(text)
        }
        copenssl_ERR_clear_error()
        guard let method = copenssl_socket_method_new() else {
            throw .contextNotCreated(TLSContext.queuedError() ?? "out of memory")
        }
        guard let handle = copenssl_SSL_CTX_new(copenssl_TLS_client_method()) else {
            copenssl_BIO_meth_free(method)
            throw .contextNotCreated(TLSContext.queuedError() ?? "out of memory")
        }
        self.handle = handle
        socketMethod = method
        _ = copenssl_ctx_set_min_tls12(handle)
        copenssl_ctx_refuse_key_passwords(handle)
        copenssl_SSL_CTX_set_verify(handle, configuration.verifiesPeer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)

        if let file = configuration.caCertificateFile {
            guard copenssl_SSL_CTX_load_verify_locations(handle, file, nil) == 1 else {
                throw .caCertificatesUnloadable(file: file, reason: TLSContext.queuedError() ?? "unreadable")
            }
        } else if copenssl_SSL_CTX_set_default_verify_paths(handle) != 1 {
            throw .trustStoreUnloadable(TLSContext.queuedError() ?? "unknown error")
        }

        switch (configuration.certificateFile, configuration.keyFile) {
        case (nil, nil):
            break
        case (nil, let key?):
            throw .keyWithoutCertificate(key: key)
        case let (certificate?, key):
            guard copenssl_SSL_CTX_use_certificate_chain_file(handle, certificate) == 1 else {
                throw .certificateUnloadable(file: certificate, reason: TLSContext.queuedError() ?? "unreadable")
            }
            let keyFile = key ?? certificate
            guard copenssl_SSL_CTX_use_PrivateKey_file(handle, keyFile, SSL_FILETYPE_PEM) == 1 else {
                throw .keyUnloadable(file: keyFile, reason: TLSContext.queuedError() ?? "unreadable")
            }
            guard copenssl_SSL_CTX_check_private_key(handle) == 1 else {
                throw .keyMismatch(key: keyFile, certificate: certificate)
            }
        }
    }

    deinit {
        copenssl_SSL_CTX_free(handle)
        copenssl_BIO_meth_free(socketMethod)
    }

    /// The oldest error on OpenSSL's queue as a sentence fragment ("no such file"), and
    /// the queue emptied; nil when it was empty.
    static func queuedError() -> String? {
        let code = copenssl_ERR_get_error()
        copenssl_ERR_clear_error()
        guard code != 0 else { return nil }
        let systemError = copenssl_error_errno(code)
        if systemError != 0 { return Errno(rawValue: systemError).description }
        if let reason = copenssl_ERR_reason_error_string(code) {
            return String(cString: reason)
        }
        var buffer = [CChar](repeating: 0, count: 256)
        copenssl_ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
