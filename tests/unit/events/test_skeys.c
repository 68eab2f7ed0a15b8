/* The `sent` rows' key hashes not stored for the sends flagged `first` (payload flag
 * ENG__TSEG_SKEYS, record schema 3, src/events/tseg.c; made again by sends.c's
 * eng__sends_rekey where a send goes to the hash index). One script into three stores:
 * A of the format before (every key stored, eng__tseg_skeys = 0), B of this one, C of the
 * format before for its first half and this one after (an upgraded store). The script
 * has sends the key map holds (dense customers), flagged sends the hash index holds
 * (customers too sparse for a map, a second channel of a customer), unflagged sends
 * (keys not of the dispatcher's form), seals of 64 rows, reopens and a compaction; after
 * each reopen every send's receipt is accepted, and the three stores hold the same
 * per-send state, the same hash index (each key hash the one of the key the test wrote)
 * and the same reads; B's touch records hold no key of a flagged send and fewer bytes
 * than A's. Another engine reading B's appends finds their sends by hash; a segment
 * whose unflagged send has no key, or with a bad key bitmap, is ENG_ECORRUPT; a
 * library of the schema before refuses the records (ENG_EVERSION). */
#include "ev_fixture.h"
#include "events/ev_state.h"
#include "events/colpack.h"
#include "test_feed.h"

#define SPARSE 70001u /* customers this far apart: no key map holds them (keymap.c's cover) */

typedef struct sendset {
    uint64_t camp[24];
    uint32_t lo[24], n[24], step[24];
    int ch[24], opaque[24];
    size_t k;
} sendset;

/* `sent` of campaign's context for customers lo, lo + step, ... (n of them) in one batch. */
static void send_some(evfx *f, sendset *ss, uint64_t camp, uint32_t lo, uint32_t n, uint32_t step, int ch, int opaque)
{
    eng__send_ctx ctx = {"acme", camp, camp * 10, 1, 0};
    eng__sent_row *rows = calloc(n, sizeof *rows);
    char (*keys)[64] = calloc(n, 64);
    evfx_opaque_keys = opaque;
    for (uint32_t i = 0; i < n; i++) {
        evfx_key(keys[i], 64, camp, 0, lo + i * step, ch);
        rows[i] = (eng__sent_row){keys[i], strlen(keys[i]), lo + i * step, (uint8_t)ch, 1000 + i};
    }
    evfx_opaque_keys = 0;
    eng__sent_result res;
    memset(&res, 0, sizeof res);
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__kv_begin(f->e->store), ENG_OK);
    assert_int_equal(eng__touch_sent(f->e, &ctx, rows, n, &res), ENG_OK);
    assert_int_equal(eng__kv_commit(f->e->store), ENG_OK);
    eng__leave(f->e);
    assert_int_equal(res.accepted, n);
    free(rows);
    free(keys);
    size_t k = ss->k++;
    ss->camp[k] = camp, ss->lo[k] = lo, ss->n[k] = n, ss->step[k] = step, ss->ch[k] = ch, ss->opaque[k] = opaque;
}

/* A receipt of status st for every send of ss, in one call: every one accepted. */
static void receipts_all(eng_engine *e, const sendset *ss, int st)
{
    size_t total = 0;
    for (size_t k = 0; k < ss->k; k++)
        total += ss->n[k];
    char (*keys)[64] = calloc(total, 64);
    const char **kp = calloc(total, sizeof *kp), **dp = calloc(total, sizeof *dp);
    int *sts = calloc(total, sizeof *sts);
    eng_time *ts = calloc(total, sizeof *ts);
    size_t m = 0;
    for (size_t k = 0; k < ss->k; k++)
        for (uint32_t i = 0; i < ss->n[k]; i++, m++) {
            evfx_opaque_keys = ss->opaque[k];
            evfx_key(keys[m], 64, ss->camp[k], 0, ss->lo[k] + i * ss->step[k], ss->ch[k]);
            kp[m] = keys[m];
            dp[m] = st == ENG_TOUCH_CLICKED ? "l1" : NULL;
            sts[m] = st;
            ts[m] = 5000 + st;
        }
    evfx_opaque_keys = 0;
    eng_receipts r = evfx_receipts(total, kp, sts, ts, dp);
    eng_event_report rep = ENG_EVENT_REPORT_INIT;
    assert_int_equal(eng_touch_append(e, &r, &rep), ENG_OK);
    assert_int_equal(rep.accepted, total);
    assert_int_equal(rep.unmatched, 0);
    free(keys), free(kp), free(dp), free(sts), free(ts);
}

/* Every send in the hash index has the key hash of the key the test wrote for it. */
static size_t hashed_as_written(eng_engine *e, const sendset *ss)
{
    eng__ev *ev;
    assert_int_equal(eng__enter(e), ENG_OK);
    assert_int_equal(eng__ev_get(e, &ev), ENG_OK);
    size_t hashed = 0;
    for (uint32_t id = 0; id < ev->s.n; id++) {
        if (!(ev->s.hashed[id / 64] >> (id % 64) & 1))
            continue;
        const eng__evorg *o = eng__ev_org_by_code(ev, ev->s.hot[id].org);
        const eng__ctxkey *c = &o->ctx[ev->s.ctx[id]];
        int opaque = 0;
        for (size_t k = 0; k < ss->k; k++)
            opaque |= ss->camp[k] == c->campaign && ss->opaque[k];
        char key[64];
        evfx_opaque_keys = opaque;
        evfx_key(key, sizeof key, c->campaign, 0, ev->s.customer[id], ev->s.hot[id].channel);
        evfx_opaque_keys = 0;
        assert_true(ev->s.keyhash[id] == eng__ev_keyhash(key, strlen(key)));
        hashed++;
    }
    eng__leave(e);
    return hashed;
}

typedef struct tstat {
    size_t bytes, recs, flagged, unflagged, zero_flagged;
    int schema_max;
    uint64_t digest; /* of the records, keys and values */
} tstat;

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static int tstat_cb(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    tstat *t = user;
    t->digest = mix(mix(t->digest, key, klen), val, vlen);
    eng__rec rec;
    assert_int_equal(eng__rec_decode(key, klen, val, vlen, ENG__REC_EV_TSEG, ENG__TSEG_V_SKEYS, &rec), ENG_OK);
    t->bytes += vlen;
    t->recs++;
    t->schema_max = rec.schema > t->schema_max ? rec.schema : t->schema_max;
    return ENG_OK;
}

/* The touch records' bytes and schemas, and the keys of the rows the engine holds
 * (segments resolved as it keeps them, the tail's chunks). */
static tstat touch_stat(evfx *f)
{
    tstat t;
    memset(&t, 0, sizeof t);
    eng__ev *ev;
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__kv_scan(f->e->store, "e/0000/t/", 9, tstat_cb, &t), ENG_OK);
    assert_int_equal(eng__ev_get(f->e, &ev), ENG_OK);
    eng__evorg *o = eng__ev_org_by_code(ev, 0);
    eng__tcols d;
    memset(&d, 0, sizeof d);
    for (size_t i = 0; i <= o->tseg.n; i++) {
        const eng__tcols *c = &o->tail;
        if (i < o->tseg.n) {
            const uint8_t *p;
            size_t len;
            assert_int_equal(eng__tseg_payload(ev, o, i, &p, &len), ENG_OK);
            assert_int_equal(eng__tseg_decode(p, len, "seg", &d, &f->e->mem), ENG_OK);
            c = &d;
        }
        for (size_t r = 0, k = 0; r < c->n; r++) {
            if (c->status[r] != ENG_TOUCH_SENT)
                continue;
            uint64_t h = c->keyhash[k++];
            t.flagged += c->first[r];
            t.unflagged += !c->first[r];
            t.zero_flagged += c->first[r] && !h;
            assert_true(h || c->first[r]); /* only a flagged send's key may be left out */
        }
    }
    eng__tcols_free(&d, &f->e->mem);
    eng__leave(f->e);
    return t;
}

/* The script into f: the first phase with skeys s1, the rest with s2. */
static void script(evfx *f, sendset *ss, int s1, int s2)
{
    memset(ss, 0, sizeof *ss);
    eng__tseg_skeys = (uint8_t)s1;
    send_some(f, ss, 1, 0, 150, 1, ENG_CH_EMAIL, 0);      /* a key map's */
    send_some(f, ss, 1, 150, 150, 1, ENG_CH_EMAIL, 0);
    send_some(f, ss, 1, 0, 50, 1, ENG_CH_SMS, 0);         /* a second channel: hashed, flagged */
    send_some(f, ss, 2, 0, 40, SPARSE, ENG_CH_EMAIL, 0);  /* too sparse for a map: hashed, flagged */
    send_some(f, ss, 3, 0, 60, 1, ENG_CH_EMAIL, 1);       /* other keys: hashed, not flagged */
    send_some(f, ss, 6, 99999998, 4, 1, ENG_CH_EMAIL, 0); /* customers of 8 and 9 digits... */
    send_some(f, ss, 6, 99999998, 4, 1, ENG_CH_SMS, 0);   /* ...whose keys are made again */
    send_some(f, ss, 7, 123456789, 5, 900000001u, ENG_CH_EMAIL, 0); /* 9 and 10 digits */
    receipts_all(f->e, ss, ENG_TOUCH_DELIVERED);
    evfx_reopen(f);
    eng__tseg_skeys = (uint8_t)s2;
    receipts_all(f->e, ss, ENG_TOUCH_OPENED);
    send_some(f, ss, 4, 7, 200, 1, ENG_CH_EMAIL, 0);
    send_some(f, ss, 5, 3, 30, SPARSE, ENG_CH_SMS, 0);
    send_some(f, ss, 1, 300, 20, 1, ENG_CH_EMAIL, 0);     /* a loaded context: hashed, not flagged */
    evfx_reopen(f);
    receipts_all(f->e, ss, ENG_TOUCH_CLICKED);
    assert_int_equal(eng_events_compact(f->e), ENG_OK);
    evfx_reopen(f);
}

static void sends_of(evfx *f, evfx_sends *s)
{
    assert_int_equal(eng__enter(f->e), ENG_OK);
    evfx_sends_take(f, s);
    eng__leave(f->e);
}

static void stores_alike(void **st)
{
    (void)st;
    size_t seal = eng__seg_seal_rows;
    eng__seg_seal_rows = 64; /* segments, chunks named and kept, blocks */
    evfx a, b, c;
    sendset sa, sb, sc;
    evfx_open(&a, 0), evfx_open(&b, 0), evfx_open(&c, 0);
    script(&a, &sa, 0, 0);
    tstat ta = touch_stat(&a);
    script(&b, &sb, 1, 1);
    tstat tb = touch_stat(&b);
    script(&c, &sc, 0, 1);
    tstat tc = touch_stat(&c);
    eng__tseg_skeys = 1;
    print_message("touch records: A %zu B %zu C %zu bytes; flagged sends %zu, unflagged %zu\n", ta.bytes, tb.bytes,
                  tc.bytes, tb.flagged, tb.unflagged);
    /* what each store holds */
    assert_true(ta.schema_max <= ENG__TSEG_V_REFS && tb.schema_max == ENG__TSEG_V_SKEYS);
    assert_int_equal(ta.zero_flagged, 0);
    assert_true(tb.flagged > 0 && tb.unflagged > 0);
    assert_int_equal(tb.zero_flagged, tb.flagged); /* no flagged send's key stored */
    assert_true(tb.bytes + 8 * tb.flagged / 2 < ta.bytes);
    assert_int_equal(tc.zero_flagged, tc.flagged); /* compaction rewrote the old segments without them */
    assert_true(tc.digest == tb.digest && tc.bytes == tb.bytes); /* the upgraded store compacted is B's */
    assert_true(ta.digest != tb.digest);
    /* each store's sends, hash index and reads alike */
    evfx_sends x, y, z;
    sends_of(&a, &x), sends_of(&b, &y), sends_of(&c, &z);
    evfx_sends_assert_equal(&x, &y);
    evfx_sends_assert_equal(&x, &z);
    evfx_sends_free(&x), evfx_sends_free(&y), evfx_sends_free(&z);
    size_t ha = hashed_as_written(a.e, &sa), hb = hashed_as_written(b.e, &sb), hc = hashed_as_written(c.e, &sc);
    assert_int_equal(ha, hb);
    assert_int_equal(ha, hc);
    assert_int_equal(hb, 50 + 39 + 60 + 29 + 20 + 4 + 4); /* every send no map holds (a sparse context's first is its map's) */
    for (uint64_t camp = 1; camp <= 7; camp++) {
        uint64_t ca[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT], cb[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT],
            cc[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT];
        assert_int_equal(eng_touch_status_counts(a.e, "acme", camp, 0, ca, ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT), ENG_OK);
        assert_int_equal(eng_touch_status_counts(b.e, "acme", camp, 0, cb, ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT), ENG_OK);
        assert_int_equal(eng_touch_status_counts(c.e, "acme", camp, 0, cc, ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT), ENG_OK);
        assert_memory_equal(ca, cb, sizeof ca);
        assert_memory_equal(ca, cc, sizeof ca);
    }
    /* the receipts again: duplicates in all three, found by map or hash */
    receipts_all(a.e, &sa, ENG_TOUCH_BOUNCED);
    receipts_all(b.e, &sb, ENG_TOUCH_BOUNCED);
    evfx *all[3] = {&a, &b, &c};
    for (int i = 0; i < 3; i++) /* all closed before the allocations are counted */
        eng_close(all[i]->e);
    for (int i = 0; i < 3; i++)
        test_store_free(all[i]->ts);
    test_alloc_assert_clean();
    eng__seg_seal_rows = seal;
}

/* Another engine reads this one's chunks: their flagged sends into its hash index by the keys made again. */
static void other_engine_reads_them(void **st)
{
    (void)st;
    test_alloc_reset();
    test_store *ts = test_store_new();
    test_feed feed;
    test_feed_init(&feed);
    evfx f = {ts, test_feed_engine(ts, &feed, 1), 0};
    assert_int_equal(eng_org_create(f.e, "acme", NULL, "admin", NULL), ENG_OK);
    sendset ss;
    memset(&ss, 0, sizeof ss);
    send_some(&f, &ss, 1, 0, 20, 1, ENG_CH_EMAIL, 0);
    eng_engine *other = test_feed_engine(ts, &feed, 2);
    assert_int_equal(hashed_as_written(other, &ss), 0); /* loaded: in the map */
    send_some(&f, &ss, 2, 0, 30, 1, ENG_CH_EMAIL, 0);   /* a new context: flagged, no key stored */
    send_some(&f, &ss, 3, 0, 10, SPARSE, ENG_CH_SMS, 0);
    assert_int_equal(hashed_as_written(other, &ss), 40); /* its catch-up: hashed again */
    receipts_all(other, &ss, ENG_TOUCH_DELIVERED);
    eng_close(other);
    eng_close(f.e);
    test_feed_free(&feed);
    test_store_free(ts);
    test_alloc_assert_clean();
}

/* Damaged key columns: ENG_ECORRUPT, never a send without its key. */
static void damaged_keys(void **st)
{
    (void)st;
    evfx f;
    evfx_open(&f, 0);
    const eng__mem *mem = &f.e->mem;
    eng__tcols c, d;
    memset(&c, 0, sizeof c), memset(&d, 0, sizeof d);
    assert_int_equal(eng__tcols_reserve(&c, mem, 12), ENG_OK);
    assert_int_equal(eng__tcols_key_reserve(&c, mem, 12), ENG_OK);
    /* nine sends (flagged without a key, unflagged with one, flagged with one: a store of the
     * format before) and three receipts */
    for (uint32_t i = 0; i < 12; i++) {
        c.time[i] = 100 + i, c.customer[i] = i, c.ctx[i] = 0, c.channel[i] = ENG_CH_EMAIL, c.send[i] = i % 9;
        c.detail[i] = 0, c.status[i] = i < 9 ? ENG_TOUCH_SENT : ENG_TOUCH_OPENED, c.first[i] = i % 3 != 1;
        if (i < 9)
            c.keyhash[c.nkey++] = i % 3 == 0 ? 0 : 0x1234567800ull + i;
    }
    c.n = 12;
    uint64_t keep[9];
    memcpy(keep, c.keyhash, sizeof keep);
    for (int way = 0; way < 7; way++) {
        eng__wr w;
        eng__wr_init(&w, mem);
        if (way == 1)
            c.keyhash[1] = 0; /* an unflagged send without its key */
        if (way == 6)
            memset(c.keyhash, 0, sizeof keep); /* no key stored, one of them an unflagged send's */
        eng__tseg_encode(&w, &c, 0, c.n, 0, c.nkey, 0);
        memcpy(c.keyhash, keep, sizeof keep);
        assert_false(w.err);
        eng__rd r;
        eng__seg z;
        uint64_t nk;
        uint8_t kind;
        eng__rd_init(&r, w.data, w.len);
        assert_int_equal(eng__tseg_head(&r, "k", &z, &nk, &kind), ENG_OK);
        assert_true(z.skeys && kind == 2 && nk == 9);
        for (int col = 0; col < 7; col++)
            eng__unpack_skip(&r, c.n);
        uint8_t *at = (uint8_t *)r.p; /* the keys: uvar stored (6), a bitmap of 2 bytes, the keys */
        assert_int_equal(at[0], way == 1 ? 5 : way == 6 ? 0 : 6);
        if (way == 2)
            at[0] = 10; /* more stored than sent rows */
        if (way == 3)
            at[2] |= 0x80; /* a bit past the last sent row */
        if (way == 4)
            at[1] ^= 0x06; /* a flagged row's bit for an unflagged one's */
        if (way == 5)
            memset(at + 3, 0, 8); /* a stored key of 0 */
        int rc = eng__tseg_decode(w.data, w.len, "e/0000/t/s/00000007", &d, mem);
        if (way == 0) {
            assert_int_equal(rc, ENG_OK);
            assert_int_equal(d.nkey, 9);
            assert_memory_equal(d.keyhash, c.keyhash, 9 * sizeof *d.keyhash);
        } else {
            assert_int_equal(rc, ENG_ECORRUPT);
            assert_non_null(strstr(eng_error_last()->detail, "e/0000/t/s/00000007"));
        }
        eng__wr_free(&w);
    }
    /* the format before cannot leave a key out: every key written, and a key of 0 is refused */
    eng__tseg_skeys = 0;
    eng__wr w;
    eng__wr_init(&w, mem);
    eng__tseg_encode(&w, &c, 0, c.n, 0, c.nkey, 0);
    eng__tseg_skeys = 1;
    assert_int_equal(w.data[0], 2);
    assert_int_equal(eng__tseg_decode(w.data, w.len, "k0", &d, mem), ENG_ECORRUPT);
    eng__wr_free(&w);
    eng__tcols_free(&c, mem), eng__tcols_free(&d, mem);
    evfx_close(&f);
}

/* A library that reads schemas up to 2 stops at this one's records with ENG_EVERSION. */
static void older_library_refuses(void **st)
{
    (void)st;
    evfx f;
    sendset ss;
    memset(&ss, 0, sizeof ss);
    evfx_open(&f, 0);
    send_some(&f, &ss, 1, 0, 10, 1, ENG_CH_EMAIL, 0);
    uint8_t *v;
    size_t len;
    const char *key = "e/0000/t/c/0000000000000000";
    assert_int_equal(test_store_raw_get(f.ts, key, &v, &len), 0);
    eng__rec rec;
    assert_int_equal(eng__rec_decode(key, strlen(key), v, len, ENG__REC_EV_TSEG, ENG__TSEG_V_REFS, &rec), ENG_EVERSION);
    assert_int_equal(eng__rec_decode(key, strlen(key), v, len, ENG__REC_EV_TSEG, ENG__TSEG_V_SKEYS, &rec), ENG_OK);
    assert_true(rec.payload[0] & ENG__TSEG_SKEYS);
    free(v);
    evfx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stores_alike),
        cmocka_unit_test(other_engine_reads_them),
        cmocka_unit_test(damaged_keys),
        cmocka_unit_test(older_library_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
