#ifndef REDLOCK_CHIREDIS_SHIM_H
#define REDLOCK_CHIREDIS_SHIM_H

// Only the parts of hiredis 0.14 that redlock uses: the RESP reply reader and the command
// formatter. Sockets, TLS and timeouts are redlock's own (hiredis 0.14 contexts cannot carry TLS).
#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <stdlib.h>

/// The reader's error text (a macro in read.h, so Swift cannot call it directly).
static inline const char *chiredis_reader_error(redisReader *reader) {
    return reader->errstr;
}

/// Non-zero once the reader met bytes that are not RESP; it cannot recover after that.
static inline int chiredis_reader_failed(redisReader *reader) {
    return reader->err;
}

/// A cap on the reply objects one reply may make. hiredis builds an array's elements as
/// they arrive (and allocates the pointers an array header announces at once), so a reply
/// of small elements costs far more memory than its bytes: a 1 MiB array of 262,000
/// integers took redlock to 29 MiB. The reader's object functions are wrapped to count.
typedef struct {
    redisReplyObjectFunctions counting;
    redisReplyObjectFunctions *inner;
    size_t objects;
    size_t limit;
} chiredis_budget;

static inline int chiredis_spend(const redisReadTask *task, size_t count) {
    chiredis_budget *budget = (chiredis_budget *)task->privdata;
    if (count > budget->limit || budget->objects > budget->limit - count) {
        budget->objects = budget->limit + 1;
        return 0;
    }
    budget->objects += count;
    return 1;
}

static inline redisReplyObjectFunctions *chiredis_inner(const redisReadTask *task) {
    return ((chiredis_budget *)task->privdata)->inner;
}

static inline void *chiredis_create_string(const redisReadTask *task, char *str, size_t len) {
    return chiredis_spend(task, 1) ? chiredis_inner(task)->createString(task, str, len) : NULL;
}

static inline void *chiredis_create_array(const redisReadTask *task, int elements) {
    return chiredis_spend(task, 1 + (elements > 0 ? (size_t)elements : 0)) ? chiredis_inner(task)->createArray(task, elements) : NULL;
}

static inline void *chiredis_create_integer(const redisReadTask *task, long long value) {
    return chiredis_spend(task, 1) ? chiredis_inner(task)->createInteger(task, value) : NULL;
}

static inline void *chiredis_create_nil(const redisReadTask *task) {
    return chiredis_spend(task, 1) ? chiredis_inner(task)->createNil(task) : NULL;
}

/// A reader whose replies may make at most `limit` objects each (an array counts its
/// elements when its header arrives); NULL when out of memory.
static inline redisReader *chiredis_reader_create(size_t limit) {
    redisReader *reader = redisReaderCreate();
    if (reader == NULL) return NULL;
    chiredis_budget *budget = (chiredis_budget *)calloc(1, sizeof *budget);
    if (budget == NULL) {
        redisReaderFree(reader);
        return NULL;
    }
    budget->inner = reader->fn;
    budget->limit = limit;
    budget->counting.createString = chiredis_create_string;
    budget->counting.createArray = chiredis_create_array;
    budget->counting.createInteger = chiredis_create_integer;
    budget->counting.createNil = chiredis_create_nil;
    budget->counting.freeObject = reader->fn->freeObject;
    reader->fn = &budget->counting;
    reader->privdata = budget;
    return reader;
}

/// Frees the reader, then its budget (the reader frees a partial reply through it).
static inline void chiredis_reader_free(redisReader *reader) {
    void *budget = reader->privdata;
    redisReaderFree(reader);
    free(budget);
}

/// Non-zero once the reply being read went over the limit (the reader then failed).
static inline int chiredis_reader_over_budget(redisReader *reader) {
    chiredis_budget *budget = (chiredis_budget *)reader->privdata;
    return budget->objects > budget->limit;
}

/// A whole reply was taken out: the next one starts with the whole budget.
static inline void chiredis_reader_reply_taken(redisReader *reader) {
    ((chiredis_budget *)reader->privdata)->objects = 0;
}

#endif
