/* Sizing the customer table up front for an import of known size: a
 * buffer import, on one thread and with the CSV parsed on two (the first
 * part's bytes a row tell the rows to expect), takes the path and reads
 * back the same customers as an import that grows the table step by step
 * (threads 0: no applier, never sized). */
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

extern uint32_t eng__aud_part_rows;
extern size_t eng__aud_chunk_bytes;
extern uint64_t eng__aud_sized_runs;

#define NROWS 3000

static char *gen_csv(size_t *len)
{
    size_t cap = 128 + (size_t)NROWS * 96, n = 0;
    char *csv = malloc(cap);
    assert_non_null(csv);
    static const char *const city[] = {"Pune", "Mumbai", "Delhi", "Goa", ""};
    n += (size_t)snprintf(csv + n, cap - n, "id,city,age,spend,last,contact.email,consent.email,contact.sms\n");
    uint64_t r = 9;
    for (int k = 0; k < NROWS; k++) {
        uint64_t x = test_splitmix(&r);
        char email[32] = "";
        if (x % 3)
            snprintf(email, sizeof email, "u%d@example.com", k);
        n += (size_t)snprintf(csv + n, cap - n, "c%d,%s,%s,%u.%02u,2026-%02u-%02u,%s,%s,+91700%07u\n", k,
                              city[x % 5], x % 7 ? "37" : "", (unsigned)(x >> 8) % 100000,
                              (unsigned)(x >> 30) % 100, 1 + (unsigned)(x >> 12) % 12, 1 + (unsigned)(x >> 20) % 28,
                              email, x % 2 ? "yes" : "no", (unsigned)k);
    }
    *len = n;
    return csv;
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
    assert_int_equal(eng_customers_add_column(e, TA, "city", ENG_COL_STRING), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "age", ENG_COL_INT64), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "spend", ENG_COL_DECIMAL), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "last", ENG_COL_DATE), ENG_OK);
    return e;
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

/* A buffer knows its size: sized on one thread and with the CSV parsed on
 * two (the chunks' first part tells the bytes a row), the same customers as
 * with no applier (threads 0, never sized). */
static void buffer_sized_on_threads(void **st)
{
    (void)st;
    uint32_t parts = eng__aud_part_rows;
    size_t chunk = eng__aud_chunk_bytes;
    eng__aud_part_rows = 64;
    eng__aud_chunk_bytes = 16384;
    size_t len;
    char *csv = gen_csv(&len);
    test_store *ref = NULL;
    for (unsigned threads = 0; threads <= 2; threads++) {
        test_store *ts = test_store_new();
        eng_engine *e = open_with(ts, threads);
        uint64_t sized = eng__aud_sized_runs;
        assert_int_equal(eng_customers_import_csv_buffer(e, TA, csv, len, NULL, NULL), ENG_OK);
        assert_int_equal(eng__aud_sized_runs - sized, threads ? 1 : 0);
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
    eng__aud_part_rows = parts;
    eng__aud_chunk_bytes = chunk;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buffer_sized_on_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
