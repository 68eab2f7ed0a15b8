/* Several engines on one store (storage contract v3, `changes`): what another
 * engine commits to events reaches this engine's cache without reloading it
 * whole (events/sync.c). Appends (tail chunks, dictionary records) are read
 * record by record; a seal reloads that org only; a new org reloads all. After
 * every step each engine's per-send state is the one a fresh engine loads from
 * the store, send ids included (they are stored with the rows), and the
 * segment scans (an org's reload) are counted through the change feed of
 * tests/helpers/test_feed.h. */
#include "ev_fixture.h"
#include "test_feed.h"

/* An engine's per-send state after it read the others' changes (eng__enter syncs). */
typedef struct sview {
    uint32_t n;
    uint16_t *org;
    uint32_t *ctx, *customer;
    uint8_t *channel, *status;
    eng_time *sent_at;
} sview;

static void view(eng_engine *e, sview *v)
{
    assert_int_equal(eng__enter(e), ENG_OK);
    eng__sends_view s;
    assert_int_equal(eng__sends_view_get(e, &s), ENG_OK);
    v->n = s.n;
    size_t n = s.n ? s.n : 1;
    v->org = malloc(n * sizeof *v->org);
    v->ctx = malloc(n * sizeof *v->ctx);
    v->customer = malloc(n * sizeof *v->customer);
    v->channel = malloc(n);
    v->status = malloc(n);
    v->sent_at = malloc(n * sizeof *v->sent_at);
    assert_true(v->org && v->ctx && v->customer && v->channel && v->status && v->sent_at);
    for (uint32_t i = 0; i < s.n; i++) {
        v->org[i] = s.hot[i].org;
        v->ctx[i] = s.ctx[i];
        v->customer[i] = s.customer[i];
        v->channel[i] = s.hot[i].channel;
        v->status[i] = (uint8_t)eng__mask_furthest(s.hot[i].mask);
        v->sent_at[i] = s.sent_at[i];
    }
    eng__leave(e);
}

static void view_free(sview *v)
{
    free(v->org);
    free(v->ctx);
    free(v->customer);
    free(v->channel);
    free(v->status);
    free(v->sent_at);
}

/* @p e holds what a fresh engine on the store loads, and @p sends sends. */
static void same_as_stored(eng_engine *e, test_store *ts, uint32_t sends)
{
    eng_engine *fresh = test_engine_open(test_store_handle(ts));
    sview a, b;
    view(e, &a);
    view(fresh, &b);
    assert_int_equal(a.n, b.n);
    uint32_t live = 0;
    for (uint32_t i = 0; i < a.n; i++) {
        assert_int_equal(a.org[i], b.org[i]);
        live += a.org[i] != ENG__NO_ORG;
        if (a.org[i] == ENG__NO_ORG)
            continue;
        assert_int_equal(a.ctx[i], b.ctx[i]);
        assert_int_equal(a.customer[i], b.customer[i]);
        assert_int_equal(a.channel[i], b.channel[i]);
        assert_int_equal(a.status[i], b.status[i]);
        assert_int_equal(a.sent_at[i], b.sent_at[i]);
    }
    assert_int_equal(live, sends);
    view_free(&a);
    view_free(&b);
    eng_close(fresh);
}

static uint64_t opened(eng_engine *e, uint64_t campaign)
{
    uint64_t c[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT]; /* [channel][status] */
    assert_int_equal(eng_touch_status_counts(e, "acme", campaign, 0, c, ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT), ENG_OK);
    uint64_t n = 0;
    for (int ch = 0; ch < ENG_CH_COUNT; ch++)
        n += c[ch * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_OPENED];
    return n;
}

/* `sent` rows the dispatcher's way (its outcome batch): a failed batch is rolled back and
 * eng__events_abandon_sent called, which takes the rows back when the batch applied nothing.
 * With @p other, its append of [olo, ohi) is committed after @p f's call began (and read the
 * others' changes) but before its batch: the batch finds the events tail moved at its start. */
static int dispatcher_send_after(evfx *f, evfx *other, uint64_t campaign, uint32_t lo, uint32_t hi, uint32_t olo,
                                 uint32_t ohi, int ch, eng_time t)
{
    eng__send_ctx ctx = {"acme", campaign, campaign * 10, 1, 0};
    size_t n = hi - lo;
    eng__sent_row *rows = calloc(n, sizeof *rows);
    char (*keys)[64] = calloc(n, 64);
    assert_true(rows && keys);
    for (size_t i = 0; i < n; i++) {
        evfx_key(keys[i], 64, campaign, 0, lo + (uint32_t)i, ch);
        rows[i] = (eng__sent_row){keys[i], strlen(keys[i]), lo + (uint32_t)i, (uint8_t)ch, t + (eng_time)i};
    }
    int rc = eng__enter(f->e);
    assert_int_equal(rc, ENG_OK);
    if (other)
        evfx_send(other, "acme", campaign, olo, ohi, ch, t); /* @p other is current: it synced last */
    if (!(rc = eng__kv_begin_inside(f->e->store))) {
        rc = eng__touch_sent(f->e, &ctx, rows, n, NULL);
        if (!rc)
            rc = eng__kv_commit(f->e->store);
        if (rc) {
            eng__kv_rollback(f->e->store);
            eng__events_abandon_sent(f->e);
        }
    }
    eng__leave(f->e);
    free(rows);
    free(keys);
    return rc;
}

static int dispatcher_send(evfx *f, uint64_t campaign, uint32_t lo, uint32_t hi, int ch, eng_time t)
{
    return dispatcher_send_after(f, NULL, campaign, lo, hi, 0, 0, ch, t);
}

#define ACME "e/0000/t/s/"
#define BETA "e/0001/t/s/"

static void appends_are_read_not_reloaded(void **st)
{
    (void)st;
    uint32_t seal = eng__seg_seal_rows;
    eng__seg_seal_rows = 200;
    test_alloc_reset();
    test_store *ts = test_store_new();
    test_feed feed;
    test_feed_init(&feed);
    test_feed_watch(&feed, ACME);
    test_feed_watch(&feed, BETA);
    evfx a = {ts, test_feed_engine(ts, &feed, 1), 0}, b = {ts, test_feed_engine(ts, &feed, 2), 0};
    assert_int_equal(eng_org_create(a.e, "acme", NULL, "admin", NULL), ENG_OK);
    evfx_customers(&a, 300);
    evfx_send(&a, "acme", 1, 0, 10, ENG_CH_SMS, 1000);
    same_as_stored(b.e, ts, 10); /* B loads: one scan of acme's segments */
    unsigned sa = test_feed_scans(&feed, ACME);

    /* A's appends: B reads the new chunk, no reload */
    evfx_send(&a, "acme", 1, 10, 50, ENG_CH_SMS, 1000);
    same_as_stored(b.e, ts, 50);
    /* B appends after them (its send ids follow A's), A reads B's chunk */
    evfx_send(&b, "acme", 1, 50, 80, ENG_CH_SMS, 1000);
    same_as_stored(a.e, ts, 80);
    same_as_stored(b.e, ts, 80);
    /* a key A wrote is a duplicate for B */
    eng__sent_result res;
    assert_int_equal(evfx_send_rc(&b, "acme", 1, 40, 60, ENG_CH_SMS, 1000, &res), ENG_OK);
    assert_int_equal(res.accepted, 0);
    assert_int_equal(res.duplicates, 20);
    /* a receipt through B for A's send; a new context (dictionary record) from B */
    eng_event_report rep = ENG_EVENT_REPORT_INIT;
    assert_int_equal(evfx_receipt(&b, 1, 5, ENG_CH_SMS, ENG_TOUCH_OPENED, 2000, NULL, &rep), ENG_OK);
    assert_int_equal(rep.accepted, 1);
    evfx_send(&b, "acme", 2, 0, 20, ENG_CH_EMAIL, 3000);
    assert_int_equal(opened(a.e, 1), 1);
    same_as_stored(a.e, ts, 100);
    assert_int_equal(test_feed_scans(&feed, ACME), sa); /* neither engine reloaded (fresh engines are not counted) */

    /* B's batch loses a conflict at its commit (applied nothing): its rows are taken back, nothing is
     * reloaded, and the retry stores them with the same send ids */
    feed.busy_writer = 2;
    feed.busy_commits = 1;
    assert_int_equal(dispatcher_send(&b, 2, 20, 40, ENG_CH_EMAIL, 3500), ENG_EBUSY);
    same_as_stored(b.e, ts, 100);
    assert_int_equal(dispatcher_send(&b, 2, 20, 40, ENG_CH_EMAIL, 3500), ENG_OK);
    same_as_stored(b.e, ts, 120);
    same_as_stored(a.e, ts, 120);
    /* the same with a context the failed batch made (its dictionary record is taken back too) */
    feed.busy_commits = 1;
    assert_int_equal(dispatcher_send(&b, 4, 0, 10, ENG_CH_SMS, 3600), ENG_EBUSY);
    same_as_stored(b.e, ts, 120);
    assert_int_equal(dispatcher_send(&b, 4, 0, 10, ENG_CH_SMS, 3600), ENG_OK);
    same_as_stored(b.e, ts, 130);
    same_as_stored(a.e, ts, 130);
    assert_int_equal(test_feed_scans(&feed, ACME), sa);

    /* A's batch seals acme's tail: B reloads acme */
    unsigned before = test_feed_scans(&feed, ACME);
    evfx_send(&a, "acme", 1, 80, 200, ENG_CH_SMS, 4000);
    same_as_stored(b.e, ts, 250);
    assert_int_equal(test_feed_scans(&feed, ACME), before + 1); /* B's reload */
    /* the chunks after a seal are numbered alike in both: B's next append is read by A */
    evfx_send(&b, "acme", 1, 200, 230, ENG_CH_SMS, 5000);
    before = test_feed_scans(&feed, ACME);
    same_as_stored(a.e, ts, 280);
    assert_int_equal(test_feed_scans(&feed, ACME), before);

    /* a new org reloads everything once; then its appends are read, and its seal reloads it alone */
    evfx_send(&a, "beta", 3, 0, 10, ENG_CH_SMS, 6000);
    before = test_feed_scans(&feed, ACME);
    same_as_stored(b.e, ts, 290);
    assert_int_equal(test_feed_scans(&feed, ACME), before + 1);
    evfx_send(&a, "beta", 3, 10, 20, ENG_CH_SMS, 6000);
    before = test_feed_scans(&feed, ACME);
    unsigned bb = test_feed_scans(&feed, BETA);
    same_as_stored(b.e, ts, 300);
    assert_int_equal(test_feed_scans(&feed, ACME), before);
    assert_int_equal(test_feed_scans(&feed, BETA), bb);
    evfx_send(&a, "beta", 3, 20, 250, ENG_CH_SMS, 7000); /* sealed */
    before = test_feed_scans(&feed, ACME);
    bb = test_feed_scans(&feed, BETA);
    same_as_stored(b.e, ts, 530);
    assert_int_equal(test_feed_scans(&feed, ACME), before); /* acme kept */
    assert_int_equal(test_feed_scans(&feed, BETA), bb + 1);
    /* and B writes to both at once */
    evfx_send(&b, "beta", 3, 250, 260, ENG_CH_SMS, 8000);
    evfx_send(&b, "acme", 1, 230, 240, ENG_CH_SMS, 8000);
    same_as_stored(a.e, ts, 550);

    /* A's append lands between B's look at the others' changes and B's batch: B's batch reads it
     * inside itself and writes after it (on the old code it was refused, ENG_EBUSY); nothing reloaded */
    same_as_stored(a.e, ts, 550);
    before = test_feed_scans(&feed, ACME);
    assert_int_equal(dispatcher_send_after(&b, &a, 5, 0, 10, 10, 20, ENG_CH_SMS, 9000), ENG_OK);
    same_as_stored(b.e, ts, 570);
    same_as_stored(a.e, ts, 570);
    assert_int_equal(test_feed_scans(&feed, ACME), before);
    /* a seal by A in between is not an append: B's batch is refused, B reloads acme once and retries */
    assert_int_equal(dispatcher_send_after(&b, &a, 6, 0, 10, 10, 260, ENG_CH_SMS, 9100), ENG_EBUSY);
    assert_int_equal(dispatcher_send(&b, 6, 0, 10, ENG_CH_SMS, 9100), ENG_OK);
    same_as_stored(b.e, ts, 830);
    same_as_stored(a.e, ts, 830);
    assert_int_equal(test_feed_scans(&feed, ACME), before + 1);

    eng_close(a.e);
    eng_close(b.e);
    test_feed_free(&feed);
    test_store_free(ts);
    test_alloc_assert_clean();
    eng__seg_seal_rows = seal;
}

/* `sent` rows into context (campaign, version second @p ver) with dispatcher keys of version
 * @p key_ms (two versions approved in one second share the context, not the key prefix). */
static eng__sent_result send_ver(evfx *f, uint64_t campaign, uint32_t ver, unsigned key_ms, uint32_t lo, uint32_t hi,
                                 eng_time t)
{
    eng__send_ctx ctx = {"acme", campaign, campaign * 10, ver, 0};
    eng__sent_row rows[16];
    char keys[16][64];
    assert_true(hi - lo <= 16);
    for (uint32_t c = lo; c < hi; c++) {
        snprintf(keys[c - lo], 64, "acme/c%llu/m%llu.%u/o0/u%u/sms", (unsigned long long)campaign,
                 (unsigned long long)campaign * 10, key_ms, c);
        rows[c - lo] = (eng__sent_row){keys[c - lo], strlen(keys[c - lo]), c, ENG_CH_SMS, t + c};
    }
    eng__sent_result res;
    memset(&res, 0, sizeof res);
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__kv_begin(f->e->store), ENG_OK);
    assert_int_equal(eng__touch_sent(f->e, &ctx, rows, hi - lo, &res), ENG_OK);
    assert_int_equal(eng__kv_commit(f->e->store), ENG_OK);
    eng__leave(f->e);
    return res;
}

/* The `first` flags of the rows sent at times [from, to). */
typedef struct flags_in {
    eng_time from, to;
    unsigned rows, flagged;
} flags_in;

static int count_flags(const eng__touch_cols *c, void *user)
{
    flags_in *fl = user;
    for (size_t i = 0; i < c->n; i++)
        if (c->time[i] >= fl->from && c->time[i] < fl->to) {
            fl->rows++;
            fl->flagged += c->first[i];
        }
    return ENG_OK;
}

static flags_in flags_of(eng_engine *e, eng_time from, eng_time to)
{
    flags_in fl = {from, to, 0, 0};
    eng__touch_filter f;
    eng__touch_filter_init(&f);
    f.org = "acme";
    assert_int_equal(eng__enter(e), ENG_OK);
    assert_int_equal(eng__touch_scan(e, &f, count_flags, &fl), ENG_OK);
    eng__leave(e);
    return fl;
}

/* A context that reached this engine through another engine's dictionary record
 * (no tail chunk with it) is treated as loaded: that engine may send into it under
 * another key prefix (two versions approved in one second), so this engine's sends
 * into it are not flagged `first`, and the campaign report takes the exact path. */
static void synced_context_is_loaded(void **st)
{
    (void)st;
    test_alloc_reset();
    test_store *ts = test_store_new();
    test_feed feed;
    test_feed_init(&feed);
    evfx a = {ts, test_feed_engine(ts, &feed, 1), 0}, b = {ts, test_feed_engine(ts, &feed, 2), 0},
         c = {ts, test_feed_engine(ts, &feed, 3), 0};
    assert_int_equal(eng_org_create(a.e, "acme", NULL, "admin", NULL), ENG_OK);
    evfx_customers(&a, 20);
    eng__sent_result r = send_ver(&a, 1, 2, 2000, 0, 10, 1000);
    assert_int_equal(r.accepted, 10);
    same_as_stored(b.e, ts, 10);
    same_as_stored(c.e, ts, 10);
    /* C (A's sends are in its hash index: it read them) sends A's keys again into the
     * context of version second 1: its batch stores that context's dictionary record alone */
    r = send_ver(&c, 1, 1, 2000, 0, 10, 2000);
    assert_int_equal(r.accepted, 0);
    assert_int_equal(r.duplicates, 10);
    /* B reads that record alone, then sends into the context: not its own, not flagged */
    r = send_ver(&b, 1, 1, 1500, 0, 5, 3000);
    assert_int_equal(r.accepted, 5);
    flags_in fb = flags_of(b.e, 3000, 4000);
    assert_int_equal(fb.rows, 5);
    assert_int_equal(fb.flagged, 0);
    /* A sends the other version into it after reading B's rows: not flagged either */
    r = send_ver(&a, 1, 1, 1000, 0, 5, 4000);
    assert_int_equal(r.accepted, 5);
    flags_in fa = flags_of(a.e, 3000, 5000);
    assert_int_equal(fa.rows, 10);
    assert_int_equal(fa.flagged, 0);
    /* a context B makes itself is flagged */
    r = send_ver(&b, 2, 1, 1000, 0, 5, 6000);
    assert_int_equal(r.accepted, 5);
    fb = flags_of(b.e, 6000, 7000);
    assert_int_equal(fb.flagged, 5);
    same_as_stored(a.e, ts, 25);
    eng_close(c.e);
    eng_close(a.e);
    eng_close(b.e);
    test_feed_free(&feed);
    test_store_free(ts);
    test_alloc_assert_clean();
}

/* A's send of campaign 2 (a new context and a tail chunk, one batch), from inside B's load. */
static void a_sends_campaign_2(void *user)
{
    evfx_send(user, "acme", 2, 0, 10, ENG_CH_EMAIL, 2000);
}

/* Another engine's batch (a new context's dictionary record and the chunk of its sends)
 * committed while this engine loads, after it read the dictionary and before the touches:
 * the load must hold every context its rows name (once, the scale_postgres X-Engage run's
 * learning loop met "no send context 6": a store whose reads are separate snapshots). */
static void load_reads_contexts_committed_midway(void **st)
{
    (void)st;
    test_alloc_reset();
    test_store *ts = test_store_new();
    test_feed feed;
    test_feed_init(&feed);
    evfx a = {ts, test_feed_engine(ts, &feed, 1), 0}, b = {ts, test_feed_engine(ts, &feed, 2), 0};
    assert_int_equal(eng_org_create(a.e, "acme", NULL, "admin", NULL), ENG_OK);
    evfx_customers(&a, 20);
    evfx_send(&a, "acme", 1, 0, 10, ENG_CH_SMS, 1000);
    test_store_before(ts, TV_GET | TV_SCAN, "e/0000/t/", a_sends_campaign_2, &a);
    /* B's first read of events: inside one enter, as the learning loop's */
    assert_int_equal(eng__enter(b.e), ENG_OK);
    eng__sends_view s;
    assert_int_equal(eng__sends_view_get(b.e, &s), ENG_OK);
    uint32_t live = 0, camp2 = 0;
    for (uint32_t i = 0; i < s.n; i++) {
        if (s.hot[i].org == ENG__NO_ORG)
            continue;
        uint64_t campaign, message;
        uint32_t version, occurrence;
        assert_int_equal(eng__ctx_get(b.e, s.hot[i].org, s.ctx[i], &campaign, &message, &version, &occurrence), ENG_OK);
        live++;
        camp2 += campaign == 2;
    }
    eng__leave(b.e);
    assert_int_equal(live, 20); /* the hook ran: A's batch is in what B loaded */
    assert_int_equal(camp2, 10);
    same_as_stored(b.e, ts, 20);
    eng_close(a.e);
    eng_close(b.e);
    test_feed_free(&feed);
    test_store_free(ts);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(appends_are_read_not_reloaded),
        cmocka_unit_test(synced_context_is_loaded),
        cmocka_unit_test(load_reads_contexts_committed_midway),
    };
    return cmocka_run_group_tests_name("events: several engines on one store", tests, NULL, NULL);
}
