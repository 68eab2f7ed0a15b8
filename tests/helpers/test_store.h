/* A host-side store for tests: its data outlives the engines opened on it
 * (each test_store_handle() is a fresh eng_store the engine owns, over the same
 * data), so a test can close and reopen, simulate a crash (pending batch lost),
 * count calls per verb and make the n-th call of chosen verbs fail. */
#ifndef TEST_STORE_H
#define TEST_STORE_H

#include <stdint.h>
#include "engage.h"

typedef struct test_store test_store;

enum test_verb {
    TV_GET = 1 << 0, TV_PUT = 1 << 1, TV_DEL = 1 << 2, TV_SCAN = 1 << 3,
    TV_BEGIN = 1 << 4, TV_COMMIT = 1 << 5, TV_ROLLBACK = 1 << 6, TV_ALL = 0x7f,
    /* Not a call: each key a scan delivers. TF_ERROR at item n makes that scan stop
     * early with ENG_ESTORAGE after n-1 keys; TF_FLIP delivers item n with one bit
     * of its value flipped. Not part of TV_ALL. */
    TV_SCAN_ITEM = 1 << 7
};

enum test_fail_mode {
    TF_ERROR,          /* the call has no effect and returns ENG_ESTORAGE */
    TF_COMMITTED_ERROR, /* commit applies, then reports ENG_ESTORAGE (ambiguous outcome) */
    TF_FLIP             /* a get (or scanned item) returns OK with one bit of the value flipped (a bad disk,
                           a bad cache) */
};

test_store *test_store_new(void);
void test_store_free(test_store *ts);
/* A new test store holding a copy of @p ts's committed data (no faults, no trace);
 * NULL when out of memory. Cheaper than building the same state again. */
test_store *test_store_clone(test_store *ts);
/* Make a clone's committed data equal @p from's again (the store it was cloned from, unchanged
 * since): only the keys written through its handles since the clone or the last restore are put
 * back (all of them after many writes). No engine may be open on @p ts. Far cheaper than a new
 * clone when a test changes a few keys of a large store. ENG_ENOMEM: restore again. */
int test_store_restore(test_store *ts, test_store *from);
/* A new handle over the same data (uses the counting allocator). */
eng_store *test_store_handle(test_store *ts);
/* eng_open on a new handle over @p ts with @p alloc (NULL: the library's default) and
 * otherwise the default configuration; ENG_ENOMEM when the handle cannot be made. */
int test_store_open(test_store *ts, const eng_allocator *alloc, eng_engine **out);
/* Fail the n-th call (from now) among the verbs in @p mask; persistent: and all later ones. */
void test_store_fail(test_store *ts, unsigned mask, uint64_t nth, int persistent, int mode);
void test_store_nofail(test_store *ts);
/* Calls so far to verbs in @p mask, and how many injected failures fired. */
uint64_t test_store_calls(const test_store *ts, unsigned mask);
uint64_t test_store_failures(const test_store *ts);
/* 1 when the get or scan whose injected failure (TV_GET, TV_SCAN, TV_SCAN_ITEM) fired last
 * was made again since, with the same key or prefix: its caller retried the read. */
int test_store_read_again(const test_store *ts);
/* Print each call (verb, and the key or scan prefix) to stderr while @p on. */
void test_store_trace(test_store *ts, int on);
/* Call @p fn(@p user) once, just before the first call among @p mask (TV_GET, TV_SCAN) whose
 * key or scan prefix starts with @p prefix (a static string), on any handle: another engine's
 * commit landing between two reads of one engine. */
void test_store_before(test_store *ts, unsigned mask, const char *prefix, void (*fn)(void *), void *user);
/* Call @p fn for each key read from now on, on any handle: the key of each get (found or not)
 * and each key a scan delivers; NULL: none. Which records a call reads. */
void test_store_on_read(test_store *ts, void (*fn)(const void *key, size_t klen, void *user), void *user);
/* As if the process died: the open batch (if any) is lost. */
void test_store_crash(test_store *ts);
/* Give later handles a `changes` method (contract v3) that calls @p fn and
 * reports nothing changed; NULL: none (the default). */
void test_store_set_changes(test_store *ts, int (*fn)(void *user), void *user);
/* Calls of the contract's `erased` so far (and in *keys, the keys told). */
uint64_t test_store_erased(const test_store *ts, uint64_t *keys);
/* 1 when any committed key or value contains the bytes (a plain byte search). */
int test_store_grep(test_store *ts, const void *bytes, size_t n);
/* Each committed key and value in key order, as a scan gives them, without counting a call
 * (a reader beside an engine whose reads may be set to fail); @p fn returns non-zero to stop. */
int test_store_scan_raw(test_store *ts, int (*fn)(const void *key, size_t klen, const void *val, size_t vlen,
                                                   void *user), void *user);
/* Number of committed keys, and raw access for corruption tests. */
size_t test_store_count(const test_store *ts);
int test_store_raw_get(test_store *ts, const char *key, uint8_t **val, size_t *len);
int test_store_raw_put(test_store *ts, const char *key, const void *val, size_t len);
/* The i-th committed key in key order (binary; length in *klen), or NULL past the end. */
const uint8_t *test_store_key_at(test_store *ts, size_t i, size_t *klen);
/* Binary-key forms of raw get/put (the value from get is malloc'd; free() it). */
int test_store_raw_get_bin(test_store *ts, const void *key, size_t klen, uint8_t **val, size_t *len);
int test_store_raw_put_bin(test_store *ts, const void *key, size_t klen, const void *val, size_t len);
/* Fails the test unless @p a and @p b hold the same committed keys in the same order and,
 * for the keys that start with @p value_prefix, the same values byte for byte ("": every
 * value; NULL: keys only). Stores built by the same calls under a fixed clock compare so. */
void test_store_assert_same(test_store *a, test_store *b, const char *value_prefix);

#endif
