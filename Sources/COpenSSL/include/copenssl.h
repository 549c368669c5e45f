#ifndef REDLOCK_COPENSSL_H
#define REDLOCK_COPENSSL_H

// OpenSSL (Debian's libssl3; headers from libssl-dev) for rediss:// connections, loaded with
// dlopen the first time a TLS context is made. Linking libssl and libcrypto would make every
// run pay for loading and relocating them, TLS or not (about 2 ms of a 7 ms start, measured),
// and would add them to what the binary needs at run time.
//
// Swift calls only the copenssl_* functions below; they go through pointers that
// copenssl_load resolved. The headers are included for types and constants only: calling
// OpenSSL's own functions from Swift would fail to link, on purpose.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/bio.h>
#include <stddef.h>

/// Loads libssl.so.3 and resolves every function redlock uses, once. Returns 1, or 0 with
/// the reason in `error` (dlerror's text). Nothing else here may be called before it
/// succeeded.
int copenssl_load(char *error, size_t size);

void copenssl_ERR_clear_error(void);
void copenssl_BIO_meth_free(BIO_METHOD *method);
const char *copenssl_X509_verify_cert_error_string(long n);
int copenssl_X509_VERIFY_PARAM_set1_ip_asc(X509_VERIFY_PARAM *param, const char *ip);
const SSL_METHOD *copenssl_TLS_client_method(void);
int copenssl_SSL_write_ex(SSL *ssl, const void *buffer, size_t count, size_t *written);
int copenssl_SSL_shutdown(SSL *ssl);
void copenssl_SSL_set_connect_state(SSL *ssl);
int copenssl_SSL_set1_host(SSL *ssl, const char *hostname);
int copenssl_SSL_read_ex(SSL *ssl, void *buffer, size_t count, size_t *read);
int copenssl_SSL_pending(const SSL *ssl);
SSL *copenssl_SSL_new(SSL_CTX *ctx);
const char *copenssl_SSL_get_version(const SSL *ssl);
long copenssl_SSL_get_verify_result(const SSL *ssl);
int copenssl_SSL_get_error(const SSL *ssl, int ret);
X509_VERIFY_PARAM *copenssl_SSL_get0_param(SSL *ssl);
void copenssl_SSL_free(SSL *ssl);
int copenssl_SSL_do_handshake(SSL *ssl);
int copenssl_SSL_CTX_use_certificate_chain_file(SSL_CTX *ctx, const char *file);
int copenssl_SSL_CTX_use_PrivateKey_file(SSL_CTX *ctx, const char *file, int type);
void copenssl_SSL_CTX_set_verify(SSL_CTX *ctx, int mode, SSL_verify_cb callback);
int copenssl_SSL_CTX_set_default_verify_paths(SSL_CTX *ctx);
SSL_CTX *copenssl_SSL_CTX_new(const SSL_METHOD *method);
int copenssl_SSL_CTX_load_verify_locations(SSL_CTX *ctx, const char *file, const char *path);
void copenssl_SSL_CTX_free(SSL_CTX *ctx);
int copenssl_SSL_CTX_check_private_key(const SSL_CTX *ctx);
const char *copenssl_ERR_reason_error_string(unsigned long e);
unsigned long copenssl_ERR_get_error(void);
void copenssl_ERR_error_string_n(unsigned long e, char *buffer, size_t length);

/// Refuses anything older than TLS 1.2.
int copenssl_ctx_set_min_tls12(SSL_CTX *ctx);
/// The server name sent in the ClientHello (SNI).
int copenssl_set_sni(SSL *ssl, const char *name);
/// SSL_write may report part of a buffer as written, and a retried write may come from a
/// buffer that moved (Swift arrays do not promise a fixed address between calls).
void copenssl_set_write_modes(SSL *ssl);
/// An encrypted key file fails to load instead of making OpenSSL prompt on the terminal that
/// COMMAND may own.
void copenssl_ctx_refuse_key_passwords(SSL_CTX *ctx);
/// A BIO_METHOD like BIO_s_socket() whose reads and writes are redlock's own: writes use
/// send(MSG_NOSIGNAL), so a reset peer cannot raise SIGPIPE (whose default action would kill
/// redlock and leave COMMAND unsupervised); and each call decides "retry" from the errno of
/// this libc, which in the static binary is not the one OpenSSL's functions read. After an
/// SSL call fails with SSL_ERROR_SYSCALL, this side's errno is that of the failed send or
/// recv. The caller frees it with copenssl_BIO_meth_free. NULL when out of memory.
BIO_METHOD *copenssl_socket_method_new(void);
/// Puts `fd` under `ssl` through a BIO of `method`; the descriptor stays the caller's.
int copenssl_set_socket(SSL *ssl, BIO_METHOD *method, int fd);

/// The errno inside an OpenSSL 3 "system library" error code (ERR_SYSTEM_ERROR), or 0.
static inline int copenssl_error_errno(unsigned long code) {
    return ERR_SYSTEM_ERROR(code) ? (int)ERR_GET_REASON(code) : 0;
}

#endif
