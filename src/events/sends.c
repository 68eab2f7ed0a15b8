/* Per-send state (arrays indexed by send id) and the idempotency-key index.
 * The index is open addressing; a slot holds the key hash's high 32 bits and
 * the send id + 1, so a probe that passes another key costs no access to the
 * per-send arrays (at 10^8 touches each such access is a cache miss). */
#include "events/ev_state.h"
#include "events/keypar.h"

#include <string.h>

/* The statuses by falling rank (eng__touch_rank: 7, 5, 3, 2, 1, 6, 4, then sent). */
#define FUR(m)                                                                                                    \
    ((m) >> 7 & 1 ? 7 : (m) >> 5 & 1 ? 5 : (m) >> 3 & 1 ? 3 : (m) >> 2 & 1 ? 2 : (m) >> 1 & 1 ? 1 : (m) >> 6 & 1 ? 6 \
     : (m) >> 4 & 1                                                                     ? 4                       \
                                                                                        : 0)
#define FUR4(m) FUR(m), FUR((m) + 1), FUR((m) + 2), FUR((m) + 3)
#define FUR16(m) FUR4(m), FUR4((m) + 4), FUR4((m) + 8), FUR4((m) + 12)
#define FUR64(m) FUR16(m), FUR16((m) + 16), FUR16((m) + 32), FUR16((m) + 48)
const uint8_t eng__furthest_of[256] = {FUR64(0), FUR64(64), FUR64(128), FUR64(192)};
#undef FUR64
#undef FUR16
#undef FUR4
#undef FUR

void eng__sends_free(eng__sends *s, const eng__mem *mem)
{
    eng__big_free(mem, s->hot);
    eng__big_free(mem, s->ctx);
    eng__big_free(mem, s->customer);
    eng__big_free(mem, s->sent_at);
    eng__big_free(mem, s->keyhash);
    eng__free(mem, s->slots);
    eng__free(mem, s->hashed);
    memset(s, 0, sizeof *s);
}

/* One per-send array to @p cap elements of @p size, its first @p n kept (an
 * eng__big_realloc array: from 4 MiB a mapping of its own that grows without a
 * copy, base/mem_big.c). Without @p pg, or when the array grows without a copy, a
 * realloc; else a new array filled a slice (64 KiB) per step, as at 10^7 sends a
 * copy is a few hundred ms; cancelled, the array is left as it was. @p only (NULL:
 * all): a bit per element, of the 64 elements of each word only those of a word
 * with a bit set are copied (the key hashes of the sends in the hash index: the
 * others' pages stay untouched). */
static int grow_arr(const eng__mem *mem, void **arr, size_t n, size_t cap, size_t size, eng__prog *pg,
                    const uint64_t *only, int huge)
{
    enum { SLICE = 65536 };
    if (size && cap > SIZE_MAX / size)
        return eng__nomem();
    if (pg && *arr && eng__big_maps(mem, cap * size) && eng__big_maps(mem, n * size))
        pg = NULL; /* a mapping already: grows in place or by moving its pages */
    char *p = huge ? eng__big_realloc_huge(mem, pg ? NULL : *arr, cap * size)
                   : eng__big_realloc(mem, pg ? NULL : *arr, cap * size);
    if (!p)
        return eng__nomem();
    if (pg) {
        for (size_t off = 0; off < n * size; off += SLICE) {
            size_t m = n * size - off < SLICE ? n * size - off : SLICE;
            if (!only)
                memcpy(p + off, (const char *)*arr + off, m);
            else /* SLICE is a multiple of 64 elements */
                for (size_t b = off; b < off + m; b += 64 * size)
                    if (only[b / size / 64])
                        memcpy(p + b, (const char *)*arr + b, off + m - b < 64 * size ? off + m - b : 64 * size);
            ENG__WORK(m / 1024); /* a KiB moved is counted as one unit */
            int rc = eng__prog_batch(pg, pg->done);
            if (rc) {
                eng__big_free(mem, p);
                return rc;
            }
        }
        eng__big_free(mem, *arr);
    }
    *arr = p;
    return ENG_OK;
}

/* Capacity for @p need sends. Each array grown is complete on its own, so a
 * failure (or a cancel of @p pg) part way leaves some arrays larger and
 * s->cap as it was. */
static int grow_to(eng__sends *s, const eng__mem *mem, size_t need, eng__prog *pg)
{
    if (need <= s->cap)
        return ENG_OK;
    if (need > UINT32_MAX - 1)
        return eng__err(ENG_ETOOBIG, "sends", "too many sends");
    size_t cap = s->cap ? s->cap : 1024;
    while (cap < need)
        cap *= 2;
    if (cap > UINT32_MAX - 1)
        cap = UINT32_MAX - 1;
    int rc;
#define G(f, only, huge)                                                                                       \
    if ((rc = grow_arr(mem, (void **)&s->f, s->n, cap, sizeof *s->f, pg, only, huge)))                          \
        return rc;
    /* hot on huge pages: a receipt reads its send's record at random (docs/events.md, 2026-12-07 morning) */
    G(hot, NULL, 1)
    G(ctx, NULL, 0)
    G(customer, NULL, 0)
    G(sent_at, NULL, 0)
    G(keyhash, s->hashed, 0)
#undef G
    size_t words = (cap + 63) / 64, old = ((size_t)s->cap + 63) / 64;
    uint64_t *hb = eng__realloc_array(mem, s->hashed, words, sizeof *hb);
    if (!hb)
        return eng__nomem();
    memset(hb + old, 0, (words - old) * sizeof *hb);
    s->hashed = hb;
    s->cap = (uint32_t)cap;
    return ENG_OK;
}

/* Make ids [n, upto) exist as "no send yet" entries. */
static void fill_empty(eng__sends *s, uint32_t upto)
{
    for (uint32_t i = s->n; i < upto; i++) {
        eng__shot_store(&s->hot[i], (eng__shot){.org = ENG__NO_ORG});
        s->ctx[i] = s->customer[i] = 0;
        s->sent_at[i] = 0;
        s->hashed[i / 64] &= ~(1ull << (i % 64));
    }
    if (upto > s->n)
        s->n = upto;
}

/* Each step of the rehash is this many slots zeroed or sends placed: with
 * the target lines missing the cache, 64 sends are a few us; the whole
 * index of 2*10^6 sends is ~200 ms, so it steps @p pg (see eng__sends_room). */
enum { REHASH_BLK = 64, ZERO_SLICE = 8192 }; /* a block: one word of s->hashed */

static int rehash(eng__sends *s, const eng__mem *mem, uint32_t nslots, eng__prog *pg)
{
    /* Fresh pages come zeroed from the system allocator: not written twice
     * (at 10^8 touches the index is 1 GiB). */
    int fresh;
    uint64_t *t = eng__malloc_big(mem, (size_t)nslots * sizeof *t, &fresh);
    if (!t)
        return eng__nomem();
    eng__mem_hint_huge(mem, t, (size_t)nslots * sizeof *t); /* before the pages are first touched */
    int rc = ENG_OK;
    for (uint32_t z = 0; z < nslots && !rc && !fresh; z += ZERO_SLICE) {
        uint32_t m = nslots - z < ZERO_SLICE ? nslots - z : ZERO_SLICE;
        memset(t + z, 0, (size_t)m * sizeof *t);
        ENG__WORK(m / 128); /* zeroing a slot costs about a 128th of placing a send */
        if (pg)
            rc = eng__prog_batch(pg, pg->done);
    }
    uint32_t mask = nslots - 1;
    /* In blocks: first prefetch every home slot of the block (the misses
     * overlap), then insert into lines now in cache. */
    for (uint32_t b = 0; b < s->n && !rc; b += REHASH_BLK) {
        uint32_t e = s->n - b < REHASH_BLK ? s->n : b + REHASH_BLK;
        if (!s->hashed[b / 64]) { /* a block of mapped sends, whose key hashes are not kept */
            ENG__WORK(e - b);
            continue;
        }
        for (uint32_t id = b; id < e; id++)
            if (s->hashed[id / 64] >> (id % 64) & 1)
                __builtin_prefetch(&t[(uint32_t)s->keyhash[id] & mask], 1);
        for (uint32_t id = b; id < e; id++) {
            if (s->hot[id].org == ENG__NO_ORG || !(s->hashed[id / 64] >> (id % 64) & 1))
                continue;
            uint32_t i = (uint32_t)s->keyhash[id] & mask;
            while (t[i])
                i = (i + 1) & mask;
            t[i] = (s->keyhash[id] >> 32 << 32) | (id + 1);
        }
        ENG__WORK(e - b);
        if (pg)
            rc = eng__prog_batch(pg, pg->done);
    }
    if (rc) { /* cancelled: the old index stays */
        eng__free(mem, t);
        return rc;
    }
    eng__free(mem, s->slots);
    s->slots = t;
    s->nslots = nslots;
    return ENG_OK;
}

/* Room in the hash index for more sends. */
static int index_room(eng__sends *s, const eng__mem *mem, size_t more, eng__prog *pg)
{
    size_t need = ((size_t)s->nhashed + more) * 2;
    if (need > s->nslots) {
        size_t ns = s->nslots ? s->nslots : 1024;
        while (ns < need)
            ns *= 2;
        if (ns > (1u << 31))
            return eng__err(ENG_ETOOBIG, "sends", "too many sends");
        return rehash(s, mem, (uint32_t)ns, pg);
    }
    return ENG_OK;
}

int eng__sends_room(eng__sends *s, const eng__mem *mem, size_t more, eng__prog *pg)
{
    int rc = grow_to(s, mem, (size_t)s->n + more, pg);
    return rc ? rc : index_room(s, mem, more, pg);
}

int eng__sends_reserve(eng__sends *s, const eng__mem *mem, size_t more)
{
    return grow_to(s, mem, (size_t)s->n + more, NULL);
}

int eng__sends_truncate(eng__sends *s, const eng__mem *mem, uint32_t n)
{
    if (n >= s->n)
        return ENG_OK;
    for (uint32_t id = n; id < s->n; id++) {
        if (s->hashed[id / 64] >> (id % 64) & 1)
            s->nhashed--;
        s->hot[id].org = ENG__NO_ORG;
        s->hot[id].mask = 0;
        s->hot[id].canon = 0;
        s->hashed[id / 64] &= ~(1ull << (id % 64));
    }
    s->n = n;
    return eng__sends_reindex(s, mem, NULL); /* the index still names the ids taken back */
}

int eng__sends_reindex(eng__sends *s, const eng__mem *mem, eng__prog *pg)
{
    size_t ns = 1024;
    while (ns < (size_t)s->nhashed * 2)
        ns *= 2;
    return rehash(s, mem, (uint32_t)ns, pg);
}

int64_t eng__sends_find(const eng__sends *s, uint64_t keyhash)
{
    if (!s->nslots)
        return -1;
    uint32_t mask = s->nslots - 1;
    uint64_t tag = keyhash >> 32 << 32;
    for (uint32_t i = (uint32_t)keyhash & mask;; i = (i + 1) & mask) {
        uint64_t v = s->slots[i];
        if (!v)
            return -1;
        uint32_t id = (uint32_t)v - 1;
        if ((v >> 32 << 32) == tag && s->keyhash[id] == keyhash && s->hot[id].org != ENG__NO_ORG)
            return id;
    }
}

int eng__sends_add(eng__sends *s, const eng__mem *mem, uint32_t id, uint16_t org, uint32_t ctx,
                   uint32_t customer, uint8_t channel, eng_time at, uint64_t keyhash, int index)
{
    int rc = grow_to(s, mem, (size_t)id + 1, NULL);
    if (rc || (index == ENG__SEND_INDEX && (rc = index_room(s, mem, 1, NULL))))
        return rc;
    if (id > s->n)
        fill_empty(s, id);
    if (id >= s->n) { /* a new id: what the fields below do not set */
        s->hot[id].mask = 0;
        s->hot[id].canon = 0;
        s->hashed[id / 64] &= ~(1ull << (id % 64));
        s->n = id + 1;
    }
    eng__sends_fields(s, id, org, ctx, customer, channel, at);
    s->hot[id].mask |= 1u << ENG_TOUCH_SENT;
    if (index == ENG__SEND_MAPPED) {
        eng__sends_mapped_hash(s, id, keyhash);
        return ENG_OK;
    }
    s->keyhash[id] = keyhash;
    s->hashed[id / 64] |= 1ull << (id % 64);
    s->nhashed++;
    if (index == ENG__SEND_INDEX) {
        uint32_t mask = s->nslots - 1, i = (uint32_t)keyhash & mask;
        while (s->slots[i])
            i = (i + 1) & mask;
        s->slots[i] = (keyhash >> 32 << 32) | (id + 1);
    }
    return ENG_OK;
}

/* A row of a send that is new, or not yet put (its receipts may come first): in
 * the hash index, its key hash @p h kept. */
static void load_hashed(eng__sends *s, uint32_t id, uint64_t h)
{
    s->keyhash[id] = h;
    s->hashed[id / 64] |= 1ull << (id % 64);
    s->nhashed++;
}

enum { LOAD_AHEAD = 16 }; /* rows: a receipt's send is a random line of s->hot */

int eng__sends_load(eng__ev *ev, eng__evorg *o, const eng__tcols *c, int index)
{
    eng__sends *s = &ev->s;
    const eng__mem *mem = &ev->e->mem;
    if (!c->n)
        return ENG_OK;
    uint32_t top = 0;
    for (size_t i = 0; i < c->n; i++)
        top = c->send[i] > top ? c->send[i] : top;
    int rc = grow_to(s, mem, (size_t)top + 1, NULL);
    if (rc)
        return rc;
    fill_empty(s, top + 1); /* every id of the rows exists, so a receipt before its send is one OR */
    size_t k = 0;
    for (size_t i = 0; i < c->n && !rc; i++) {
        if (i + LOAD_AHEAD < c->n)
            __builtin_prefetch(&s->hot[c->send[i + LOAD_AHEAD]], 1);
        uint32_t id = c->send[i];
        if (c->status[i] != ENG_TOUCH_SENT) {
            s->hot[id].mask |= (uint8_t)(1u << c->status[i]);
            continue;
        }
        uint64_t h = c->keyhash[k++];
        if (index != ENG__SEND_INDEX_LATER) { /* another engine's chunk: into the index now */
            /* a key not stored (h 0): into the index once its context's prefix is read (eng__sends_rekey) */
            if (!(rc = eng__sends_add(s, mem, id, o->code, c->ctx[i], c->customer[i], c->channel[i], c->time[i], h,
                                      h ? index : ENG__SEND_MAPPED)) &&
                !(rc = h ? ENG_OK : eng__rekey_push(ev, id)) && c->first[i])
                eng__sends_canon_set(s, id);
            continue;
        }
        uint32_t cx = c->ctx[i];
        /* the record in one store, as eng__sends_add_mapped: field by field it was byte
         * stores then read-modify-writes of the same word (touch_write.c's `sent` stall) */
        eng__shot was = s->hot[id];
        eng__shot_store(&s->hot[id], (eng__shot){.org = o->code, .channel = c->channel[i] & 0x7fu,
                                                 .canon = was.canon | (c->first[i] != 0),
                                                 .mask = (uint8_t)(was.mask | 1u << ENG_TOUCH_SENT)});
        s->ctx[id] = cx;
        s->customer[id] = c->customer[i];
        s->sent_at[id] = c->time[i];
        int placed = 0;
        /* flagged `first` in a context whose prefix is stored: its key is that prefix, its
         * customer and its channel, so its context's map finds it (keymap.c) and its key
         * hash is neither kept nor indexed */
        if (c->first[i]) {
            if (cx < o->nkm && o->km[cx].pstore == 2 && !(placed = eng__kmap_put_next(o, cx, c->customer[i], id)))
                rc = eng__kmap_put(o, s, mem, cx, c->customer[i], id, &placed);
        }
        if (placed)
            eng__sends_mapped_hash(s, id, h);
        else if (h)
            load_hashed(s, id, h);
        else /* flagged, its key not stored: hashed again once the org's dictionary is read */
            rc = eng__rekey_push(ev, id);
    }
    return rc;
}

int eng__sends_hashed(eng__sends *s, const eng__mem *mem, const uint32_t *id, const uint64_t *h, size_t n,
                      int index)
{
    int rc = index == ENG__SEND_INDEX ? index_room(s, mem, n, NULL) : ENG_OK;
    for (size_t j = 0; j < n && !rc; j++) {
        if (index == ENG__SEND_INDEX) {
            uint32_t mask = s->nslots - 1, i = (uint32_t)h[j] & mask;
            while (s->slots[i])
                i = (i + 1) & mask;
            s->slots[i] = (h[j] >> 32 << 32) | (id[j] + 1);
        }
        load_hashed(s, id[j], h[j]);
    }
    return rc;
}

int eng__sends_view_get(eng_engine *e, eng__sends_view *out)
{
    eng__ev *ev;
    int rc = eng__ev_get(e, &ev);
    if (rc)
        return rc;
    out->n = ev->s.n;
    out->hot = ev->s.hot;
    out->ctx = ev->s.ctx;
    out->customer = ev->s.customer;
    out->sent_at = ev->s.sent_at;
    return ENG_OK;
}

/* The pages of the per-send arrays one of the engine's threads faults in (eng__sends_ahead). */
typedef struct ahead {
    const eng__mem *mem;
    void *p[4];
    size_t size[4], m; /* element sizes, sends */
    eng__pipe pp;      /* one job: the caller's at the join when no thread has taken it */
} ahead;

/* sends: 128 KiB of times, 64 KiB of each other array. A populate call a slice and array:
 * slices of 2,048 sends (8-16 KiB) took 7.1 ns a send of system time, 16,384 took 5.8
 * (the three 4 KiB-page arrays alone; docs/events.md, 2026-12-07 night); a slice is then
 * ~130 us of faults between the serves of a seal's encode. */
enum { AHEAD_SLICE = 16384 };

/* Slice @p off of every array: 0 when done. */
static int ahead_slice(const ahead *a, size_t off)
{
    size_t m = a->m - off < AHEAD_SLICE ? a->m - off : AHEAD_SLICE;
    for (int k = 0; k < 4; k++)
        if (eng__mem_populate(a->mem, (char *)a->p[k] + off * a->size[k], m * a->size[k]))
            return -1;
    return 0;
}

/* The arrays side by side, a slice of sends at a time, in the order the writer goes
 * (one array after the other would leave it the last arrays' faults); but the last
 * slice first: where an array has huge pages (2 MiB), the one the writer enters
 * last is then faulted in long before it gets there, and the first is most often
 * in already (the sends before). Two threads faulting one huge page both zero it. */
static void ahead_run(void *arg, size_t k)
{
    (void)k;
    ahead *a = arg;
    size_t last = (a->m - 1) / AHEAD_SLICE * AHEAD_SLICE;
    if (ahead_slice(a, last))
        return; /* refused: the writer takes the faults */
    /* between slices, the work the writer waits for (a seal's encode) first */
    for (size_t off = 0; off < last; off += AHEAD_SLICE) {
        eng__tpool_serve(a->pp.pool);
        if (ahead_slice(a, off))
            break;
    }
}

void *eng__sends_ahead(const eng__sends *s, const eng__mem *mem, eng__tpool *pool, unsigned threads, uint32_t from,
                       uint32_t to)
{
    to = to < s->cap ? to : s->cap;
    if (!threads || to <= from || (to - from) < eng__keypar_min_rows || !eng__mem_populates(mem))
        return NULL;
    ahead *a = eng__malloc(mem, sizeof *a);
    if (!a)
        return NULL; /* nothing is lost: the writer takes the faults */
    a->mem = mem;
    a->m = to - from;
    a->p[0] = s->sent_at + from, a->size[0] = sizeof *s->sent_at;
    a->p[1] = s->hot + from, a->size[1] = sizeof *s->hot;
    a->p[2] = s->ctx + from, a->size[2] = sizeof *s->ctx;
    a->p[3] = s->customer + from, a->size[3] = sizeof *s->customer;
    /* a worker beyond the call's threads, as the thread of its own it was: the chunks of the
     * batch's keys take those (keypar.c), and this job waiting for them would leave the faults
     * to the writer */
    eng__tpool_grow(pool, threads + 1);
    eng__pipe_start(&a->pp, pool, 1, 1, ahead_run, a);
    if (!a->pp.pool) { /* no thread: the writer takes the faults */
        eng__free(mem, a);
        return NULL;
    }
    return a;
}

void eng__sends_ahead_join(const eng__mem *mem, void *h)
{
    if (!h)
        return;
    ahead *a = h;
    eng__pipe_end(&a->pp);
    eng__free(mem, a);
}
