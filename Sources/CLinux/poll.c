#define _GNU_SOURCE
#include "clinux.h"

#include <poll.h>

int clinux_ppoll(struct pollfd *fds, nfds_t count, const struct timespec *timeout) {
    return ppoll(fds, count, timeout, NULL);
}
