#ifndef REDLOCK_COPENSSL_SHIM_H
#define REDLOCK_COPENSSL_SHIM_H

// OpenSSL (Debian's libssl-dev) for rediss:// connections. Only the TLS engine is used:
// the socket, its non-blocking connect and the poll loop stay redlock's own.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

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

/// The errno inside an OpenSSL 3 "system library" error code (ERR_SYSTEM_ERROR), or 0.
static inline int copenssl_error_errno(unsigned long code) {
    return ERR_SYSTEM_ERROR(code) ? (int)ERR_GET_REASON(code) : 0;
}

#endif
