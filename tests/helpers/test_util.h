/* Small helpers shared by tests: temporary directories and engines on the
 * counting allocator. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include "engage.h"

/* mkdtemp under $TMPDIR (or /tmp); the caller removes it with test_rmtree. */
char *test_tmpdir(void);
void test_rmtree(const char *path);
/* Whole-file helpers for the damage sweeps (cmocka assertions on failure).
 * test_write_file makes a new file each time: truncating the old one to zero
 * makes ext4 flush its data on close (auto_da_alloc), about 1 ms a trial. */
long test_file_size(const char *path);
unsigned char *test_read_file(const char *path, long *n); /* malloc'd, one spare byte */
void test_write_file(const char *path, const unsigned char *b, long n);
/* How many files directly in @p dir hold the bytes @p needle (a plain byte search of every
 * file the library wrote there). */
int test_dir_has_bytes(const char *dir, const void *needle, size_t nlen);
/* The bytes an import delta stores for the E.164 phone number @p phone ("+" and
 * digits): tag 2 and the digits as an integer varint (delta schema 2), for the
 * byte searches of erasure tests. Returns their length (at most 12). */
size_t test_phone_delta_bytes(const char *phone, unsigned char out[12]);
/* Open an engine with the counting allocator on @p store (NULL: memory). */
eng_engine *test_engine_open(eng_store *store);
/* eng_config.events_segments of the engines test_engine_open opens (default: the library's). */
extern unsigned test_events_segments;
/* Nonzero under a runtime that makes every memory access slow (valgrind, ThreadSanitizer:
 * ENG_TEST_SLOW set by the 'valgrind' and 'tsan' test setups): heavy property tests run fewer
 * rounds there, while the plain and ASan builds run them in full. */
int test_slow_runtime(void);
/* Customers and groups belong to an org: tests of the audience layer act as
 * TA, the admin of org TEST_ORG. test_org() creates them (ENG_OK when they
 * exist); test_engine_open_org() opens an engine and does so. */
/* splitmix64, the tests' deterministic random numbers: advances *state, returns the next. */
static inline uint64_t test_splitmix(uint64_t *state)
{
    uint64_t x = (*state += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
#define TEST_ORG "t"
#define TA "t-admin"
int test_org(eng_engine *e);
/* Asserts that customer @p ext's column @p col reads @p want (as eng_customer_get gives it). */
void test_assert_customer_value(eng_engine *e, const char *actor, const char *ext, const char *col,
                                const char *want);
eng_engine *test_engine_open_org(eng_store *store);
/* The typed columns of the import tests' customers (city string, age int64, spend decimal,
 * last date), declared by TA; ENG_OK or the failing call's code. */
int test_aud_columns(eng_engine *e);
/* The import's tuning knobs: rows a delta part and bytes a parse chunk. A test that wants many
 * small parts sets them (0 keeps one as it is) and restores what the call returned at its end. */
typedef struct test_aud_knobs {
    uint32_t part_rows;
    size_t chunk_bytes;
} test_aud_knobs;
test_aud_knobs test_aud_knobs_set(uint32_t part_rows, size_t chunk_bytes);
void test_aud_knobs_restore(test_aud_knobs saved);
/* Put an offer in the catalogue (or find it there), created by @p author and valid through
 * the dates of @p campaign; a message claims it by naming @p id in its incentive's offer_id.
 * @p source is an eng_coupon_source, with @p code (fixed) or @p pool (uploaded) as it needs.
 * ENG_OK when created or already there, else the failing call's code. */
int test_offer(eng_engine *e, const char *author, uint64_t campaign, const char *id, int source, const char *code,
               const char *pool);
/* A fixed clock the test can move: engines opened by test_engine_open use it. */
extern eng_time test_clock_now;

#endif
