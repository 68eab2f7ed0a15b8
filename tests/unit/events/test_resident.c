/* Sealed segments kept in memory up to eng_config.events_segments
 * (src/events/resident.c): the same writes and reads with no cap and with
 * caps of 1, 2 and 5 segments give the same rows at every step (writes,
 * reopen, retention, reopen), while eng_info reports at most the cap resident
 * and the dropped segments being read again. */
#include "ev_fixture.h"

#define NCUST 200
#define NCAMP 12
#define NTXN 700

typedef struct dig {
    uint64_t h, rows;
} dig;

static void mix(dig *d, uint64_t v)
{
    d->h = (d->h ^ v) * 0x100000001b3ull;
}

typedef struct tctx {
    eng_engine *e;
    dig d;
} tctx;

static int touch_cb(const eng__touch_cols *c, void *user)
{
    tctx *t = user;
    for (size_t i = 0; i < c->n; i++) {
        uint64_t camp, msg;
        uint32_t ver, occ;
        assert_int_equal(eng__ctx_get(t->e, c->org, c->ctx[i], &camp, &msg, &ver, &occ), ENG_OK);
        size_t dl;
        const char *det = eng__ev_detail_str(t->e, c->org, c->detail[i], &dl);
        mix(&t->d, (uint64_t)c->time[i]);
        mix(&t->d, c->customer[i]);
        mix(&t->d, camp);
        mix(&t->d, (uint64_t)c->channel[i] << 8 | c->status[i]);
        mix(&t->d, c->send[i]);
        mix(&t->d, c->first[i]);
        for (size_t k = 0; k < dl; k++)
            mix(&t->d, (uint8_t)det[k]);
        t->d.rows++;
    }
    return 0;
}

static int txn_cb(const eng__txn_cols *c, void *user)
{
    tctx *t = user;
    for (size_t i = 0; i < c->n; i++) {
        mix(&t->d, c->customer[i]);
        mix(&t->d, (uint64_t)c->time[i]);
        mix(&t->d, (uint64_t)c->amount[i]);
        for (uint32_t k = 0; k < c->id_len[i]; k++)
            mix(&t->d, (uint8_t)c->id[i][k]);
        t->d.rows++;
    }
    return 0;
}

/* Everything the readers give, as digests: whole and filtered touch scans, per-customer
 * touches, X-Engage history, whole and filtered transaction scans. */
static void read_all(eng_engine *e, dig *out, size_t *n)
{
    eng_time now = test_clock_now;
    *n = 0;
    assert_int_equal(eng__enter(e), ENG_OK);
    eng__touch_filter fs[5];
    for (int i = 0; i < 5; i++)
        eng__touch_filter_init(&fs[i]);
    fs[1].from = now - 20 * ENG_DAY, fs[1].to = now - 10 * ENG_DAY;
    fs[2].customer = 7;
    fs[3].campaign = 5;
    fs[4].statuses = 1u << ENG_TOUCH_OPENED | 1u << ENG_TOUCH_CLICKED;
    for (int i = 0; i < 5; i++) {
        tctx t = {e, {0xcbf29ce484222325ull, 0}};
        assert_int_equal(eng__touch_scan(e, &fs[i], touch_cb, &t), ENG_OK);
        out[(*n)++] = t.d;
    }
    static const uint32_t who[] = {0, 7, NCUST - 1};
    for (int i = 0; i < 3; i++) {
        eng__touch_buf b;
        tctx t = {e, {0xcbf29ce484222325ull, 0}};
        assert_int_equal(eng__touch_customer(e, "acme", who[i], NULL, &b), ENG_OK);
        assert_int_equal(touch_cb(&b.c, &t), 0);
        eng__touch_buf_free(e, &b);
        out[(*n)++] = t.d;
    }
    uint32_t sends[NCUST * ENG_CH_COUNT] = {0}, resp[NCUST * ENG_CH_COUNT] = {0};
    assert_int_equal(eng__touch_history(e, "acme", now - 60 * ENG_DAY, now, 0, NCUST, sends, resp), ENG_OK);
    dig h = {0xcbf29ce484222325ull, 0};
    for (size_t i = 0; i < NCUST * ENG_CH_COUNT; i++)
        mix(&h, (uint64_t)sends[i] << 32 | resp[i]), h.rows += sends[i];
    out[(*n)++] = h;
    static const struct {
        int64_t from_days, to_days;
        uint32_t customer;
    } tq[] = {{0, 0, ENG__NO_CUSTOMER}, {25, 5, ENG__NO_CUSTOMER}, {0, 0, 5}};
    for (int i = 0; i < 3; i++) {
        tctx t = {e, {0xcbf29ce484222325ull, 0}};
        eng_time from = tq[i].from_days ? now - tq[i].from_days * ENG_DAY : 0;
        eng_time to = tq[i].to_days ? now - tq[i].to_days * ENG_DAY : 0;
        assert_int_equal(eng__txn_scan(e, "acme", from, to, tq[i].customer, NULL, txn_cb, &t), ENG_OK);
        out[(*n)++] = t.d;
    }
    eng__leave(e);
}

#define NREAD 12
#define NSTEP 4

typedef struct run {
    dig d[NSTEP][NREAD];
    uint64_t segments[NSTEP];
    size_t live_bytes[NSTEP];
} run;

static void info_check(eng_engine *e, unsigned cap, run *r, int step)
{
    eng_info info = ENG_INFO_INIT;
    assert_int_equal(eng_info_get(e, &info), ENG_OK);
    if (cap)
        assert_true(info.events_segments_resident <= cap);
    else
        assert_int_equal(info.events_segments_resident, info.events_segments);
    if (cap && info.events_segments > cap && step > 0) /* a scan after a reopen reads the dropped ones */
        assert_true(info.events_segment_reads > 0);
    r->segments[step] = info.events_segments;
    r->live_bytes[step] = test_alloc_live_bytes();
}

static void scenario(unsigned cap, run *r)
{
    evfx f;
    test_events_segments = cap; /* eng_config.events_segments of every engine opened */
    evfx_open(&f, NCUST);
    eng__seg_seal_rows = 150; /* a sealed segment every batch or two */
    eng_time now = test_clock_now;
    size_t n;
    for (uint32_t c = 1; c <= NCAMP; c++) {
        /* campaigns 1..12 sent 46 days ago to 2 days ago; receipts to a few of each */
        eng_time at = now - (eng_time)(50 - 4 * c) * ENG_DAY;
        evfx_send(&f, "acme", c, 0, NCUST, c % 2 ? ENG_CH_EMAIL : ENG_CH_SMS, at);
        for (uint32_t k = c; k < NCUST; k += 9)
            assert_int_equal(evfx_receipt(&f, c, k, c % 2 ? ENG_CH_EMAIL : ENG_CH_SMS,
                                          k % 2 ? ENG_TOUCH_OPENED : ENG_TOUCH_CLICKED, at + ENG_HOUR, k % 3 ? NULL : "l1",
                                          NULL),
                             ENG_OK);
    }
    size_t cap_csv = NTXN * 48;
    char *csv = malloc(cap_csv);
    size_t len = (size_t)snprintf(csv, cap_csv, "id,customer,time,amount\n");
    for (size_t i = 0; i < NTXN; i++) /* every ~1.7 hours over the last 50 days; a few unknown customers */
        len += (size_t)snprintf(csv + len, cap_csv - len, "t%zu,%s%zu,%lld,%zu\n", i, i % 50 ? "c" : "x", i % NCUST,
                                (long long)(now - (eng_time)(NTXN - i) * 6171428), i % 97 + 1);
    eng_event_report rep = ENG_EVENT_REPORT_INIT;
    assert_int_equal(eng_txn_import_csv_buffer(f.e, "acme", csv, len, NULL, &rep), ENG_OK);
    assert_int_equal(rep.accepted, NTXN);
    free(csv);
    for (int step = 0; step < NSTEP; step++) {
        if (step == 1 || step == 3) {
            evfx_reopen(&f);
        } else if (step == 2) { /* keep 30 days */
            assert_int_equal(eng_events_set_retention(f.e, "admin", 30), ENG_OK);
            assert_int_equal(eng_events_compact(f.e), ENG_OK);
        }
        read_all(f.e, r->d[step], &n);
        assert_int_equal(n, NREAD);
        info_check(f.e, cap, r, step);
    }
    evfx_close(&f);
    eng__seg_seal_rows = ENG__SEG_ROWS;
    test_events_segments = ENG_EVENTS_SEGMENTS_DEFAULT;
}

static void same_rows_at_any_cap(void **st)
{
    (void)st;
    static run ref, got;
    scenario(0, &ref);
    /* the reference against what was written: every send and receipt, then only those
     * of campaigns sent within the 30 days kept (4 * c > 20) */
    uint64_t receipts = 0, kept = 0;
    for (uint32_t c = 1; c <= NCAMP; c++) {
        uint64_t rc = (NCUST - c + 8) / 9;
        receipts += rc;
        if (50 - 4 * c <= 30)
            kept += NCUST + rc;
    }
    assert_int_equal(ref.d[0][0].rows, NCAMP * NCUST + receipts);
    assert_int_equal(ref.d[1][0].rows, NCAMP * NCUST + receipts);
    assert_int_equal(ref.d[2][0].rows, kept);
    assert_int_equal(ref.d[3][0].rows, kept);
    assert_int_equal(ref.d[1][9].rows, NTXN);
    assert_true(ref.segments[1] >= 15); /* touches and transactions: enough to drop some */
    static const unsigned caps[] = {1, 2, 5};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        memset(&got, 0, sizeof got);
        scenario(caps[i], &got);
        for (int s = 0; s < NSTEP; s++) {
            assert_int_equal(got.segments[s], ref.segments[s]);
            for (int q = 0; q < NREAD; q++) {
                if (got.d[s][q].h != ref.d[s][q].h || got.d[s][q].rows != ref.d[s][q].rows)
                    fail_msg("cap %u, step %d, read %d: %llu rows, reference %llu", caps[i], s, q,
                             (unsigned long long)got.d[s][q].rows, (unsigned long long)ref.d[s][q].rows);
            }
        }
        if (caps[i] == 1) /* the engine's memory after the reads: one segment against all of them */
            assert_true(got.live_bytes[1] < ref.live_bytes[1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_rows_at_any_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
