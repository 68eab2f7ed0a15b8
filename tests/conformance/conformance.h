/* The storage conformance suite: every property of include/engage/store.h that
 * the library relies on, checked against a plain reference model, for any
 * backend a test can open. A backend is described by a factory; see
 * docs/storage-backends.md ("Running the conformance suite").
 *
 * Cases that need data to outlive a handle (reopen, a SIGKILLed writer) run
 * only when the backend says it is persistent; the others are reported as
 * skipped. The crash cases fork: open() is then called in a child process, so
 * it must not reuse a connection or file descriptor of the parent. */
#ifndef CONFORMANCE_H
#define CONFORMANCE_H

#include "engage.h"

typedef struct conf_backend {
    const char *name;
    /* 1 when data survives closing the handle and the death of the process. */
    int persistent;
    /* Make an empty storage location for one case; NULL on failure. */
    void *(*create)(void *arg);
    /* Open a handle over the location's data (alloc: for the handle). */
    int (*open)(void *ctx, const eng_allocator *alloc, eng_store **out);
    /* Remove the location. */
    void (*destroy)(void *ctx);
    void *arg;
} conf_backend;

/* Run every case (cmocka); returns the number of failed cases. */
int conf_run(const conf_backend *b);

/* What one `changes` call reported (keys as C strings). */
typedef struct conf_seen {
    char keys[16][64];
    int n;
} conf_seen;

/* Poll @p s's change feed from *cursor (asserts it succeeds). */
conf_seen conf_poll(eng_store *s, uint64_t *cursor);
/* Storage contract v3 on two handles over one location: another handle's
 * commits are reported by key prefix, once, in commit order; a handle's own
 * are not; a rolled-back batch is not; a write outside a batch is; after
 * @p prune(ctx, upto) marks the log pruned up to @p upto, a poller behind it
 * gets the empty key ("anything"). */
void conf_change_feed(eng_store *a, eng_store *b, void (*prune)(void *ctx, uint64_t upto), void *ctx);

#endif
