/* The reachable sets a resolve keeps between calls (eng__table_reachable_kept)
 * must follow every change: consent given and withdrawn, contacts added and
 * cleared, opt-outs, suppression, new customers in a new chunk, an import
 * that fails half-way and is rolled back, an erasure, group uploads. After
 * each change audiences are resolved (two channels kept, one, none) and
 * compared id by id with a reference built here from the test's own model of
 * the customers and, per customer, from eng_customer_reachable() (which reads
 * the contact, consent, opt-out and suppression sets, never the kept ones);
 * at every vector level. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/simd.h"
#include "engage.h"
#include "test_store.h"
#include "test_util.h"

#define MAXC 72000
enum { F_EMAIL = 1, F_CON_E = 2, F_SMS = 4, F_CON_S = 8, F_OPT_E = 16, F_SUPP = 32, F_G0 = 64, F_G1 = 128 };
static uint8_t st[MAXC], g2[MAXC]; /* flags per customer; membership of the exclude group */
static int n;                      /* customers so far (dense id i is "c<i>") */
static uint64_t rng;

static uint64_t rnd(void)
{
    return test_splitmix(&rng);
}

static int reach_email(int i)
{
    return (st[i] & (F_EMAIL | F_CON_E | F_OPT_E | F_SUPP)) == (F_EMAIL | F_CON_E);
}
static int reach_sms(int i)
{
    return (st[i] & (F_SMS | F_CON_S | F_SUPP)) == (F_SMS | F_CON_S);
}

/* Test side as docs/audiences.md states it: mix64(mix64(seed) ^ id) < 0.9 * 2^64. */
static int ref_test(uint64_t seed, uint32_t id)
{
    uint64_t s = seed, m = test_splitmix(&s);
    uint64_t x = m ^ id;
    return test_splitmix(&x) < (uint64_t)(0.9 * 18446744073709551616.0);
}

/* The columns a change imports (bit k: column k of COLS), so each setter
 * alone has to drop what it changes. */
enum { C_EMAIL = 1, C_CON_E = 2, C_SMS = 4, C_CON_S = 8, C_OPT_E = 16, C_SUPP = 32, C_ALL = 63 };
static const char *const COLS[] = {"contact.email", "consent.email", "contact.sms", "consent.sms", "optout.email",
                                   "suppressed"};

/* One CSV row of customer i in the columns of @p cols, from the model. */
static char *row(char *p, int i, unsigned cols)
{
    const char *v[6] = {st[i] & F_EMAIL ? "u@x.io" : "", st[i] & F_CON_E ? "yes" : "no",
                        st[i] & F_SMS ? "+919812345678" : "", st[i] & F_CON_S ? "yes" : "no",
                        st[i] & F_OPT_E ? "true" : "false", st[i] & F_SUPP ? "true" : "false"};
    p += sprintf(p, "c%d", i);
    for (int k = 0; k < 6; k++)
        if (cols >> k & 1)
            p += sprintf(p, ",%s", v[k]);
    *p++ = '\n';
    return p;
}

/* Import the rows of the customers in ids (the model already changed); @p bad
 * appends a row the import refuses, so nothing of it may stay. */
static void import_rows(eng_engine *e, const int *ids, int k, unsigned cols, int bad)
{
    char *csv = malloc((size_t)k * 96 + 256), *p = csv;
    p += sprintf(p, "id");
    for (int c = 0; c < 6; c++)
        if (cols >> c & 1)
            p += sprintf(p, ",%s", COLS[c]);
    *p++ = '\n';
    for (int j = 0; j < k; j++)
        p = row(p, ids[j], cols);
    if (bad) {
        p += sprintf(p, "c0");
        for (int c = 0; c < 6; c++)
            if (cols >> c & 1)
                p += sprintf(p, ",maybe");
        *p++ = '\n';
    }
    int rc = eng_customers_import_csv_buffer(e, TA, csv, (size_t)(p - csv), NULL, NULL);
    if (bad)
        assert_int_equal(rc, ENG_EPARSE);
    else if (rc)
        fail_msg("import: %s (%s)", eng_error_last()->message, eng_error_last()->detail);
    free(csv);
}

static void upload(eng_engine *e, uint32_t g, const int *ids, int k)
{
    const char **v = malloc(sizeof *v * (size_t)(k ? k : 1));
    char (*buf)[16] = malloc(sizeof *buf * (size_t)(k ? k : 1));
    for (int j = 0; j < k; j++) {
        snprintf(buf[j], sizeof buf[j], "c%d", ids[j]);
        v[j] = buf[j];
    }
    assert_int_equal(eng_group_upload_ids(e, TA, g, v, (size_t)k, ENG_UPLOAD_APPEND, NULL, NULL), ENG_OK);
    free(v);
    free(buf);
}

/* The audience of (g0 ∪ g1) − g2, kept channels @p keep, control 10 %, against the reference. */
static void check(eng_engine *e, uint32_t keep, const char *when)
{
    static const char *inc[2] = {"g0", "g1"}, *exc[1] = {"g2"};
    eng_audience_query q = ENG_AUDIENCE_QUERY_INIT;
    q.include = inc;
    q.n_include = 2;
    q.exclude = exc;
    q.n_exclude = 1;
    q.channels = keep;
    q.split_seed = 7;
    q.control_percent = 10;
    eng_audience *a;
    assert_int_equal(eng_audience_resolve(e, TA, &q, &a), ENG_OK);
    static uint32_t t[MAXC], c[MAXC];
    static uint8_t side[MAXC];
    size_t nt, nc;
    assert_int_equal(eng_audience_ids(a, ENG_PART_TEST, 0, t, MAXC, &nt), ENG_OK);
    assert_int_equal(eng_audience_ids(a, ENG_PART_CONTROL, 0, c, MAXC, &nc), ENG_OK);
    memset(side, 0, sizeof side);
    for (size_t i = 0; i < nt; i++)
        side[t[i]] = 1;
    for (size_t i = 0; i < nc; i++)
        side[c[i]] = 2;
    uint64_t want_re = 0, want_rs = 0, got_re, got_rs, got_all;
    for (int i = 0; i < n; i++) {
        int in = (st[i] & (F_G0 | F_G1)) && !g2[i];
        want_re += (uint64_t)(in && reach_email(i));
        want_rs += (uint64_t)(in && reach_sms(i));
        int kept = !keep || ((keep >> ENG_CH_EMAIL & 1) && reach_email(i)) || ((keep >> ENG_CH_SMS & 1) && reach_sms(i));
        int want = !(in && kept) ? 0 : ref_test(7, (uint32_t)i) ? 1 : 2;
        if (side[i] != want)
            fail_msg("%s (channels 0x%x): customer %d on side %d, want %d", when, (unsigned)keep, i, side[i], want);
    }
    assert_int_equal(eng_audience_reach(a, ENG_CH_EMAIL, &got_re), ENG_OK);
    assert_int_equal(eng_audience_reach(a, ENG_CH_SMS, &got_rs), ENG_OK);
    assert_int_equal(eng_audience_count(a, ENG_PART_ALL, &got_all), ENG_OK);
    assert_int_equal(got_re, want_re);
    assert_int_equal(got_rs, want_rs);
    assert_int_equal(got_all, nt + nc);
    /* the whole audience, read in blocks from odd offsets: test and control merged */
    static uint32_t all[MAXC], blk[MAXC];
    size_t na = 0, i = 0, j = 0;
    while (i < nt || j < nc)
        all[na++] = j >= nc || (i < nt && t[i] < c[j]) ? t[i++] : c[j++];
    for (size_t off = 0, step = 1 + rnd() % 5000, got; off <= na; off += step) {
        assert_int_equal(eng_audience_ids(a, ENG_PART_ALL, off, blk, step, &got), ENG_OK);
        assert_int_equal(got, off + step <= na ? step : na - off);
        assert_memory_equal(blk, all + off, got * sizeof *blk);
    }
    eng_audience_free(a);
}

static void check_levels(eng_engine *e, const char *when)
{
    static const uint32_t keeps[] = {1u << ENG_CH_EMAIL | 1u << ENG_CH_SMS, 1u << ENG_CH_SMS, 0};
    /* the per-customer answer of the engine is the model's (a fifth of them, a different fifth each time) */
    static int turn;
    /* Under valgrind/TSan a tenth of the customers and one vector level a call, in turn (the
     * gcc and ASan builds check every level after every change). */
    int slow = test_slow_runtime(), every = slow ? 10 : 5, t = turn++;
    for (int i = t % every; i < n; i += every) {
        int re, rs;
        assert_int_equal(eng_customer_reachable(e, TA, (uint32_t)i, ENG_CH_EMAIL, &re), ENG_OK);
        assert_int_equal(eng_customer_reachable(e, TA, (uint32_t)i, ENG_CH_SMS, &rs), ENG_OK);
        if (re != reach_email(i) || rs != reach_sms(i))
            fail_msg("%s: customer %d reachable email %d sms %d, model %d %d", when, i, re, rs, reach_email(i),
                     reach_sms(i));
    }
    for (int lv = 0; lv <= eng__isa_detected(); lv++) {
        if (slow && lv != t % (eng__isa_detected() + 1))
            continue;
        assert_int_equal(eng__isa_force(lv), lv);
        for (size_t k = 0; k < sizeof keeps / sizeof keeps[0]; k++)
            check(e, keeps[k], when);
    }
    eng__isa_force(-1);
}

/* About one customer in @p every, at random. */
static int pick(int *ids, int every)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (rnd() % (uint64_t)every == 0)
            ids[k++] = i;
    return k;
}

static void kept_sets_follow_every_change(void **state)
{
    (void)state;
    test_store *ts = test_store_new();
    eng_engine *e = test_engine_open_org(test_store_handle(ts));
    rng = 23;
    memset(st, 0, sizeof st);
    memset(g2, 0, sizeof g2);
    uint32_t g[3];
    assert_int_equal(eng_group_create_uploaded(e, TA, "g0", &g[0]), ENG_OK);
    assert_int_equal(eng_group_create_uploaded(e, TA, "g1", &g[1]), ENG_OK);
    assert_int_equal(eng_group_create_uploaded(e, TA, "g2", &g[2]), ENG_OK);
    static int ids[MAXC], in0[MAXC], in1[MAXC], ex[MAXC];
    /* two chunks of customers: dense where it matters (bitmaps), some sparse */
    n = 70000;
    int k0 = 0, k1 = 0, kx = 0;
    for (int i = 0; i < n; i++) {
        uint64_t r = rnd();
        st[i] = (uint8_t)((r % 10 < 9 ? F_EMAIL : 0) | (r / 10 % 10 < 8 ? F_CON_E : 0) | (r / 100 % 10 < 9 ? F_SMS : 0) |
                          (r / 1000 % 10 < 7 ? F_CON_S : 0) | (r / 10000 % 50 == 0 ? F_OPT_E : 0) |
                          (r / 1000000 % 100 == 0 ? F_SUPP : 0));
        ids[i] = i;
        if (r >> 40 & 1) {
            st[i] |= F_G0;
            in0[k0++] = i;
        }
        if ((r >> 41 & 3) == 0) {
            st[i] |= F_G1;
            in1[k1++] = i;
        }
        if ((r >> 43 & 15) == 0) {
            g2[i] = 1;
            ex[kx++] = i;
        }
    }
    import_rows(e, ids, n, C_ALL, 0);
    upload(e, g[0], in0, k0);
    upload(e, g[1], in1, k1);
    upload(e, g[2], ex, kx);
    check_levels(e, "after the import");
    check_levels(e, "again, unchanged");

    int rounds = test_slow_runtime() ? 8 : 16; /* every change once under valgrind, twice elsewhere */
    for (int round = 0; round < rounds; round++) {
        int kind = round % 8, k = 0;
        char when[64];
        snprintf(when, sizeof when, "round %d (change %d)", round, kind);
        switch (kind) {
        case 0: /* consent given and withdrawn on email */
            k = pick(ids, 40);
            for (int j = 0; j < k; j++)
                st[ids[j]] ^= F_CON_E;
            import_rows(e, ids, k, C_CON_E, 0);
            break;
        case 1: /* sms contacts cleared and added */
            k = pick(ids, 40);
            for (int j = 0; j < k; j++)
                st[ids[j]] ^= F_SMS;
            import_rows(e, ids, k, C_SMS, 0);
            break;
        case 2: /* email opt-outs taken and lifted */
            k = pick(ids, 40);
            for (int j = 0; j < k; j++)
                st[ids[j]] ^= F_OPT_E;
            import_rows(e, ids, k, C_OPT_E, 0);
            break;
        case 3: /* suppression (every channel) */
            k = pick(ids, 200);
            for (int j = 0; j < k; j++)
                st[ids[j]] ^= F_SUPP;
            import_rows(e, ids, k, C_SUPP, 0);
            break;
        case 4: /* new customers, reachable, in the group */
            k = 0;
            for (int i = n; i < n + 250 && i < MAXC; i++) {
                st[i] = F_EMAIL | F_CON_E | F_SMS | F_CON_S | F_G0;
                ids[k++] = i;
            }
            n += k;
            import_rows(e, ids, k, C_ALL, 0);
            upload(e, g[0], ids, k);
            break;
        case 5: { /* an import that fails after changing consent: nothing of it stays */
            k = pick(ids, 20);
            for (int j = 0; j < k; j++)
                st[ids[j]] ^= F_CON_E | F_CON_S;
            import_rows(e, ids, k, C_CON_E | C_CON_S, 1);
            for (int j = 0; j < k; j++)
                st[ids[j]] ^= F_CON_E | F_CON_S;
            break;
        }
        case 6: { /* an erasure: every value and every group membership goes */
            int i = (int)(rnd() % (uint64_t)n);
            while (!((st[i] & (F_G0 | F_G1)) && !g2[i] && reach_email(i)))
                i = (i + 1) % n;
            char xid[16];
            snprintf(xid, sizeof xid, "c%d", i);
            assert_int_equal(eng_customer_erase(e, TA, xid), ENG_OK);
            st[i] = 0;
            g2[i] = 0;
            break;
        }
        default: /* group uploads (not kept, but the same resolve) */
            k = pick(ids, 30);
            for (int j = 0; j < k; j++)
                st[ids[j]] |= F_G1;
            upload(e, g[1], ids, k);
            break;
        }
        check_levels(e, when);
    }
    assert_int_equal(eng_close(e), ENG_OK);
    test_store_free(ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kept_sets_follow_every_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
