/* The customer CSV import parsed on several threads (import_par.c), and a
 * block of records at a time column by column (import_block.c), against the
 * one-thread import row by row, the reference: on generated CSV with bad rows,
 * quoted fields (commas, quotes and line breaks inside), stray quotes, blank
 * lines, CRLF and a byte order mark at random places, cut into chunks of
 * random sizes, UTF-8 and bad UTF-8, both error modes, buffer and callback
 * sources (reads of random sizes, some failing), blocks of random sizes, the
 * outcome must be the same: code, message and line:column, every error
 * reported to error_fn in the same order, the report, and every customer's
 * values; on one thread the very same stored bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "audience/import_impl.h"
#include "test_alloc.h"
#include "test_store.h"
#include "test_util.h"

extern uint32_t eng__aud_block_rows;
static uint64_t rng;

#define NCOL 8

static size_t pick(size_t n)
{
    return (size_t)(test_splitmix(&rng) % n);
}

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

__attribute__((format(printf, 2, 3))) static void put(buf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if ((size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        b->cap = 2 * b->cap + (size_t)k + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
}

/* A field that is good most of the time and bad (or odd) now and then. */
static void field(buf *b, int col, size_t row, int bad_rate)
{
    int bad = (int)pick(1000) < bad_rate;
    switch (col) {
    case 0: /* id */
        if (bad && pick(3) == 0)
            put(b, "%s", pick(2) ? "" : "\"\"");
        else
            put(b, "c%zu", pick(4) == 0 ? row / 2 : row); /* repeats: updates */
        break;
    case 1: /* city: string, sometimes quoted with commas, quotes and line breaks inside */
        switch (pick(bad ? 4 : 12)) {
        case 0:
            put(b, "\"Pune, \"\"West\"\"\n%zu\"", row % 5);
            break;
        case 1:
            put(b, "Del%shi", bad ? "\"" : ""); /* a stray quote: a bad row when bad */
            break;
        case 2:
            put(b, "\"Goa\"%s", bad ? "x" : ""); /* a character after the closing quote */
            break;
        case 3:
            put(b, "%s", bad ? "Z\xfcrich" : "Z\xc3\xbcrich"); /* UTF-8; Latin-1 is bad */
            break;
        default:
            put(b, "City%zu", row % 7);
        }
        break;
    case 2: /* age: int64 */
        put(b, bad ? "%zux" : "%zu", row % 90);
        break;
    case 3: /* spend: decimal */
        put(b, bad ? "1.23456" : "%zu.%02zu", row % 1000, row % 100);
        break;
    case 4: /* contact.email */
        put(b, bad ? "no-at-sign%zu" : "u%zu@x.org", row);
        break;
    case 5: /* consent.email */
        put(b, "%s", bad ? "perhaps" : (row % 3 ? "yes" : "2026-01-02T03:04:05Z"));
        break;
    case 6: /* last: date */
        if (bad)
            put(b, "%s", pick(2) ? "2026-02-30" : "2026-1-2");
        else
            put(b, "2026-%02zu-%02zu", 1 + row % 12, 1 + row % 28);
        break;
    default: /* contact.sms */
        put(b, bad ? "+91-%zux" : "+9170%08zu", row);
    }
}

static char *gen(size_t rows, int bad_rate, size_t *len)
{
    buf b = {malloc(256), 0, 256};
    assert_non_null(b.p);
    if (pick(4) == 0)
        put(&b, "\xef\xbb\xbf");
    put(&b, "id,city,age,spend,contact.email,consent.email,last,contact.sms\n");
    for (size_t r = 0; r < rows; r++) {
        if (pick(200) == 0)
            put(&b, pick(2) ? "\n" : "\r\n"); /* blank line */
        int nf = NCOL;
        if ((int)pick(1000) < bad_rate / 4)
            nf = pick(2) ? NCOL - 1 : NCOL + 1; /* the wrong width */
        for (int c = 0; c < nf; c++) {
            if (c)
                put(&b, ",");
            field(&b, c < NCOL ? c : 2, r, bad_rate);
        }
        if ((int)pick(4000) < bad_rate)
            put(&b, "\"tail"); /* an unterminated quote: runs on over the next lines */
        put(&b, "%s", pick(10) == 0 ? "\r\n" : "\n");
    }
    if (pick(3) == 0 && b.n > 1)
        b.n--; /* no final line feed */
    *len = b.n;
    return b.p;
}

/* What the import reported. */
typedef struct outcome {
    int rc;
    char msg[512], det[64];
    eng_import_report rep;
    buf errs; /* every error_fn call, as text */
    buf table;
    buf store; /* the audience's stored records, in hex */
} outcome;

static void on_error(const eng_import_error *x, void *u)
{
    outcome *o = u;
    put(&o->errs, "%llu:%u %s %d %s\n", (unsigned long long)x->line, x->column, x->field, x->code, x->message);
}

typedef struct src {
    const char *p;
    size_t n, off;
    uint64_t rng;
    size_t fail_at; /* the input fails at this offset (0: never): the same bytes arrive before it however they are asked for */
} src;

static long reader(void *out, size_t cap, void *user)
{
    src *s = user;
    if (s->fail_at && s->off >= s->fail_at) {
        eng__err(ENG_EUSER, "", "disk unplugged");
        return ENG_EUSER;
    }
    size_t end = s->fail_at ? s->fail_at : s->n;
    size_t k = (size_t)(test_splitmix(&s->rng) % 5000) + 1;
    if (k > cap)
        k = cap;
    if (k > end - s->off)
        k = end - s->off;
    memcpy(out, s->p + s->off, k);
    s->off += k;
    return (long)k;
}

static eng_time fixed_clock(void *u)
{
    (void)u;
    return 1764000000000; /* "yes" is stamped with the clock: the same for every run */
}

static const char *const cols[] = {"id", "city", "age", "spend", "contact.email", "consent.email", "last", "contact.sms"};

static void dump(eng_engine *e, buf *t)
{
    uint64_t n = 0;
    assert_int_equal(eng_customers_count(e, TA, &n), ENG_OK);
    put(t, "%llu customers\n", (unsigned long long)n);
    for (uint32_t id = 0; id < n; id++) {
        for (size_t c = 0; c < NCOL; c++) {
            char v[256];
            size_t l;
            assert_int_equal(eng_customer_get(e, TA, id, cols[c], v, sizeof v, &l), ENG_OK);
            put(t, "%s|", v);
        }
        put(t, "\n");
    }
}

static void run(const char *csv, size_t len, unsigned threads, int mode, uint64_t max_bad, int cb, uint64_t seed,
                size_t fail_at, outcome *o)
{
    memset(o, 0, sizeof *o);
    o->errs = (buf){malloc(64), 0, 64};
    o->table = (buf){malloc(64), 0, 64};
    o->store = (buf){malloc(64), 0, 64};
    test_store *ts = test_store_new();
    eng_config cfg;
    assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
    cfg.allocator = test_alloc_get();
    cfg.store = test_store_handle(ts);
    cfg.threads = threads;
    cfg.clock_fn = fixed_clock;
    eng_engine *e = NULL;
    assert_int_equal(eng_open(&cfg, &e), ENG_OK);
    assert_int_equal(test_org(e), ENG_OK);
    assert_int_equal(test_aud_columns(e), ENG_OK);
    eng_import_options opt;
    eng_import_options_init(&opt, ENG_IMPORT_OPTIONS_VERSION);
    opt.on_error = mode;
    opt.max_bad_rows = max_bad;
    opt.error_fn = on_error;
    opt.error_user = o;
    opt.max_field_bytes = 40;
    eng_import_report_init(&o->rep, ENG_IMPORT_REPORT_VERSION);
    src s = {csv, len, 0, seed, fail_at};
    o->rc = cb ? eng_customers_import_csv(e, TA, reader, &s, &opt, &o->rep)
               : eng_customers_import_csv_buffer(e, TA, csv, len, &opt, &o->rep);
    snprintf(o->msg, sizeof o->msg, "%s", o->rc ? eng_error_last()->message : "");
    snprintf(o->det, sizeof o->det, "%s", o->rc ? eng_error_last()->detail : "");
    dump(e, &o->table);
    assert_int_equal(eng_close(e), ENG_OK);
    /* what was stored loads the same */
    cfg.threads = 0;
    cfg.store = test_store_handle(ts);
    assert_int_equal(eng_open(&cfg, &e), ENG_OK);
    buf again = {malloc(64), 0, 64};
    dump(e, &again);
    assert_int_equal(again.n, o->table.n);
    assert_memory_equal(again.p, o->table.p, again.n);
    free(again.p);
    assert_int_equal(eng_close(e), ENG_OK);
    for (size_t i = 0; i < test_store_count(ts); i++) { /* the audience's records, for a byte-for-byte comparison */
        size_t kl, vl;
        const uint8_t *k = test_store_key_at(ts, i, &kl);
        uint8_t *v;
        if (kl < 2 || memcmp(k, "a/", 2))
            continue;
        assert_int_equal(test_store_raw_get_bin(ts, k, kl, &v, &vl), 0);
        put(&o->store, "%.*s=%zu:", (int)kl, (const char *)k, vl);
        for (size_t j = 0; j < vl; j++)
            put(&o->store, "%02x", v[j]);
        put(&o->store, "\n");
        free(v);
    }
    test_store_free(ts);
}

static void same(const outcome *a, const outcome *b, const char *what)
{
    if (a->rc != b->rc || strcmp(a->msg, b->msg) || strcmp(a->det, b->det))
        fail_msg("%s: rc %d '%s' (%s) against %d '%s' (%s)", what, a->rc, a->msg, a->det, b->rc, b->msg, b->det);
    if (a->errs.n != b->errs.n || memcmp(a->errs.p, b->errs.p, a->errs.n))
        fail_msg("%s: the errors reported differ:\n%.*s---\n%.*s", what, (int)a->errs.n, a->errs.p, (int)b->errs.n,
                 b->errs.p);
    assert_int_equal(a->rep.rows, b->rep.rows);
    assert_int_equal(a->rep.bad_rows, b->rep.bad_rows);
    assert_int_equal(a->rep.inserted, b->rep.inserted);
    assert_int_equal(a->rep.updated, b->rep.updated);
    if (!a->rc)
        assert_int_equal(a->rep.bytes, b->rep.bytes);
    if (a->table.n != b->table.n || memcmp(a->table.p, b->table.p, a->table.n)) {
        size_t i = 0, ln = 0;
        while (i < a->table.n && i < b->table.n && a->table.p[i] == b->table.p[i])
            if (a->table.p[i++] == '\n')
                ln = i;
        fail_msg("%s: the customers differ from\n%.120s\n---\n%.120s", what, a->table.p + ln, b->table.p + ln);
    }
}

static void outcome_free(outcome *o)
{
    free(o->errs.p);
    free(o->table.p);
    free(o->store.p);
}

static void threads_match_one_thread(void **st)
{
    (void)st;
    test_aud_knobs knobs = test_aud_knobs_set(0, 0);
    uint32_t blocks = eng__aud_block_rows;
    int rounds = test_slow_runtime() ? 5 : 45, failed_reads = 0, errors = 0, clean = 0;
    uint64_t redone = __atomic_load_n(&eng__aud_par_redone, __ATOMIC_RELAXED);
    rng = 0x17;
    for (int round = 0; round < rounds; round++) {
        test_alloc_reset();
        size_t rows = 50 + pick(3000), len;
        int bad_rate = round % 3 == 0 ? 0 : (int)pick(12) + 1; /* per mille; some inputs all good */
        char *csv = gen(rows, bad_rate, &len);
        int mode = pick(2) ? ENG_IMPORT_SKIP_ROWS : ENG_IMPORT_REJECT_FILE;
        uint64_t max_bad = pick(3) ? pick(40) : 1000000;
        int cb = (int)pick(2);
        size_t fail_at = cb && pick(3) == 0 ? pick(len) + 1 : 0;
        uint64_t seed = test_splitmix(&rng);
        eng__aud_part_rows = (uint32_t)(8 + pick(300));
        outcome one, many;
        eng__aud_block_rows = 0; /* the reference: row by row */
        run(csv, len, 1, mode, max_bad, cb, seed, fail_at, &one);
        /* blocks on one thread, then on 2 or 3 */
        for (unsigned threads = 1; threads <= 2; threads++) {
            unsigned t = threads == 1 ? 1 : 2 + (unsigned)pick(2);
            eng__aud_block_rows = (uint32_t)(pick(3) == 0 ? 512 : 1 + pick(pick(2) ? 8 : 200));
            eng__aud_chunk_bytes = 16 + pick(pick(2) ? 600 : 20000); /* many cuts, some inside quotes */
            char what[200];
            snprintf(what, sizeof what, "round %d, %zu rows, %u threads, blocks of %u, chunks of %zu, %s, %s", round,
                     rows, t, eng__aud_block_rows, eng__aud_chunk_bytes,
                     mode == ENG_IMPORT_SKIP_ROWS ? "skip" : "reject", cb ? "callback" : "buffer");
            run(csv, len, t, mode, max_bad, cb, seed, fail_at, &many);
            same(&one, &many, what);
            if (t == 1 && (one.store.n != many.store.n || memcmp(one.store.p, many.store.p, one.store.n)))
                fail_msg("%s: the stored records differ", what);
            outcome_free(&many);
        }
        failed_reads += fail_at && one.rc == ENG_EUSER;
        errors += one.rc != ENG_OK;
        clean += one.rc == ENG_OK && one.rep.bad_rows == 0;
        outcome_free(&one);
        free(csv);
        test_alloc_assert_clean();
    }
    /* the generator reached every kind of outcome */
    assert_true(failed_reads > 0);
    assert_true(errors > 0);
    assert_true(clean > 0);
    /* and cuts inside quoted fields (or failed reads) sent the threaded import to its one-thread rest */
    assert_true(__atomic_load_n(&eng__aud_par_redone, __ATOMIC_RELAXED) > redone);
    test_aud_knobs_restore(knobs);
    eng__aud_block_rows = blocks;
}

/* The chunk cut against a count of the quotes from the start: random bytes
 * rich in quotes and line feeds, at every alignment and length across the
 * vector loop's 16- and 32-byte steps. */
static void cut_matches_reference(void **st)
{
    (void)st;
    static const char alphabet[] = "\"\n,a\r\"\"\n";
    char bytes[300];
    rng = 0xc07;
    for (int round = 0; round < 40000; round++) {
        size_t off = pick(16), n = pick(280);
        int dense = (int)pick(3);
        for (size_t i = 0; i < n; i++)
            bytes[off + i] = dense == 0 ? alphabet[pick(sizeof alphabet - 1)] : pick(dense == 1 ? 40 : 300) == 0 ? '"'
                                                                         : pick(30) == 0               ? '\n'
                                                                                                       : 'x';
        const char *p = bytes + off;
        size_t want = 0;
        unsigned quotes = 0;
        for (size_t i = 0; i < n; i++) { /* the last line feed after an even number of quotes */
            if (p[i] == '\n' && quotes % 2 == 0)
                want = i + 1;
            quotes += p[i] == '"';
        }
        size_t got = eng__csv_cut(p, n);
        if (got != want)
            fail_msg("round %d: %zu bytes at offset %zu: cut at %zu, want %zu", round, n, off, got, want);
    }
}

/* eng__csv_block against eng__csv_next over the same bytes: its records are
 * the next ones, field for field (a record's CR before its LF left out), *used
 * the bytes they span, *ascii only when those are ASCII. The text mixes
 * fields across the 64-byte scan steps with CRLF, quotes, blank lines, rows of
 * the wrong width, UTF-8 and fields over the limit. */
static void block_matches_next(void **st)
{
    (void)st;
    static const char *const piece[] = {"a", "bc", "12345", "Z", "\xc3\xa9", "\r", "defghijklmnop"};
    rng = 0xb10c;
    uint32_t fs[40 * 6], fl[40 * 6];
    size_t blocks = 0, rows = 0;
    eng__mem mem;
    assert_int_equal(eng__mem_init(&mem, NULL), ENG_OK);
    for (int round = 0; round < 3000; round++) {
        uint32_t nf = 1 + (uint32_t)pick(6), max = 1 + (uint32_t)pick(40);
        size_t maxf = pick(4) ? 200 : 4 + pick(60);
        buf b = {malloc(64), 0, 64};
        assert_non_null(b.p);
        put(&b, "h\n");
        for (size_t r = pick(120); r > 0; r--) {
            uint32_t w = pick(60) ? nf : (uint32_t)pick(nf + 2);
            for (uint32_t f = 0; f < w; f++) {
                if (f)
                    put(&b, ",");
                for (size_t k = pick(pick(8) ? 3 : 12); k > 0; k--) {
                    const char *x = piece[pick(sizeof piece / sizeof *piece)];
                    if (x[0] == '\r' && pick(4))
                        x = "q";
                    put(&b, "%s", x);
                }
                if (pick(1000) == 0)
                    put(&b, "\"q\"");
            }
            put(&b, "%s", pick(3) ? "\n" : "\r\n");
        }
        if (pick(4) == 0 && b.n > 3)
            b.n -= 1 + pick(3); /* a record cut short */
        eng__memsrc ma = {b.p, b.n, 0}, mb = {b.p, b.n, 0};
        eng__csv a, c;
        assert_int_equal(eng__csv_init(&a, &mem, eng__memsrc_read, &ma, maxf), ENG_OK);
        assert_int_equal(eng__csv_init(&c, &mem, eng__memsrc_read, &mb, maxf), ENG_OK);
        int got;
        assert_int_equal(eng__csv_next(&a, &got), ENG_OK);
        assert_int_equal(eng__csv_next(&c, &got), ENG_OK);
        /* the first record takes the byte-wise path; the block path starts after it */
        if (eng__csv_next(&a, &got) == ENG_OK && got && eng__csv_next(&c, &got) == ENG_OK && got) {
            size_t used;
            int ascii;
            const char *at = a.in + a.pos;
            uint32_t n = eng__csv_block(&a, nf, max, fs, fl, &used, &ascii);
            blocks += n > 0;
            rows += n;
            size_t from = (size_t)c.bytes - (c.len - c.pos);
            for (uint32_t r = 0; r < n; r++) {
                assert_int_equal(eng__csv_next(&c, &got), ENG_OK);
                assert_true(got);
                assert_int_equal(c.nf, nf);
                assert_false(c.quoted);
                for (uint32_t f = 0; f < nf; f++) {
                    const char *want = c.base + c.start[f];
                    if (fl[f * max + r] != c.flen[f] || memcmp(at + fs[f * max + r], want, c.flen[f]))
                        fail_msg("round %d, record %u, field %u: '%.*s', want '%.*s'", round, r, f,
                                 (int)fl[f * max + r], at + fs[f * max + r], (int)c.flen[f], want);
                }
            }
            assert_int_equal(used, (size_t)c.bytes - (c.len - c.pos) - from);
            for (size_t k = 0; ascii && k < used; k++)
                assert_true((unsigned char)at[k] < 0x80);
        }
        eng__csv_free(&a);
        eng__csv_free(&c);
        free(b.p);
    }
    assert_true(blocks > 1000);
    assert_true(rows > 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(threads_match_one_thread),
        cmocka_unit_test(cut_matches_reference),
        cmocka_unit_test(block_matches_next),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
