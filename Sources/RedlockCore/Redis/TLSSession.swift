import COpenSSL
import Glibc

/// TLS on one connection's non-blocking socket. Owns its `SSL *` and frees it in deinit.
///
/// OpenSSL does no waiting here: every call returns at once, and when it cannot go on
/// (SSL_ERROR_WANT_READ / WANT_WRITE) it says which poll event would let it, so the
/// handshake and the I/O ride on `InstanceSet`'s one poll loop like plain sockets do.
/// Together with `TLSContext` this is the only code that calls OpenSSL.
final class TLSSession {
    /// What one call achieved.
    enum Outcome: Equatable {
        /// Done: bytes moved (0 for a finished handshake).
        case done(Int)
        /// Try again when the socket has this event.
        case wants(Poll.Events)
        /// The peer closed the connection.
        case closed
        /// A TLS failure that trying again will not cure (the handshake, a refused client
        /// certificate), as a sentence fragment for `RedisError.tls`, with the setting that
        /// would cure it when there is one.
        case failed(String, remedy: TLSRemedy? = nil)
        /// The encrypted stream broke after a good handshake: like a dropped connection,
        /// the next attempt may well succeed.
        case broken(String)
    }

    private let handle: OpaquePointer
    /// Keeps the context (and the BIO method the socket uses) alive as long as the session.
    private let context: TLSContext
    private var handshakeDone = false
    /// Whether any bytes came after the handshake: a server that drops the connection
    /// before that has usually refused us (TLS 1.3 checks client certificates only then).
    private var receivedData = false
    private let presentsCertificate: Bool

    /// Prepares the client side of a handshake on `socket` (connected or connecting) to
    /// `host`, which the certificate must name unless the context does not verify.
    init(context: TLSContext, socket: FileDescriptor, host: String) throws(RedisError) {
        copenssl_ERR_clear_error()
        guard let handle = copenssl_SSL_new(context.handle) else {
            throw .tls("setup failed: \(TLSContext.queuedError() ?? "out of memory")")
        }
        self.handle = handle
        self.context = context
        presentsCertificate = context.configuration.certificateFile != nil
        copenssl_set_write_modes(handle)
        let name = context.configuration.serverName ?? host
        let isAddress = Self.isIPAddress(name)
        // SNI carries host names only (RFC 6066), never an address literal.
        if !isAddress { _ = copenssl_set_sni(handle, name) }
        if context.configuration.verifiesPeer {
            let accepted = isAddress
                ? copenssl_X509_VERIFY_PARAM_set1_ip_asc(copenssl_SSL_get0_param(handle), name)
                : copenssl_SSL_set1_host(handle, name)
            guard accepted == 1 else { throw .tls("cannot verify the name '\(name)'") }
        }
        guard copenssl_set_socket(handle, context.socketMethod, socket.rawValue) == 1 else {
            throw .tls("setup failed: \(TLSContext.queuedError() ?? "bad socket")")
        }
        copenssl_SSL_set_connect_state(handle)
    }

    deinit { copenssl_SSL_free(handle) }

    var isHandshakeDone: Bool { handshakeDone }

    /// Takes the handshake as far as it goes without waiting.
    func handshake() -> Outcome {
        startCall()
        let result = copenssl_SSL_do_handshake(handle)
        if result == 1 {
            handshakeDone = true
            return .done(0)
        }
        return outcome(of: result, during: "handshake")
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> Outcome {
        startCall()
        var count = 0
        let result = copenssl_SSL_read_ex(handle, buffer.baseAddress, buffer.count, &count)
        guard result == 1 else { return outcome(of: result, during: "read") }
        receivedData = true
        return .done(count)
    }

    func write(_ buffer: UnsafeRawBufferPointer) -> Outcome {
        startCall()
        var count = 0
        let result = copenssl_SSL_write_ex(handle, buffer.baseAddress, buffer.count, &count)
        return result == 1 ? .done(count) : outcome(of: result, during: "write")
    }

    /// Whether decrypted bytes wait inside OpenSSL: poll cannot see them on the socket.
    var hasBufferedInput: Bool { copenssl_SSL_pending(handle) > 0 }

    /// "TLSv1.3", for `doctor`.
    var protocolVersion: String { String(cString: copenssl_SSL_get_version(handle)) }

    /// Sends close_notify if it can without waiting; the socket is closed by its owner.
    func shutdown() {
        guard handshakeDone else { return }
        copenssl_ERR_clear_error()
        _ = copenssl_SSL_shutdown(handle)
        copenssl_ERR_clear_error()
    }

    /// Clears what the last call left: OpenSSL's error queue, and errno, which afterwards
    /// holds only what the socket BIO's own send or recv set (copenssl_socket_method_new).
    private func startCall() {
        copenssl_ERR_clear_error()
        errno = 0
    }

    private func outcome(of result: Int32, during step: String) -> Outcome {
        let savedErrno = errno
        let code = copenssl_SSL_get_error(handle, result)
        switch code {
        case SSL_ERROR_WANT_READ:
            return .wants(.readable)
        case SSL_ERROR_WANT_WRITE:
            return .wants(.writable)
        case SSL_ERROR_ZERO_RETURN:
            return refusedAfterHandshake ?? .closed
        case SSL_ERROR_SYSCALL:
            if let queued = TLSContext.queuedError() { return classify(queued) }
            if let refused = refusedAfterHandshake { return refused }
            if savedErrno != 0 && savedErrno != EAGAIN {
                let reason = "\(step) failed: \(Errno(rawValue: savedErrno))"
                return handshakeDone ? .broken(reason) : .failed(reason)
            }
            return handshakeDone ? .closed : .failed("handshake failed: connection closed by the server (is the port a TLS port?)")
        default:
            return classify(TLSContext.queuedError() ?? "error \(code)")
        }
    }

    /// A server that wants a client certificate and got none accepts the TLS 1.3 handshake,
    /// then sends an alert and resets the connection, often before the alert can be read.
    private var refusedAfterHandshake: Outcome? {
        guard handshakeDone, !receivedData, !presentsCertificate else { return nil }
        return .failed("error: connection dropped right after the handshake", remedy: .clientCertificatePerhaps)
    }

    /// Names the reason a user can act on: the certificate check's verdict when that is
    /// what failed, else OpenSSL's reason with a hint for the usual causes; and says
    /// whether another attempt could do better.
    private func classify(_ reason: String) -> Outcome {
        guard handshakeDone else {
            let verdict = copenssl_SSL_get_verify_result(handle)
            if verdict != X509_V_OK {
                let text = copenssl_X509_verify_cert_error_string(verdict).map { String(cString: $0) } ?? "error \(verdict)"
                return .failed("handshake failed: certificate verify failed: \(text)")
            }
            switch reason {
            case "wrong version number", "packet length too long", "record layer failure", "http request", "unexpected eof while reading":
                return .failed("handshake failed: \(reason) (is the port a TLS port?)")
            default:
                return .failed("handshake failed: \(reason)")
            }
        }
        if reason.contains("certificate required") || reason.contains("handshake failure") {
            return .failed("error: \(reason)", remedy: .clientCertificate)
        }
        if reason == "unexpected eof while reading" {
            // The server went away without a close_notify (a restart, a crash): a closed
            // connection, unless it was the refusal of a missing client certificate.
            return refusedAfterHandshake ?? .closed
        }
        return .broken("error: \(reason)")
    }

    private static func isIPAddress(_ text: String) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16)
        return inet_pton(AF_INET, text, &buffer) == 1 || inet_pton(AF_INET6, text, &buffer) == 1
    }
}
