/* Ordered touch segments (payload kind 3, src/events/tsum.c): a store whose
 * sealed segments are partly of the older kind (2, storage order) and partly
 * ordered by (status, customer) with their table reads the same rows as one
 * with only older segments, and as that one once compaction has ordered them — by scan, per customer, per send (receipts joined
 * by key hash after a reopen), per campaign's counts — before and after a
 * reopen and a retention rewrite; each ordered segment's rows are in order and
 * its table equals a count of its rows made here; a table or an order that
 * does not match its rows is ENG_ECORRUPT naming the segment. */
#include "ev_fixture.h"
#include "events/ev_state.h"
#include "tseg_damage.h"

#define NS (ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT)
#define NCUST 300

typedef struct row {
    eng_time time;
    uint32_t customer, ctx, send, detail;
    uint8_t channel, status, first, pad;
} row;

static int row_cmp(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(row));
}

typedef struct rows {
    row *v;
    size_t n, cap;
} rows;

static int collect(const eng__touch_cols *c, void *u)
{
    rows *r = u;
    for (size_t i = 0; i < c->n; i++) {
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 1024;
            r->v = realloc(r->v, r->cap * sizeof *r->v);
        }
        row x;
        memset(&x, 0, sizeof x);
        x.time = c->time[i], x.customer = c->customer[i], x.ctx = c->ctx[i];
        x.send = c->send ? c->send[i] : 0; /* a table's rows come without send and detail */
        x.detail = c->detail ? c->detail[i] : 0, x.channel = c->channel[i], x.status = c->status[i], x.first = c->first[i];
        r->v[r->n++] = x;
    }
    return 0;
}

/* Every row of acme, sorted (the multiset). */
static rows all_rows(evfx *f)
{
    rows r = {NULL, 0, 0};
    eng__touch_filter flt;
    eng__touch_filter_init(&flt);
    flt.org = "acme";
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__touch_scan(f->e, &flt, collect, &r), ENG_OK);
    eng__leave(f->e);
    qsort(r.v, r.n, sizeof *r.v, row_cmp);
    return r;
}

/* Receipts of campaign `camp` for customers [lo, hi) step `step`, one batch. */
static void receipts(evfx *f, uint64_t camp, int ch, int status, uint32_t lo, uint32_t hi, uint32_t step, eng_time t)
{
    size_t n = 0, cap = (hi - lo) / step + 1;
    char (*k)[64] = calloc(cap, 64);
    const char **keys = calloc(cap, sizeof *keys), **dets = calloc(cap, sizeof *dets);
    int *st = calloc(cap, sizeof *st);
    eng_time *ts = calloc(cap, sizeof *ts);
    for (uint32_t c = hi; c-- > lo;) /* descending: storage order is not customer order */
        if ((c - lo) % step == 0) {
            evfx_key(k[n], 64, camp, 0, c, ch);
            keys[n] = k[n], dets[n] = status == ENG_TOUCH_FAILED ? "bounced" : NULL, st[n] = status;
            ts[n] = t + c;
            n++;
        }
    eng_receipts r = evfx_receipts(n, keys, st, ts, dets);
    eng_event_report rep = ENG_EVENT_REPORT_INIT;
    assert_int_equal(eng_touch_append(f->e, &r, &rep), ENG_OK);
    assert_int_equal(rep.accepted, n);
    free(k), free(keys), free(dets), free(st), free(ts);
}

/* The same writes into either store; `mixed`: seals alternate between the older
 * kind and the ordered one (eng__tseg_ordered is read when a segment is sealed). */
static void write_all(evfx *f, int mixed, eng_time now)
{
    int call = 0;
#define ORDER() (eng__tseg_ordered = (uint8_t)(mixed && (call++ / 2) % 2))
    for (uint64_t camp = 1; camp <= 3; camp++) {
        eng_time t = now - (camp == 1 ? 40 : 5) * ENG_DAY + (eng_time)camp * ENG_HOUR;
        for (uint32_t lo = NCUST; lo > 0; lo -= 60) { /* chunks in descending customer order */
            ORDER();
            evfx_send(f, "acme", camp, lo - 60, lo, camp == 2 ? ENG_CH_SMS : ENG_CH_EMAIL, t);
        }
        if (camp == 3) { /* a second channel */
            ORDER();
            evfx_send(f, "acme", camp, 0, NCUST, ENG_CH_SMS, t + 7);
        }
        ORDER();
        receipts(f, camp, camp == 2 ? ENG_CH_SMS : ENG_CH_EMAIL, ENG_TOUCH_DELIVERED, 0, NCUST, 1, t + 20000);
        ORDER();
        receipts(f, camp, camp == 2 ? ENG_CH_SMS : ENG_CH_EMAIL, ENG_TOUCH_OPENED, 0, NCUST, 3, t + 40000);
        ORDER();
        receipts(f, camp, camp == 2 ? ENG_CH_SMS : ENG_CH_EMAIL, ENG_TOUCH_FAILED, 1, NCUST, 7, t + 60000);
    }
    /* Sends of campaign 1 again under other keys: rows not flagged `first`. */
    evfx_opaque_keys = 1;
    for (uint32_t lo = 100; lo > 0; lo -= 50) {
        ORDER();
        evfx_send(f, "acme", 1, lo - 50, lo, ENG_CH_EMAIL, now - 39 * ENG_DAY);
    }
    ORDER();
    assert_int_equal(eng_events_compact(f->e), ENG_OK); /* seals the tail */
    evfx_opaque_keys = 0;
#undef ORDER
}

/* Each ordered segment of f in order and its table a count of its rows;
 * counts the segments of each kind. */
static void check_segments(evfx *f, int kinds[5])
{
    memset(kinds, 0, 5 * sizeof *kinds);
    const eng__mem *mem = &f->e->mem;
    for (uint32_t id = 0; id < 256; id++) {
        char key[48];
        snprintf(key, sizeof key, "e/0000/t/s/%08x", id);
        uint8_t *v;
        size_t len;
        if (test_store_raw_get(f->ts, key, &v, &len))
            continue;
        eng__rec rec;
        assert_int_equal(eng__rec_decode(key, strlen(key), v, len, ENG__REC_EV_TSEG, ENG__TSEG_V_SKEYS, &rec), ENG_OK);
        uint8_t pk = rec.payload[0] & ~ENG__TSEG_SKEYS; /* the kind, without the keys' format */
        assert_true(pk >= 1 && pk <= 5);
        uint8_t *named = NULL; /* kind 5: the blocked segment (kind 4) of the chunks it names */
        size_t nlen = 0;
        if (pk == 5) {
            eng__ev *ev;
            assert_int_equal(eng__enter(f->e), ENG_OK);
            assert_int_equal(eng__ev_get(f->e, &ev), ENG_OK);
            assert_int_equal(eng__tref_resolve(ev, NULL, key, rec.payload, rec.len, &named, &nlen), ENG_OK);
            eng__leave(f->e);
            rec.payload = named + ENG__REC_HEADER;
            rec.len = nlen - ENG__REC_HEADER;
            pk = rec.payload[0];
        }
        kinds[pk]++;
        eng__tcols c;
        memset(&c, 0, sizeof c);
        assert_int_equal(eng__tseg_decode(rec.payload, rec.len, key, &c, mem), ENG_OK);
        assert_int_equal(c.ordered, pk == 3);
        if (c.ordered) {
            size_t total = 0;
            for (size_t i = 1; i < c.n; i++)
                assert_true(c.status[i - 1] < c.status[i] ||
                            (c.status[i - 1] == c.status[i] && c.customer[i - 1] <= c.customer[i]));
            for (size_t k = 0; k < c.nsum; k++) {
                const eng__tsum_ent *e = &c.sum[k];
                uint32_t nr = 0, nf = 0;
                for (size_t i = 0; i < c.n; i++)
                    if (c.status[i] == e->status && c.ctx[i] == e->ctx && c.channel[i] == e->channel)
                        nr++, nf += c.first[i];
                assert_int_equal(nr, e->rows);
                assert_int_equal(nf, e->first);
                total += nr;
            }
            assert_int_equal(total, c.n); /* every row's (status, ctx, channel) has its entry */
        }
        eng__tcols_free(&c, mem);
        eng__free(mem, named);
        free(v);
    }
}

/* ---- the report's table scan (eng__touch_scan_tables) ---- */

typedef struct tabscan {
    evfx *f;
    rows r;      /* rows read: from the tables' status ranges and from the other segments */
    size_t tables;
} tabscan;

static int tab_rows_cb(const eng__touch_cols *c, void *u)
{
    tabscan *t = u;
    size_t at = t->r.n;
    collect(c, &t->r);
    for (size_t i = at; i < t->r.n; i++)
        t->r.v[i].send = t->r.v[i].detail = 0; /* a table's rows come without them */
    return 0;
}

/* The rows of a status as the block reader gives them (every context's), times read by row. */
typedef struct blkrows {
    rows r;
    size_t blocks;
} blkrows;
/* Blocks of one context (their contexts checked packed, not decoded) and of several, over all scans. */
static size_t blocks_one, blocks_mixed;

static int blk_collect(const eng__touch_tab *tb, const eng__touch_blk *b, void *u)
{
    blkrows *br = u;
    assert_true(b->n > 0 && b->n <= ENG__TOUCH_BLK);
    br->blocks++;
    for (size_t i = 0; i < b->n && b->ctx1 != ENG__TOUCH_CTX_MIXED; i++)
        assert_int_equal(b->ctx[i], b->ctx1);
    ++*(b->ctx1 != ENG__TOUCH_CTX_MIXED ? &blocks_one : &blocks_mixed);
    uint32_t *idx = malloc(b->n * sizeof *idx);
    int64_t *t = malloc(b->n * sizeof *t);
    assert_non_null(idx);
    assert_non_null(t);
    for (size_t i = 0; i < b->n; i++)
        idx[b->n - 1 - i] = (uint32_t)(b->row0 + i); /* any order */
    assert_int_equal(eng__touch_tab_times(tb, idx, b->n, t), ENG_OK);
    for (size_t i = 0; i < b->n; i++) {
        if (br->r.n == br->r.cap) {
            br->r.cap = br->r.cap ? br->r.cap * 2 : 1024;
            br->r.v = realloc(br->r.v, br->r.cap * sizeof *br->r.v);
        }
        row x;
        memset(&x, 0, sizeof x);
        x.time = t[b->n - 1 - i], x.customer = b->customer[i], x.ctx = b->ctx[i], x.channel = b->channel[i];
        br->r.v[br->r.n++] = x;
    }
    free(idx), free(t);
    return 0;
}

/* The block reader's rows of status st equal the row reader's c, rows of contexts
 * that c leaves out (another campaign's) aside, in the same order. */
static void blocks_match(const eng__touch_tab *tb, unsigned st, const eng__touch_cols *c)
{
    rows want = {NULL, 0, 0}; /* copied: the block reader decodes into the buffers c points to */
    collect(c, &want);
    blkrows br = {{NULL, 0, 0}, 0};
    assert_int_equal(eng__touch_tab_blocks(tb, st, blk_collect, &br), ENG_OK);
    size_t k = 0;
    for (size_t i = 0; i < br.r.n; i++) {
        int kept = 0; /* a context of the filter's: one c has rows of */
        for (size_t j = 0; j < want.n && !kept; j++)
            kept = want.v[j].ctx == br.r.v[i].ctx;
        if (!kept)
            continue;
        assert_true(k < want.n);
        assert_int_equal(br.r.v[i].customer, want.v[k].customer);
        assert_int_equal(br.r.v[i].time, want.v[k].time);
        assert_int_equal(br.r.v[i].channel, want.v[k].channel);
        k++;
    }
    assert_int_equal(k, want.n);
    assert_true(br.blocks >= (br.r.n + ENG__TOUCH_BLK - 1) / ENG__TOUCH_BLK);
    free(br.r.v), free(want.v);
}

/* Each status of a table: its rows (the filter's contexts) read, and every entry of
 * those contexts equal to a count of them; the entries checked against the rows;
 * the block reader's rows equal to the row reader's. */
static int tab_cb(const eng__touch_tab *tb, void *u)
{
    tabscan *t = u;
    t->tables++;
    for (size_t j = 1; j < tb->nent; j++)
        assert_true(tb->ent[j - 1].status < tb->ent[j].status ||
                    (tb->ent[j - 1].status == tb->ent[j].status && tb->ent[j - 1].ctx <= tb->ent[j].ctx));
    for (unsigned st = 0; st < ENG_TOUCH_STATUS_COUNT; st++) {
        assert_int_equal(eng__touch_tab_check(tb, st), ENG_OK);
        eng__touch_cols c;
        assert_int_equal(eng__touch_tab_rows(tb, st, &c), ENG_OK);
        assert_null(c.send);
        for (size_t i = 0; i < c.n; i++) {
            assert_int_equal(c.status[i], st);
            if (i)
                assert_true(c.customer[i - 1] <= c.customer[i]);
        }
        for (size_t j = 0; j < tb->nent; j++) {
            const eng__touch_ent *e = &tb->ent[j];
            uint32_t nr = 0, nf = 0;
            for (size_t i = 0; i < c.n; i++)
                if (e->status == st && c.ctx[i] == e->ctx && c.channel[i] == e->channel)
                    nr++, nf += c.first[i];
            assert_true(nr == 0 || (nr == e->rows && nf == e->first)); /* 0: another campaign's */
        }
        tab_rows_cb(&c, u);
        assert_int_equal(eng__touch_tab_rows(tb, st, &c), ENG_OK); /* again: the blocks reuse its buffers */
        blocks_match(tb, st, &c);
    }
    return 0;
}

/* A table scan of @p camp in [from, to) reads the rows a plain scan gives; returns the tables visited. */
static size_t table_scan_matches(evfx *f, uint64_t camp, eng_time from, eng_time to)
{
    eng__touch_filter flt;
    eng__touch_filter_init(&flt);
    flt.org = "acme";
    flt.campaign = camp;
    flt.from = from;
    flt.to = to;
    tabscan t = {f, {NULL, 0, 0}, 0};
    rows want = {NULL, 0, 0};
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__touch_scan_tables(f->e, &flt, tab_cb, tab_rows_cb, &t), ENG_OK);
    assert_int_equal(eng__touch_scan(f->e, &flt, collect, &want), ENG_OK);
    flt.statuses = 1;
    assert_int_equal(eng__touch_scan_tables(f->e, &flt, tab_cb, tab_rows_cb, &t), ENG_EINVAL);
    eng__leave(f->e);
    for (size_t i = 0; i < want.n; i++)
        want.v[i].send = want.v[i].detail = 0;
    assert_int_equal(t.r.n, want.n);
    if (want.n) {
        qsort(want.v, want.n, sizeof *want.v, row_cmp);
        qsort(t.r.v, t.r.n, sizeof *t.r.v, row_cmp);
    }
    if (want.n)
        assert_memory_equal(t.r.v, want.v, want.n * sizeof *want.v);
    free(want.v), free(t.r.v);
    return t.tables;
}

/* Every campaign over all time, and over ranges that cut through segments. */
static void table_scans(evfx *f, int ordered, eng_time now)
{
    size_t tables = 0, late = 0, early = 0;
    for (uint64_t camp = 0; camp <= 3; camp++) {
        eng__touch_tab_dense = camp % 2 ? 16 : 1024; /* the block reader's two checks, in turn */
        tables += table_scan_matches(f, camp, 0, 0);
        late += table_scan_matches(f, camp, now - 5 * ENG_DAY + 2 * ENG_HOUR + 30000, 0);
        early += table_scan_matches(f, camp, now - 6 * ENG_DAY, now - 5 * ENG_DAY + 3 * ENG_HOUR + 30000);
    }
    printf("table scans: %zu tables over all time, %zu and %zu inside two cut ranges\n", tables, late, early);
    assert_true(ordered ? tables > 0 && late < tables && early < tables : tables + late + early == 0);
}

static void same_reads(evfx *a, evfx *b)
{
    rows x = all_rows(a), y = all_rows(b);
    assert_int_equal(x.n, y.n);
    assert_memory_equal(x.v, y.v, x.n * sizeof *x.v);
    free(x.v), free(y.v);
    for (uint64_t camp = 1; camp <= 3; camp++) {
        uint64_t ca[NS], cb[NS];
        assert_int_equal(eng_touch_status_counts(a->e, "acme", camp, 0, ca, NS), ENG_OK);
        assert_int_equal(eng_touch_status_counts(b->e, "acme", camp, 0, cb, NS), ENG_OK);
        assert_memory_equal(ca, cb, sizeof ca);
    }
    for (uint32_t c = 0; c < NCUST; c += 13) { /* by time; every customer's times differ */
        eng__touch_buf ba, bb;
        assert_int_equal(eng__enter(a->e), ENG_OK);
        assert_int_equal(eng__touch_customer(a->e, "acme", c, NULL, &ba), ENG_OK);
        eng__leave(a->e);
        assert_int_equal(eng__enter(b->e), ENG_OK);
        assert_int_equal(eng__touch_customer(b->e, "acme", c, NULL, &bb), ENG_OK);
        eng__leave(b->e);
        assert_int_equal(ba.c.n, bb.c.n);
        assert_memory_equal(ba.c.time, bb.c.time, ba.c.n * sizeof *ba.c.time);
        assert_memory_equal(ba.c.status, bb.c.status, ba.c.n);
        assert_memory_equal(ba.c.send, bb.c.send, ba.c.n * sizeof *ba.c.send);
        eng__touch_buf_free(a->e, &ba);
        eng__touch_buf_free(b->e, &bb);
    }
}

/* Both engines closed before the allocation check; the switches as they were. */
static void close_both(evfx *a, evfx *b, uint32_t seal)
{
    eng_close(a->e);
    test_store_free(a->ts);
    evfx_close(b);
    eng__seg_seal_rows = seal;
    eng__tseg_ordered = 0;
}

static void mixed_store_reads_the_same(void **st)
{
    (void)st;
    uint32_t seal = eng__seg_seal_rows;
    eng__seg_seal_rows = 256; /* a few hundred rows a segment: receipts and sends mix in them */
    evfx a, b;
    evfx_open(&a, 0);
    evfx_open(&b, 0);
    eng_time now = test_clock_now;
    eng__tseg_order_compact = 0; /* compaction leaves the kinds as sealed (a: kind 2 only) */
    write_all(&a, 0, now);
    write_all(&b, 1, now);
    eng__tseg_ordered = 1;
    int ka[5], kb[5];
    check_segments(&a, ka);
    check_segments(&b, kb);
    assert_int_equal(ka[3], 0);
    assert_true(ka[2] > 0 && ka[4] > 0); /* sealed from rows and from chunks' bytes (tblock.c) */
    assert_true(kb[2] > 0 && kb[3] > 0); /* mixed */
    same_reads(&a, &b);
    table_scans(&a, 0, now);
    table_scans(&b, 1, now);
    assert_true(blocks_one > 0 && blocks_mixed > 0); /* both of the block reader's ways */
    evfx_reopen(&a);
    evfx_reopen(&b);
    same_reads(&a, &b);
    /* Receipts of the unflagged sends, found by their keys' hashes (kept with the
     * sent rows, in the ordered segments' order), after the reopen. */
    evfx_opaque_keys = 1;
    receipts(&a, 1, ENG_CH_EMAIL, ENG_TOUCH_CLICKED, 0, 100, 9, now - 38 * ENG_DAY);
    receipts(&b, 1, ENG_CH_EMAIL, ENG_TOUCH_CLICKED, 0, 100, 9, now - 38 * ENG_DAY);
    evfx_opaque_keys = 0;
    same_reads(&a, &b);
    /* Retention rewrites the segments holding campaign 1 (now ordered, both stores). */
    eng__tseg_ordered = 0;
    assert_int_equal(eng_events_set_retention(a.e, "admin", 30), ENG_OK);
    assert_int_equal(eng_events_compact(a.e), ENG_OK);
    eng__tseg_ordered = 1;
    assert_int_equal(eng_events_set_retention(b.e, "admin", 30), ENG_OK);
    assert_int_equal(eng_events_compact(b.e), ENG_OK);
    check_segments(&b, kb);
    assert_true(kb[3] > 0);
    same_reads(&a, &b);
    table_scans(&b, 1, now);
    evfx_reopen(&a);
    evfx_reopen(&b);
    same_reads(&a, &b);
    rows x = all_rows(&b);
    for (size_t i = 0; i < x.n; i++)
        assert_true(x.v[i].time >= now - 30 * ENG_DAY); /* campaign 1's sends are gone */
    free(x.v);
    /* Compaction orders every older segment (the default): a's become kind 3, and read the same. */
    eng__tseg_ordered = 0;
    eng__tseg_order_compact = 1;
    check_segments(&a, ka);
    assert_true(ka[2] + ka[4] > 0 && ka[3] == 0);
    assert_int_equal(eng_events_compact(a.e), ENG_OK);
    check_segments(&a, ka);
    assert_true(ka[1] == 0 && ka[2] == 0 && ka[4] == 0 && ka[3] > 0);
    same_reads(&a, &b);
    table_scans(&a, 1, now);
    evfx_reopen(&a);
    same_reads(&a, &b);
    close_both(&a, &b, seal);
    eng__touch_tab_dense = 1024;
}

/* Every status of a table read and checked: the first error. */
static int tab_all(const eng__touch_tab *tb, void *u)
{
    (void)u;
    int rc = ENG_OK;
    for (unsigned st = 0; st < ENG_TOUCH_STATUS_COUNT && !rc; st++) {
        eng__touch_cols c;
        rc = eng__touch_tab_check(tb, st);
        if (!rc)
            rc = eng__touch_tab_rows(tb, st, &c);
    }
    return rc;
}

static int blk_none(const eng__touch_tab *tb, const eng__touch_blk *b, void *u)
{
    (void)tb, (void)b, (void)u;
    return 0;
}

/* Every status of a table read by the block reader: the first error. */
static int tab_blocks(const eng__touch_tab *tb, void *u)
{
    (void)u;
    int rc = ENG_OK;
    for (unsigned st = 0; st < ENG_TOUCH_STATUS_COUNT && !rc; st++)
        rc = eng__touch_tab_blocks(tb, st, blk_none, NULL);
    return rc;
}

/* The report's readers over payload p of segment key (as a table scan opens it):
 * rows, then blocks with each of their two checks; each must give the same answer. */
static int tab_read(evfx *f, const char *key, const uint8_t *p, size_t len)
{
    eng__ev *ev;
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__ev_get(f->e, &ev), ENG_OK);
    int rc = eng__touch_tab_visit(ev, &ev->dec, 0, key, p, len, NULL, 0, tab_all, NULL);
    for (unsigned dense = 16; dense <= 1024; dense *= 64) {
        eng__touch_tab_dense = dense;
        int brc = eng__touch_tab_visit(ev, &ev->dec, 0, key, p, len, NULL, 0, tab_blocks, NULL);
        assert_int_equal(brc, rc);
        if (brc)
            assert_non_null(strstr(eng_error_last()->detail, key));
    }
    eng__leave(f->e);
    return rc;
}

/* Segment 0 of f rewritten with `mutate` applied (tseg_damage.h); the report's
 * readers of the table must find what a full decode finds. */
static void rewrite_segment(evfx *f, void (*mutate)(eng__tcols *c))
{
    const char *key = "e/0000/t/s/00000000";
    eng__wr w;
    tseg_damage(f->e, f->ts, key, mutate, &w);
    int rc = tab_read(f, key, w.data + ENG__REC_HEADER, w.len - ENG__REC_HEADER);
    if (!mutate) {
        assert_int_equal(rc, ENG_OK);
    } else {
        assert_int_equal(rc, ENG_ECORRUPT);
        assert_non_null(strstr(eng_error_last()->detail, key));
    }
    eng__wr_free(&w);
    evfx_reopen(f);
}

/* Segment 0 (two campaigns' sends; @p one: one campaign's, whose rows' contexts the
 * block reader checks packed) rewritten with each mutation in turn. */
static void corrupt_each(int one, void (*const *mutations)(eng__tcols *), size_t nmut)
{
    for (size_t m = 0; m < nmut; m++) {
        evfx f;
        evfx_open(&f, 0);
        evfx_send(&f, "acme", 1, 0, one ? 256 : 150, ENG_CH_EMAIL, 1000);
        evfx_send(&f, "acme", 2, 0, 150, ENG_CH_SMS, 5000);
        uint64_t want[NS], got[NS];
        assert_int_equal(eng_touch_status_counts(f.e, "acme", 1, 0, want, NS), ENG_OK);
        rewrite_segment(&f, mutations[m]);
        int rc = eng_touch_status_counts(f.e, "acme", 1, 0, got, NS);
        if (!mutations[m]) { /* the same payload re-framed reads back */
            assert_int_equal(rc, ENG_OK);
            assert_memory_equal(want, got, sizeof want);
        } else {
            assert_int_equal(rc, ENG_ECORRUPT);
            assert_non_null(strstr(eng_error_last()->detail, "e/0000/t/s/00000000"));
        }
        evfx_close(&f);
    }
}

static void corrupt_summary(void **st)
{
    (void)st;
    uint32_t seal = eng__seg_seal_rows;
    eng__seg_seal_rows = 256;
    eng__tseg_ordered = 1;
    void (*const mutations[])(eng__tcols *) = {NULL, tseg_more_rows, tseg_split_moved, tseg_fewer_entries, tseg_unflagged,
                                                tseg_out_of_order, tseg_other_context};
    corrupt_each(0, mutations, sizeof mutations / sizeof *mutations);
    void (*const one[])(eng__tcols *) = {NULL, tseg_unflagged, tseg_out_of_order, tseg_other_context};
    corrupt_each(1, one, sizeof one / sizeof *one);
    eng__seg_seal_rows = seal;
    eng__tseg_ordered = 0;
}

/* A segment of many campaigns' sends (its table past the direct count's 64 contexts,
 * counted through the hash) and one of customers spread over 2^31 (three digit passes
 * of the order's sort): each in order, its table a count of its rows made here, and
 * the reads those of a store that never ordered. */
static void many_contexts_wide_customers(void **st)
{
    (void)st;
    uint32_t seal = eng__seg_seal_rows;
    eng__seg_seal_rows = 256;
    evfx a, b;
    evfx_open(&a, 0);
    evfx_open(&b, 0);
    eng_time t = test_clock_now - ENG_DAY;
    for (int ordered = 0; ordered < 2; ordered++) {
        evfx *f = ordered ? &b : &a;
        eng__tseg_ordered = (uint8_t)ordered;
        for (uint32_t camp = 1; camp <= 90; camp++)
            evfx_send(f, "acme", camp, 300 - camp * 3, 303 - camp * 3, camp % 2 ? ENG_CH_EMAIL : ENG_CH_SMS, t);
        for (uint32_t i = 0; i < 3; i++) /* customers from 0 to past 2^31, not in order */
            evfx_send(f, "acme", 91 + i, (1u << 31) + 7 * i, (1u << 31) + 7 * i + 40, ENG_CH_EMAIL, t);
        for (uint32_t lo = 0; lo < 240; lo += 40)
            evfx_send(f, "acme", 94, lo * 9001, lo * 9001 + 40, ENG_CH_EMAIL, t);
        receipts(f, 5, ENG_CH_EMAIL, ENG_TOUCH_DELIVERED, 285, 288, 1, t + 1000);
        receipts(f, 92, ENG_CH_EMAIL, ENG_TOUCH_OPENED, (1u << 31) + 7, (1u << 31) + 47, 3, t + 2000);
        assert_int_equal(eng_events_compact(f->e), ENG_OK);
    }
    int k[5];
    check_segments(&b, k);
    assert_true(k[3] >= 2 && k[2] == 0 && k[4] == 0);
    /* the first segment's table spans more than 64 contexts */
    uint8_t *v;
    size_t len;
    assert_int_equal(test_store_raw_get(b.ts, "e/0000/t/s/00000000", &v, &len), ENG_OK);
    eng__rec rec;
    assert_int_equal(eng__rec_decode("e/0000/t/s/00000000", 19, v, len, ENG__REC_EV_TSEG, ENG__TSEG_V_SKEYS, &rec), ENG_OK);
    eng__tcols c;
    memset(&c, 0, sizeof c);
    assert_int_equal(eng__tseg_decode(rec.payload, rec.len, "e/0000/t/s/00000000", &c, &b.e->mem), ENG_OK);
    assert_true(c.ordered && c.nsum > 64);
    eng__tcols_free(&c, &b.e->mem);
    free(v);
    same_reads(&a, &b);
    evfx_reopen(&b);
    same_reads(&a, &b);
    close_both(&a, &b, seal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mixed_store_reads_the_same),
        cmocka_unit_test(corrupt_summary),
        cmocka_unit_test(many_contexts_wide_customers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
