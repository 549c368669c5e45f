#define _GNU_SOURCE
#include "clinux.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/// One lookup, shared by the caller and the thread that runs getaddrinfo. Whichever of
/// the two lets go last frees it, so a caller that gave up never waits for the resolver.
struct clinux_lookup {
    atomic_int holders;
    /// Set once the fields below hold the outcome; the event_fd stays readable from then
    /// on, so that every connection waiting on a shared lookup sees it finish.
    atomic_int done;
    int event_fd;
    char *host;
    char *port;
    int status;
    int system_errno;
    int family;
    socklen_t length;
    struct sockaddr_storage address;
};

static void let_go(clinux_lookup *lookup) {
    if (atomic_fetch_sub(&lookup->holders, 1) != 1) return;
    close(lookup->event_fd);
    free(lookup->host);
    free(lookup->port);
    free(lookup);
}

static void *run_lookup(void *argument) {
    clinux_lookup *lookup = argument;
    // Signals are redlock's main thread's business (it reads them from a signalfd).
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);

    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo *list = NULL;
    lookup->status = getaddrinfo(lookup->host, lookup->port, &hints, &list);
    lookup->system_errno = errno;
    if (lookup->status == 0 && list != NULL && list->ai_addrlen <= sizeof lookup->address) {
        memcpy(&lookup->address, list->ai_addr, list->ai_addrlen);
        lookup->length = list->ai_addrlen;
        lookup->family = list->ai_family;
    } else if (lookup->status == 0) {
        lookup->status = EAI_FAIL;
    }
    if (list != NULL) freeaddrinfo(list);
    atomic_store_explicit(&lookup->done, 1, memory_order_release);
    uint64_t one = 1;
    while (write(lookup->event_fd, &one, sizeof one) < 0 && errno == EINTR) {}
    let_go(lookup);
    return NULL;
}

clinux_lookup *clinux_lookup_start(const char *host, const char *port) {
    clinux_lookup *lookup = calloc(1, sizeof *lookup);
    if (lookup == NULL) return NULL;
    lookup->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    lookup->host = strdup(host);
    lookup->port = strdup(port);
    if (lookup->event_fd < 0 || lookup->host == NULL || lookup->port == NULL) {
        int saved = errno;
        if (lookup->event_fd >= 0) close(lookup->event_fd);
        free(lookup->host);
        free(lookup->port);
        free(lookup);
        errno = saved;
        return NULL;
    }
    atomic_init(&lookup->holders, 2);
    atomic_init(&lookup->done, 0);
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    int error = pthread_create(&thread, &attributes, run_lookup, lookup);
    pthread_attr_destroy(&attributes);
    if (error != 0) {
        atomic_store(&lookup->holders, 1);
        let_go(lookup);
        errno = error;
        return NULL;
    }
    return lookup;
}

int clinux_lookup_descriptor(const clinux_lookup *lookup) {
    return lookup->event_fd;
}

int clinux_lookup_result(clinux_lookup *lookup, struct sockaddr_storage *address, socklen_t *length, int *family, int *system_errno) {
    if (!atomic_load_explicit(&lookup->done, memory_order_acquire)) return CLINUX_LOOKUP_PENDING;
    *system_errno = lookup->system_errno;
    if (lookup->status != 0) return lookup->status;
    memcpy(address, &lookup->address, lookup->length);
    *length = lookup->length;
    *family = lookup->family;
    return 0;
}

void clinux_lookup_release(clinux_lookup *lookup) {
    let_go(lookup);
}
