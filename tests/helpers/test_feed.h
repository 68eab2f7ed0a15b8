/* Several engines in one test process on one store (storage contract v3,
 * `changes`): a wrapper over handles of a shared test store that implements
 * the change feed — every commit's keys (whole keys: shortening is a backend's
 * choice), reported to the other handles — and counts the scans of each
 * prefix a test asks about, i.e. the reloads of what that prefix holds.
 * A batch's keys are logged at its commit, a write outside a batch at once. */
#ifndef TEST_FEED_H
#define TEST_FEED_H

#include "engage.h"
#include "test_store.h"

#define TEST_FEED_KEY 96
#define TEST_FEED_WATCH 8

typedef struct test_feed {
    char (*key)[TEST_FEED_KEY];
    int *writer;
    size_t n, cap;
    /* scans counted per prefix: set watch[i] (and nwatch) before the scans */
    const char *watch[TEST_FEED_WATCH];
    unsigned scans[TEST_FEED_WATCH];
    int nwatch;
    /* the next busy_commits commits of writer busy_writer roll back and fail with ENG_EBUSY,
     * as a serialization failure does in PostgreSQL */
    int busy_writer;
    unsigned busy_commits;
    unsigned busy_skip; /* commits of busy_writer let through first */
    unsigned commits;   /* commits of busy_writer that reached the store (or were failed) */
} test_feed;

/* A zeroed feed. */
void test_feed_init(test_feed *f);
/* Count the scans whose prefix is exactly @p prefix (a static string); returns its slot. */
int test_feed_watch(test_feed *f, const char *prefix);
/* How many scans of @p prefix (a watched one) there were so far. */
unsigned test_feed_scans(const test_feed *f, const char *prefix);
void test_feed_free(test_feed *f);
/* A new handle of @p ts that logs to and reads from @p f as writer @p id (distinct per engine),
 * on the counting allocator; the engine opened on it owns it. */
eng_store *test_feed_store(test_store *ts, test_feed *f, int id);
/* An engine (test_engine_open) on test_feed_store(ts, f, id). */
eng_engine *test_feed_engine(test_store *ts, test_feed *f, int id);

#endif
