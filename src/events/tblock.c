/* A touch tail sealed from its chunks' bytes: blocked segments (payload kind 4, tseg.c).
 *
 * Every storage batch stores its new rows as a tail chunk (a kind-2 payload), and
 * the batch that fills the tail seals it into one segment. Encoding that segment
 * from the rows again encoded every row of the earlier chunks twice: about a third
 * of the encoding at W6, where batches are large (docs/events.md, session 8). A
 * blocked segment instead holds, in row order, the payloads of the tail's chunks of
 * at least eng__seg_seal_rows / 16 rows as they were stored, and the rows between
 * them (smaller chunks, the sealing batch's own rows) encoded as blocks of their own:
 *
 *   u8 kind (4), uvar n, uvar nsent, zone (as kinds 1-3: the union of the blocks'),
 *   uvar nblocks (>= 2), nblocks x {uvar len, a kind-2 payload of len bytes}
 *
 * A block's bytes are those of eng__tseg_encode of its rows, so a segment is a
 * function of the tail's rows and its chunk boundaries, whether a chunk's bytes
 * were kept in memory (tchunk.p) or are encoded again (a chunk loaded as kind 1).
 * The decoder checks each block as a kind-2 payload and the blocks against the
 * segment: rows and keys adding up, the union of their zones equal to its zone. */
#include "events/ev_state.h"

#include <string.h>

int eng__tchunks_room(eng__evorg *o, const eng__mem *mem)
{
    size_t cap = o->tchcap;
    if (o->ntch < cap)
        return ENG_OK;
    if (eng__grow(mem, (void **)&o->tch, &cap, (size_t)o->ntch + 1, sizeof *o->tch))
        return eng__nomem();
    o->tchcap = (uint32_t)cap;
    return ENG_OK;
}

void eng__tchunks_push(eng__evorg *o, uint32_t end, uint32_t keys_end, uint8_t *own, const uint8_t *p, size_t len,
                       size_t cap, uint32_t crc)
{
    o->tch[o->ntch++] = (eng__tchunk){end, keys_end, own, p, len, cap, crc};
}

void eng__tchunks_keep(eng__evorg *o, const eng__mem *mem, uint32_t n)
{
    for (; o->ntch > n; o->ntch--)
        eng__free(mem, o->tch[o->ntch - 1].own);
}

typedef eng__tblk block;

static int add_rows(block *b, size_t *nb, size_t from, size_t to, size_t kfrom, size_t kto)
{
    if (from == to)
        return 0;
    b[(*nb)++] = (block){from, to - from, kfrom, kto - kfrom, NULL, 0, 0, 0};
    return 1;
}

static void zone_union(eng__seg *u, const eng__seg *z, int first)
{
    if (first) {
        *u = *z;
        return;
    }
    u->tmin = z->tmin < u->tmin ? z->tmin : u->tmin;
    u->tmax = z->tmax > u->tmax ? z->tmax : u->tmax;
    u->statuses |= z->statuses;
    u->channels |= z->channels;
    u->cmin = z->cmin < u->cmin ? z->cmin : u->cmin;
    u->cmax = z->cmax > u->cmax ? z->cmax : u->cmax;
    u->xmin = z->xmin < u->xmin ? z->xmin : u->xmin;
    u->xmax = z->xmax > u->xmax ? z->xmax : u->xmax;
}

/* The blocks of the tail (at most 2 a chunk, and one more): its chunks of at least
 * minb rows, and the rows between them; 0: the chunks are not the tail's. */
static size_t plan(const eng__evorg *o, block *b)
{
    const eng__tcols *t = &o->tail;
    const size_t minb = eng__tblock_min_rows();
    size_t nb = 0, at = 0, kat = 0, prev = 0, kprev = 0;
    for (uint32_t i = 0; i < o->ntch; i++) {
        const eng__tchunk *h = &o->tch[i];
        if (h->end < prev || h->end > t->n || h->keys_end < kprev || h->keys_end > t->nkey)
            return 0; /* not the tail's chunks: encode the rows */
        if (h->end - prev >= minb) {
            add_rows(b, &nb, at, prev, kat, kprev);
            if (add_rows(b, &nb, prev, h->end, kprev, h->keys_end) && h->p) {
                b[nb - 1].p = h->p;
                b[nb - 1].len = h->len;
                b[nb - 1].chunk = i + 1;
            }
            at = h->end, kat = h->keys_end;
        }
        prev = h->end, kprev = h->keys_end;
    }
    add_rows(b, &nb, at, t->n, kat, t->nkey);
    return nb;
}

/* The bytes of a LEB128 uvar of v (eng__wr_uvar), and v's encoding at p. */
static size_t uvar_len(uint64_t v)
{
    size_t n = 1;
    while (v >>= 7)
        n++;
    return n;
}

static void uvar_at(uint8_t *p, uint64_t v)
{
    do {
        *p = (uint8_t)(v & 0x7f);
        v >>= 7;
        *p++ |= v ? 0x80 : 0;
    } while (v);
}

/* The most bytes the encode of block b's rows takes. */
static size_t block_most(const block *b)
{
    return 64 + b->n * 16 + b->nkey * 8;
}

/* Block i's bytes written by w at its end, its length first: copied when kept, else
 * encoded in place (behind as many length bytes as its largest size needs, moved
 * down when fewer do) with the part writers par; b[i].off, b[i].len: where they are. */
static void put_block(eng__ev *ev, eng__wr *par, const eng__tcols *t, block *b, size_t i, eng__wr *w)
{
    size_t at = w->len, len = b[i].len, k;
    if (b[i].p) {
        eng__wr_uvar(w, len);
        k = w->len - at;
        eng__wr_bytes(w, b[i].p, len);
    } else {
        size_t most = block_most(&b[i]);
        k = uvar_len(most);
        if (eng__wr_reserve(w, k + most))
            return;
        w->len += k;
        eng__tseg_encode_par_with(ev, par, w, t, b[i].from, b[i].n, b[i].key_from, b[i].nkey, 0);
        len = w->len - at - k;
        if (uvar_len(len) < k) {
            memmove(w->data + at + uvar_len(len), w->data + at + k, len);
            w->len -= k - uvar_len(len);
            k = uvar_len(len);
        }
        uvar_at(w->data + at, len);
    }
    b[i].off = at + k;
    b[i].len = len;
}

/* The most bytes of a kind-4 header and its first block's length: kind, rows and keys
 * (up to 2^16: 3 bytes each), zone (2 svar, statuses, channels, 4 uvar32), blocks, length. */
enum { HEAD_MAX = 1 + 3 + 3 + 2 * 10 + 2 + 3 + 4 * 5 + 5 + 5 };

/* The segment of the blocks planned in s, built in the buffer of the tail's first chunk,
 * whose bytes are b[0]'s: the others after them, the header before. Three steps, so that
 * the second (the blocks' bytes: the encode) can run on a worker while the batch goes on
 * (tseal.c): prepared by the caller, it allocates nothing.
 * Step 1: s->w the chunk's buffer grown to hold every block at its largest, the part
 * writers' room reserved; s->nb 0 when the segment cannot be built so (nothing changed). */
static int around_prep(eng__ev *ev, eng__evorg *o, eng__tseal *s, size_t nb)
{
    eng__tchunk *h = &o->tch[0];
    size_t at = (size_t)(h->p - h->own), room = 0, rows = 0, keys = 0;
    if (at < ENG__REC_HEADER + HEAD_MAX || h->cap < at + h->len)
        return ENG_OK;
    for (size_t i = 1; i < nb; i++) {
        const block *c = &s->b[i];
        size_t m = c->p ? c->len : block_most(c);
        room += uvar_len(m) + m;
        rows = c->p || c->n < rows ? rows : c->n;
        keys = c->p || c->nkey < keys ? keys : c->nkey;
    }
    eng__wr x = {&ev->e->mem, h->own, at + h->len, h->cap, 0};
    int rc = eng__wr_reserve(&x, room);
    /* the buffer may have moved (grown): the chunk's still, until the seal takes it */
    h->own = x.data;
    h->p = x.data + at;
    h->cap = x.cap;
    if (rc || (rc = eng__tseal_parts(s, rows, keys)))
        return rc;
    s->w = x;
    s->at = at;
    s->nb = nb;
    return ENG_OK;
}

void eng__tblock_around_encode(eng__tseal *s)
{
    for (size_t i = 1; i < s->nb && !s->w.err; i++)
        put_block(s->ev, s->par, &s->cols, s->b, i, &s->w);
}

/* Step 3: the blocks' zones, and the header before the first chunk's bytes: *skew where
 * the record starts in s->w. */
static int around_finish(eng__ev *ev, eng__tseal *s, const eng__tchunk *h, size_t *skew)
{
    if (s->w.err)
        return eng__nomem();
    for (int k = 0; k < ENG__TSEG_PARTS; k++)
        if (s->par[k].err)
            return eng__nomem();
    eng__seg u, z;
    memset(&u, 0, sizeof u);
    int rc = eng__tseg_zone(h->p, h->len, s->key, &u);
    for (size_t i = 1; i < s->nb && !rc; i++)
        if (!(rc = eng__tseg_zone(s->w.data + s->b[i].off, s->b[i].len, s->key, &z)))
            zone_union(&u, &z, 0);
    eng__wr hw;
    eng__wr_init(&hw, &ev->e->mem);
    if (!rc) {
        eng__tseg_zone_put(&hw, 4, s->cols.n, s->cols.nkey, &u);
        eng__wr_uvar(&hw, s->nb);
        eng__wr_uvar(&hw, h->len);
        rc = hw.err ? eng__nomem() : ENG_OK;
    }
    if (!rc && hw.len > s->at - ENG__REC_HEADER) /* cannot be (HEAD_MAX) */
        rc = eng__err(ENG_ERROR, s->key, "touch segment %s: a header of %zu bytes", s->key, hw.len);
    if (!rc) {
        memcpy(s->w.data + s->at - hw.len, hw.data, hw.len);
        *skew = s->at - hw.len - ENG__REC_HEADER;
    }
    eng__wr_free(&hw);
    return rc;
}

int eng__tblock_around_finish(eng__ev *ev, eng__evorg *o, eng__tseal *s, eng__wr *w, size_t *skew)
{
    int rc = around_finish(ev, s, &o->tch[0], skew);
    if (!rc)
        *w = s->w;
    return rc; /* s->nb kept for the record's put (tref.c), then reset by the join */
}

uint8_t eng__tblock_around = 1;

int eng__tblock_seal(eng__ev *ev, eng__evorg *o, eng__tseal *sl, eng__wr *w, int *blocked)
{
    const eng__mem *mem = &ev->e->mem;
    const eng__tcols *t = &o->tail;
    const char *key = sl->key;
    *blocked = 0;
    sl->nb = 0;
    if (!o->ntch || o->ntch != o->tchunk_next - o->tchunk_first)
        return ENG_OK;
    size_t bcap = sl->bcap;
    if (eng__grow(mem, (void **)&sl->b, &bcap, 2 * (size_t)o->ntch + 1, sizeof *sl->b))
        return eng__nomem();
    sl->bcap = bcap;
    block *b = sl->b;
    size_t nb = plan(o, b), bytes = 0;
    if (nb == 1 && !b[0].p) /* one block, encoded now: the plain segment (kind 2) */
        nb = 0;
    int rc;
    if (eng__tblock_around && nb > 1 && b[0].p && b[0].p == o->tch[0].p && o->tch[0].cap) {
        if ((rc = around_prep(ev, o, sl, nb)) || sl->nb) {
            *blocked = rc ? 0 : 2;
            return rc;
        }
    }
    /* the blocks encoded now go to a scratch kept by the engine (no new pages a seal) */
    eng__wr *s = &ev->blk;
    s->len = 0;
    s->err = 0;
    for (size_t i = 0; i < nb && !s->err; i++)
        if (!b[i].p) {
            b[i].off = s->len;
            if (!eng__wr_reserve(s, block_most(&b[i])))
                eng__tseg_encode_par(ev, s, t, b[i].from, b[i].n, b[i].key_from, b[i].nkey, 0);
            b[i].len = s->len - b[i].off;
        }
    rc = s->err ? eng__nomem() : ENG_OK;
    eng__seg u, z;
    memset(&u, 0, sizeof u);
    for (size_t i = 0; i < nb && !rc; i++) {
        if (!b[i].p)
            b[i].p = s->data + b[i].off;
        bytes += b[i].len;
        if (!(rc = eng__tseg_zone(b[i].p, b[i].len, key, &z)))
            zone_union(&u, &z, i == 0);
    }
    if (!rc && nb) {
        eng__tseg_wr_start(w, mem, t->n, t->nkey); /* sized as an encoded segment: the allocator reuses the
                                                     * room of one for the other (compaction replaces them) */
        if (nb == 1) { /* one chunk holds the whole tail: its payload is the segment's (kind 2) */
            eng__wr_bytes(w, b[0].p, b[0].len);
        } else if (!eng__wr_reserve(w, 64 + bytes + nb * 10)) {
            eng__tseg_zone_put(w, 4, t->n, t->nkey, &u);
            eng__wr_uvar(w, nb);
            for (size_t i = 0; i < nb; i++) {
                eng__wr_uvar(w, b[i].len);
                eng__wr_bytes(w, b[i].p, b[i].len);
            }
        }
        sl->nb = nb; /* for the record's put (tref.c) */
        *blocked = 1;
    }
    return rc;
}

static int same_zone(const eng__seg *a, const eng__seg *b)
{
    return a->tmin == b->tmin && a->tmax == b->tmax && a->statuses == b->statuses && a->channels == b->channels &&
           a->cmin == b->cmin && a->cmax == b->cmax && a->xmin == b->xmin && a->xmax == b->xmax;
}

int eng__tblock_decode(eng__rd *r, const char *key, const eng__seg *z, uint64_t nkey, eng__tcols *c)
{
    uint64_t nb = eng__rd_uvar(r);
    if (!eng__rd_ok(r) || nb < 2 || nb > z->n)
        return eng__err(ENG_ECORRUPT, key, "touch segment %s: bad block count", key);
    eng__seg u;
    memset(&u, 0, sizeof u);
    for (uint64_t i = 0; i < nb; i++) {
        uint64_t len = eng__rd_uvar(r);
        const uint8_t *p = eng__rd_ok(r) && len <= eng__rd_left(r) ? eng__rd_bytes(r, (size_t)len) : NULL;
        if (!p)
            return eng__err(ENG_ECORRUPT, key, "touch segment %s: block %llu cut short", key, (unsigned long long)i);
        eng__rd br;
        eng__seg bz;
        uint64_t bk;
        uint8_t kind;
        eng__rd_init(&br, p, (size_t)len);
        int rc = eng__tseg_head(&br, key, &bz, &bk, &kind);
        if (rc)
            return rc;
        /* each block a kind-2 payload of at least a row, inside the room of the segment's rows */
        if (kind != 2 || bz.n == 0 || bz.n > z->n - c->n || bk > nkey - c->nkey)
            return eng__err(ENG_ECORRUPT, key, "touch segment %s: block %llu does not fit it", key,
                            (unsigned long long)i);
        if ((rc = eng__tseg_decode_cols(&br, key, &bz, bk, kind, c)))
            return rc;
        zone_union(&u, &bz, i == 0);
    }
    if (eng__rd_left(r) || c->n != z->n || c->nkey != nkey || !same_zone(&u, z))
        return eng__err(ENG_ECORRUPT, key, "touch segment %s: its blocks do not add up to it", key);
    return ENG_OK;
}
