/* Sizing the customer table up front, and eng_import_options version 2's
 * size_hint (version 1 still accepted):
 * - a buffer import, on one thread and with the CSV parsed on two, takes the
 *   path and reads back the customers of an import that grows the table
 *   step by step (threads 0: no applier, never sized);
 * - an import through a read callback (reads of random sizes), its parts
 *   applied on the applier's thread, stores byte for byte what the same
 *   import without a hint stores, and reads back the same customers,
 *   whatever the hint: exact, far too large, larger than any table, too
 *   small, 0; on one thread and with the CSV parsed on two; an exact, too
 *   small or too large hint sizes the table, 0 or an impossible one does not;
 *   the importing engine's own table holds every contact as generated (a
 *   sized import sizes the contact arenas from its first part; a hint too
 *   small makes them grow past that);
 * - a version 1 struct (allocated to its own size: ASan catches a read past
 *   it) is read with its error mode, and versions 0 and 3 are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engage.h"
#include "test_store.h"
#include "test_util.h"

extern uint64_t eng__aud_sized_runs;
extern uint64_t eng__aud_applier_runs;

#define NROWS 3000
#define BAD_LINE 1502 /* one bad age: refused, or skipped in skip mode */

static char *gen_csv(size_t *len, int with_bad)
{
    size_t cap = 128 + (size_t)NROWS * 96, n = 0;
    char *csv = malloc(cap);
    assert_non_null(csv);
    static const char *const city[] = {"Pune", "Mumbai", "Delhi", "Goa", ""};
    n += (size_t)snprintf(csv + n, cap - n, "id,city,age,spend,last,contact.email,consent.email,contact.sms\n");
    uint64_t r = 9;
    for (int k = 0; k < NROWS; k++) {
        uint64_t x = test_splitmix(&r);
        int bad = with_bad && k + 2 == BAD_LINE;
        char email[32] = "";
        if (x % 3)
            snprintf(email, sizeof email, "u%d@example.com", k);
        n += (size_t)snprintf(csv + n, cap - n, "c%d,%s,%s,%u.%02u,2026-%02u-%02u,%s,%s,+91700%07u\n", k,
                              city[x % 5], bad ? "4x" : x % 7 ? "37" : "", (unsigned)(x >> 8) % 100000,
                              (unsigned)(x >> 30) % 100, 1 + (unsigned)(x >> 12) % 12, 1 + (unsigned)(x >> 20) % 28,
                              email, x % 2 ? "yes" : "no", (unsigned)k);
    }
    *len = n;
    return csv;
}

typedef struct src {
    const char *p;
    size_t n, off;
    uint64_t rng;
} src;

static long read_some(void *buf, size_t cap, void *user)
{
    src *s = user;
    size_t k = 1 + test_splitmix(&s->rng) % 5000;
    if (k > cap)
        k = cap;
    if (k > s->n - s->off)
        k = s->n - s->off;
    memcpy(buf, s->p + s->off, k);
    s->off += k;
    return (long)k;
}

static eng_time fixed_clock(void *u)
{
    (void)u;
    return 1767262830400ll; /* every import at the same time: stores compare byte for byte */
}

static eng_engine *open_with(test_store *ts, unsigned threads)
{
    eng_config cfg;
    assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
    cfg.clock_fn = fixed_clock;
    cfg.store = test_store_handle(ts);
    cfg.threads = threads;
    eng_engine *e = NULL;
    assert_int_equal(eng_open(&cfg, &e), ENG_OK);
    assert_int_equal(test_org(e), ENG_OK);
    assert_int_equal(test_aud_columns(e), ENG_OK);
    return e;
}

/* The engine's own table (built by the applier, its contact arenas sized
 * from the first part when the import was sized) holds every contact the
 * generator wrote, read back before any reopen. */
static void contacts_as_generated(eng_engine *e)
{
    uint64_t r = 9;
    for (int k = 0; k < NROWS; k++) {
        uint64_t x = test_splitmix(&r);
        char id[16], want[32], got[64];
        size_t l = 0;
        uint32_t dense;
        snprintf(id, sizeof id, "c%d", k);
        assert_int_equal(eng_customer_find(e, TA, id, &dense), ENG_OK);
        snprintf(want, sizeof want, "u%d@example.com", k);
        assert_int_equal(eng_customer_get(e, TA, dense, "contact.email", got, sizeof got, &l), ENG_OK);
        assert_string_equal(got, x % 3 ? want : "");
        snprintf(want, sizeof want, "+91700%07u", (unsigned)k);
        assert_int_equal(eng_customer_get(e, TA, dense, "contact.sms", got, sizeof got, &l), ENG_OK);
        assert_string_equal(got, want);
    }
}

/* One import through the read callback into a new store; the store is returned. */
static test_store *import_with(unsigned threads, const eng_import_options *o, const char *csv, size_t len)
{
    test_store *ts = test_store_new();
    eng_engine *e = open_with(ts, threads);
    src s = {csv, len, 0, 77};
    eng_import_report rep = ENG_IMPORT_REPORT_INIT;
    uint64_t runs = eng__aud_applier_runs;
    int rc = eng_customers_import_csv(e, TA, read_some, &s, o, &rep);
    if (rc)
        fail_msg("import: %s (%s)", eng_error_last()->message, eng_error_last()->detail);
    assert_int_equal(rep.rows, NROWS);
    assert_int_equal(rep.inserted, NROWS);
    assert_int_equal(eng__aud_applier_runs - runs, 1); /* the applier's case: the hint's */
    contacts_as_generated(e);
    eng_close(e);
    return ts;
}

/* The same customers with the same values, read back after a reopen. */
static void same_customers(test_store *a, test_store *b, unsigned threads)
{
    eng_config cfg;
    assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
    cfg.threads = threads;
    eng_engine *ea, *eb;
    cfg.store = test_store_handle(a);
    assert_int_equal(eng_open(&cfg, &ea), ENG_OK);
    cfg.store = test_store_handle(b);
    assert_int_equal(eng_open(&cfg, &eb), ENG_OK);
    uint64_t na = 0, nb = 1;
    assert_int_equal(eng_customers_count(ea, TA, &na), ENG_OK);
    assert_int_equal(eng_customers_count(eb, TA, &nb), ENG_OK);
    assert_int_equal(na, nb);
    static const char *const cols[] = {"city", "age", "spend", "last", "contact.email", "consent.email",
                                       "contact.sms"};
    for (int k = 0; k < NROWS; k += 7) {
        char id[16];
        snprintf(id, sizeof id, "c%d", k);
        uint32_t ia, ib;
        assert_int_equal(eng_customer_find(ea, TA, id, &ia), ENG_OK);
        assert_int_equal(eng_customer_find(eb, TA, id, &ib), ENG_OK);
        for (size_t c = 0; c < sizeof cols / sizeof *cols; c++) {
            char x[128], y[128];
            size_t lx = 0, ly = 0;
            int rx = eng_customer_get(ea, TA, ia, cols[c], x, sizeof x, &lx);
            int ry = eng_customer_get(eb, TA, ib, cols[c], y, sizeof y, &ly);
            assert_int_equal(rx, ry);
            if (!rx)
                assert_string_equal(x, y);
        }
    }
    eng_close(ea);
    eng_close(eb);
}

/* The same keys, the audience's values byte for byte (the engine's own records hold its
 * instance id), and the same customers read back after a reopen. */
static void same_store(test_store *a, test_store *b, unsigned threads)
{
    test_store_assert_same(a, b, "a/");
    same_customers(a, b, threads);
}

static void any_hint_same_result(void **st)
{
    (void)st;
    test_aud_knobs knobs = test_aud_knobs_set(64, 16384);
    size_t len;
    char *csv = gen_csv(&len, 0);
    const struct {
        uint64_t hint;
        int sized;
    } hints[] = {{0, 0}, {len, 1}, {100 * (uint64_t)len, 1}, {UINT64_MAX, 0}, {10, 0}, {len / 2, 1}};
    for (unsigned threads = 1; threads <= 2; threads++) {
        test_store *ref = import_with(threads, NULL, csv, len);
        for (size_t h = 0; h < sizeof hints / sizeof *hints; h++) {
            eng_import_options o;
            assert_int_equal(eng_import_options_init(&o, ENG_IMPORT_OPTIONS_VERSION), ENG_OK);
            assert_int_equal(o.size_hint, 0);
            o.size_hint = hints[h].hint;
            uint64_t sized = eng__aud_sized_runs;
            test_store *ts = import_with(threads, &o, csv, len);
            if (eng__aud_sized_runs - sized != (uint64_t)hints[h].sized)
                fail_msg("threads %u, hint %llu: sized %llu times", threads, (unsigned long long)hints[h].hint,
                         (unsigned long long)(eng__aud_sized_runs - sized));
            same_store(ref, ts, threads);
            test_store_free(ts);
        }
        test_store_free(ref);
    }
    free(csv);
    test_aud_knobs_restore(knobs);
}

/* A buffer knows its size: sized on one thread and with the CSV parsed on
 * two (the chunks' first part tells the bytes a row), the same customers as
 * with no applier (threads 0, never sized). */
static void buffer_sized_on_threads(void **st)
{
    (void)st;
    test_aud_knobs knobs = test_aud_knobs_set(64, 16384);
    size_t len;
    char *csv = gen_csv(&len, 0);
    test_store *ref = NULL;
    for (unsigned threads = 0; threads <= 2; threads++) {
        test_store *ts = test_store_new();
        eng_engine *e = open_with(ts, threads);
        uint64_t sized = eng__aud_sized_runs;
        assert_int_equal(eng_customers_import_csv_buffer(e, TA, csv, len, NULL, NULL), ENG_OK);
        assert_int_equal(eng__aud_sized_runs - sized, threads ? 1 : 0);
        contacts_as_generated(e);
        eng_close(e);
        if (!ref) {
            ref = ts;
            continue;
        }
        same_customers(ref, ts, threads);
        test_store_free(ts);
    }
    test_store_free(ref);
    free(csv);
    test_aud_knobs_restore(knobs);
}

/* Version 1 (no size_hint) with skip mode: its fields are read, nothing past them. */
static void version1_still_read(void **st)
{
    (void)st;
    size_t len;
    char *csv = gen_csv(&len, 1);
    size_t v1 = offsetof(eng_import_options, error_user) + sizeof(void *);
    for (unsigned v = 1; v <= 2; v++) {
        eng_import_options *o = malloc(v == 1 ? v1 : sizeof *o);
        assert_non_null(o);
        assert_int_equal(eng_import_options_init(o, v), ENG_OK);
        o->on_error = ENG_IMPORT_SKIP_ROWS;
        o->max_bad_rows = 1;
        if (v == 2)
            o->size_hint = len;
        test_store *ts = test_store_new();
        eng_engine *e = open_with(ts, 1);
        src s = {csv, len, 0, 5};
        eng_import_report rep = ENG_IMPORT_REPORT_INIT;
        assert_int_equal(eng_customers_import_csv(e, TA, read_some, &s, o, &rep), ENG_OK);
        assert_int_equal(rep.rows, NROWS);
        assert_int_equal(rep.bad_rows, 1);
        assert_int_equal(rep.inserted, NROWS - 1);
        uint32_t id;
        assert_int_equal(eng_customer_find(e, TA, "c1500", &id), ENG_ENOTFOUND); /* line 1502 */
        o->max_bad_rows = 0; /* now refused, at its line and column */
        s.off = 0;
        assert_int_equal(eng_customers_import_csv(e, TA, read_some, &s, o, &rep), ENG_EPARSE);
        assert_string_equal(eng_error_last()->detail, "1502:3");
        eng_close(e);
        test_store_free(ts);
        free(o);
    }
    eng_import_options o = ENG_IMPORT_OPTIONS_INIT;
    test_store *ts = test_store_new();
    eng_engine *e = open_with(ts, 1);
    for (unsigned v = 0; v <= 3; v += 3) {
        o.version = v;
        src s = {csv, len, 0, 5};
        assert_int_equal(eng_customers_import_csv(e, TA, read_some, &s, &o, NULL), ENG_EVERSION);
        assert_string_equal(eng_error_last()->detail, "options.version");
        eng_import_options x;
        assert_int_equal(eng_import_options_init(&x, v), ENG_EVERSION);
    }
    eng_close(e);
    test_store_free(ts);
    free(csv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buffer_sized_on_threads),
        cmocka_unit_test(any_hint_same_result),
        cmocka_unit_test(version1_still_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
