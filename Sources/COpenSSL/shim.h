#ifndef REDLOCK_COPENSSL_SHIM_H
#define REDLOCK_COPENSSL_SHIM_H

// OpenSSL (Debian's libssl-dev) for rediss:// connections. Only the TLS engine is used:
// the socket, its non-blocking connect and the poll loop stay redlock's own.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/bio.h>
#include <sys/socket.h>
#include <errno.h>

// The helpers below wrap OpenSSL APIs that are macros over SSL_ctrl / SSL_CTX_ctrl, which
// Swift cannot call.

/// Refuses anything older than TLS 1.2.
static inline int copenssl_ctx_set_min_tls12(SSL_CTX *ctx) {
    return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}

/// The server name sent in the ClientHello (SNI).
static inline int copenssl_set_sni(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

/// SSL_write may report part of a buffer as written, and a retried write may come from a
/// buffer that moved (Swift arrays do not promise a fixed address between calls).
static inline void copenssl_set_write_modes(SSL *ssl) {
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

/// A password callback that gives none: an encrypted key file fails to load instead of
/// making OpenSSL prompt on the terminal that COMMAND may own.
static int copenssl_no_password(char *buffer, int size, int rwflag, void *userdata) {
    (void)buffer; (void)size; (void)rwflag; (void)userdata;
    return 0;
}

static inline void copenssl_ctx_refuse_key_passwords(SSL_CTX *ctx) {
    SSL_CTX_set_default_passwd_cb(ctx, copenssl_no_password);
}

/// OpenSSL's socket BIO writes with write(2), which raises SIGPIPE on a connection the peer
/// has reset (a close_notify after a server restart is enough), and SIGPIPE's default
/// action would kill redlock and leave COMMAND unsupervised. This BIO is the socket BIO
/// with send(MSG_NOSIGNAL) for writes, so redlock never changes the SIGPIPE disposition
/// that COMMAND inherits.
static int copenssl_send_without_sigpipe(BIO *bio, const char *data, int length) {
    int fd = -1;
    BIO_get_fd(bio, &fd);
    ssize_t sent;
    do {
        sent = send(fd, data, (size_t)length, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    BIO_clear_retry_flags(bio);
    if (sent < 0 && BIO_sock_should_retry((int)sent)) BIO_set_retry_write(bio);
    return (int)sent;
}

/// A BIO_METHOD like BIO_s_socket() whose writes cannot raise SIGPIPE; the caller frees it
/// with BIO_meth_free. NULL when out of memory.
static inline BIO_METHOD *copenssl_socket_method_new(void) {
    const BIO_METHOD *socket = BIO_s_socket();
    BIO_METHOD *method = BIO_meth_new(BIO_TYPE_SOCKET, "socket without SIGPIPE");
    if (method == NULL) return NULL;
    if (BIO_meth_set_write(method, copenssl_send_without_sigpipe) != 1
        || BIO_meth_set_read(method, BIO_meth_get_read(socket)) != 1
        || BIO_meth_set_puts(method, BIO_meth_get_puts(socket)) != 1
        || BIO_meth_set_ctrl(method, BIO_meth_get_ctrl(socket)) != 1
        || BIO_meth_set_create(method, BIO_meth_get_create(socket)) != 1
        || BIO_meth_set_destroy(method, BIO_meth_get_destroy(socket)) != 1) {
        BIO_meth_free(method);
        return NULL;
    }
    return method;
}

/// Puts `fd` under `ssl` through a BIO of `method`; the descriptor stays the caller's.
static inline int copenssl_set_socket(SSL *ssl, BIO_METHOD *method, int fd) {
    BIO *bio = BIO_new(method);
    if (bio == NULL) return 0;
    BIO_set_fd(bio, fd, BIO_NOCLOSE);
    SSL_set_bio(ssl, bio, bio);
    return 1;
}

/// The errno inside an OpenSSL 3 "system library" error code (ERR_SYSTEM_ERROR), or 0.
static inline int copenssl_error_errno(unsigned long code) {
    return ERR_SYSTEM_ERROR(code) ? (int)ERR_GET_REASON(code) : 0;
}

#endif
