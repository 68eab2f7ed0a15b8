/* Sealed segments that name their tail chunks' records (payload kind 5, events/tref.c).
 *
 * One script of `sent` and receipt batches of mixed sizes, with a small seal, written
 * into three stores: A naming the chunks (the default), B in the format before (kind 4,
 * eng__tseg_refs = 0), C in the format before for its first half and naming for the
 * rest (a store of the format before, upgraded). Each of A's and C's kind-5 segments
 * resolved is B's segment of the same id byte for byte, and the others are B's as
 * stored; the sends read back are the same, also after a reopen; A stores fewer bytes;
 * after compaction the three stores' touch records are the same byte for byte and no
 * chunk is left that is neither named nor the tail's. A named chunk missing, replaced
 * by another, or damaged, a torn record and a name of a chunk that is not there give
 * ENG_ECORRUPT naming the record; retention dropping every row leaves no touch record;
 * every storage call of a compaction that deletes named chunks failing in turn leaves
 * the store as it was, and the retry gives the undisturbed store. */
#include "ev_fixture.h"
#include "ev_rcpts.h"
#include "events/ev_state.h"
#include "../model/store_digest.h"
#include "fault_sweep.h"

#define SEAL 256
#define NS (ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT)


/* The script: nb batches from seed, sends to the next customers or receipts of sent ones. */
typedef struct script {
    uint64_t rng;
    uint32_t nsent, ndeliv, nopen, n;
} script;

static void batch(evfx *f, script *s)
{
    uint64_t x = test_splitmix(&s->rng);
    int mixed = s->n++ % 70 < 20 && x % 4;
    uint32_t n = mixed ? 1 + (uint32_t)((x >> 8) % 120) : 1 + (uint32_t)((x >> 8) % 8);
    int kind = (int)((x >> 20) % 3);
    if (kind == 1 && s->ndeliv + n <= s->nsent) {
        rcpts(f, s->ndeliv, s->ndeliv + n, ENG_TOUCH_DELIVERED);
        s->ndeliv += n;
    } else if (kind == 2 && s->nopen + n <= s->ndeliv) {
        rcpts(f, s->nopen, s->nopen + n, ENG_TOUCH_OPENED);
        s->nopen += n;
    } else {
        evfx_send(f, "acme", 1, s->nsent, s->nsent + n, ENG_CH_EMAIL, 1000 + s->nsent);
        s->nsent += n;
    }
}

/* Batches [from, to) of the script, eng__tseg_refs = @p refs. */
static void run(evfx *f, script *s, uint32_t from, uint32_t to, int refs)
{
    eng__tseg_refs = (uint8_t)refs;
    if (from == 0)
        *s = (script){7, 0, 0, 0, 0};
    while (s->n < to)
        batch(f, s);
    eng__tseg_refs = 1;
}

/* Segment id's record (raw owned by the caller); 0: none. */
static int seg_get(evfx *f, uint32_t id, uint8_t **raw, eng__rec *rec, char key[48])
{
    snprintf(key, 48, "e/0000/t/s/%08x", id);
    size_t len;
    if (test_store_raw_get(f->ts, key, raw, &len))
        return 0;
    assert_int_equal(eng__rec_decode(key, strlen(key), *raw, len, ENG__REC_EV_TSEG, ENG__TSEG_V_SKEYS, rec), ENG_OK);
    return 1;
}

/* The names of kind-5 payload rec (segment key), read as the format says: fn(k, len, at, u)
 * for each (at: where its entry starts); returns how many. */
typedef void (*name_fn)(uint64_t k, uint64_t len, size_t at, void *u);
static size_t names_of(const eng__rec *rec, const char *key, name_fn fn, void *u)
{
    eng__rd r;
    eng__seg z;
    uint64_t nkey;
    uint8_t kind;
    eng__rd_init(&r, rec->payload, rec->len);
    assert_int_equal(eng__tseg_head(&r, key, &z, &nkey, &kind), ENG_OK);
    assert_int_equal(kind, 5);
    uint64_t nb = eng__rd_uvar(&r);
    size_t n = 0;
    for (uint64_t i = 0; i < nb; i++) {
        size_t at = rec->len - eng__rd_left(&r);
        uint64_t v = eng__rd_uvar(&r);
        if (v & 1) {
            uint64_t len = eng__rd_uvar(&r);
            (void)eng__rd_u32(&r);
            if (fn)
                fn(v >> 1, len, at, u);
            n++;
        } else {
            (void)eng__rd_bytes(&r, (size_t)(v >> 1));
        }
    }
    assert_true(eng__rd_ok(&r) && eng__rd_left(&r) == 0);
    return n;
}

static void add_len(uint64_t k, uint64_t len, size_t at, void *u)
{
    (void)k, (void)at;
    *(size_t *)u += (size_t)len;
}

/* A kind-5 payload resolved through the engine of f (eng__free the result). */
static int resolve_rc(evfx *f, const char *key, const eng__rec *rec, uint8_t **out, size_t *len)
{
    eng__ev *ev;
    assert_int_equal(eng__enter(f->e), ENG_OK);
    int rc = eng__ev_get(f->e, &ev);
    if (!rc)
        rc = eng__tref_resolve(ev, NULL, key, rec->payload, rec->len, out, len);
    eng__leave(f->e);
    return rc;
}

/* Each segment of x against b's of the same id: resolved (kind 5) or as stored, the same
 * payload; *named: x's kind-5 segments; returns the segments. */
static uint32_t same_segments(evfx *x, evfx *b, uint32_t *named)
{
    uint32_t id = 0;
    *named = 0;
    for (;; id++) {
        uint8_t *rx, *rb;
        eng__rec ex, eb;
        char key[48];
        int hx = seg_get(x, id, &rx, &ex, key), hb = seg_get(b, id, &rb, &eb, key);
        assert_int_equal(hx, hb);
        if (!hx)
            break;
        assert_int_equal(eb.schema, ENG__TSEG_V_SKEYS); /* the format before as to the chunks named */
        assert_true(eb.payload[0] != 5);
        if (ex.payload[0] == 5) {
            uint8_t *p;
            size_t len;
            assert_int_equal(ex.schema, ENG__TSEG_V_SKEYS);
            assert_int_equal(resolve_rc(x, key, &ex, &p, &len), ENG_OK);
            assert_int_equal(len - ENG__REC_HEADER, eb.len);
            assert_memory_equal(p + ENG__REC_HEADER, eb.payload, eb.len);
            /* the named chunks' bytes are not in it: a name instead (at most 16 bytes) */
            size_t nbytes = 0, nnamed = names_of(&ex, key, add_len, &nbytes);
            assert_true(nnamed > 0);
            assert_true(ex.len + nbytes <= eb.len + 16 * nnamed);
            eng__free(&x->e->mem, p);
            ++*named;
        } else {
            assert_int_equal(ex.len, eb.len);
            assert_memory_equal(ex.payload, eb.payload, eb.len);
        }
        free(rx);
        free(rb);
    }
    return id;
}

static int bytes_cb(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    (void)key, (void)val;
    *(size_t *)user += klen + vlen;
    return 0;
}

/* Key and value bytes of acme's touch records. */
static size_t touch_bytes(evfx *f)
{
    size_t n = 0;
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__kv_scan(f->e->store, "e/0000/t/", 9, bytes_cb, &n), ENG_OK);
    eng__leave(f->e);
    return n;
}

static void touch_digest(evfx *f, uint8_t out[ENG__SHA256_LEN])
{
    eng__sha256_ctx s;
    eng__sha256_init(&s);
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__kv_scan(f->e->store, "e/0000/t/", 9, digest_cb, &s), ENG_OK);
    eng__leave(f->e);
    eng__sha256_final(&s, out);
}

/* Every chunk record is named by a segment of its id's prefix or is one of the tail's. */
typedef struct held {
    evfx *f;
    uint64_t first, next;
    size_t chunks, named;
    uint64_t want;
    int found;
} held;

static void is_named(uint64_t k, uint64_t len, size_t at, void *u)
{
    (void)len, (void)at;
    held *h = u;
    h->found |= k == h->want;
}

static int held_cb(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    (void)val, (void)vlen;
    held *h = user;
    uint64_t seq;
    assert_int_equal(klen, 27);
    assert_true(eng__hex_u64((const char *)key + 11, 16, &seq));
    h->chunks++;
    if (seq >= h->first && seq < h->next)
        return 0;
    uint8_t *raw;
    eng__rec rec;
    char sk[48];
    assert_true(seg_get(h->f, (uint32_t)(seq >> 32), &raw, &rec, sk)); /* its segment is there */
    h->want = seq & 0xffffffffu; /* and names it */
    h->found = 0;
    names_of(&rec, sk, is_named, h);
    assert_true(h->found);
    h->named++;
    free(raw);
    return 0;
}

/* The chunk records of f; *named: those named by segments. */
static size_t chunks_held(evfx *f, size_t *named)
{
    eng__ev *ev;
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__ev_get(f->e, &ev), ENG_OK);
    eng__evorg *o = eng__ev_org_by_code(ev, 0);
    held h = {f, o->tail.n ? o->tchunk_first : 0, o->tail.n ? o->tchunk_next : 0, 0, 0, 0, 0};
    assert_int_equal(eng__kv_scan(f->e->store, "e/0000/t/c/", 11, held_cb, &h), ENG_OK);
    eng__leave(f->e);
    *named = h.named;
    return h.chunks;
}

static void same_sends(evfx *a, evfx *b)
{
    evfx_sends sa, sb;
    evfx_sends_take(a, &sa);
    evfx_sends_take(b, &sb);
    evfx_sends_assert_equal(&sa, &sb);
    evfx_sends_free(&sa);
    evfx_sends_free(&sb);
    uint64_t ca[NS], cb[NS];
    assert_int_equal(eng_touch_status_counts(a->e, "acme", 1, 0, ca, NS), ENG_OK);
    assert_int_equal(eng_touch_status_counts(b->e, "acme", 1, 0, cb, NS), ENG_OK);
    assert_memory_equal(ca, cb, sizeof ca);
}

/* A running hash of one customer's touches, in the order read. */
static int touch_hash(const eng_touch_row *r, void *user)
{
    uint64_t *h = user;
    *h = (*h ^ (uint64_t)r->time) * 0x100000001b3ull;
    *h = (*h ^ (uint64_t)(r->status << 8 | r->channel)) * 0x100000001b3ull;
    *h = (*h ^ r->customer) * 0x100000001b3ull + 1;
    return 0;
}

enum { HALF = 140, ALL = 280 };

/* The three stores of the top, reopened at the half. */
static void three(evfx *a, evfx *b, evfx *c)
{
    script sa, sb, sc;
    evfx_open(a, 0);
    evfx_open(b, 0);
    evfx_open(c, 0);
    run(a, &sa, 0, HALF, 1);
    run(b, &sb, 0, HALF, 0);
    run(c, &sc, 0, HALF, 0);
    evfx_reopen(a);
    evfx_reopen(b);
    evfx_reopen(c); /* the store of the format before, opened by this one */
    run(a, &sa, HALF, ALL, 1);
    run(b, &sb, HALF, ALL, 0);
    run(c, &sc, HALF, ALL, 1);
}

static void close3(evfx *a, evfx *b, evfx *c)
{
    eng_close(a->e);
    test_store_free(a->ts);
    eng_close(b->e);
    test_store_free(b->ts);
    evfx_close(c);
}

static void named_reads_the_same(void **st)
{
    (void)st;
    uint32_t seal = eng__seg_seal_rows;
    eng__seg_seal_rows = SEAL;
    evfx a, b, c;
    three(&a, &b, &c);
    uint32_t na, nc, nb;
    uint32_t segs = same_segments(&a, &b, &na);
    assert_true(segs >= 8);
    assert_true(na >= segs / 2);
    assert_int_equal(same_segments(&c, &b, &nc), segs);
    assert_true(nc > 0 && nc < na); /* its first half in the format before */
    assert_int_equal(same_segments(&b, &b, &nb), segs);
    assert_int_equal(nb, 0);
    size_t named, nbn;
    assert_true(chunks_held(&a, &named) > 0);
    assert_true(named >= na);
    (void)chunks_held(&b, &nbn);
    assert_int_equal(nbn, 0);
    /* each row stored once: A's touch records take fewer bytes than B's */
    size_t ba = touch_bytes(&a), bb = touch_bytes(&b);
    print_message("touch records: %zu bytes naming the chunks, %zu in the format before; %u of %u segments named\n",
                  ba, bb, na, segs);
    assert_true(ba <= bb + 64 * named); /* the same rows at rest: a record header, key and name more a chunk */
    same_sends(&a, &b);
    same_sends(&c, &b);
    evfx_reopen(&a);
    evfx_reopen(&b);
    evfx_reopen(&c);
    same_sends(&a, &b);
    same_sends(&c, &b);
    /* one segment resident at a time: each read again from the store, its chunks resolved */
    test_events_segments = 1;
    evfx_reopen(&a);
    test_events_segments = 0;
    uint64_t reads = a.e->evcache.reads;
    for (uint32_t cu = 0; cu < 2000; cu += 97) {
        uint64_t ha = 0, hb = 0;
        assert_int_equal(eng_touches_of_customer(a.e, "acme", cu, touch_hash, &ha), ENG_OK);
        assert_int_equal(eng_touches_of_customer(b.e, "acme", cu, touch_hash, &hb), ENG_OK);
        assert_int_equal(ha, hb);
    }
    assert_true(a.e->evcache.reads > reads);
    /* compaction orders every segment (kind 3) and deletes the chunks they named */
    uint8_t da[ENG__SHA256_LEN], db[ENG__SHA256_LEN], dc[ENG__SHA256_LEN];
    assert_int_equal(eng_events_compact(a.e), ENG_OK);
    assert_int_equal(eng_events_compact(b.e), ENG_OK);
    assert_int_equal(eng_events_compact(c.e), ENG_OK);
    touch_digest(&a, da);
    touch_digest(&b, db);
    touch_digest(&c, dc);
    assert_memory_equal(da, db, sizeof da);
    assert_memory_equal(dc, db, sizeof dc);
    assert_int_equal(chunks_held(&a, &named), 0);
    evfx_reopen(&a);
    same_sends(&a, &b);
    close3(&a, &b, &c);
    eng__seg_seal_rows = seal;
}

/* ---- damaged ---- */

static void del_key(evfx *f, const char *key)
{
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__kv_begin(f->e->store), ENG_OK);
    assert_int_equal(eng__kv_del(f->e->store, key, strlen(key)), ENG_OK);
    assert_int_equal(eng__kv_commit(f->e->store), ENG_OK);
    eng__leave(f->e);
}

static void put_framed(evfx *f, const char *key, const uint8_t *payload, size_t len)
{
    uint8_t *v = malloc(ENG__REC_HEADER + len);
    memcpy(v + ENG__REC_HEADER, payload, len);
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__kv_begin(f->e->store), ENG_OK);
    assert_int_equal(eng__rec_put_framed(f->e->store, key, strlen(key), ENG__REC_EV_TSEG, ENG__TSEG_V_REFS, v,
                                         ENG__REC_HEADER + len),
                     ENG_OK);
    assert_int_equal(eng__kv_commit(f->e->store), ENG_OK);
    eng__leave(f->e);
    free(v);
}

/* Reopened, a read of every touch fails with ENG_ECORRUPT naming @p name. */
static void corrupt_named(evfx *f, const char *name)
{
    evfx_reopen(f);
    uint64_t c[NS];
    assert_int_equal(eng_touch_status_counts(f->e, "acme", 1, 0, c, NS), ENG_ECORRUPT);
    assert_non_null(eng_error_last()->detail);
    assert_string_equal(eng_error_last()->detail, name);
}

/* The first two names of a segment: their chunks' numbers and where their entries start. */
typedef struct two {
    uint32_t id;
    int n;
    uint64_t *seq;
    size_t *at;
} two;

static void first_two(uint64_t k, uint64_t len, size_t at, void *u)
{
    (void)len;
    two *t = u;
    if (t->n < 2) {
        t->seq[t->n] = (uint64_t)t->id << 32 | k;
        t->at[t->n] = at;
    }
    t->n++;
}

static void damaged(void **st)
{
    (void)st;
    uint32_t seal = eng__seg_seal_rows;
    eng__seg_seal_rows = SEAL;
    evfx f;
    script s;
    evfx_open(&f, 0);
    run(&f, &s, 0, ALL, 1);
    /* a kind-5 segment with two named chunks */
    uint8_t *raw = NULL;
    eng__rec rec;
    char key[48], ck[2][48];
    uint64_t seq[2];
    size_t at[2] = {0, 0};
    for (uint32_t id = 0;; id++) {
        assert_true(seg_get(&f, id, &raw, &rec, key));
        two t = {id, 0, seq, at};
        if (rec.payload[0] == 5 && names_of(&rec, key, first_two, &t) >= 2)
            break;
        free(raw);
    }
    for (int k = 0; k < 2; k++)
        snprintf(ck[k], 48, "e/0000/t/c/%016llx", (unsigned long long)seq[k]);
    uint8_t *c0, *c1;
    size_t l0, l1;
    assert_int_equal(test_store_raw_get(f.ts, ck[0], &c0, &l0), 0);
    assert_int_equal(test_store_raw_get(f.ts, ck[1], &c1, &l1), 0);
    size_t rawlen = ENG__REC_HEADER + rec.len;

    /* a named chunk missing */
    del_key(&f, ck[0]);
    corrupt_named(&f, ck[0]);
    assert_int_equal(test_store_raw_put(f.ts, ck[0], c0, l0), 0);
    evfx_reopen(&f);
    uint64_t cnt[NS];
    assert_int_equal(eng_touch_status_counts(f.e, "acme", 1, 0, cnt, NS), ENG_OK);
    /* another chunk's record in its place (valid, not the one named) */
    assert_int_equal(test_store_raw_put(f.ts, ck[0], c1, l1), 0);
    corrupt_named(&f, ck[0]);
    /* a valid record of the same length with another byte (only the name's checksum tells) */
    uint8_t *o0 = malloc(l0);
    memcpy(o0, c0, l0);
    o0[l0 - 1] ^= 0x01;
    assert_int_equal(eng__enter(f.e), ENG_OK);
    assert_int_equal(eng__kv_begin(f.e->store), ENG_OK);
    assert_int_equal(eng__rec_put_framed(f.e->store, ck[0], strlen(ck[0]), ENG__REC_EV_TSEG, 1, o0, l0), ENG_OK);
    assert_int_equal(eng__kv_commit(f.e->store), ENG_OK);
    eng__leave(f.e);
    free(o0);
    corrupt_named(&f, ck[0]);
    /* the named chunk's bytes damaged */
    c0[l0 / 2] ^= 0x10;
    assert_int_equal(test_store_raw_put(f.ts, ck[0], c0, l0), 0);
    corrupt_named(&f, ck[0]);
    c0[l0 / 2] ^= 0x10;
    assert_int_equal(test_store_raw_put(f.ts, ck[0], c0, l0), 0);
    /* the segment's record torn */
    assert_int_equal(test_store_raw_put(f.ts, key, raw, rawlen - 3), 0);
    corrupt_named(&f, key);
    /* a name of a chunk that is not there (the record well framed) */
    uint8_t *p = malloc(rec.len + 8);
    memcpy(p, rec.payload, rec.len);
    eng__wr w;
    eng__wr_init(&w, &f.e->mem);
    eng__wr_bytes(&w, p, at[1]);
    eng__wr_uvar(&w, ((seq[1] & 0xffffffffu) + 1000) << 1 | 1);
    eng__rd r;
    eng__rd_init(&r, p + at[1], rec.len - at[1]);
    (void)eng__rd_uvar(&r);
    eng__wr_bytes(&w, p + rec.len - eng__rd_left(&r), eng__rd_left(&r));
    put_framed(&f, key, w.data, w.len);
    eng__wr_free(&w); /* before the reopen: its allocator is the engine's */
    char missing[48];
    snprintf(missing, sizeof missing, "e/0000/t/c/%016llx", (unsigned long long)(seq[1] + 1000));
    corrupt_named(&f, missing);
    /* a byte after its blocks */
    p[rec.len] = 0;
    put_framed(&f, key, p, rec.len + 1);
    corrupt_named(&f, key);
    /* the length of a named chunk wrong */
    eng__wr_init(&w, &f.e->mem);
    eng__wr_bytes(&w, p, at[1]);
    eng__rd_init(&r, p + at[1], rec.len - at[1]);
    eng__wr_uvar(&w, eng__rd_uvar(&r));
    eng__wr_uvar(&w, eng__rd_uvar(&r) + 1);
    eng__wr_bytes(&w, p + rec.len - eng__rd_left(&r), eng__rd_left(&r));
    put_framed(&f, key, w.data, w.len);
    eng__wr_free(&w);
    corrupt_named(&f, ck[1]);
    /* restored: reads again */
    assert_int_equal(test_store_raw_put(f.ts, key, raw, rawlen), 0);
    evfx_reopen(&f);
    assert_int_equal(eng_touch_status_counts(f.e, "acme", 1, 0, cnt, NS), ENG_OK);
    free(p);
    free(raw);
    free(c0);
    free(c1);
    evfx_close(&f);
    eng__seg_seal_rows = seal;
}

/* ---- retention, and a compaction failing ---- */

static void retention_drops_named(void **st)
{
    (void)st;
    uint32_t seal = eng__seg_seal_rows;
    eng__seg_seal_rows = SEAL;
    uint8_t order = eng__tseg_order_compact;
    eng__tseg_order_compact = 0; /* kind 5 kept until retention rewrites it */
    evfx f;
    script s;
    evfx_open(&f, 0);
    run(&f, &s, 0, ALL, 1);
    size_t named;
    (void)chunks_held(&f, &named);
    assert_true(named > 0);
    assert_int_equal(eng_events_set_retention(f.e, "admin", 1), ENG_OK); /* every send is older */
    assert_int_equal(eng_events_compact(f.e), ENG_OK);
    assert_int_equal(touch_bytes(&f), 0); /* no segment and no chunk left */
    evfx_reopen(&f);
    uint64_t c[NS], zero[NS];
    memset(zero, 0, sizeof zero);
    assert_int_equal(eng_touch_status_counts(f.e, "acme", 1, 0, c, NS), ENG_OK);
    assert_memory_equal(c, zero, sizeof c);
    evfx_close(&f);
    eng__tseg_order_compact = order;
    eng__seg_seal_rows = seal;
}

static int compact_op(void *f)
{
    return eng_events_compact(((evfx *)f)->e);
}

static void compact_faults(void **st)
{
    (void)st;
    uint32_t seal = eng__seg_seal_rows;
    eng__seg_seal_rows = SEAL;
    uint8_t want[ENG__SHA256_LEN], d1[ENG__SHA256_LEN];
    evfx f;
    script s;
    uint64_t nth;
    for (nth = 0;; nth++) {
        evfx_open(&f, 0);
        run(&f, &s, 0, 90, 1);
        if (nth == 0) {
            size_t named;
            (void)chunks_held(&f, &named);
            assert_true(named > 0);
            assert_int_equal(eng_events_compact(f.e), ENG_OK);
            touch_digest(&f, want);
            evfx_close(&f);
            continue;
        }
        if (!fault_nth(f.ts, f.e, TV_ALL, nth, TF_ERROR, compact_op, &f)) {
            evfx_close(&f);
            break;
        }
        assert_int_equal(eng_events_compact(f.e), ENG_OK); /* retried */
        touch_digest(&f, d1);
        assert_memory_equal(want, d1, sizeof d1);
        evfx_close(&f);
    }
    assert_true(nth > 10);
    eng__seg_seal_rows = seal;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(named_reads_the_same),
        cmocka_unit_test(damaged),
        cmocka_unit_test(retention_drops_named),
        cmocka_unit_test(compact_faults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
