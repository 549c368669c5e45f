#ifndef REDLOCK_CHIREDIS_SHIM_H
#define REDLOCK_CHIREDIS_SHIM_H

// Only the parts of hiredis 0.14 that redlock uses: the RESP reply reader and the command
// formatter. Sockets, TLS and timeouts are redlock's own (hiredis 0.14 contexts cannot carry TLS).
#include <hiredis/hiredis.h>
#include <hiredis/read.h>

/// The reader's error text (a macro in read.h, so Swift cannot call it directly).
static inline const char *chiredis_reader_error(redisReader *reader) {
    return reader->errstr;
}

/// Non-zero once the reader met bytes that are not RESP; it cannot recover after that.
static inline int chiredis_reader_failed(redisReader *reader) {
    return reader->err;
}

#endif
