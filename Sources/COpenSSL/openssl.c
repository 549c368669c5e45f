#define _GNU_SOURCE
#include "copenssl.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

// One pointer per OpenSSL function, resolved by copenssl_load.
#define REDLOCK_OPENSSL_FUNCTIONS(X) \
    X(ERR_clear_error) \
    X(BIO_meth_free) \
    X(X509_verify_cert_error_string) \
    X(X509_VERIFY_PARAM_set1_ip_asc) \
    X(TLS_client_method) \
    X(SSL_write_ex) \
    X(SSL_shutdown) \
    X(SSL_set_connect_state) \
    X(SSL_set1_host) \
    X(SSL_read_ex) \
    X(SSL_pending) \
    X(SSL_new) \
    X(SSL_get_version) \
    X(SSL_get_verify_result) \
    X(SSL_get_error) \
    X(SSL_get0_param) \
    X(SSL_free) \
    X(SSL_do_handshake) \
    X(SSL_CTX_use_certificate_chain_file) \
    X(SSL_CTX_use_PrivateKey_file) \
    X(SSL_CTX_set_verify) \
    X(SSL_CTX_set_default_verify_paths) \
    X(SSL_CTX_new) \
    X(SSL_CTX_load_verify_locations) \
    X(SSL_CTX_free) \
    X(SSL_CTX_check_private_key) \
    X(ERR_reason_error_string) \
    X(ERR_get_error) \
    X(ERR_error_string_n) \
    X(SSL_CTX_ctrl) \
    X(SSL_ctrl) \
    X(SSL_CTX_set_default_passwd_cb) \
    X(BIO_ctrl) \
    X(BIO_int_ctrl) \
    X(BIO_clear_flags) \
    X(BIO_set_flags) \
    X(BIO_s_socket) \
    X(BIO_meth_new) \
    X(BIO_meth_set_write) \
    X(BIO_meth_set_read) \
    X(BIO_meth_set_puts) \
    X(BIO_meth_set_ctrl) \
    X(BIO_meth_set_create) \
    X(BIO_meth_set_destroy) \
    X(BIO_meth_get_ctrl) \
    X(BIO_meth_get_create) \
    X(BIO_meth_get_destroy) \
    X(BIO_new) \
    X(SSL_set_bio)

#define REDLOCK_DECLARE_POINTER(name) static __typeof__(name) *p_##name;
REDLOCK_OPENSSL_FUNCTIONS(REDLOCK_DECLARE_POINTER)

int copenssl_load(char *error, size_t size) {
    static int loaded = 0;
    if (loaded) return 1;
    // RTLD_LOCAL: nothing of OpenSSL's joins the global scope, and nothing of ours can
    // interpose on its own calls.
    void *library = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(error, size, "%s", dlerror());
        return 0;
    }
#define REDLOCK_RESOLVE(name) \
    p_##name = (__typeof__(p_##name))dlsym(library, #name); \
    if (p_##name == NULL) { snprintf(error, size, "libssl.so.3 has no %s", #name); return 0; }
    REDLOCK_OPENSSL_FUNCTIONS(REDLOCK_RESOLVE)
    loaded = 1;
    return 1;
}

// From here on, OpenSSL's names (and the macros that expand to them, such as SSL_set_mode
// over SSL_ctrl) call through the pointers.
#define ERR_clear_error (*p_ERR_clear_error)
#define BIO_meth_free (*p_BIO_meth_free)
#define X509_verify_cert_error_string (*p_X509_verify_cert_error_string)
#define X509_VERIFY_PARAM_set1_ip_asc (*p_X509_VERIFY_PARAM_set1_ip_asc)
#define TLS_client_method (*p_TLS_client_method)
#define SSL_write_ex (*p_SSL_write_ex)
#define SSL_shutdown (*p_SSL_shutdown)
#define SSL_set_connect_state (*p_SSL_set_connect_state)
#define SSL_set1_host (*p_SSL_set1_host)
#define SSL_read_ex (*p_SSL_read_ex)
#define SSL_pending (*p_SSL_pending)
#define SSL_new (*p_SSL_new)
#define SSL_get_version (*p_SSL_get_version)
#define SSL_get_verify_result (*p_SSL_get_verify_result)
#define SSL_get_error (*p_SSL_get_error)
#define SSL_get0_param (*p_SSL_get0_param)
#define SSL_free (*p_SSL_free)
#define SSL_do_handshake (*p_SSL_do_handshake)
#define SSL_CTX_use_certificate_chain_file (*p_SSL_CTX_use_certificate_chain_file)
#define SSL_CTX_use_PrivateKey_file (*p_SSL_CTX_use_PrivateKey_file)
#define SSL_CTX_set_verify (*p_SSL_CTX_set_verify)
#define SSL_CTX_set_default_verify_paths (*p_SSL_CTX_set_default_verify_paths)
#define SSL_CTX_new (*p_SSL_CTX_new)
#define SSL_CTX_load_verify_locations (*p_SSL_CTX_load_verify_locations)
#define SSL_CTX_free (*p_SSL_CTX_free)
#define SSL_CTX_check_private_key (*p_SSL_CTX_check_private_key)
#define ERR_reason_error_string (*p_ERR_reason_error_string)
#define ERR_get_error (*p_ERR_get_error)
#define ERR_error_string_n (*p_ERR_error_string_n)
#define SSL_CTX_ctrl (*p_SSL_CTX_ctrl)
#define SSL_ctrl (*p_SSL_ctrl)
#define SSL_CTX_set_default_passwd_cb (*p_SSL_CTX_set_default_passwd_cb)
#define BIO_ctrl (*p_BIO_ctrl)
#define BIO_int_ctrl (*p_BIO_int_ctrl)
#define BIO_clear_flags (*p_BIO_clear_flags)
#define BIO_set_flags (*p_BIO_set_flags)
#define BIO_s_socket (*p_BIO_s_socket)
#define BIO_meth_new (*p_BIO_meth_new)
#define BIO_meth_set_write (*p_BIO_meth_set_write)
#define BIO_meth_set_read (*p_BIO_meth_set_read)
#define BIO_meth_set_puts (*p_BIO_meth_set_puts)
#define BIO_meth_set_ctrl (*p_BIO_meth_set_ctrl)
#define BIO_meth_set_create (*p_BIO_meth_set_create)
#define BIO_meth_set_destroy (*p_BIO_meth_set_destroy)
#define BIO_meth_get_ctrl (*p_BIO_meth_get_ctrl)
#define BIO_meth_get_create (*p_BIO_meth_get_create)
#define BIO_meth_get_destroy (*p_BIO_meth_get_destroy)
#define BIO_new (*p_BIO_new)
#define SSL_set_bio (*p_SSL_set_bio)

void copenssl_ERR_clear_error(void) { ERR_clear_error(); }
void copenssl_BIO_meth_free(BIO_METHOD *method) { BIO_meth_free(method); }
const char *copenssl_X509_verify_cert_error_string(long n) { return X509_verify_cert_error_string(n); }
int copenssl_X509_VERIFY_PARAM_set1_ip_asc(X509_VERIFY_PARAM *param, const char *ip) { return X509_VERIFY_PARAM_set1_ip_asc(param, ip); }
const SSL_METHOD *copenssl_TLS_client_method(void) { return TLS_client_method(); }
int copenssl_SSL_write_ex(SSL *ssl, const void *buffer, size_t count, size_t *written) { return SSL_write_ex(ssl, buffer, count, written); }
int copenssl_SSL_shutdown(SSL *ssl) { return SSL_shutdown(ssl); }
void copenssl_SSL_set_connect_state(SSL *ssl) { SSL_set_connect_state(ssl); }
int copenssl_SSL_set1_host(SSL *ssl, const char *hostname) { return SSL_set1_host(ssl, hostname); }
int copenssl_SSL_read_ex(SSL *ssl, void *buffer, size_t count, size_t *read) { return SSL_read_ex(ssl, buffer, count, read); }
int copenssl_SSL_pending(const SSL *ssl) { return SSL_pending(ssl); }
SSL *copenssl_SSL_new(SSL_CTX *ctx) { return SSL_new(ctx); }
const char *copenssl_SSL_get_version(const SSL *ssl) { return SSL_get_version(ssl); }
long copenssl_SSL_get_verify_result(const SSL *ssl) { return SSL_get_verify_result(ssl); }
int copenssl_SSL_get_error(const SSL *ssl, int ret) { return SSL_get_error(ssl, ret); }
X509_VERIFY_PARAM *copenssl_SSL_get0_param(SSL *ssl) { return SSL_get0_param(ssl); }
void copenssl_SSL_free(SSL *ssl) { SSL_free(ssl); }
int copenssl_SSL_do_handshake(SSL *ssl) { return SSL_do_handshake(ssl); }
int copenssl_SSL_CTX_use_certificate_chain_file(SSL_CTX *ctx, const char *file) { return SSL_CTX_use_certificate_chain_file(ctx, file); }
int copenssl_SSL_CTX_use_PrivateKey_file(SSL_CTX *ctx, const char *file, int type) { return SSL_CTX_use_PrivateKey_file(ctx, file, type); }
void copenssl_SSL_CTX_set_verify(SSL_CTX *ctx, int mode, SSL_verify_cb callback) { SSL_CTX_set_verify(ctx, mode, callback); }
int copenssl_SSL_CTX_set_default_verify_paths(SSL_CTX *ctx) { return SSL_CTX_set_default_verify_paths(ctx); }
SSL_CTX *copenssl_SSL_CTX_new(const SSL_METHOD *method) { return SSL_CTX_new(method); }
int copenssl_SSL_CTX_load_verify_locations(SSL_CTX *ctx, const char *file, const char *path) { return SSL_CTX_load_verify_locations(ctx, file, path); }
void copenssl_SSL_CTX_free(SSL_CTX *ctx) { SSL_CTX_free(ctx); }
int copenssl_SSL_CTX_check_private_key(const SSL_CTX *ctx) { return SSL_CTX_check_private_key(ctx); }
const char *copenssl_ERR_reason_error_string(unsigned long e) { return ERR_reason_error_string(e); }
unsigned long copenssl_ERR_get_error(void) { return ERR_get_error(); }
void copenssl_ERR_error_string_n(unsigned long e, char *buffer, size_t length) { ERR_error_string_n(e, buffer, length); }

int copenssl_ctx_set_min_tls12(SSL_CTX *ctx) {
    return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}

int copenssl_set_sni(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

void copenssl_set_write_modes(SSL *ssl) {
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

static int copenssl_no_password(char *buffer, int size, int rwflag, void *userdata) {
    (void)buffer; (void)size; (void)rwflag; (void)userdata;
    return 0;
}

void copenssl_ctx_refuse_key_passwords(SSL_CTX *ctx) {
    SSL_CTX_set_default_passwd_cb(ctx, copenssl_no_password);
}

// The socket I/O under TLS is ours, not BIO_s_socket's: in the static release binary
// OpenSSL runs on the copy of libc that dlopen loaded for it, with an errno of its own, so
// BIO_sock_should_retry (which reads that errno) cannot judge a send or recv made here, and
// a recv made there would leave its errno where TLSSession cannot read it. So each callback
// makes its call and reads errno in this libc, and sets the BIO's retry flags itself.

/// The errors after which the same call may succeed later (BIO_sock_non_fatal_error's list).
static int copenssl_is_transient(int error) {
    switch (error) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINTR: case ENOTCONN: case EINPROGRESS: case EALREADY: case EPROTO:
        return 1;
    default:
        return 0;
    }
}

static int copenssl_socket_of(BIO *bio) {
    int fd = -1;
    BIO_get_fd(bio, &fd);
    return fd;
}

static int copenssl_socket_write(BIO *bio, const char *data, int length) {
    int fd = copenssl_socket_of(bio);
    ssize_t sent;
    do {
        sent = send(fd, data, (size_t)length, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    BIO_clear_retry_flags(bio);
    if (sent < 0 && copenssl_is_transient(errno)) BIO_set_retry_write(bio);
    return (int)sent;
}

static int copenssl_socket_read(BIO *bio, char *data, int length) {
    if (data == NULL) return 0;
    int fd = copenssl_socket_of(bio);
    ssize_t received;
    do {
        received = recv(fd, data, (size_t)length, 0);
    } while (received < 0 && errno == EINTR);
    BIO_clear_retry_flags(bio);
    if (received < 0 && copenssl_is_transient(errno)) {
        BIO_set_retry_read(bio);
    } else if (received == 0) {
        // What BIO_s_socket records at end of stream: OpenSSL then reports a peer that left
        // without close_notify as "unexpected eof while reading".
        BIO_set_flags(bio, BIO_FLAGS_IN_EOF);
    }
    return (int)received;
}

static int copenssl_socket_puts(BIO *bio, const char *text) {
    return copenssl_socket_write(bio, text, (int)strlen(text));
}

BIO_METHOD *copenssl_socket_method_new(void) {
    const BIO_METHOD *socket_method = BIO_s_socket();
    BIO_METHOD *method = BIO_meth_new(BIO_TYPE_SOCKET, "redlock socket");
    if (method == NULL) return NULL;
    // BIO_s_socket's ctrl, create and destroy keep the descriptor and touch no errno.
    if (BIO_meth_set_write(method, copenssl_socket_write) != 1
        || BIO_meth_set_read(method, copenssl_socket_read) != 1
        || BIO_meth_set_puts(method, copenssl_socket_puts) != 1
        || BIO_meth_set_ctrl(method, BIO_meth_get_ctrl(socket_method)) != 1
        || BIO_meth_set_create(method, BIO_meth_get_create(socket_method)) != 1
        || BIO_meth_set_destroy(method, BIO_meth_get_destroy(socket_method)) != 1) {
        p_BIO_meth_free(method);
        return NULL;
    }
    return method;
}

int copenssl_set_socket(SSL *ssl, BIO_METHOD *method, int fd) {
    BIO *bio = BIO_new(method);
    if (bio == NULL) return 0;
    BIO_set_fd(bio, fd, BIO_NOCLOSE);
    SSL_set_bio(ssl, bio, bio);
    return 1;
}
