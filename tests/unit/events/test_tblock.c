/* Segments sealed from their tail chunks' bytes (payload kind 4, events/tblock.c).
 *
 * A script of `sent` and receipt batches of mixed sizes (many below and above
 * the block threshold, seal_rows / 16) is written with a small seal size. Every
 * sealed segment's rows are compared with the rows the script wrote (kept by the
 * test, in write order); each kind-4 segment is split into its blocks by the
 * test's own reading of the format, and its blocks compared byte for byte with the
 * chunk records the store held before the sealing batch: every chunk of at least
 * the threshold is a block, as stored. The same script with reopens between the
 * batches gives the same store byte for byte. A blocked segment whose blocks do not
 * add up to it gives ENG_ECORRUPT naming it; every storage call and every
 * allocation of a seal from a kept chunk failing in turn leaves the store as it
 * was, and a retry then gives the undisturbed store. */
#include "ev_fixture.h"
#include "ev_rcpts.h"
#include "events/ev_state.h"
#include "events/keypar.h"
#include "../model/store_digest.h"
#include "fault_sweep.h"
#include "base/simd.h"
#include "store/file_impl.h"
#include "store/file_behind.h"

#include <errno.h>
#include <unistd.h>

#define SEAL 256
#define MINB (SEAL / 16)
#define NS (ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT)

typedef struct row {
    uint32_t customer;
    uint8_t status;
    eng_time time;
} row;

static row ref[8192];
static size_t nref;


/* Batch b of the script: sends to the next customers, or delivered/opened receipts of sent ones. */
static uint64_t rng;
static uint32_t nsent, ndeliv, nopen, nbatch;
static void batch(evfx *f)
{
    uint64_t x = test_splitmix(&rng);
    /* by turns 60 batches of mixed sizes (a quarter below the threshold) and 150 small ones */
    int mixed = nbatch++ % 210 < 60 && x % 4;
    uint32_t n = mixed ? 1 + (uint32_t)((x >> 8) % 120) : 1 + (uint32_t)((x >> 8) % 8);
    int kind = (int)((x >> 20) % 3);
    if (kind == 1 && ndeliv + n <= nsent) {
        rcpts(f, ndeliv, ndeliv + n, ENG_TOUCH_DELIVERED);
        for (uint32_t i = 0; i < n; i++, ndeliv++)
            ref[nref++] = (row){ndeliv, ENG_TOUCH_DELIVERED, rtime(ndeliv, ENG_TOUCH_DELIVERED)};
    } else if (kind == 2 && nopen + n <= ndeliv) {
        rcpts(f, nopen, nopen + n, ENG_TOUCH_OPENED);
        for (uint32_t i = 0; i < n; i++, nopen++)
            ref[nref++] = (row){nopen, ENG_TOUCH_OPENED, rtime(nopen, ENG_TOUCH_OPENED)};
    } else {
        evfx_send(f, "acme", 1, nsent, nsent + n, ENG_CH_EMAIL, 1000 + nsent); /* time 1000 + customer */
        for (uint32_t i = 0; i < n; i++, nsent++)
            ref[nref++] = (row){nsent, ENG_TOUCH_SENT, 1000 + nsent};
    }
}

static void script_start(uint64_t seed)
{
    rng = seed;
    nsent = ndeliv = nopen = nbatch = 0;
    nref = 0;
}

/* The store's tail chunk records: payloads (owned) and their rows. */
typedef struct chunks {
    uint8_t *p[64];
    size_t len[64], rows[64], n;
} chunks;

static int chunk_cb(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    chunks *c = user;
    eng__rec rec;
    assert_int_equal(eng__rec_decode(key, klen, val, vlen, ENG__REC_EV_TSEG, ENG__TSEG_V_SKEYS, &rec), ENG_OK);
    assert_true(c->n < 64);
    eng__rd r;
    eng__rd_init(&r, rec.payload, rec.len);
    assert_int_equal(eng__rd_u8(&r) & ~ENG__TSEG_SKEYS, 2);
    c->rows[c->n] = eng__rd_uvar(&r);
    c->p[c->n] = malloc(rec.len);
    memcpy(c->p[c->n], rec.payload, rec.len);
    c->len[c->n++] = rec.len;
    return 0;
}

static void chunks_read(evfx *f, chunks *c)
{
    c->n = 0;
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__kv_scan(f->e->store, "e/0000/t/c/", 11, chunk_cb, c), ENG_OK);
    eng__leave(f->e);
}

static void chunks_free(chunks *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->p[i]);
    c->n = 0;
}

/* Segment id's payload (owned by *raw); 0: none. */
static int seg_get(evfx *f, uint32_t id, uint8_t **raw, eng__rec *rec, char key[48])
{
    snprintf(key, 48, "e/0000/t/s/%08x", id);
    size_t len;
    if (test_store_raw_get(f->ts, key, raw, &len))
        return 0;
    assert_int_equal(eng__rec_decode(key, strlen(key), *raw, len, ENG__REC_EV_TSEG, ENG__TSEG_V_SKEYS, rec), ENG_OK);
    return 1;
}

/* The blocks of a kind-4 payload as the format says: header, count, then length and bytes each. */
static size_t blocks_of(const uint8_t *p, size_t len, const uint8_t *bp[], size_t bl[], size_t max)
{
    eng__rd r;
    eng__rd_init(&r, p, len);
    assert_int_equal(eng__rd_u8(&r), 4);
    for (int i = 0; i < 2; i++)
        (void)eng__rd_uvar(&r); /* rows, keys */
    (void)eng__rd_svar(&r);
    (void)eng__rd_svar(&r);
    for (int i = 0; i < 6; i++)
        (void)eng__rd_uvar(&r);
    size_t nb = eng__rd_uvar(&r);
    assert_true(nb >= 2 && nb <= max);
    for (size_t i = 0; i < nb; i++) {
        bl[i] = eng__rd_uvar(&r);
        bp[i] = eng__rd_bytes(&r, bl[i]);
        assert_non_null(bp[i]);
    }
    assert_true(eng__rd_ok(&r) && eng__rd_left(&r) == 0);
    return nb;
}

/* The engine forgets the bytes of acme's tail chunks (they are encoded again at seal). */
static void forget_chunks(evfx *f)
{
    eng__ev *ev;
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__ev_get(f->e, &ev), ENG_OK);
    eng__evorg *o = eng__ev_org_by_code(ev, 0);
    for (uint32_t i = 0; o && i < o->ntch; i++) {
        eng__free(&f->e->mem, o->tch[i].own);
        o->tch[i].own = NULL;
        o->tch[i].p = NULL;
        o->tch[i].len = 0;
    }
    eng__leave(f->e);
}

/* How many of acme's sealed segments the engine holds in the buffer of the chunk they were
 * built around (tblock.c, seal_around: the record not at the start of its allocation). */
static size_t segs_around(evfx *f)
{
    eng__ev *ev;
    size_t n = 0;
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__ev_get(f->e, &ev), ENG_OK);
    eng__evorg *o = eng__ev_org_by_code(ev, 0);
    for (size_t i = 0; o && i < o->tseg.n; i++)
        n += o->tseg.v[i].buf && o->tseg.v[i].skew;
    eng__leave(f->e);
    return n;
}

/* Runs the script (batches until about rows rows), checking each new segment: its
 * rows against the script's, a kind-4 one's blocks against the chunks held before
 * its batch. reopen_every > 0: the engine reopened after that many batches;
 * forget: the chunks' bytes forgotten before each batch. */
static void run(evfx *f, uint64_t seed, size_t rows, int reopen_every, int forget, int kinds[5])
{
    script_start(seed);
    memset(kinds, 0, 5 * sizeof *kinds);
    size_t checked = 0; /* rows of the segments checked */
    uint32_t next_seg = 0;
    eng__tcols d;
    memset(&d, 0, sizeof d);
    const eng__mem *mem = &f->e->mem;
    for (int b = 1; nref < rows; b++) {
        chunks held;
        chunks_read(f, &held);
        if (forget)
            forget_chunks(f);
        batch(f);
        uint8_t *raw;
        eng__rec rec;
        char key[48];
        while (seg_get(f, next_seg, &raw, &rec, key)) {
            uint8_t kind = rec.payload[0] & ~ENG__TSEG_SKEYS;
            assert_true(kind == 2 || kind == 4);
            kinds[kind]++;
            assert_int_equal(eng__tseg_decode(rec.payload, rec.len, key, &d, mem), ENG_OK);
            assert_int_equal(d.n, SEAL);
            assert_true(checked + d.n <= nref);
            size_t keys = 0;
            for (size_t i = 0; i < d.n; i++) {
                const row *w = &ref[checked + i];
                assert_int_equal(d.customer[i], w->customer);
                assert_int_equal(d.status[i], w->status);
                assert_int_equal(d.time[i], w->time);
                assert_int_equal(d.channel[i], ENG_CH_EMAIL);
                keys += w->status == ENG_TOUCH_SENT;
            }
            assert_int_equal(d.nkey, keys);
            if (kind == 4) { /* the chunks of at least MINB rows, byte for byte, and nothing else kept */
                const uint8_t *bp[64];
                size_t bl[64], nb = blocks_of(rec.payload, rec.len, bp, bl, 64), kept = 0, big = 0;
                for (size_t k = 0; k < held.n; k++)
                    big += held.rows[k] >= MINB;
                for (size_t i = 0; i < nb; i++)
                    for (size_t k = 0; k < held.n; k++)
                        if (held.rows[k] >= MINB && bl[i] == held.len[k] && !memcmp(bp[i], held.p[k], bl[i]))
                            kept++;
                assert_true(big > 0);
                assert_int_equal(kept, big);
            }
            checked += d.n;
            next_seg++;
            free(raw);
        }
        chunks_free(&held);
        if (reopen_every && b % reopen_every == 0) {
            evfx_reopen(f);
            mem = &f->e->mem;
        }
    }
    eng__tcols_free(&d, mem);
}

static void sealed_from_chunks(void **st)
{
    (void)st;
    uint32_t seal = eng__seg_seal_rows;
    eng__seg_seal_rows = SEAL;
    eng__tseg_refs = 0; /* the blocked segments stored whole (with the chunks named: test_tref.c) */
    int kinds[5];
    uint8_t da[ENG__SHA256_LEN], db[ENG__SHA256_LEN];
    evfx a, b;
    /* The chunks' bytes kept, or forgotten and encoded again: the same store, without
     * reopens and with reopens (the chunks' bytes then read back from the store). */
    for (int reopen = 0; reopen <= 3; reopen += 3) {
        evfx_open(&a, 0);
        run(&a, 7, 6000, reopen, 0, kinds);
        assert_true(kinds[4] > 0 && kinds[2] > 0); /* both ways of sealing */
        store_digest(a.e, da);
        if (!reopen) /* segments built around their first chunk's bytes, in its buffer */
            assert_true(segs_around(&a) > 0);
        evfx_open(&b, 0);
        run(&b, 7, 6000, reopen, 1, kinds);
        store_digest(b.e, db);
        assert_memory_equal(da, db, sizeof da);
        assert_int_equal(segs_around(&b), 0);
        /* kept, and each segment built in a buffer of its own: the same store */
        evfx c;
        eng__tblock_around = 0;
        evfx_open(&c, 0);
        run(&c, 7, 6000, reopen, 0, kinds);
        store_digest(c.e, db);
        assert_memory_equal(da, db, sizeof da);
        assert_int_equal(segs_around(&c), 0);
        eng__tblock_around = 1;
        eng_close(c.e); /* a and b still open: no allocation check */
        test_store_free(c.ts);
        if (!reopen) {
            eng_close(a.e); /* both engines before the allocation check */
            test_store_free(a.ts);
            evfx_close(&b);
        }
    }
    /* and every row read back after a reopen, through the readers */
    evfx_reopen(&b);
    uint64_t ca[NS], cb[NS];
    assert_int_equal(eng_touch_status_counts(a.e, "acme", 1, 0, ca, NS), ENG_OK);
    assert_int_equal(eng_touch_status_counts(b.e, "acme", 1, 0, cb, NS), ENG_OK);
    assert_memory_equal(ca, cb, sizeof ca);
    /* sends by their furthest status */
    assert_int_equal(cb[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_SENT], nsent - ndeliv);
    assert_int_equal(cb[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_DELIVERED], ndeliv - nopen);
    assert_int_equal(cb[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_OPENED], nopen);
    eng_close(a.e);
    test_store_free(a.ts);
    evfx_close(&b);
    eng__seg_seal_rows = seal;
    eng__tseg_refs = 1;
}

/* ---- damaged blocked segments ---- */

typedef struct blk {
    const uint8_t *p;
    size_t len;
} blk;

/* A kind-4 payload of the given blocks with header fields n, nkey, zone and count nb, framed, into w. */
static void assemble(eng__wr *w, const eng__mem *mem, size_t n, size_t nkey, const eng__seg *z, size_t nb,
                     const blk *b, size_t nblk)
{
    eng__wr_init(w, mem);
    assert_int_equal(eng__wr_reserve(w, ENG__REC_HEADER), ENG_OK);
    w->len = ENG__REC_HEADER;
    eng__tseg_zone_put(w, 4, n, nkey, z);
    eng__wr_uvar(w, nb);
    for (size_t i = 0; i < nblk; i++) {
        eng__wr_uvar(w, b[i].len);
        eng__wr_bytes(w, b[i].p, b[i].len);
    }
}

static void corrupt_blocks(void **st)
{
    (void)st;
    uint32_t seal = eng__seg_seal_rows;
    eng__seg_seal_rows = SEAL;
    eng__tseg_refs = 0;
    for (int m = 0; m < 7; m++) {
        evfx f;
        evfx_open(&f, 0);
        int kinds[5];
        run(&f, 11, 1500, 0, 0, kinds);
        /* the first kind-4 segment */
        uint8_t *raw = NULL;
        eng__rec rec;
        char key[48];
        uint32_t id = 0;
        for (;; id++) {
            assert_true(seg_get(&f, id, &raw, &rec, key));
            if (rec.payload[0] == 4)
                break;
            free(raw);
        }
        const eng__mem *mem = &f.e->mem;
        eng__seg z;
        assert_int_equal(eng__tseg_zone(rec.payload, rec.len, key, &z), ENG_OK);
        eng__rd r;
        uint64_t nkey;
        uint8_t kind;
        eng__rd_init(&r, rec.payload, rec.len);
        assert_int_equal(eng__tseg_head(&r, key, &z, &nkey, &kind), ENG_OK);
        const uint8_t *bp[64];
        size_t bl[64], nb = blocks_of(rec.payload, rec.len, bp, bl, 64);
        blk b[65];
        for (size_t i = 0; i < nb; i++)
            b[i] = (blk){bp[i], bl[i]};
        uint8_t *copy = malloc(bl[0]), *longer = NULL;
        memcpy(copy, bp[0], bl[0]);
        eng__seg z2 = z;
        eng__wr w;
        eng__tcols d;
        memset(&d, 0, sizeof d);
        eng__wr one;
        switch (m) {
        case 0: /* undamaged: reads */
            assemble(&w, mem, z.n, nkey, &z, nb, b, nb);
            break;
        case 1: /* its zone wider than its blocks' */
            z2.tmax++;
            assemble(&w, mem, z.n, nkey, &z2, nb, b, nb);
            break;
        case 2: /* one row more than its blocks hold */
            assemble(&w, mem, z.n + 1, nkey, &z, nb, b, nb);
            break;
        case 3: /* a block of another kind */
            copy[0] = 1;
            b[0].p = copy;
            assemble(&w, mem, z.n, nkey, &z, nb, b, nb);
            break;
        case 4: /* the last block's length past the end (written with a byte more, then cut) */
            longer = calloc(1, bl[nb - 1] + 1);
            memcpy(longer, bp[nb - 1], bl[nb - 1]);
            b[nb - 1] = (blk){longer, bl[nb - 1] + 1};
            assemble(&w, mem, z.n, nkey, &z, nb, b, nb);
            w.len--;
            break;
        case 5: /* a byte after the blocks */
            assemble(&w, mem, z.n, nkey, &z, nb, b, nb);
            eng__wr_u8(&w, 0);
            break;
        default: /* a single block (the whole segment's rows) */
            assert_int_equal(eng__tseg_decode(rec.payload, rec.len, key, &d, mem), ENG_OK);
            eng__wr_init(&one, mem);
            eng__tseg_encode(&one, &d, 0, d.n, 0, d.nkey, 0);
            b[0] = (blk){one.data, one.len};
            assemble(&w, mem, z.n, nkey, &z, 1, b, 1);
            eng__wr_free(&one);
            break;
        }
        eng__tcols_free(&d, mem);
        assert_int_equal(w.err, 0);
        assert_int_equal(eng__enter(f.e), ENG_OK);
        assert_int_equal(eng__kv_begin(f.e->store), ENG_OK);
        assert_int_equal(eng__rec_put_framed(f.e->store, key, strlen(key), ENG__REC_EV_TSEG, 1, w.data, w.len), ENG_OK);
        assert_int_equal(eng__kv_commit(f.e->store), ENG_OK);
        eng__leave(f.e);
        eng__wr_free(&w);
        free(copy);
        free(longer);
        free(raw);
        evfx_reopen(&f);
        uint64_t c[NS];
        int rc = eng_touch_status_counts(f.e, "acme", 1, 0, c, NS);
        if (m == 0) {
            assert_int_equal(rc, ENG_OK);
            assert_int_equal(c[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_SENT], nsent - ndeliv);
        } else {
            assert_int_equal(rc, ENG_ECORRUPT);
            assert_non_null(strstr(eng_error_last()->detail, key));
        }
        evfx_close(&f);
    }
    eng__seg_seal_rows = seal;
    eng__tseg_refs = 1;
}

/* ---- failures while sealing from a kept chunk ---- */

static int seal_op(evfx *f)
{
    return evfx_send_rc(f, "acme", 1, 100, 300, ENG_CH_EMAIL, 5000, NULL); /* 156 rows seal, 44 go on */
}

static int seal_op_cb(void *f)
{
    return seal_op(f);
}

static void seal_setup(evfx *f)
{
    evfx_open(f, 0);
    evfx_send(f, "acme", 1, 0, 100, ENG_CH_EMAIL, 1000); /* a chunk of 100 rows, kept */
}

/* The digest of acme's touch records (the rest of the store, e/meta, differs after a reload). */
static void touch_digest(evfx *f, uint8_t out[ENG__SHA256_LEN])
{
    eng__sha256_ctx s;
    eng__sha256_init(&s);
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__kv_scan(f->e->store, "e/0000/t/", 9, digest_cb, &s), ENG_OK);
    eng__leave(f->e);
    eng__sha256_final(&s, out);
}

static void seal_faults(void **st)
{
    (void)st;
    uint32_t seal = eng__seg_seal_rows;
    eng__seg_seal_rows = SEAL;
    /* the undisturbed touch records; and those of an engine that reloaded before the seal
     * (a failed batch may drop the cache: contexts read back from storage are not flagged
     * `first`, docs/events.md) */
    uint8_t want[2][ENG__SHA256_LEN], d1[ENG__SHA256_LEN];
    evfx f;
    for (int reload = 0; reload < 2; reload++) {
        seal_setup(&f);
        if (reload)
            evfx_reopen(&f);
        assert_int_equal(seal_op(&f), ENG_OK);
        touch_digest(&f, want[reload]);
        uint8_t *raw;
        eng__rec rec;
        char key[48];
        assert_true(seg_get(&f, 0, &raw, &rec, key));
        assert_int_equal(rec.payload[0], 5); /* the chunk of 100 rows named as a block (tref.c) */
        free(raw);
        evfx_close(&f);
    }
    for (uint64_t nth = 1;; nth++) {
        seal_setup(&f);
        if (!fault_nth(f.ts, f.e, TV_ALL, nth, TF_ERROR, seal_op_cb, &f)) {
            evfx_close(&f);
            break;
        }
        assert_int_equal(seal_op(&f), ENG_OK); /* retried in the same engine */
        touch_digest(&f, d1);
        assert_true(!memcmp(want[0], d1, sizeof d1) || !memcmp(want[1], d1, sizeof d1));
        evfx_close(&f);
    }
    eng__seg_seal_rows = seal;
}

static int seal_flow(void *arg)
{
    (void)arg;
    eng_engine *e;
    int rc = evfx_oom_engine(&e);
    if (rc)
        return rc;
    evfx f = {NULL, e, 0};
    uint64_t c[NS];
    if (!(rc = evfx_send_rc(&f, "acme", 1, 0, 100, ENG_CH_EMAIL, 1000, NULL)) && !(rc = seal_op(&f)) &&
        !(rc = eng_touch_status_counts(e, "acme", 1, 0, c, NS)) &&
        c[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_SENT] != 300)
        rc = -999;
    eng_close(e);
    return rc;
}

static void seal_oom(void **st)
{
    (void)st;
    uint32_t seal = eng__seg_seal_rows;
    eng__seg_seal_rows = SEAL;
    test_alloc_reset();
    assert_true(test_oom_loop(seal_flow, NULL) > 20);
    test_alloc_assert_clean();
    eng__seg_seal_rows = seal;
}

/* ---- a sealed segment written behind, in a file store (store/file_behind.c) ---- */

static char fs_path[1024];

static void file_open(evfx *f, unsigned threads, int create)
{
    eng_store *s = NULL;
    assert_int_equal(eng_store_file_open(fs_path, ENG_STORE_NOSYNC | (create ? ENG_STORE_CREATE : 0),
                                         test_alloc_get(), &s),
                     ENG_OK);
    f->ts = NULL;
    f->e = test_engine_open(s);
    f->e->threads = threads;
    f->ncust = 0;
    if (create)
        assert_int_equal(eng_org_create(f->e, "acme", NULL, "admin", NULL), ENG_OK);
}

/* The file store's writes, the nth failing (a short write, then ENOSPC); 0: none. */
static uint64_t io_writes, io_fail_nth;
static int io_hook(int op, size_t *n)
{
    if (op != ENG__IO_WRITE || ++io_writes != io_fail_nth)
        return op == ENG__IO_FSYNC ? -1 : 0;
    if (n && *n > 5)
        *n = 5;
    return ENOSPC;
}

/* The script's batches in a file store: at threads = 1 every seal's record is
 * written behind (on the store's thread), at threads = 0 by its put; the two stores'
 * touch records are the same byte for byte, and so after a reopen. Then
 * each write of a batch that seals fails in turn (the seal's behind it among
 * them): the batch fails, the file reopens with the records as they were before it
 * (nothing of it, nothing else lost), and the batch retried gives the undisturbed
 * records. */
static void sealed_behind_in_a_file(void **st)
{
    (void)st;
    uint32_t seal = eng__seg_seal_rows;
    size_t spill = eng__file_spill_min;
    eng__seg_seal_rows = SEAL;
    eng__file_spill_min = 64; /* every segment a spilled value: written behind at threads > 0 */
    char *dir = test_tmpdir();
    uint8_t d[2][ENG__SHA256_LEN], dr[ENG__SHA256_LEN];
    size_t behind[2];
    evfx f;
    for (unsigned threads = 0; threads < 2; threads++) {
        test_alloc_reset();
        snprintf(fs_path, sizeof fs_path, "%s/t%u.db", dir, threads);
        file_open(&f, threads, 1);
        size_t w0 = eng__behind_writes;
        script_start(77);
        while (nref < 6 * SEAL)
            batch(&f);
        behind[threads] = eng__behind_writes - w0;
        touch_digest(&f, d[threads]);
        eng_close(f.e);
        file_open(&f, threads, 0);
        touch_digest(&f, dr);
        assert_memory_equal(d[threads], dr, sizeof dr);
        eng_close(f.e);
        test_alloc_assert_clean();
    }
    assert_memory_equal(d[0], d[1], sizeof d[0]);
    assert_int_equal(behind[0], 0);
    assert_true(behind[1] >= 5); /* one a seal */

    /* every write of a sealing batch failing in turn */
    uint8_t want[ENG__SHA256_LEN], d0[ENG__SHA256_LEN], d1[ENG__SHA256_LEN];
    snprintf(fs_path, sizeof fs_path, "%s/f.db", dir);
    eng__file_io_fault = io_hook;
    uint64_t writes = 0;
    for (uint64_t nth = 0;; nth++) {
        unlink(fs_path);
        test_alloc_reset();
        file_open(&f, 1, 1);
        assert_int_equal(evfx_send_rc(&f, "acme", 1, 0, 100, ENG_CH_EMAIL, 1000, NULL), ENG_OK); /* a chunk */
        eng_close(f.e);
        file_open(&f, 1, 0); /* reloaded: what a retry after a failure starts from */
        touch_digest(&f, d0);
        io_writes = 0;
        io_fail_nth = nth;
        size_t w0 = eng__behind_writes;
        int rc = seal_op(&f);
        io_fail_nth = 0;
        if (nth == 0) {
            assert_int_equal(rc, ENG_OK);
            assert_int_equal(eng__behind_writes, w0 + 1);
            writes = io_writes;
            touch_digest(&f, want);
            eng_close(f.e);
            test_alloc_assert_clean();
            continue;
        }
        assert_int_not_equal(rc, ENG_OK);
        eng_close(f.e);
        file_open(&f, 1, 0); /* what a crash now leaves: the records as they were */
        touch_digest(&f, d1);
        assert_memory_equal(d0, d1, sizeof d0);
        assert_int_equal(seal_op(&f), ENG_OK);
        touch_digest(&f, d1);
        assert_memory_equal(want, d1, sizeof d1);
        eng_close(f.e);
        test_alloc_assert_clean();
        if (nth == writes)
            break;
    }
    assert_true(writes >= 2); /* the segment (behind) and the chunk or the commit */
    eng__file_io_fault = NULL;
    test_rmtree(dir);
    free(dir);
    eng__seg_seal_rows = seal;
    eng__file_spill_min = spill;
}

/* ---- a segment's columns packed in parts on the engine's threads (tseg_par.c) ---- */

/* The parallel encode writes the bytes of the one-thread encode, for ranges of rows with
 * and without sent keys; it fails if a part is left out, doubled or out of its order. */
static void parts_same_bytes(void **st)
{
    (void)st;
    size_t keep = eng__keypar_min_rows;
    eng__keypar_min_rows = 4; /* parts from 8 rows */
    evfx f;
    evfx_open(&f, 0);
    f.e->threads = 1;
    const eng__mem *mem = &f.e->mem;
    eng__tcols c;
    memset(&c, 0, sizeof c);
    enum { R = 3000 };
    assert_int_equal(eng__tcols_reserve(&c, mem, R), ENG_OK);
    assert_int_equal(eng__tcols_key_reserve(&c, mem, R), ENG_OK);
    uint64_t s = 11;
    for (size_t i = 0; i < R; i++) {
        uint64_t x = test_splitmix(&s);
        c.time[i] = 1700000000000ll + (int64_t)(x % 86400000);
        c.customer[i] = (uint32_t)(x >> 8) % 100000;
        c.ctx[i] = (uint32_t)(x >> 40) % 3;
        c.channel[i] = (uint8_t)((x >> 50) % ENG_CH_COUNT);
        c.status[i] = (uint8_t)((x >> 54) % ENG_TOUCH_STATUS_COUNT);
        c.send[i] = (uint32_t)(i * 3 + (x >> 60));
        c.detail[i] = i % 5 == 0 ? (uint32_t)(x >> 20) % 9 : 0;
        c.first[i] = (uint8_t)(i % 2);
        c.keyhash[i] = test_splitmix(&s);
    }
    c.n = c.nkey = R;
    eng__ev *ev;
    assert_int_equal(eng__enter(f.e), ENG_OK);
    assert_int_equal(eng__ev_get(f.e, &ev), ENG_OK);
    static const size_t cut[][3] = {{0, R, R}, {0, R, 0}, {17, 1000, 300}, {5, 9, 9}, {2999, 1, 1}};
    for (size_t t = 0; t < sizeof cut / sizeof cut[0]; t++) {
        size_t from = cut[t][0], n = cut[t][1], nkey = cut[t][2], kfrom = nkey ? from : 0;
        eng__wr one, par;
        eng__wr_init(&one, mem);
        eng__wr_init(&par, mem);
        eng__tseg_encode(&one, &c, from, n, kfrom, nkey, 0);
        eng__tseg_encode_par(ev, &par, &c, from, n, kfrom, nkey, 0);
        assert_int_equal(one.err, 0);
        assert_int_equal(par.err, 0);
        assert_int_equal(par.len, one.len);
        assert_memory_equal(par.data, one.data, one.len);
        eng__wr_free(&one);
        eng__wr_free(&par);
    }
    eng__leave(f.e);
    eng__tcols_free(&c, mem);
    evfx_close(&f);
    eng__keypar_min_rows = keep;
}

/* ---- a segment's zone at every instruction-set level (tseg.c's zone loops) ---- */

static void zone_every_isa(void **st)
{
    (void)st;
    eng__mem mem;
    assert_int_equal(eng__mem_init(&mem, NULL), ENG_OK);
    eng__tcols c;
    memset(&c, 0, sizeof c);
    enum { R = 1000 };
    assert_int_equal(eng__tcols_reserve(&c, &mem, R), ENG_OK);
    uint64_t s = 5;
    for (size_t i = 0; i < R; i++) {
        uint64_t x = test_splitmix(&s);
        c.time[i] = (int64_t)(x % 4000000000000ull) - 2000000000000ll; /* both signs */
        c.customer[i] = (uint32_t)(x >> 7) | (i % 7 == 0 ? 0x80000000u : 0); /* the top bit too */
        c.ctx[i] = (uint32_t)(x >> 40) % 5;
        c.channel[i] = (uint8_t)((x >> 50) % ENG_CH_COUNT);
        c.status[i] = (uint8_t)((x >> 54) % ENG_TOUCH_STATUS_COUNT);
        c.send[i] = (uint32_t)i; /* encoded too, though no zone reads them */
        c.detail[i] = 0;
        c.first[i] = 0;
    }
    c.n = R;
    /* ranges of every length up to 70 from several starts, and the whole */
    for (size_t from = 0; from < 40; from += 13)
        for (size_t n = 1; from + n <= R; n = n < 70 ? n + 1 : n * 3) {
            eng__seg zr;
            memset(&zr, 0, sizeof zr);
            zr.tmin = zr.tmax = c.time[from];
            zr.cmin = zr.cmax = c.customer[from];
            zr.xmin = zr.xmax = c.ctx[from];
            for (size_t i = from; i < from + n; i++) {
                if (c.time[i] < zr.tmin) zr.tmin = c.time[i];
                if (c.time[i] > zr.tmax) zr.tmax = c.time[i];
                if (c.customer[i] < zr.cmin) zr.cmin = c.customer[i];
                if (c.customer[i] > zr.cmax) zr.cmax = c.customer[i];
                if (c.ctx[i] < zr.xmin) zr.xmin = c.ctx[i];
                if (c.ctx[i] > zr.xmax) zr.xmax = c.ctx[i];
                zr.statuses |= 1u << c.status[i];
                zr.channels |= 1u << c.channel[i];
            }
            for (int level = ENG__ISA_SCALAR; level <= ENG__ISA_AVX512; level++) {
                if (eng__isa_force(level) != level)
                    continue;
                eng__wr w;
                eng__wr_init(&w, &mem);
                eng__tseg_encode(&w, &c, from, n, 0, 0, 0);
                assert_int_equal(w.err, 0);
                eng__seg z;
                assert_int_equal(eng__tseg_zone(w.data, w.len, "t", &z), ENG_OK);
                assert_int_equal(z.tmin, zr.tmin);
                assert_int_equal(z.tmax, zr.tmax);
                assert_int_equal(z.cmin, zr.cmin);
                assert_int_equal(z.cmax, zr.cmax);
                assert_int_equal(z.xmin, zr.xmin);
                assert_int_equal(z.xmax, zr.xmax);
                assert_int_equal(z.statuses, zr.statuses);
                assert_int_equal(z.channels, zr.channels);
                eng__wr_free(&w);
            }
        }
    eng__isa_force(-1);
    eng__tcols_free(&c, &mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zone_every_isa),
        cmocka_unit_test(parts_same_bytes),
        cmocka_unit_test(sealed_from_chunks),
        cmocka_unit_test(corrupt_blocks),
        cmocka_unit_test(seal_faults),
        cmocka_unit_test(seal_oom),
        cmocka_unit_test(sealed_behind_in_a_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
