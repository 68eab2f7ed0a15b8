/* The touch log: `sent` written inside the caller's batch, receipts matched by
 * key, furthest status whatever the arrival order, duplicates, receipts
 * before their send, unsubscribe -> opt-out, segments sealed and reloaded,
 * and a damaged segment reported by name. Expected figures come from a plain
 * model kept by the test. */
#include "ev_fixture.h"
#include "../model/store_digest.h"

static uint64_t rng = 1;
static uint64_t rnd(void)
{
    return test_splitmix(&rng);
}

#define NS (ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT)

static void counts(evfx *f, uint64_t campaign, uint64_t *c)
{
    assert_int_equal(eng_touch_status_counts(f->e, "acme", campaign, 0, c, NS), ENG_OK);
}

static void basic(void **st)
{
    (void)st;
    evfx f;
    evfx_open(&f, 200);
    eng__sent_result res;
    assert_int_equal(evfx_send_rc(&f, "acme", 7, 0, 200, ENG_CH_EMAIL, 1000, &res), ENG_OK);
    assert_int_equal(res.accepted, 200);
    assert_int_equal(res.duplicates, 0);
    /* a retried batch changes nothing */
    assert_int_equal(evfx_send_rc(&f, "acme", 7, 0, 200, ENG_CH_EMAIL, 1000, &res), ENG_OK);
    assert_int_equal(res.accepted, 0);
    assert_int_equal(res.duplicates, 200);

    uint8_t want[200];
    memset(want, ENG_TOUCH_SENT, sizeof want);
    for (uint32_t c = 0; c < 200; c++) {
        int s = (int)(rnd() % ENG_TOUCH_STATUS_COUNT);
        if (s == ENG_TOUCH_SENT || s == ENG_TOUCH_UNSUBSCRIBED || s == ENG_TOUCH_COMPLAINED)
            continue;
        eng_event_report r = ENG_EVENT_REPORT_INIT;
        assert_int_equal(evfx_receipt(&f, 7, c, ENG_CH_EMAIL, s, 2000 + c, s == ENG_TOUCH_CLICKED ? "L1" : NULL, &r),
                         ENG_OK);
        assert_int_equal(r.accepted, 1);
        want[c] = (uint8_t)s;
        /* again: a duplicate */
        assert_int_equal(evfx_receipt(&f, 7, c, ENG_CH_EMAIL, s, 2000 + c, NULL, &r), ENG_OK);
        assert_int_equal(r.accepted, 0);
        assert_int_equal(r.duplicates, 1);
    }
    uint64_t c[NS], ref[NS] = {0};
    for (uint32_t i = 0; i < 200; i++)
        ref[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + want[i]]++;
    counts(&f, 7, c);
    assert_memory_equal(c, ref, sizeof ref);
    /* an unknown campaign has nothing */
    uint64_t z[NS], zero[NS] = {0};
    assert_int_equal(eng_touch_status_counts(f.e, "acme", 8, 0, z, NS), ENG_OK);
    assert_memory_equal(z, zero, sizeof zero);
    assert_int_equal(eng_touch_status_counts(f.e, "acme", 7, 0, z, NS - 1), ENG_ERANGE);

    /* the same after reopening */
    evfx_reopen(&f);
    counts(&f, 7, c);
    assert_memory_equal(c, ref, sizeof ref);
    evfx_close(&f);
}

typedef struct rows_seen {
    int n;
    eng_time last;
    int status[8];
    char detail[8][32];
} rows_seen;

static int on_row(const eng_touch_row *row, void *user)
{
    rows_seen *s = user;
    assert_true(row->time >= s->last);
    assert_int_equal(row->campaign, 7);
    assert_int_equal(row->message, 70);
    assert_int_equal(row->customer, 3);
    s->last = row->time;
    if (s->n < 8) {
        s->status[s->n] = row->status;
        snprintf(s->detail[s->n], 32, "%s", row->detail);
    }
    s->n++;
    return 0;
}

static void customer_touches(void **st)
{
    (void)st;
    evfx f;
    evfx_open(&f, 10);
    evfx_send(&f, "acme", 7, 0, 10, ENG_CH_SMS, 1000);
    /* out of order in time and in arrival */
    assert_int_equal(evfx_receipt(&f, 7, 3, ENG_CH_SMS, ENG_TOUCH_CLICKED, 5000, "promo", NULL), ENG_OK);
    assert_int_equal(evfx_receipt(&f, 7, 3, ENG_CH_SMS, ENG_TOUCH_DELIVERED, 2000, NULL, NULL), ENG_OK);
    assert_int_equal(evfx_receipt(&f, 7, 3, ENG_CH_SMS, ENG_TOUCH_OPENED, 3000, NULL, NULL), ENG_OK);
    rows_seen s = {0, 0, {0}, {{0}}};
    assert_int_equal(eng_touches_of_customer(f.e, "acme", 3, on_row, &s), ENG_OK);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.status[0], ENG_TOUCH_SENT);
    assert_int_equal(s.status[1], ENG_TOUCH_DELIVERED);
    assert_int_equal(s.status[2], ENG_TOUCH_OPENED);
    assert_int_equal(s.status[3], ENG_TOUCH_CLICKED);
    assert_string_equal(s.detail[3], "promo");
    assert_string_equal(s.detail[0], "");
    /* another org sees nothing */
    rows_seen o = {0, 0, {0}, {{0}}};
    assert_int_equal(eng_touches_of_customer(f.e, "other", 3, on_row, &o), ENG_OK);
    assert_int_equal(o.n, 0);
    evfx_close(&f);
}

static void unmatched(size_t i, const char *key, void *user)
{
    (void)i;
    (void)key;
    (*(int *)user)++;
}

static void pending(void **st)
{
    (void)st;
    evfx f;
    evfx_open(&f, 5);
    /* a delivered before its sent batch committed */
    char key[64];
    evfx_key(key, sizeof key, 9, 0, 2, ENG_CH_EMAIL);
    const char *keys[2] = {key, "nobody"};
    int sts[2] = {ENG_TOUCH_DELIVERED, ENG_TOUCH_OPENED};
    eng_time ts[2] = {50, 60};
    int told = 0;
    eng_receipts r = evfx_receipts(2, keys, sts, ts, NULL);
    r.unmatched_fn = unmatched;
    r.unmatched_user = &told;
    eng_event_report rep = ENG_EVENT_REPORT_INIT;
    assert_int_equal(eng_touch_append(f.e, &r, &rep), ENG_OK);
    assert_int_equal(rep.unmatched, 2);
    assert_int_equal(told, 2);
    assert_int_equal(rep.accepted, 0);
    uint64_t np;
    assert_int_equal(eng_touch_pending(f.e, &np), ENG_OK);
    assert_int_equal(np, 2);
    /* kept across a reopen */
    evfx_reopen(&f);
    assert_int_equal(eng_touch_pending(f.e, &np), ENG_OK);
    assert_int_equal(np, 2);
    eng__sent_result res;
    assert_int_equal(evfx_send_rc(&f, "acme", 9, 0, 5, ENG_CH_EMAIL, 10, &res), ENG_OK);
    assert_int_equal(res.joined, 1);
    assert_int_equal(eng_touch_pending(f.e, &np), ENG_OK);
    assert_int_equal(np, 1);
    uint64_t c[NS];
    counts(&f, 9, c);
    assert_int_equal(c[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_DELIVERED], 1);
    assert_int_equal(c[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_SENT], 4);
    evfx_reopen(&f);
    counts(&f, 9, c);
    assert_int_equal(c[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_DELIVERED], 1);
    assert_int_equal(eng_touch_pending(f.e, &np), ENG_OK);
    assert_int_equal(np, 1);
    evfx_close(&f);
}

/* Random permutations of a send's receipts (some before the sent itself)
 * always end at the same furthest status, and store the same touches. */
static void permutations(void **st)
{
    (void)st;
    const int all[] = {ENG_TOUCH_FAILED, ENG_TOUCH_BOUNCED, ENG_TOUCH_DELIVERED, ENG_TOUCH_OPENED,
                       ENG_TOUCH_CLICKED};
    for (int round = 0; round < 60; round++) {
        evfx f;
        evfx_open(&f, 1);
        int k = 1 + (int)(rnd() % 5), perm[5], want = ENG_TOUCH_SENT;
        for (int i = 0; i < 5; i++)
            perm[i] = all[i];
        for (int i = 4; i > 0; i--) {
            int j = (int)(rnd() % (uint64_t)(i + 1)), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        int sent_at = (int)(rnd() % (uint64_t)(k + 1)); /* position of the sent among the receipts */
        for (int i = 0; i <= k; i++) {
            if (i == sent_at)
                evfx_send(&f, "acme", 1, 0, 1, ENG_CH_PUSH, 100);
            if (i < k) {
                assert_int_equal(evfx_receipt(&f, 1, 0, ENG_CH_PUSH, perm[i], 200 + perm[i], NULL, NULL), ENG_OK);
                want = eng__touch_rank(perm[i]) > eng__touch_rank(want) ? perm[i] : want;
            }
        }
        uint64_t c[NS];
        counts(&f, 1, c);
        for (int s = 0; s < ENG_TOUCH_STATUS_COUNT; s++)
            assert_int_equal(c[ENG_CH_PUSH * ENG_TOUCH_STATUS_COUNT + s], s == want);
        rows_seen seen = {0, 0, {0}, {{0}}};
        eng__touch_buf b;
        assert_int_equal(eng__enter(f.e), ENG_OK);
        assert_int_equal(eng__touch_customer(f.e, "acme", 0, NULL, &b), ENG_OK);
        seen.n = (int)b.c.n;
        eng__touch_buf_free(f.e, &b);
        eng__leave(f.e);
        assert_int_equal(seen.n, k + 1);
        evfx_close(&f);
    }
}

/* Receipts of many sends shuffled into one append (and into batches of random
 * sizes): each send ends at the furthest status, keeps the link of the FIRST
 * click in arrival order, and the report counts match a plain model; the same
 * for receipts whose send does not exist (pending). The append matches a batch
 * as a whole (sorted by send), so this checks it acts like one receipt at a time. */
typedef struct brec {
    uint32_t who; /* customer = send id; >= BP_SENDS: no such send */
    int status;
    char link[24];
} brec;

#define BP_SENDS 300u

static void batch_permutations(void **st)
{
    (void)st;
    const int kinds[] = {ENG_TOUCH_FAILED, ENG_TOUCH_BOUNCED, ENG_TOUCH_DELIVERED, ENG_TOUCH_OPENED,
                         ENG_TOUCH_CLICKED};
    brec *v = malloc(BP_SENDS * 8 * sizeof *v);
    size_t n = 0;
    for (uint32_t s = 0; s < BP_SENDS + 20; s++) {
        int k = (int)(rnd() % 7);
        for (int j = 0; j < k; j++) {
            brec b = {s, kinds[rnd() % 5], ""};
            if (b.status == ENG_TOUCH_CLICKED)
                snprintf(b.link, sizeof b.link, "L%u-%d", s, j);
            v[n++] = b;
        }
    }
    for (int round = 0; round < 6; round++) {
        for (size_t i = n; i > 1; i--) {
            size_t j = rnd() % i;
            brec t = v[i - 1];
            v[i - 1] = v[j];
            v[j] = t;
        }
        /* the model: furthest status, first click's link, distinct (send, status) */
        int want[BP_SENDS + 20];
        const char *link[BP_SENDS + 20];
        uint8_t seen[BP_SENDS + 20];
        uint64_t accepted = 0, dups = 0, unmatched = 0;
        for (uint32_t s = 0; s < BP_SENDS + 20; s++)
            want[s] = ENG_TOUCH_SENT, link[s] = NULL, seen[s] = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t s = v[i].who;
            int bit = 1 << v[i].status, fresh = !(seen[s] & bit);
            seen[s] |= (uint8_t)bit;
            if (s >= BP_SENDS)
                fresh ? unmatched++ : dups++;
            else
                fresh ? accepted++ : dups++;
            if (fresh && eng__touch_rank(v[i].status) > eng__touch_rank(want[s]))
                want[s] = v[i].status;
            if (fresh && v[i].status == ENG_TOUCH_CLICKED)
                link[s] = v[i].link;
        }
        evfx f;
        evfx_open(&f, 0);
        evfx_send(&f, "acme", 1, 0, BP_SENDS, ENG_CH_EMAIL, 100);
        char (*keys)[64] = malloc(n * 64);
        const char **kp = malloc(n * sizeof *kp), **dp = malloc(n * sizeof *dp);
        int *sts = malloc(n * sizeof *sts);
        eng_time *ts = malloc(n * sizeof *ts);
        for (size_t i = 0; i < n; i++) {
            evfx_key(keys[i], 64, 1, 0, v[i].who, ENG_CH_EMAIL);
            kp[i] = keys[i];
            dp[i] = v[i].link[0] ? v[i].link : NULL;
            sts[i] = v[i].status;
            ts[i] = 1000 + (eng_time)i;
        }
        uint64_t got_acc = 0, got_dup = 0, got_unm = 0;
        for (size_t b = 0; b < n;) { /* round 0: one batch; then random sizes */
            size_t m = round == 0 ? n : 1 + rnd() % 200;
            m = m > n - b ? n - b : m;
            eng_receipts r = evfx_receipts(m, kp + b, sts + b, ts + b, dp + b);
            eng_event_report rep = ENG_EVENT_REPORT_INIT;
            assert_int_equal(eng_touch_append(f.e, &r, &rep), ENG_OK);
            assert_int_equal(rep.rows, m);
            got_acc += rep.accepted, got_dup += rep.duplicates, got_unm += rep.unmatched;
            b += m;
        }
        assert_int_equal(got_acc, accepted);
        assert_int_equal(got_dup, dups);
        assert_int_equal(got_unm, unmatched);
        uint64_t np;
        assert_int_equal(eng_touch_pending(f.e, &np), ENG_OK);
        assert_int_equal(np, unmatched);
        for (int pass = 0; pass < 2; pass++) { /* and the same after a reopen */
            assert_int_equal(eng__enter(f.e), ENG_OK);
            eng__sends_view sv;
            assert_int_equal(eng__sends_view_get(f.e, &sv), ENG_OK);
            assert_int_equal(sv.n, BP_SENDS);
            for (uint32_t s = 0; s < BP_SENDS; s++) {
                assert_int_equal(eng__mask_furthest(sv.hot[s].mask), want[s]);
                eng__touch_buf tb;
                assert_int_equal(eng__touch_customer(f.e, "acme", s, NULL, &tb), ENG_OK);
                const char *got = NULL;
                size_t gl = 0;
                for (size_t i = 0; i < tb.c.n; i++)
                    if (tb.c.status[i] == ENG_TOUCH_CLICKED)
                        got = eng__ev_detail_str(f.e, tb.c.org, tb.c.detail[i], &gl);
                eng__touch_buf_free(f.e, &tb);
                if (!link[s])
                    assert_null(got);
                else {
                    assert_non_null(got);
                    assert_int_equal(gl, strlen(link[s]));
                    assert_memory_equal(got, link[s], gl);
                }
            }
            eng__leave(f.e);
            evfx_reopen(&f);
        }
        free(keys);
        free(kp);
        free(dp);
        free(sts);
        free(ts);
        evfx_close(&f);
    }
    free(v);
}

static void unsubscribe(void **st)
{
    (void)st;
    evfx f;
    evfx_open(&f, 20);
    evfx_send(&f, "acme", 3, 0, 20, ENG_CH_EMAIL, 100);
    int reach;
    assert_int_equal(eng_customer_reachable(f.e, "admin", 4, ENG_CH_EMAIL, &reach), ENG_OK);
    assert_int_equal(reach, 1);
    eng_event_report r = ENG_EVENT_REPORT_INIT;
    assert_int_equal(evfx_receipt(&f, 3, 4, ENG_CH_EMAIL, ENG_TOUCH_UNSUBSCRIBED, 500, NULL, &r), ENG_OK);
    assert_int_equal(r.consent_changes, 1);
    assert_int_equal(evfx_receipt(&f, 3, 5, ENG_CH_EMAIL, ENG_TOUCH_COMPLAINED, 500, NULL, &r), ENG_OK);
    assert_int_equal(r.consent_changes, 1);
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(eng_customer_reachable(f.e, "admin", 4, ENG_CH_EMAIL, &reach), ENG_OK);
        assert_int_equal(reach, 0);
        assert_int_equal(eng_customer_reachable(f.e, "admin", 5, ENG_CH_EMAIL, &reach), ENG_OK);
        assert_int_equal(reach, 0);
        assert_int_equal(eng_customer_reachable(f.e, "admin", 4, ENG_CH_SMS, &reach), ENG_OK);
        assert_int_equal(reach, 1); /* only that channel */
        /* the next resolve excludes them from email */
        uint32_t g;
        char name[16];
        snprintf(name, sizeof name, "all%d", pass);
        assert_int_equal(eng_group_create_filter(f.e, "admin", name, "true", &g), ENG_OK);
        eng_audience_query o;
        assert_int_equal(eng_audience_query_init(&o, ENG_AUDIENCE_QUERY_VERSION), ENG_OK);
        const char *inc[] = {name};
        o.include = inc;
        o.n_include = 1;
        o.channels = 1u << ENG_CH_EMAIL;
        eng_audience *a;
        assert_int_equal(eng_audience_resolve(f.e, "admin", &o, &a), ENG_OK);
        uint64_t n;
        assert_int_equal(eng_audience_count(a, ENG_PART_ALL, &n), ENG_OK);
        assert_int_equal(n, 18);
        uint32_t ids[20];
        size_t got;
        assert_int_equal(eng_audience_ids(a, ENG_PART_ALL, 0, ids, 20, &got), ENG_OK);
        for (size_t i = 0; i < got; i++)
            assert_true(ids[i] != 4 && ids[i] != 5);
        eng_audience_free(a);
        evfx_reopen(&f); /* and the same from storage */
    }
    evfx_close(&f);
}

static int sum_cb(const eng__touch_cols *c, void *user)
{
    uint64_t *s = user;
    for (size_t i = 0; i < c->n; i++)
        s[0] += c->customer[i] + (uint64_t)c->time[i] * 3 + c->status[i] * 7u + c->send[i] * 11u, s[1]++;
    return 0;
}

static void scan_sum(evfx *f, const eng__touch_filter *flt, uint64_t s[2])
{
    s[0] = s[1] = 0;
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__touch_scan(f->e, flt, sum_cb, s), ENG_OK);
    eng__leave(f->e);
}

/* More rows than a segment holds: sealed segments, a tail, and the same rows after reopen. */
static void sealed_and_reloaded(void **st)
{
    (void)st;
    evfx f;
    evfx_open(&f, 0);
    uint32_t n = ENG__SEG_ROWS + 5000;
    evfx_send(&f, "acme", 1, 0, n / 2, ENG_CH_SMS, 1000);
    evfx_send(&f, "acme", 1, n / 2, n, ENG_CH_SMS, 1000 + n / 2);
    eng__touch_filter all;
    eng__touch_filter_init(&all);
    uint64_t a[2], b[2], w[2] = {0, 0};
    for (uint32_t i = 0; i < n; i++)
        w[0] += i + (uint64_t)(1000 + i) * 3 + i * 11u, w[1]++; /* time = 1000 + i, send = customer = i */
    scan_sum(&f, &all, a);
    assert_int_equal(a[1], n);
    assert_int_equal(a[0], w[0]);
    /* a time window: rows with time in [1000 + 100, 1000 + 200) */
    eng__touch_filter win = all;
    win.from = 1100;
    win.to = 1200;
    scan_sum(&f, &win, b);
    assert_int_equal(b[1], 100);
    evfx_reopen(&f);
    scan_sum(&f, &all, b);
    assert_memory_equal(a, b, sizeof a);
    assert_true(test_store_count(f.ts) < 20); /* sealed: one segment (and the org), not thousands of records */
    evfx_close(&f);
}

static void corrupt_segment(void **st)
{
    (void)st;
    evfx f;
    evfx_open(&f, 0);
    evfx_send(&f, "acme", 1, 0, ENG__SEG_ROWS + 10, ENG_CH_SMS, 1000);
    eng_close(f.e);
    uint8_t *v;
    size_t len;
    assert_int_equal(test_store_raw_get(f.ts, "e/0000/t/s/00000000", &v, &len), 0);
    v[len / 2] ^= 0x40;
    assert_int_equal(test_store_raw_put(f.ts, "e/0000/t/s/00000000", v, len), 0);
    free(v);
    f.e = test_engine_open(test_store_handle(f.ts));
    uint64_t c[NS];
    assert_int_equal(eng_touch_status_counts(f.e, "acme", 1, 0, c, NS), ENG_ECORRUPT);
    assert_non_null(strstr(eng_error_last()->detail, "e/0000/t/s/00000000"));
    /* and again (nothing was cached half-loaded) */
    assert_int_equal(eng_touch_status_counts(f.e, "acme", 1, 0, c, NS), ENG_ECORRUPT);
    evfx_close(&f);
}

/* A torn record (cut short, as a crash mid-write could leave a value in a
 * store without atomic puts): the sealed segment, then a tail chunk. */
static void torn_segment(void **st)
{
    (void)st;
    const char *keys[2] = {"e/0000/t/s/00000000", "e/0000/t/c/0000000100000001"};
    for (int k = 0; k < 2; k++) {
        evfx f;
        evfx_open(&f, 0);
        evfx_send(&f, "acme", 1, 0, ENG__SEG_ROWS, ENG_CH_SMS, 1000); /* fills the tail: sealed */
        evfx_send(&f, "acme", 1, ENG__SEG_ROWS, ENG__SEG_ROWS + 10, ENG_CH_SMS, 1000); /* a chunk */
        evfx_send(&f, "acme", 1, ENG__SEG_ROWS + 10, ENG__SEG_ROWS + 20, ENG_CH_SMS, 1000); /* another */
        eng_close(f.e);
        uint8_t *v;
        size_t len;
        assert_int_equal(test_store_raw_get(f.ts, keys[k], &v, &len), 0);
        assert_int_equal(test_store_raw_put(f.ts, keys[k], v, len * 2 / 3), 0);
        free(v);
        f.e = test_engine_open(test_store_handle(f.ts));
        uint64_t c[NS];
        assert_int_equal(eng_touch_status_counts(f.e, "acme", 1, 0, c, NS), ENG_ECORRUPT);
        assert_non_null(strstr(eng_error_last()->detail, keys[k]));
        evfx_close(&f);
    }
}

static void bad_receipts(void **st)
{
    (void)st;
    evfx f;
    evfx_open(&f, 2);
    evfx_send(&f, "acme", 1, 0, 2, ENG_CH_SMS, 1000);
    eng_event_report r = ENG_EVENT_REPORT_INIT;
    assert_int_equal(evfx_receipt(&f, 1, 0, ENG_CH_SMS, ENG_TOUCH_SENT, 5, NULL, &r), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "receipts[0].statuses");
    assert_int_equal(evfx_receipt(&f, 1, 0, ENG_CH_SMS, 99, 5, NULL, &r), ENG_EINVAL);
    assert_int_equal(evfx_receipt(&f, 1, 0, ENG_CH_SMS, ENG_TOUCH_OPENED, -1, NULL, &r), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "receipts[0].times");
    char longd[300];
    memset(longd, 'x', sizeof longd - 1);
    longd[299] = 0;
    assert_int_equal(evfx_receipt(&f, 1, 0, ENG_CH_SMS, ENG_TOUCH_CLICKED, 5, longd, &r), ENG_EINVAL);
    assert_int_equal(eng_touch_append(f.e, NULL, &r), ENG_EINVAL);
    assert_int_equal(eng_touch_append(NULL, NULL, &r), ENG_EMISUSE);
    eng_receipts bad = ENG_RECEIPTS_INIT;
    bad.version = 99;
    assert_int_equal(eng_touch_append(f.e, &bad, &r), ENG_EVERSION);
    uint64_t c[NS];
    counts(&f, 1, c);
    assert_int_equal(c[ENG_CH_SMS * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_SENT], 2);
    evfx_close(&f);
}

/* An empty batch (arrays NULL or not) is accepted, counts nothing and stores
 * nothing. It used to carve its scratch out of NULL pointers (h + 0, found by
 * tests/fuzz/fuzz_api.c: undefined behaviour that UBSan stops on). */
static void empty_batch(void **st)
{
    (void)st;
    evfx f;
    evfx_open(&f, 2);
    evfx_send(&f, "acme", 1, 0, 2, ENG_CH_SMS, 1000);
    uint8_t d0[ENG__SHA256_LEN], d1[ENG__SHA256_LEN];
    store_digest(f.e, d0);
    static const char *const keys[] = {"acme/c1/m1.1/o0/u0/sms"};
    static const int statuses[] = {ENG_TOUCH_DELIVERED};
    static const eng_time times[] = {5};
    for (int arrays = 0; arrays < 2; arrays++) {
        eng_receipts rc = ENG_RECEIPTS_INIT;
        if (arrays) {
            rc.keys = keys;
            rc.statuses = statuses;
            rc.times = times;
        }
        eng_event_report r = ENG_EVENT_REPORT_INIT;
        assert_int_equal(eng_touch_append(f.e, &rc, &r), ENG_OK);
        assert_int_equal(r.rows + r.accepted + r.duplicates + r.unmatched, 0);
    }
    store_digest(f.e, d1);
    assert_memory_equal(d0, d1, sizeof d0);
    evfx_close(&f);
}

/* A batch is checked receipt by receipt as its keys are parsed: the first bad
 * receipt is the error, even after good (matched and unmatched) ones and
 * before other bad ones, and nothing of the batch is stored; the same batch
 * made good is then applied in full. */
static void bad_receipt_late_in_batch(void **st)
{
    (void)st;
    evfx f;
    evfx_open(&f, 4);
    evfx_send(&f, "acme", 1, 0, 4, ENG_CH_SMS, 1000);
    char k[5][64];
    for (int i = 0; i < 4; i++)
        evfx_key(k[i], sizeof k[i], 1, 0, (uint32_t)i, ENG_CH_SMS);
    evfx_key(k[4], sizeof k[4], 7, 0, 0, ENG_CH_SMS); /* no such send */
    const char *keys[6] = {k[0], k[4], k[1], NULL, k[2], k[3]};
    int sts[6] = {ENG_TOUCH_DELIVERED, ENG_TOUCH_OPENED, ENG_TOUCH_OPENED, ENG_TOUCH_OPENED, 99, ENG_TOUCH_CLICKED};
    eng_time ts[6] = {5, 5, 5, 5, 5, 5};
    eng_receipts r = evfx_receipts(6, keys, sts, ts, NULL);
    eng_event_report rep = ENG_EVENT_REPORT_INIT;
    assert_int_equal(eng_touch_append(f.e, &r, &rep), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "receipts[3].keys");
    assert_int_equal(rep.rows, 0);
    assert_int_equal(rep.accepted, 0);
    keys[3] = k[3];
    assert_int_equal(eng_touch_append(f.e, &r, &rep), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "receipts[4].statuses");
    uint64_t c[NS], pend = 1;
    for (int pass = 0; pass < 2; pass++) { /* the cache, then storage */
        counts(&f, 1, c);
        for (int i = 0; i < NS; i++)
            assert_int_equal(c[i], i == ENG_CH_SMS * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_SENT ? 4 : 0);
        assert_int_equal(eng_touch_pending(f.e, &pend), ENG_OK);
        assert_int_equal(pend, 0);
        evfx_reopen(&f);
    }
    sts[4] = ENG_TOUCH_DELIVERED;
    assert_int_equal(eng_touch_append(f.e, &r, &rep), ENG_OK);
    assert_int_equal(rep.rows, 6);
    assert_int_equal(rep.accepted, 5); /* k[3] opened, then clicked */
    assert_int_equal(rep.unmatched, 1);
    assert_int_equal(rep.duplicates, 0);
    counts(&f, 1, c); /* by furthest status */
    const int sms = ENG_CH_SMS * ENG_TOUCH_STATUS_COUNT;
    assert_int_equal(c[sms + ENG_TOUCH_SENT], 0);
    assert_int_equal(c[sms + ENG_TOUCH_DELIVERED], 2);
    assert_int_equal(c[sms + ENG_TOUCH_OPENED], 1);
    assert_int_equal(c[sms + ENG_TOUCH_CLICKED], 1);
    evfx_close(&f);
}

/* Retention drops old sends with all their touches (even a late receipt), keeps the rest. */
static void retention(void **st)
{
    (void)st;
    evfx f;
    evfx_open(&f, 10);
    eng_time now = test_clock_now;
    evfx_send(&f, "acme", 1, 0, 10, ENG_CH_EMAIL, now - 40 * ENG_DAY); /* old */
    evfx_send(&f, "acme", 2, 0, 10, ENG_CH_EMAIL, now - 5 * ENG_DAY);  /* recent */
    /* a receipt of an old send that arrived lately */
    assert_int_equal(evfx_receipt(&f, 1, 3, ENG_CH_EMAIL, ENG_TOUCH_OPENED, now - ENG_DAY, NULL, NULL), ENG_OK);
    assert_int_equal(evfx_receipt(&f, 2, 3, ENG_CH_EMAIL, ENG_TOUCH_OPENED, now - ENG_DAY, NULL, NULL), ENG_OK);
    assert_int_equal(eng_events_set_retention(f.e, "admin", 30), ENG_OK);
    assert_int_equal(eng_events_compact(f.e), ENG_OK);
    for (int pass = 0; pass < 2; pass++) {
        uint64_t c[NS];
        counts(&f, 1, c);
        for (int i = 0; i < NS; i++)
            assert_int_equal(c[i], 0);
        counts(&f, 2, c);
        assert_int_equal(c[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_SENT], 9);
        assert_int_equal(c[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_OPENED], 1);
        eng_time from;
        assert_int_equal(eng_events_data_from(f.e, "acme", &from), ENG_OK);
        assert_int_equal(from, now - 30 * ENG_DAY);
        eng__touch_buf b;
        assert_int_equal(eng__enter(f.e), ENG_OK);
        assert_int_equal(eng__touch_customer(f.e, "acme", 3, NULL, &b), ENG_OK);
        assert_int_equal(b.c.n, 2); /* campaign 2's sent and opened */
        eng__touch_buf_free(f.e, &b);
        eng__leave(f.e);
        evfx_reopen(&f);
    }
    /* a receipt for a dropped send is now unmatched */
    eng_event_report r = ENG_EVENT_REPORT_INIT;
    assert_int_equal(evfx_receipt(&f, 1, 4, ENG_CH_EMAIL, ENG_TOUCH_CLICKED, now, NULL, &r), ENG_OK);
    assert_int_equal(r.unmatched, 1);
    evfx_close(&f);
}

/* A send keeps the set of its statuses, not its furthest: the furthest of every set is
 * the one the receipts, applied one at a time keeping the higher rank, leave. */
static void furthest_of_every_set(void **st)
{
    (void)st;
    for (unsigned m = 0; m < 256; m++) {
        int want = ENG_TOUCH_SENT;
        for (int s = 0; s < ENG_TOUCH_STATUS_COUNT; s++)
            if (m >> s & 1 && eng__touch_rank(s) > eng__touch_rank(want))
                want = s;
        assert_int_equal(eng__mask_furthest(m), want);
    }
    assert_int_equal(eng__mask_furthest(1u << ENG_TOUCH_FAILED | 1u << ENG_TOUCH_DELIVERED), ENG_TOUCH_DELIVERED);
    assert_int_equal(eng__mask_furthest(1u << ENG_TOUCH_CLICKED | 1u << ENG_TOUCH_COMPLAINED), ENG_TOUCH_COMPLAINED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(furthest_of_every_set),
        cmocka_unit_test(basic),
        cmocka_unit_test(customer_touches),
        cmocka_unit_test(pending),
        cmocka_unit_test(permutations),
        cmocka_unit_test(batch_permutations),
        cmocka_unit_test(unsubscribe),
        cmocka_unit_test(sealed_and_reloaded),
        cmocka_unit_test(corrupt_segment),
        cmocka_unit_test(torn_segment),
        cmocka_unit_test(bad_receipts),
        cmocka_unit_test(empty_batch),
        cmocka_unit_test(bad_receipt_late_in_batch),
        cmocka_unit_test(retention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
