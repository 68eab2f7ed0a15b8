/* The import's delta schemas 2 and 3 (delta.c, delta_cols.c) and the value
 * parsers' fast paths:
 * - every value of a generated CSV reads back as the generator wrote it,
 *   after the import, after a reopen (replay of the stored parts: schema 3,
 *   schema 2 as an earlier version stored it, and both in one table) and
 *   after a compaction (rewritten as schema 1): strings of 10 columns (8 with slots,
 *   more distinct values than slots, "" and NULL), whole days and times
 *   before and after 1970, phone numbers on two channels, consent and
 *   opt-out given at the import's time, at a date, at 1970-01-01 and
 *   withdrawn; small parts so slots start over; rows rejected in skip mode
 *   after a new string value was encoded (its slot must not be kept);
 * - the same with the parts applied on a second thread as they are stored
 *   (applier.c, an import into an empty table): the same table and the very
 *   same stored bytes as applying them after the import, and a row refused
 *   late in a big import (parts applied already) leaves nothing behind;
 * - a stored phone number's text is printf's; eng__val_date takes the
 *   plain dates the C library's timegm takes, with the same instant, and
 *   eng__val_phone the numbers a plain digit loop takes;
 * - eng__val_int64 and eng__val_decimal accept exactly what a plain
 *   reference accepts, with the same value, on random and boundary text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "audience/audience_impl.h"
#include "audience/delta_impl.h"
#include "audience/values.h"
#include "base/hash.h"
#include "test_alloc.h"
#include "test_store.h"
#include "test_util.h"

static uint64_t rng;
static uint64_t rnd(void)
{
    return test_splitmix(&rng);
}

#define NS 10   /* string columns s0..s9 */
#define NID 700 /* distinct customers */
#define NROWS 2000
#define VMAX 48

static const char *const cols[] = {"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "i", "m", "t", "b",
                                   "contact.email", "contact.sms", "contact.whatsapp", "consent.email",
                                   "consent.sms", "optout.sms", "suppressed"};
#define NC (sizeof cols / sizeof cols[0])
enum { C_I = NS, C_M, C_T, C_B, C_EMAIL, C_SMS, C_WA, C_CEMAIL, C_CSMS, C_OSMS, C_SUPP };

/* Canonical texts (what eng_customer_get prints) of dates and times. */
static const char *const times[] = {"2024-02-29", "1969-12-31", "1900-01-01", "0001-01-01", "9999-12-31",
                                    "1970-01-01", "2024-02-29T12:00:00Z", "1969-12-31T23:59:59.999Z",
                                    "2026-01-01T10:20:30.400Z"};
#define NOW_TEXT "2026-01-01T10:20:30.400Z"
#define NOW_MS 1767262830400ll

/* exp[k][c]: the expected text of customer k's column c ("" for NULL or
 * empty); emp[k][c]: 1 when it is the empty string (quoted ""). */
static char exp_[NID][NC][VMAX];
static unsigned char emp[NID][NC], seen[NID];

static void str_value(char *out, int c)
{
    static const char *const odd[] = {"Zürich", "東京", "a b", "x"};
    uint64_t r = rnd() % 400; /* 400 distinct values per column: more than the 128 slots */
    if (r < 4)
        snprintf(out, VMAX, "%s", odd[r]);
    else
        snprintf(out, VMAX, "v%d-%llu", c, (unsigned long long)r);
}

static void phone(char *out)
{
    int nd = 8 + (int)(rnd() % 8);
    out[0] = '+';
    out[1] = (char)('1' + rnd() % 9);
    for (int k = 2; k <= nd; k++)
        out[k] = (char)('0' + rnd() % 10);
    out[nd + 1] = 0;
}

static void decimal(char *out)
{
    int64_t u = (int64_t)(rnd() % 2000000001) - 1000000000;
    uint64_t a = u < 0 ? (uint64_t)-u : (uint64_t)u;
    char fb[8];
    snprintf(fb, sizeof fb, "%04u", (unsigned)(a % 10000));
    for (int k = 3; k >= 0 && fb[k] == '0'; k--)
        fb[k] = 0;
    snprintf(out, VMAX, "%s%llu%s%s", u < 0 ? "-" : "", (unsigned long long)(a / 10000), *fb ? "." : "", fb);
}

/* One row: field texts (as written in the CSV, quoted "" marked by q) and
 * their expected read-back texts. Returns the column made bad, or -1. */
static int gen_row(char f[NC][VMAX], char e[NC][VMAX], unsigned char q[NC], int bad)
{
    memset(q, 0, NC);
    for (int c = 0; c < NS; c++) {
        uint64_t r = rnd() % 20;
        if (r == 0) {
            f[c][0] = 0; /* NULL */
        } else if (r == 1) {
            f[c][0] = 0;
            q[c] = 1; /* "" */
        } else {
            str_value(f[c], c);
        }
    }
    static const char *const ints[] = {"-9223372036854775808", "9223372036854775807", "0", "-1", "42"};
    if (rnd() % 3)
        snprintf(f[C_I], VMAX, "%lld", (long long)(rnd() % 2000001) - 1000000);
    else
        snprintf(f[C_I], VMAX, "%s", ints[rnd() % 5]);
    decimal(f[C_M]);
    snprintf(f[C_T], VMAX, "%s", rnd() % 10 ? times[rnd() % (sizeof times / sizeof *times)] : "");
    snprintf(f[C_B], VMAX, "%s", rnd() % 2 ? "true" : "false");
    snprintf(f[C_EMAIL], VMAX, "u%llu@example.com", (unsigned long long)(rnd() % 100000));
    phone(f[C_SMS]);
    if (rnd() % 3)
        phone(f[C_WA]);
    else
        f[C_WA][0] = 0;
    static const char *const flags[] = {"true", "yes", "false", "no", "2024-02-29", "1970-01-01",
                                        "2026-01-01T10:20:30.400Z", ""};
    for (int c = C_CEMAIL; c <= C_OSMS; c++)
        snprintf(f[c], VMAX, "%s", flags[rnd() % 8]);
    snprintf(f[C_SUPP], VMAX, "%s", rnd() % 5 ? "false" : "true");
    for (size_t c = 0; c < NC; c++) {
        memcpy(e[c], f[c], VMAX);
        if (c >= C_CEMAIL && c <= C_OSMS) {
            if (!strcmp(f[c], "true") || !strcmp(f[c], "yes"))
                snprintf(e[c], VMAX, NOW_TEXT);
            else if (!strcmp(f[c], "no") || !*f[c])
                snprintf(e[c], VMAX, "false");
        }
        if (c == C_SUPP && !*f[c])
            snprintf(e[c], VMAX, "false");
    }
    if (!bad)
        return -1;
    /* A bad value after the string columns: the row's new string values were
     * encoded already and must not stay in the slots. */
    static const char *const badv[] = {"12a", "1.23456", "2023-02-29", "maybe", "x@", "+0123456789", "+1234",
                                       "sometimes"};
    int which = (int)(rnd() % 8);
    static const int badc[] = {C_I, C_M, C_T, C_B, C_EMAIL, C_SMS, C_WA, C_CSMS};
    snprintf(f[badc[which]], VMAX, "%s", badv[which]);
    return badc[which];
}

static char *gen_csv(size_t *len, int first)
{
    size_t cap = (size_t)NROWS * NC * (VMAX + 3) + 4096, n = 0;
    char *b = malloc(cap);
    assert_non_null(b);
    n += (size_t)snprintf(b + n, cap - n, "id");
    for (size_t c = 0; c < NC; c++)
        n += (size_t)snprintf(b + n, cap - n, ",%s", cols[c]);
    n += (size_t)snprintf(b + n, cap - n, "\n");
    for (int r = 0; r < NROWS; r++) {
        char f[NC][VMAX], e[NC][VMAX];
        unsigned char q[NC];
        int k = (int)(rnd() % (first ? NID : NID + 100)) % NID, bad = rnd() % 10 == 0;
        gen_row(f, e, q, bad);
        n += (size_t)snprintf(b + n, cap - n, "k%d", k);
        for (size_t c = 0; c < NC; c++)
            n += (size_t)snprintf(b + n, cap - n, q[c] ? ",\"\"" : ",%s", f[c]);
        n += (size_t)snprintf(b + n, cap - n, "\n");
        if (bad)
            continue;
        seen[k] = 1;
        for (size_t c = 0; c < NC; c++) {
            memcpy(exp_[k][c], e[c], VMAX);
            emp[k][c] = q[c];
        }
    }
    *len = n;
    return b;
}

static int gseq; /* filter group names */

static uint64_t count_of(eng_engine *e, const char *expr)
{
    char name[32];
    snprintf(name, sizeof name, "dv%d", gseq++);
    uint32_t id;
    if (eng_group_create_filter(e, TA, name, expr, &id) != ENG_OK)
        fail_msg("'%s': %s", expr, eng_error_last()->message);
    uint64_t n = 0;
    assert_int_equal(eng_group_count(e, TA, id, &n), ENG_OK);
    return n;
}

static void check_all(eng_engine *e, const char *when)
{
    char buf[VMAX + 16];
    for (int k = 0; k < NID; k++) {
        char ext[16];
        snprintf(ext, sizeof ext, "k%d", k);
        uint32_t id;
        int rc = eng_customer_find(e, TA, ext, &id);
        if (!seen[k]) {
            assert_int_equal(rc, ENG_ENOTFOUND);
            continue;
        }
        assert_int_equal(rc, ENG_OK);
        for (size_t c = 0; c < NC; c++) {
            size_t n;
            assert_int_equal(eng_customer_get(e, TA, id, cols[c], buf, sizeof buf, &n), ENG_OK);
            if (strcmp(buf, exp_[k][c]))
                fail_msg("%s: %s.%s is '%s', want '%s'", when, ext, cols[c], buf, exp_[k][c]);
        }
    }
    /* "" and NULL read back alike: count them apart with filters */
    for (int c = 0; c < NS; c++) {
        uint64_t nul = 0, empty = 0;
        for (int k = 0; k < NID; k++)
            if (seen[k] && !exp_[k][c][0]) {
                empty += emp[k][c];
                nul += !emp[k][c];
            }
        char expr[48];
        snprintf(expr, sizeof expr, "s%d == \"\"", c);
        assert_int_equal(count_of(e, expr), empty);
        snprintf(expr, sizeof expr, "s%d is null", c);
        assert_int_equal(count_of(e, expr), nul);
    }
}

static void import_ok(eng_engine *e, const char *csv, size_t len)
{
    eng_import_options o;
    eng_import_options_init(&o, ENG_IMPORT_OPTIONS_VERSION);
    o.on_error = ENG_IMPORT_SKIP_ROWS;
    o.max_bad_rows = NROWS;
    eng_import_report rep = ENG_IMPORT_REPORT_INIT;
    if (eng_customers_import_csv_buffer(e, TA, csv, len, &o, &rep) != ENG_OK)
        fail_msg("import: %s (%s)", eng_error_last()->message, eng_error_last()->detail);
    assert_true(rep.bad_rows > 0);
}

static void add_cols(eng_engine *e)
{
    for (int c = 0; c < NS; c++)
        assert_int_equal(eng_customers_add_column(e, TA, cols[c], ENG_COL_STRING), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "i", ENG_COL_INT64), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "m", ENG_COL_DECIMAL), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "t", ENG_COL_DATE), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "b", ENG_COL_BOOL), ENG_OK);
}

/* Stored delta parts of each record schema (1..3) in ts. */
static void parts_by_schema(test_store *ts, size_t out[4])
{
    memset(out, 0, 4 * sizeof *out);
    for (size_t i = 0; i < test_store_count(ts); i++) {
        size_t kl, vl;
        const uint8_t *k = test_store_key_at(ts, i, &kl);
        uint8_t *v;
        eng__rec rec;
        assert_int_equal(test_store_raw_get_bin(ts, k, kl, &v, &vl), 0);
        if (eng__rec_decode(k, kl, v, vl, ENG__REC_AUD_DELTA, ENG__DELTA_V, &rec) == ENG_OK) {
            assert_true(rec.schema >= 1 && rec.schema <= 3);
            out[rec.schema]++;
        }
        free(v);
    }
}

/* The first import written in schema v1, the second in v2: every value reads
 * back as generated after each import, after a reopen (both schemas
 * replayed) and after a compaction. */
static void round_trip(unsigned v1, unsigned v2)
{
    test_alloc_reset();
    rng = 17;
    memset(seen, 0, sizeof seen);
    eng_time saved = test_clock_now;
    test_clock_now = NOW_MS;
    test_aud_knobs knobs = test_aud_knobs_set(300, 0); /* several parts: the slots start over in each */
    test_store *ts = test_store_new();
    eng_engine *e = test_engine_open_org(test_store_handle(ts));
    add_cols(e);
    size_t len, n[4], m[4];
    char *csv = gen_csv(&len, 1);
    eng__aud_delta_write_v = v1;
    import_ok(e, csv, len);
    free(csv);
    parts_by_schema(ts, n);
    if (!(n[v1] > 1 && n[1] + n[2] + n[3] == n[v1]))
        fail_msg("parts by schema: %zu %zu %zu", n[1], n[2], n[3]);
    check_all(e, "first import");
    csv = gen_csv(&len, 0); /* updates and new customers */
    eng__aud_delta_write_v = v2;
    import_ok(e, csv, len);
    free(csv);
    parts_by_schema(ts, m);
    assert_true(m[v2] > n[v2]);
    check_all(e, "second import");
    eng__aud_delta_write_v = ENG__DELTA_V;
    eng_close(e);
    e = test_engine_open(test_store_handle(ts)); /* replays the stored parts */
    check_all(e, "reopened");
    assert_int_equal(eng_customers_compact(e, TA), ENG_OK); /* rewritten as schema 1 */
    eng_close(e);
    e = test_engine_open(test_store_handle(ts));
    check_all(e, "compacted");
    eng_close(e);
    test_store_free(ts);
    test_aud_knobs_restore(knobs);
    test_clock_now = saved;
    test_alloc_assert_clean();
}

static void schema3_round_trip(void **st)
{
    (void)st;
    if (!test_slow_runtime()) /* valgrind, TSan: schema2_parts_replay's second import is schema 3 */
        round_trip(3, 3);
}

/* Parts stored by an earlier version (schema 2) still replay, alone and
 * beside schema 3 parts written over them. */
static void schema2_parts_replay(void **st)
{
    (void)st;
    if (!test_slow_runtime()) /* valgrind, TSan: the mixed store alone */
        round_trip(2, 2);
    round_trip(2, 3);
}

/* Every value of every customer as eng_customer_get prints it (a customer's
 * values on one line); the caller frees it. */
static char *dump_all(eng_engine *e)
{
    uint64_t n = 0;
    assert_int_equal(eng_customers_count(e, TA, &n), ENG_OK);
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    for (uint32_t id = 0; id < n; id++)
        for (size_t c = 0; c < NC; c++) {
            char v[256];
            size_t l = 0;
            int rc = eng_customer_get(e, TA, id, cols[c], v, sizeof v, &l);
            if (len + l + 32 > cap && !(out = realloc(out, cap = 2 * cap + l + 32)))
                fail();
            len += (size_t)snprintf(out + len, cap - len, "%d:%s%c", rc, rc ? "" : v, c + 1 < NC ? ',' : '\n');
        }
    return out;
}

/* A schema 3 part damaged behind its checksum (resealed): the org loads, or
 * fails with ENG_ECORRUPT naming the part; never a crash (run under ASan).
 * The column loops' own reads (eng__aud_cols_fast) give what the checked
 * readers give: the same error, or the same customers. */
static void damaged_schema3_part(void **st)
{
    (void)st;
    test_alloc_reset();
    rng = 17;
    memset(seen, 0, sizeof seen);
    test_aud_knobs knobs = test_aud_knobs_set(300, 0);
    test_store *ts = test_store_new();
    eng_engine *e = test_engine_open_org(test_store_handle(ts));
    add_cols(e);
    size_t len;
    char *csv = gen_csv(&len, 1);
    import_ok(e, csv, len);
    free(csv);
    eng_close(e);
    const char *key = "a/o/" TEST_ORG "/t/0000000000000000/00000000";
    uint8_t *v, *d;
    assert_int_equal(test_store_raw_get(ts, key, &v, &len), 0);
    assert_true(len > ENG__REC_HEADER && v[4] == 3);
    d = malloc(len);
    assert_non_null(d);
    size_t bad = 0, plen0 = len - ENG__REC_HEADER;
    size_t places = test_slow_runtime() ? 2 : 16; /* about twice as many places (valgrind, TSan: fewer) */
    for (size_t at = ENG__REC_HEADER; at < len; at += 1 + (size_t)(rnd() % (len / places))) {
        for (int cut = 0; cut < 2; cut++) {
            memcpy(d, v, len);
            size_t plen = cut ? at - ENG__REC_HEADER : plen0;
            if (!cut)
                d[at] ^= (uint8_t)(1 + rnd() % 255);
            d[8] = (uint8_t)plen, d[9] = (uint8_t)(plen >> 8), d[10] = (uint8_t)(plen >> 16), d[11] = 0;
            uint32_t crc = eng__crc32c(eng__crc32c(0, d, 12), d + ENG__REC_HEADER, plen);
            d[12] = (uint8_t)crc, d[13] = (uint8_t)(crc >> 8), d[14] = (uint8_t)(crc >> 16), d[15] = (uint8_t)(crc >> 24);
            assert_int_equal(test_store_raw_put(ts, key, d, ENG__REC_HEADER + plen), 0);
            char *fast = NULL, msg[512] = "";
            for (unsigned ref = 0; ref < 2; ref++) { /* the column loops' reads, then the checked readers' */
                eng__aud_cols_fast = !ref;
                e = test_engine_open_org(test_store_handle(ts));
                uint64_t n;
                int rc = eng_customers_count(e, TA, &n);
                eng__aud_cols_fast = 1;
                bad += rc != ENG_OK && !ref;
                if (rc != ENG_OK && (rc != ENG_ECORRUPT || strcmp(eng_error_last()->detail, key)))
                    fail_msg("byte %zu%s: %d %s (%s)", at, cut ? " (cut)" : "", rc, eng_error_last()->message,
                             eng_error_last()->detail);
                char *all = rc ? NULL : dump_all(e);
                if (!ref) {
                    fast = all;
                    snprintf(msg, sizeof msg, "%s", rc ? eng_error_last()->message : "");
                } else if (!fast != !all || (all && strcmp(all, fast)) || (!all && strcmp(msg, eng_error_last()->message))) {
                    fail_msg("byte %zu%s: the column loops' reads and the checked readers differ (%s)", at,
                             cut ? " (cut)" : "", msg);
                }
                if (ref) {
                    free(all);
                    free(fast);
                }
                eng_close(e);
            }
        }
    }
    assert_true(bad > 2); /* every cut at least is seen */
    assert_int_equal(test_store_raw_put(ts, key, v, len), 0);
    free(v);
    free(d);
    test_store_free(ts);
    test_aud_knobs_restore(knobs);
    test_alloc_assert_clean();
}

/* ---- parts applied on a second thread (applier.c) ---- */

extern uint64_t eng__aud_applier_runs;

static eng_time clock_fn(void *u)
{
    (void)u;
    return test_clock_now;
}

/* 1: the engine allocates through test_alloc (host hooks, thread-safe as
 * engage/alloc.h asks), which the applier uses from its thread too. */
static int host_alloc;

static eng_engine *open_sys(eng_store *st, unsigned threads)
{
    eng_config cfg;
    assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
    assert_int_equal(cfg.threads, 1); /* the default */
    if (host_alloc)
        cfg.allocator = test_alloc_get();
    cfg.store = st;
    cfg.clock_fn = clock_fn;
    cfg.threads = threads;
    eng_engine *e = NULL;
    assert_int_equal(eng_open(&cfg, &e), ENG_OK);
    return e;
}

/* Both imports of schema2_round_trip with the applier off (0) or on (1). */
static test_store *imports_with(int thread)
{
    uint64_t runs = __atomic_load_n(&eng__aud_applier_runs, __ATOMIC_RELAXED);
    gseq = 0;
    rng = 17;
    memset(seen, 0, sizeof seen);
    test_store *ts = test_store_new();
    eng_engine *e = open_sys(test_store_handle(ts), (unsigned)thread);
    assert_int_equal(test_org(e), ENG_OK);
    add_cols(e);
    size_t len;
    char *csv = gen_csv(&len, 1); /* into the empty table: the applier's case */
    import_ok(e, csv, len);
    free(csv);
    /* eng_config.threads decides whether the applier's thread ran */
    assert_int_equal(__atomic_load_n(&eng__aud_applier_runs, __ATOMIC_RELAXED) - runs, thread ? 1 : 0);
    /* Every value read back after each step; under valgrind and TSan (a read of every value costs
     * as much as an import there) after the last, the stores still compared byte for byte. */
    int each = !test_slow_runtime();
    if (each)
        check_all(e, thread ? "threaded first import" : "first import");
    csv = gen_csv(&len, 0); /* into a full table: applied after, as always */
    import_ok(e, csv, len);
    free(csv);
    if (each)
        check_all(e, thread ? "threaded second import" : "second import");
    eng_close(e);
    e = open_sys(test_store_handle(ts), (unsigned)thread);
    check_all(e, thread ? "threaded, reopened" : "reopened");
    eng_close(e);
    return ts;
}

static void threaded_apply_same(void **st)
{
    (void)st;
    eng_time saved = test_clock_now;
    test_clock_now = NOW_MS;
    test_aud_knobs knobs = test_aud_knobs_set(64, 0); /* 2000 rows: about 30 parts through the applier's ring */
    test_store *a = imports_with(0), *b = imports_with(1);
    test_alloc_reset();
    host_alloc = 1;
    test_store *c = imports_with(1); /* host allocator hooks: the applier runs too */
    host_alloc = 0;
    test_alloc_assert_clean();
    test_store_assert_same(a, c, NULL);
    test_store_free(c);
    test_store_assert_same(a, b, ""); /* byte for byte the same store */
    test_store_free(a);
    test_store_free(b);
    test_aud_knobs_restore(knobs);
    test_clock_now = saved;
}

/* An engine with one thread on @p ts, its org, and columns i (INT64) and m (DECIMAL). */
static eng_engine *open_im(test_store *ts)
{
    eng_engine *e = open_sys(test_store_handle(ts), 1);
    assert_int_equal(test_org(e), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "i", ENG_COL_INT64), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "m", ENG_COL_DECIMAL), ENG_OK);
    return e;
}

/* A refused import left nothing: no customer and the store's keys as before. */
static void assert_nothing_imported(eng_engine *e, test_store *ts, size_t keys)
{
    uint64_t count = 1;
    assert_int_equal(eng_customers_count(e, TA, &count), ENG_OK);
    assert_int_equal(count, 0);
    assert_int_equal(test_store_count(ts), keys);
}

/* @p n customers, and customer @p id's column @p col reads @p want. */
static void assert_imported(eng_engine *e, uint64_t n, const char *id, const char *col, const char *want)
{
    uint64_t count = 0;
    assert_int_equal(eng_customers_count(e, TA, &count), ENG_OK);
    assert_int_equal(count, n);
    test_assert_customer_value(e, TA, id, col, want);
}

/* A bad row after many parts were applied: the error names its line and
 * column, and the table and store hold nothing of the import. */
static void threaded_apply_rejects(void **st)
{
    (void)st;
    test_aud_knobs knobs = test_aud_knobs_set(16, 0);
    size_t cap = 64 + 1000 * 32, n = 0;
    char *csv = malloc(cap);
    assert_non_null(csv);
    n += (size_t)snprintf(csv + n, cap - n, "id,i,m\n");
    for (int r = 0; r < 1000; r++) /* line r + 2; line 902 has a bad decimal */
        n += (size_t)snprintf(csv + n, cap - n, "c%d,%d,%s\n", r, r, r == 900 ? "1.2x" : "3.5");
    test_store *ts = test_store_new();
    eng_engine *e = open_im(ts);
    size_t keys = test_store_count(ts);
    uint64_t runs = __atomic_load_n(&eng__aud_applier_runs, __ATOMIC_RELAXED);
    assert_int_not_equal(eng_customers_import_csv_buffer(e, TA, csv, n, NULL, NULL), ENG_OK);
    assert_int_equal(__atomic_load_n(&eng__aud_applier_runs, __ATOMIC_RELAXED) - runs, 1);
    assert_string_equal(eng_error_last()->detail, "902:3");
    assert_nothing_imported(e, ts, keys);
    csv[strstr(csv, "1.2x") - csv + 3] = '0'; /* "1.20": the same import, now valid */
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, csv, n, NULL, NULL), ENG_OK);
    assert_imported(e, 1000, "c999", "i", "999");
    eng_close(e);
    test_store_free(ts);
    free(csv);
    test_aud_knobs_restore(knobs);
}

/* Allocation n failing (once, or from then on) during a threaded import into
 * an empty table, wherever it falls (on the applier's thread too): a clean
 * ENG_ENOMEM that leaves no customer and no stored key, no leak; and the
 * import after it, with no fault, as a fault-free one. */
static void threaded_apply_out_of_memory(void **st)
{
    (void)st;
    test_aud_knobs knobs = test_aud_knobs_set(16, 0); /* 300 rows: about 19 parts through the ring */
    size_t cap = 64 + 300 * 40, len = 0;
    char *csv = malloc(cap);
    assert_non_null(csv);
    len += (size_t)snprintf(csv + len, cap - len, "id,i,m\n");
    for (int r = 0; r < 300; r++)
        len += (size_t)snprintf(csv + len, cap - len, "cust%d,%d,%d.25\n", r, r * 7, r);
    test_alloc_reset();
    host_alloc = 1;
    int step = test_slow_runtime() ? 7 : 1;
    for (int persistent = 0; persistent < 2; persistent++) {
        uint64_t trials = 0, failed = 0, threaded = 0;
        for (uint64_t n = 1;; n += (uint64_t)step) {
            test_store *ts = test_store_new();
            eng_engine *e = open_im(ts);
            size_t keys = test_store_count(ts);
            uint64_t runs = __atomic_load_n(&eng__aud_applier_runs, __ATOMIC_RELAXED);
            uint64_t f0 = test_alloc_failures();
            test_alloc_fail_at(n, persistent);
            int rc = eng_customers_import_csv_buffer(e, TA, csv, len, NULL, NULL);
            test_alloc_fail_at(0, 0);
            int fired = test_alloc_failures() != f0;
            threaded += __atomic_load_n(&eng__aud_applier_runs, __ATOMIC_RELAXED) != runs;
            trials++;
            if (rc != ENG_OK) {
                if (rc != ENG_ENOMEM)
                    fail_msg("allocation %llu failing: %d %s", (unsigned long long)n, rc, eng_error_last()->message);
                assert_true(fired);
                failed++;
                assert_nothing_imported(e, ts, keys);
                assert_int_equal(eng_customers_import_csv_buffer(e, TA, csv, len, NULL, NULL), ENG_OK);
            }
            assert_imported(e, 300, "cust299", "m", "299.25");
            eng_close(e);
            test_store_free(ts);
            test_alloc_assert_clean();
            if (!fired)
                break;
        }
        print_message("threaded import, allocation failing %s: %llu trials, %llu failed cleanly, %llu threaded\n",
                      persistent ? "from then on" : "once", (unsigned long long)trials, (unsigned long long)failed,
                      (unsigned long long)threaded);
        assert_true(failed > 0 && threaded > 0);
    }
    host_alloc = 0;
    free(csv);
    test_aud_knobs_restore(knobs);
}

/* The stored integer of a phone number back to its text, against printf. */
static void phone_text_is_printf(uint64_t v)
{
    char a[17], b[32];
    size_t n = eng__delta_phone_text(v, a), m = 0;
    if (v >= 10000000ull && v <= 999999999999999ull)
        m = (size_t)snprintf(b, sizeof b, "+%llu", (unsigned long long)v);
    if (n != m || memcmp(a, b, n))
        fail_msg("%llu: '%.*s', want '%.*s'", (unsigned long long)v, (int)n, a, (int)m, b);
}

static void phone_text_matches_printf(void **st)
{
    (void)st;
    static const uint64_t edge[] = {0, 1, 9999999, 10000000, 10000001, 99999999, 100000000, 999999999999999ull,
                                    1000000000000000ull, UINT64_MAX};
    rng = 5;
    size_t rounds = test_slow_runtime() ? 20000 : 200000;
    for (size_t k = 0; k < rounds; k++)
        phone_text_is_printf(k < sizeof edge / sizeof edge[0] ? edge[k]
                                                              : rnd() % (k % 2 ? 2000000000000000ull : 2000000000ull));
    /* every length's ends (10^k and its neighbours), and the numbers beside each power of two */
    uint64_t p10 = 1;
    for (int e = 0; e < 64; e++, p10 = e < 20 ? p10 * 10 : p10)
        for (int d = -1; d <= 1; d++) {
            phone_text_is_printf((1ull << e) + (uint64_t)(int64_t)d);
            if (e < 20)
                phone_text_is_printf(p10 + (uint64_t)(int64_t)d);
        }
}

/* ---- value parsers against a plain reference ---- */

/* [+-]?digits, in the int64 range. */
static int ref_int64(const char *s, int64_t *out)
{
    size_t i = 0, n = strlen(s);
    int neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i == n)
        return 0;
    __int128 v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
        if (v > (__int128)1 << 64)
            return 0;
    }
    v = neg ? -v : v;
    if (v > INT64_MAX || v < INT64_MIN)
        return 0;
    *out = (int64_t)v;
    return 1;
}

/* [+-]?int(.frac)? with digits on at least one side of the point (and after
 * it when there is one), digits past the 4th decimal all zeros, units in range. */
static int ref_decimal(const char *s, int64_t *out)
{
    size_t i = 0, n = strlen(s);
    int neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    const char *dot = strchr(s + i, '.');
    size_t ni = dot ? (size_t)(dot - s) - i : n - i, nf = dot ? n - (size_t)(dot - s) - 1 : 0;
    if ((dot && nf == 0) || (ni == 0 && nf == 0))
        return 0;
    __int128 v = 0;
    for (size_t k = 0; k < ni; k++) {
        char c = s[i + k];
        if (c < '0' || c > '9')
            return 0;
        v = v * 10 + (c - '0');
        if (v > (__int128)1 << 64)
            return 0;
    }
    for (size_t k = 0; k < 4; k++) {
        char c = k < nf ? dot[1 + k] : '0';
        if (c < '0' || c > '9')
            return 0;
        v = v * 10 + (c - '0');
    }
    for (size_t k = 4; k < nf; k++)
        if (dot[1 + k] != '0')
            return 0;
    v = neg ? -v : v;
    if (v > INT64_MAX || v < INT64_MIN)
        return 0;
    *out = (int64_t)v;
    return 1;
}

static void parsers_match_reference(void **st)
{
    (void)st;
    rng = 99;
    static const char alpha[] = "0123456789012345678901234567890123456789.-+x";
    static const char *const edge[] = {"9223372036854775807", "9223372036854775808", "-9223372036854775808",
                                       "-9223372036854775809", "999999999999999999", "1000000000000000000",
                                       "922337203685477.5807", "922337203685477.5808", "-922337203685477.5808",
                                       "99999999999999.9999", "100000000000000.0000", ".5", "5.", "-.5", "+",
                                       "", "1.50000", "1.00001", "00000000000000000000001", "0.0000"};
    char s[32];
    for (int it = 0; it < 200000; it++) {
        if (it < (int)(sizeof edge / sizeof *edge)) {
            snprintf(s, sizeof s, "%s", edge[it]);
        } else {
            size_t n = rnd() % 23;
            for (size_t k = 0; k < n; k++)
                s[k] = alpha[rnd() % (it % 2 ? 10 : sizeof alpha - 1)];
            s[n] = 0;
        }
        int64_t a = 0, b = 0;
        const char *why = "";
        int ok = eng__val_int64(s, strlen(s), &a, &why) == ENG_OK, want = ref_int64(s, &b);
        if (ok != want || (ok && a != b))
            fail_msg("int64 '%s': %d %lld, want %d %lld", s, ok, (long long)a, want, (long long)b);
        if (eng__val_int64_fast(s, strlen(s), &a) == 0 && (!want || a != b))
            fail_msg("int64 fast path '%s': %lld, want %d %lld", s, (long long)a, want, (long long)b);
        ok = eng__val_decimal(s, strlen(s), &a, &why) == ENG_OK;
        want = ref_decimal(s, &b);
        if (ok != want || (ok && a != b))
            fail_msg("decimal '%s': %d %lld, want %d %lld", s, ok, (long long)a, want, (long long)b);
        if (eng__val_decimal_fast(s, strlen(s), &a) == 0 && (!want || a != b))
            fail_msg("decimal fast path '%s': %lld, want %d %lld", s, (long long)a, want, (long long)b);
    }
}

/* A plain date by the C library: ENG_EPARSE unless YYYY-MM-DD with digits,
 * ENG_ERANGE unless a real day of years 1..9999 (timegm normalises a day
 * that does not exist into another, so the round trip tells), else the
 * instant in ms. */
static int ref_date(const char *s, int64_t *out)
{
    for (int k = 0; k < 10; k++)
        if (k == 4 || k == 7 ? s[k] != '-' : (s[k] < '0' || s[k] > '9'))
            return ENG_EPARSE;
    int y = atoi(s), mo = atoi(s + 5), d = atoi(s + 8);
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d}, back;
    time_t t = timegm(&tm);
    if (y < 1 || !gmtime_r(&t, &back) || back.tm_year != y - 1900 || back.tm_mon != mo - 1 || back.tm_mday != d)
        return ENG_ERANGE;
    *out = (int64_t)t * 1000;
    return ENG_OK;
}

/* eng__val_date on plain dates (its fast path, and the full parser behind
 * it) against ref_date: valid and invalid days, leap years, stray bytes. */
static void dates_match_reference(void **st)
{
    (void)st;
    rng = 7;
    static const char *const edge[] = {"0001-01-01", "0000-12-31", "9999-12-31", "2000-02-29", "1900-02-29",
                                       "2024-02-29", "2023-02-29", "2024-04-31", "2024-13-01", "2024-00-10",
                                       "2024-01-00", "2024-01-32", "2024/01/01", "2024-01-1x", "1970-01-01"};
    int rounds = test_slow_runtime() ? 10000 : 100000;
    for (int it = 0; it < rounds; it++) {
        char s[16];
        if (it < (int)(sizeof edge / sizeof *edge))
            snprintf(s, sizeof s, "%s", edge[it]);
        else
            snprintf(s, sizeof s, "%04u-%02u-%02u", (unsigned)(rnd() % 10000), (unsigned)(rnd() % 14),
                     (unsigned)(rnd() % 33));
        static const char stray[] = "0123456789-+ /:xT\x7f";
        if (it % 4 == 3) /* a stray byte */
            s[rnd() % 10] = stray[rnd() % (sizeof stray - 1)];
        int64_t a = 0, b = 0;
        const char *why = "";
        int got = eng__val_date(s, 10, &a, &why), want = ref_date(s, &b);
        if (got != want || (got == ENG_OK && a != b))
            fail_msg("date '%s': %d %lld, want %d %lld", s, got, (long long)a, want, (long long)b);
        int64_t days = 0; /* the import's own fast path: every valid plain date, in days */
        int fast = eng__val_date_days_fast(s, 10, &days) == 0;
        if (fast != (want == ENG_OK) || (fast && days * 86400000 != b))
            fail_msg("date '%s': fast path %d %lld days, want %d %lld ms", s, fast, (long long)days, want, (long long)b);
    }
}

/* A phone number by the plain rule: "+", a digit 1-9, then 7 to 14 digits. */
static int ref_phone(const char *s, size_t n, uint64_t *out)
{
    if (n < 9 || n > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9')
        return 0;
    uint64_t v = 0;
    for (size_t k = 1; k < n; k++) {
        if (s[k] < '0' || s[k] > '9')
            return 0;
        v = v * 10 + (uint64_t)(s[k] - '0');
    }
    *out = v;
    return 1;
}

/* eng__val_phone (eight digits a word) against ref_phone: every length
 * around the limits, bytes next to the digits ('/', ':', 0xb0..0xb9, NUL). */
static void phones_match_reference(void **st)
{
    (void)st;
    rng = 11;
    static const char odd[] = "/:+- x\xb0\xb5\xb9\xff";
    int rounds = test_slow_runtime() ? 20000 : 200000;
    for (int it = 0; it < rounds; it++) {
        char s[24];
        size_t n = rnd() % 20;
        for (size_t k = 0; k < n; k++)
            s[k] = (char)('0' + rnd() % 10);
        if (n && rnd() % 8)
            s[0] = '+';
        if (n && rnd() % 3 == 0) /* a stray byte anywhere */
            s[rnd() % n] = rnd() % 8 ? odd[rnd() % (sizeof odd - 1)] : 0;
        uint64_t a = 0, b = 0;
        const char *why = "";
        int ok = eng__val_phone(s, n, &a, &why) == ENG_OK, want = ref_phone(s, n, &b);
        uint64_t c = 0;
        int fast = eng__val_phone_fast(s, n, &c) == 0;
        if (ok != want || (ok && a != b) || fast != want || (fast && c != b))
            fail_msg("phone '%.*s' (%zu): %d %llu, want %d %llu", (int)n, s, n, ok, (unsigned long long)a, want,
                     (unsigned long long)b);
    }
}

/* Random bytes for ids and emails: printable ASCII, the bytes next to its
 * ends (0x1f, 0x20, 0x7e, 0x7f), NUL, '@' and '.', and UTF-8 good and bad. */
static size_t odd_text(char *s, size_t n, int email)
{
    static const char *const piece[] = {"a", "Z", "0", "-", "_", "~", " ", "\x1f", "\x7f", "@", ".", "\xc3\xa9",
                                        "\xff", "\x80", "\xe2\x82\xac", "\t", "!"};
    size_t k = 0;
    int plain = rnd() % 2; /* half the strings printable ASCII only */
    while (k < n) {
        const char *p = plain || rnd() % 8 ? (email && rnd() % 6 == 0 ? (rnd() % 2 ? "@" : ".") : "x")
                                           : piece[rnd() % (sizeof piece / sizeof *piece)];
        if (!strcmp(p, "x"))
            p = rnd() % 3 ? "a" : rnd() % 2 ? "7" : "~";
        size_t l = strlen(p);
        if (k + l > n)
            break;
        memcpy(s + k, p, l);
        k += l;
    }
    if (rnd() % 16 == 0 && k) /* NUL, which strlen() would hide */
        s[rnd() % k] = 0;
    return k;
}

/* UTF-8 by its definition (RFC 3629): 1 when well formed. */
static int ref_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || i + len > n)
            return 0;
        uint32_t cp = len == 1 ? c : c & (0x7f >> len);
        for (unsigned k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

/* An external id by the plain rule: 1..255 bytes, none below 0x20 or 0x7f, UTF-8. */
static int ref_extid(const char *s, size_t n)
{
    if (n == 0)
        return ENG_EPARSE;
    if (n > 255)
        return ENG_ETOOBIG;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return ENG_EPARSE;
    return ref_utf8((const unsigned char *)s, n) ? ENG_OK : ENG_EPARSE;
}

/* An email by the plain rule: no byte up to ' ' nor 0x7f, one '@' not
 * first, a '.' after it but not right after it, not last; then UTF-8. */
static int ref_email(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return ENG_EPARSE;
    size_t at = n, ats = 0, dot = n;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '@') {
            ats++;
            at = i;
        }
    }
    for (size_t i = at + 1; i < n && dot == n; i++)
        if (s[i] == '.')
            dot = i;
    if (ats != 1 || at == 0 || dot == n || dot == at + 1 || s[n - 1] == '.')
        return ENG_EPARSE;
    return ref_utf8((const unsigned char *)s, n) ? ENG_OK : ENG_EPARSE;
}

/* eng__val_extid (and its word-at-a-time fast path) and the email check
 * (16-byte masks from 16 to 64 bytes) against the plain rules, at every
 * length around the paths' limits; the fast paths take the usual values. */
static void ids_and_emails_match_reference(void **st)
{
    (void)st;
    rng = 13;
    int rounds = test_slow_runtime() ? 20000 : 200000, fast_ids = 0, fast_emails = 0;
    char s[300];
    for (int it = 0; it < rounds; it++) {
        size_t n = odd_text(s, it % 50 == 0 ? 270 : rnd() % 70, 0);
        const char *why = "";
        int got = eng__val_extid(s, n, &why), want = ref_extid(s, n);
        if (got != want)
            fail_msg("id '%.*s' (%zu): %d, want %d", (int)n, s, n, got, want);
        if (eng__val_extid_fast(s, n) == 0) {
            fast_ids++;
            if (want != ENG_OK)
                fail_msg("id '%.*s' (%zu): the fast path took it", (int)n, s, n);
        } else if (want == ENG_OK && n <= 16 && ref_utf8((const unsigned char *)s, n) && !memchr(s, 0x80, 0)) {
            int ascii = 1;
            for (size_t i = 0; i < n; i++)
                ascii &= (unsigned char)s[i] < 0x80;
            if (ascii)
                fail_msg("id '%.*s' (%zu): printable ASCII of 1-16 bytes left to the full check", (int)n, s, n);
        }
        n = odd_text(s, rnd() % 72, 1);
        if (rnd() % 2 && n > 6) { /* half of them shaped like an address */
            for (size_t i = 0; i < n; i++)
                if (s[i] == '@' || (s[i] == '.' && rnd() % 4))
                    s[i] = 'b';
            size_t a = 1 + rnd() % (n - 4);
            s[a] = '@';
            s[a + 2 + rnd() % (n - a - 3)] = '.';
        }
        got = eng__val_contact(ENG_CH_EMAIL, s, n, &why);
        want = ref_email(s, n);
        if (got != want)
            fail_msg("email '%.*s' (%zu): %d, want %d", (int)n, s, n, got, want);
        fast_emails += got == ENG_OK && n >= 16;
    }
    assert_true(fast_ids > rounds / 10);
    assert_true(fast_emails > rounds / 50);
}

/* The booleans' fast path takes only what eng__val_bool takes, as the same value. */
static void bools_fast_path(void **st)
{
    (void)st;
    static const char *const v[] = {"true", "false", "yes", "no", "True", "FALSE", "Yes", "nO", "1", "0", "tru",
                                    "truex", "fals", "ye", "n", "", "yes ", " no", "t\0ue", "y\0s"};
    int taken = 0;
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        size_t n = i >= 18 ? 4 - (i - 18) : strlen(v[i]);
        int a = -1, b = -1;
        const char *why = "";
        int full = eng__val_bool(v[i], n, &a, &why);
        if (eng__val_bool_fast(v[i], n, &b) == 0) {
            taken++;
            if (full != ENG_OK || a != b)
                fail_msg("bool '%s': fast %d, full %d (%d)", v[i], b, a, full);
        }
    }
    assert_int_equal(taken, 4);
}

/* The arena's short copy against memcpy at every length it takes (0..127),
 * with the bytes around the destination left alone. */
static void short_copy_matches_memcpy(void **st)
{
    (void)st;
    rng = 21;
    char src[160], a[160], b[160];
    for (int it = 0; it < 20000; it++) {
        size_t n = (size_t)it % 128, so = rnd() % 16, d = 8 + rnd() % 16;
        for (size_t k = 0; k < sizeof src; k++)
            src[k] = (char)rnd();
        memset(a, 0x5a, sizeof a);
        memset(b, 0x5a, sizeof b);
        eng__copy_short(a + d, src + so, n);
        memcpy(b + d, src + so, n);
        if (memcmp(a, b, sizeof a))
            fail_msg("%zu bytes from offset %zu to %zu differ from memcpy", n, so, d);
    }
}

/* The words a STRING value's slot hashes: stored parts name slots, so they
 * must stay those of the original byte loop (the first byte lowest, below 8
 * bytes) at every length. */
static void slot_words_match_bytes(void **st)
{
    (void)st;
    rng = 23;
    uint8_t s[24];
    for (int it = 0; it < 20000; it++) {
        size_t l = (size_t)it % 20;
        for (size_t k = 0; k < sizeof s; k++)
            s[k] = (uint8_t)rnd();
        uint64_t a, b, ra = 0, rb = 0;
        eng__dslot_words(s, l, &a, &b);
        if (l >= 8) {
            memcpy(&ra, s, 8);
            memcpy(&rb, s + l - 8, 8);
        } else {
            for (size_t k = 0; k < l; k++)
                ra |= (uint64_t)s[k] << (8 * k);
        }
        if (a != ra || b != rb)
            fail_msg("%zu bytes: words %016llx %016llx, want %016llx %016llx", l, (unsigned long long)a,
                     (unsigned long long)b, (unsigned long long)ra, (unsigned long long)rb);
    }
    /* and the slot of a known value, as parts written before name it */
    assert_int_equal(eng__dslot((const uint8_t *)"Mumbai", 6), eng__dslot_hash(0x6961626d754dull, 0, 6));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(slot_words_match_bytes),
        cmocka_unit_test(short_copy_matches_memcpy),
        cmocka_unit_test(ids_and_emails_match_reference),
        cmocka_unit_test(bools_fast_path),
        cmocka_unit_test(schema3_round_trip),
        cmocka_unit_test(schema2_parts_replay),
        cmocka_unit_test(damaged_schema3_part),
        cmocka_unit_test(threaded_apply_same),
        cmocka_unit_test(threaded_apply_rejects),
        cmocka_unit_test(threaded_apply_out_of_memory),
        cmocka_unit_test(parsers_match_reference),
        cmocka_unit_test(phone_text_matches_printf),
        cmocka_unit_test(dates_match_reference),
        cmocka_unit_test(phones_match_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
