/* Writing touches: `sent` from the dispatcher (inside its batch) and the
 * provider receipts of eng_touch_append (in a batch of their own). */
#include "events/ev_state.h"
#include "events/keypar.h"
#include "base/handle.h"

#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define KEY_MAX ENG__EV_KEY_MAX
/* `sent` rows are checked against the key index in blocks of this many. */
#define SENT_BLOCK 512

/* One more row in an org's tail, sealing it first when full; room for up to
 * @p sent `sent` rows (0: one receipt row), as many as fit before the next seal. */
static int tail_room(eng__ev *ev, eng__evorg *o, size_t sent)
{
    int rc;
    if (o->tail.n >= eng__seg_seal_rows && (rc = eng__ttail_seal_behind(ev, o)))
        return rc;
    size_t fit = eng__seg_seal_rows - o->tail.n, more = sent < fit ? sent : fit;
    if ((rc = eng__tcols_reserve(&o->tail, &ev->e->mem, more ? more : 1)))
        return rc;
    return sent ? eng__tcols_key_reserve(&o->tail, &ev->e->mem, more) : ENG_OK;
}

/* A receipt of a send one at a time (pending joins, and the receipts the
 * apply pass leaves): the dedup bit, the tail row, the furthest status. */
int eng__touch_apply(eng__ev *ev, uint32_t send, uint8_t status, eng_time t, const char *detail, size_t dlen,
                     int *dup, int *optout)
{
    eng__sends *s = &ev->s;
    *dup = 0;
    *optout = 0;
    if (s->hot[send].mask & (1u << status)) {
        *dup = 1;
        return ENG_OK;
    }
    eng__evorg *o = eng__ev_org_by_code(ev, s->hot[send].org);
    uint32_t dcode = 0;
    int rc;
    if (!o)
        return eng__err(ENG_ECORRUPT, "send", "a send names org code %u, which is not known",
                        (unsigned)s->hot[send].org);
    if (dlen) {
        if ((rc = eng__dict_intern(&o->det, detail, dlen, &dcode)))
            return rc;
        dcode++;
    }
    eng__tcols *c = &o->tail;
    if ((c->n >= eng__seg_seal_rows || c->n >= c->cap) && (rc = tail_room(ev, o, 0)))
        return rc;
    size_t i = c->n++;
    c->time[i] = t;
    c->customer[i] = s->customer[send];
    c->ctx[i] = s->ctx[send];
    c->channel[i] = s->hot[send].channel;
    c->status[i] = status;
    c->send[i] = send;
    c->detail[i] = dcode;
    c->first[i] = (uint8_t)eng__sends_canon(s, send);
    s->hot[send].mask |= (uint8_t)(1u << status);
    *optout = status == ENG_TOUCH_UNSUBSCRIBED || status == ENG_TOUCH_COMPLAINED;
    return ENG_OK;
}

/* Opt out the customers of the sends in @p sends (unsubscribe/complaint). */
static int apply_optouts(eng__ev *ev, const uint32_t *sends, const uint8_t *src, const eng_time *ts, size_t n)
{
    if (!n)
        return ENG_OK;
    ev->aud_written = 1;
    const eng__mem *mem = &ev->e->mem;
    uint32_t *ids = eng__malloc(mem, n * sizeof *ids);
    uint8_t *ch = eng__malloc(mem, n), *sr = eng__malloc(mem, n);
    int rc = ENG_OK;
    if (!ids || !ch || !sr)
        rc = eng__nomem();
    /* Each org's customers are its own: opt out per org, in send order within it. */
    for (size_t i = 0; i < n && !rc; i++) {
        uint16_t org = ev->s.hot[sends[i]].org;
        int first = 1;
        for (size_t k = 0; k < i && first; k++)
            first = ev->s.hot[sends[k]].org != org;
        if (!first)
            continue;
        size_t m = 0;
        eng_time *t = eng__malloc(mem, n * sizeof *t);
        if (!t) {
            rc = eng__nomem();
            break;
        }
        for (size_t k = i; k < n; k++)
            if (ev->s.hot[sends[k]].org == org) {
                ids[m] = ev->s.customer[sends[k]];
                ch[m] = ev->s.hot[sends[k]].channel;
                sr[m] = src[k];
                t[m++] = ts[k];
            }
        const eng__evorg *o = eng__ev_org_by_code(ev, org);
        rc = o ? eng__aud_optout(ev->e, o->name, ids, ch, sr, t, m)
               : eng__err(ENG_ECORRUPT, "send", "a send names org code %u, which is not known", (unsigned)org);
        eng__free(mem, t);
    }
    eng__free(mem, ids);
    eng__free(mem, ch);
    eng__free(mem, sr);
    return rc;
}

int eng__opt_push(const eng__mem *mem, eng__optlist *l, uint32_t send, eng_time t, int status)
{
    if (l->n + 1 > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        uint8_t *src = eng__realloc_array(mem, l->src, cap, 1);
        if (!src)
            return eng__nomem();
        l->src = src;
        uint32_t *s = eng__realloc_array(mem, l->send, cap, sizeof *s);
        if (!s)
            return eng__nomem();
        l->send = s;
        eng_time *ts = eng__realloc_array(mem, l->ts, cap, sizeof *ts);
        if (!ts)
            return eng__nomem();
        l->ts = ts;
        l->cap = cap;
    }
    l->send[l->n] = send;
    l->src[l->n] = status == ENG_TOUCH_COMPLAINED ? ENG_CONSENT_SOURCE_COMPLAINT : ENG_CONSENT_SOURCE_UNSUBSCRIBE;
    l->ts[l->n++] = t;
    return ENG_OK;
}

static void opt_free(const eng__mem *mem, eng__optlist *l)
{
    eng__free(mem, l->send);
    eng__free(mem, l->ts);
    eng__free(mem, l->src);
}

#define PROBE_AHEAD 32
#define NO_SEND ENG__NO_SEND
typedef eng__rkey rkey;

static void probe_all(const eng__sends *s, const uint64_t *h, size_t n, uint32_t *cand)
{
    if (!s->nslots) {
        for (size_t i = 0; i < n; i++)
            cand[i] = NO_SEND;
        return;
    }
    const uint32_t mask = s->nslots - 1;
    const uint64_t *slots = s->slots;
    for (size_t i = 0; i < n; i++) {
        if (i + PROBE_AHEAD < n)
            __builtin_prefetch(&slots[(uint32_t)h[i + PROBE_AHEAD] & mask]);
        uint64_t tag = h[i] >> 32 << 32, v;
        uint32_t c = NO_SEND;
        for (uint32_t j = (uint32_t)h[i] & mask; (v = slots[j]) != 0; j = (j + 1) & mask)
            if ((v >> 32 << 32) == tag) {
                c = (uint32_t)v - 1;
                break;
            }
        cand[i] = c;
    }
}

static int check_sent(const eng__send_ctx *ctx, const eng__sent_row *rows, size_t n)
{
    if (!ctx || !ctx->org || !*ctx->org)
        return eng__err(ENG_EINVAL, "ctx.org", "sent touches need an org");
    if (n && !rows)
        return eng__err(ENG_EINVAL, "rows", "rows is NULL");
    for (size_t i = 0; i < n; i++) {
        char det[48];
        const char *bad = !rows[i].key || rows[i].klen == 0 || rows[i].klen > KEY_MAX ? "key"
                          : rows[i].channel >= ENG_CH_COUNT                          ? "channel"
                          : rows[i].time < 0                                         ? "time"
                                                                                      : NULL;
        if (bad) {
            snprintf(det, sizeof det, "rows[%zu].%s", i, bad);
            return eng__err(ENG_EINVAL, det, "sent touch %zu: bad %s", i, bad);
        }
    }
    return ENG_OK;
}

/* Bits [from, to) of w cleared, a word at a time. */
static void bits_clear(uint64_t *w, uint32_t from, uint32_t to)
{
    if (from >= to)
        return;
    size_t a = from / 64, b = (to - 1) / 64;
    uint64_t lo = ~0ull << (from % 64), hi = ~0ull >> (63 - (to - 1) % 64);
    if (a == b) {
        w[a] &= ~(lo & hi);
        return;
    }
    w[a] &= ~lo;
    memset(w + a + 1, 0, (b - a - 1) * sizeof *w);
    w[b] &= ~hi;
}

/* The usual `sent` rows of a dispatcher's batch from row i up to end (parsed, in one
 * SENT_BLOCK): each of the dispatcher's form (mapped), of a context whose keys need no
 * probe of the hash index, a new customer of the context's key map within its span or
 * right past it (eng__kmap_put_next), with room in the tail and the sends' arrays. Their
 * state in locals and the tail's byte columns written after the rows: a byte store may
 * alias any field, so in the loop below every pointer of the tail, the map and the
 * sends was read again after each of the row's byte stores. Stops at the first row that
 * is not such a row (the caller's loop takes it); returns where it stopped. The same
 * rows, ids and map entries as that loop. */
static size_t sent_run(eng__ev *ev, eng__evorg *o, uint32_t cx, const eng__sent_row *rows, size_t i, size_t end,
                       const uint64_t *hs, const uint8_t *mapped, uint64_t *accepted)
{
    eng__sends *s = &ev->s;
    eng__tcols *c = &o->tail;
    if (ev->npend || cx >= o->nkm || !o->km[cx].span || c->n >= eng__seg_seal_rows)
        return i;
    size_t room = eng__seg_seal_rows - c->n;
    room = c->cap - c->n < room ? c->cap - c->n : room;
    room = c->keycap - c->nkey < room ? c->keycap - c->nkey : room;
    room = (size_t)(s->cap - s->n) < room ? (size_t)(s->cap - s->n) : room;
    eng__kmap *m = &o->km[cx];
    uint32_t *v = m->v, base = m->base, span = m->span, count = m->count, id = s->n;
    const uint32_t zeroed = m->zeroed, id0 = id;
    const uint16_t org = o->code;
    const uint8_t canon = cx >= o->km_loaded;
    /* a flagged send's key hash is not stored: its context's prefix, customer and channel give it (tseg.c) */
    const uint64_t kmask = canon && eng__tseg_skeys ? 0 : ~0ull;
    size_t r = c->n, k = c->nkey, r0 = r;
    eng_time *ttime = c->time;
    uint32_t *tcust = c->customer, *tctx = c->ctx, *tsend = c->send, *tdet = c->detail;
    uint64_t *tkey = c->keyhash, *hashed = s->hashed;
    eng__shot *hot = s->hot;
    uint32_t *sctx = s->ctx, *scust = s->customer;
    eng_time *sat = s->sent_at;
    uint8_t ch[SENT_BLOCK]; /* the rows' channels, copied to the tail's column after them */
    end = end - i < room ? end : i + room; /* a row a loop: r - r0 == i less where it started */
    /* the run of the last row's entry, its mask in rmask until the rows leave it: the next
     * customer, in the same run, extends it when the last row's entry did (eng__kmap_run_add's
     * test, known here without reading the run or the map's entry before it) */
    eng__kmrun *rr = NULL;
    uint32_t rmask = 0, poff = 0, pin = 0;
    /* below lim, a customer right past the span passes the map's tests (zeroed ahead, not too
     * sparse: count only grows in the loop), so they are not made a row */
    const uint64_t sparse = 4 * (uint64_t)count + 65535;
    const uint32_t lim = sparse < zeroed ? (uint32_t)sparse : zeroed;
    for (; i < end && mapped[i] == 1; i++) {
        const eng__sent_row *w = &rows[i];
        uint32_t cu = w->customer, off = cu - base;
        if (cu < base)
            break;
        if (off >= span && (off != span || (off >= lim && (off >= zeroed || (uint64_t)off + 1 > 4 * (uint64_t)count + 65536))))
            break;
        if (v[off]) /* a duplicate, or taken: the caller's loop decides */
            break;
        span = off >= span ? off + 1 : span;
        v[off] = id + 1;
        if (pin && off == poff + 1 && off % 32) {
            rmask |= 1u << off % 32;
        } else {
            if (rr)
                rr->mask = rmask;
            eng__kmap_run_add(m, off, id);
            rr = &m->run[off / 32];
            rmask = rr->mask;
            pin = rmask >> off % 32 & 1;
        }
        poff = off;
        count++;
        hot[id] = (eng__shot){.org = org, .channel = w->channel & 0x7fu, .canon = canon,
                              .mask = (uint8_t)(1u << ENG_TOUCH_SENT)};
        sctx[id] = cx;
        scust[id] = cu;
        sat[id] = w->time;
        eng__sends_mapped_hash(s, id, hs[i]);
        ttime[r] = w->time;
        tcust[r] = cu;
        tctx[r] = cx;
        tsend[r] = id;
        tdet[r] = 0;
        tkey[k++] = hs[i] & kmask;
        ch[r - r0] = w->channel;
        r++, id++;
    }
    if (rr)
        rr->mask = rmask;
    if (r == r0)
        return i;
    bits_clear(hashed, id0, id); /* in no hash index: in the map */
    memcpy(c->channel + r0, ch, r - r0);
    memset(c->status + r0, ENG_TOUCH_SENT, r - r0);
    memset(c->first + r0, canon, r - r0);
    m->span = span;
    m->count = count;
    s->n = id;
    c->n = r;
    c->nkey = k;
    *accepted += id - id0;
    return i;
}

int eng__touch_sent_room(eng_engine *e, size_t n, eng__prog *pg)
{
    eng__ev *ev;
    int rc = eng__ev_get(e, &ev);
    return rc ? rc : eng__sends_room(&ev->s, &e->mem, n, pg);
}

int eng__touch_sent(eng_engine *e, const eng__send_ctx *ctx, const eng__sent_row *rows, size_t n,
                    eng__sent_result *res)
{
    eng__sent_result tmp;
    if (!res)
        res = &tmp;
    memset(res, 0, sizeof *res);
    eng__ev *ev;
    eng__evorg *o;
    int rc = check_sent(ctx, rows, n);
    if (rc || (rc = eng__ev_get(e, &ev)))
        return rc;
    eng__ev_mark(ev, eng__ev_org(ev, ctx->org, 0, &o) == ENG_OK ? o : NULL); /* undo.c */
    if ((rc = eng__ev_org(ev, ctx->org, 1, &o)))
        return rc;
    if (n == 0)
        return ENG_OK;
    eng__ctxkey k = {ctx->campaign, ctx->message, ctx->version, ctx->occurrence};
    uint32_t cx;
    ENG__WORK(n);
    if ((rc = eng__ev_ctx_intern(o, &k, &cx)) || (rc = eng__sends_reserve(&ev->s, &e->mem, n)))
        return rc;
    eng__optlist opts = {NULL, NULL, NULL, 0, 0};
    uint64_t *hs = eng__malloc(&e->mem, n * sizeof *hs);
    uint8_t *mapped = eng__malloc(&e->mem, n);
    uint32_t *warm = eng__malloc(&e->mem, SENT_BLOCK * sizeof *warm);
    if (!hs || !mapped || !warm)
        rc = eng__nomem();
    /* A key of the dispatcher's form that names this row's org, context,
     * customer and channel is found through the context's key map (keymap.c):
     * the first one sets the context's key prefix, the others must repeat it. */
    size_t olen = strlen(o->name), plen = 0;
    const char *pfx = eng__kmap_prefix(o, cx, &plen);
    size_t i0 = 0;
    /* Until the context has its prefix (usually its first row), one row at a time; then the
     * rows' keys are hashed and compared with it on the engine's threads (keypar.c). */
    for (; i0 < n && !rc && !pfx; i0++) {
        const eng__sent_row *w = &rows[i0];
        hs[i0] = eng__ev_keyhash(w->key, w->klen);
        uint32_t cu;
        uint8_t ch;
        size_t pl = eng__key_tail(w->key, w->klen, &cu, &ch);
        eng__keyparts kp;
        int m = pl && cu == w->customer && ch == w->channel && eng__key_parse(w->key, w->klen, &kp) &&
                kp.orglen == olen && !memcmp(kp.org, o->name, olen) && kp.ctx.campaign == k.campaign &&
                kp.ctx.message == k.message && kp.ctx.version == k.version && kp.ctx.occurrence == k.occurrence;
        if (m && !(rc = eng__kmap_learn(o, &e->mem, cx, w->key, pl, cx >= o->km_loaded)))
            pfx = eng__kmap_prefix(o, cx, &plen);
        mapped[i0] = (uint8_t)m;
        if (!m && eng__key_parse(w->key, w->klen, &kp)) /* the map alone cannot rule its key out */
            ev->km_probe_all = 1, mapped[i0] = 2;
    }
    /* the other rows parsed by chunks on the engine's threads while the rows before them are applied below */
    eng__spipe sp;
    eng__sent_pipe_start(&sp, ev, rows, rc ? n : i0, n, pfx, plen, hs, mapped);
    /* the pages of the per-send arrays the rows below write, faulted in ahead of them, and
     * those of as many sends after them: the thread starts as the rows do and loses the race
     * to their first pages, not to the next batch's, which are within the capacity (arrays
     * that double) but for the batch before they grow (they move with their pages) */
    uint64_t upto = (uint64_t)ev->s.n + 2 * (uint64_t)n;
    void *ahead = rc ? NULL
                     : eng__sends_ahead(&ev->s, &e->mem, &e->pool, e->threads, ev->s.n,
                                        upto < UINT32_MAX ? (uint32_t)upto : UINT32_MAX);
    size_t ready = i0;
    for (size_t i = 0; i < n && !rc; i++) {
        int dform = 0;
        if (i >= ready && (ready = eng__sent_pipe_wait(&sp, i + 1, &dform)) && dform)
            ev->km_probe_all = 1; /* a key not mapped of the dispatcher's form: the rows from its chunk on probe */
        int probe = mapped[i] != 1 || eng__kmap_probe(ev, o, cx), dup = 0;
        if (i % SENT_BLOCK == 0 && (rc = eng__tseal_poll(ev))) /* a seal's write started as the batch goes on */
            break;
        if (probe && i % SENT_BLOCK == 0) { /* the block's index lines, in a tight loop so the misses overlap */
            if (ready < i + SENT_BLOCK && (ready = eng__sent_pipe_wait(&sp, i + SENT_BLOCK, &dform)) && dform)
                ev->km_probe_all = 1;
            probe_all(&ev->s, hs + i, n - i < SENT_BLOCK ? n - i : SENT_BLOCK, warm);
        }
        if (!probe) { /* the usual rows up to the block's end, then this loop again from the first other */
            size_t end = (i / SENT_BLOCK + 1) * SENT_BLOCK, j;
            end = end < ready ? end : ready;
            if ((j = sent_run(ev, o, cx, rows, i, end, hs, mapped, &res->accepted)) > i) {
                i = j - 1;
                continue;
            }
        }
        uint64_t h = hs[i];
        if (mapped[i] == 1) { /* the map's send has this key when it has this channel (keymap.c) */
            uint32_t c = eng__kmap_get(o, cx, rows[i].customer);
            dup = c && ev->s.hot[c - 1].channel == rows[i].channel && ev->s.hot[c - 1].org != ENG__NO_ORG;
        }
        if (!dup && probe)
            dup = eng__sends_find(&ev->s, h) >= 0;
        if (!dup && mapped[i] == 2) /* a key of the dispatcher's form naming other fields: its own context's send */
            dup = eng__kmap_find_key(ev, rows[i].key, rows[i].klen) >= 0;
        if (dup) {
            res->duplicates++;
            continue;
        }
        eng__tcols *c = &o->tail;
        if ((c->n >= eng__seg_seal_rows || c->n >= c->cap || c->nkey >= c->keycap) &&
            (rc = tail_room(ev, o, n - i)))
            break;
        uint32_t id = ev->s.n;
        int placed = 0;
        /* The only send of its (context, customer, channel): its key is the one key of
         * them the context's map accepts. Not for a context loaded from storage: its
         * map's prefix is learned again, and may differ from the one its stored sends had. */
        int canon = mapped[i] == 1 && cx >= o->km_loaded;
        if (mapped[i] == 1 && !(placed = eng__kmap_put_next(o, cx, rows[i].customer, id)) &&
            (rc = eng__kmap_put(o, &ev->s, &e->mem, cx, rows[i].customer, id, &placed)))
            break;
        int added = placed && eng__sends_add_mapped(&ev->s, id, o->code, cx, rows[i].customer, rows[i].channel,
                                                    rows[i].time, h, canon);
        if (!added && (rc = eng__sends_add(&ev->s, &e->mem, id, o->code, cx, rows[i].customer, rows[i].channel,
                                           rows[i].time, h, placed ? ENG__SEND_MAPPED : ENG__SEND_INDEX)))
            break;
        if (canon && !added)
            eng__sends_canon_set(&ev->s, id);
        size_t r = c->n++;
        c->time[r] = rows[i].time;
        c->customer[r] = rows[i].customer;
        c->ctx[r] = cx;
        c->channel[r] = rows[i].channel;
        c->status[r] = ENG_TOUCH_SENT;
        c->send[r] = id;
        c->detail[r] = 0;
        c->first[r] = (uint8_t)canon;
        c->keyhash[c->nkey++] = canon && eng__tseg_skeys ? 0 : h; /* as in sent_run */
        res->accepted++;
        if (ev->npend) /* a call a row otherwise */
            rc = eng__pend_join(ev, id, h, &res->joined, &opts);
    }
    eng__sent_pipe_end(&sp);
    eng__sends_ahead_join(&e->mem, ahead);
    if (!rc)
        rc = apply_optouts(ev, opts.send, opts.src, opts.ts, opts.n);
    opt_free(&e->mem, &opts);
    /* the flush before the batch's scratch is freed: a tail chunk's buffer (the next
     * segment's, tblock.c) then comes from fresh room rather than the scratch's */
    if (!rc)
        rc = eng__ev_flush(ev); /* a seal behind joined first (tseal.c) */
    else
        eng__tseal_drop(ev);
    eng__free(&e->mem, mapped);
    eng__free(&e->mem, hs);
    eng__free(&e->mem, warm);
    return rc;
}

/* ---- receipts ---- */

/* What must hold before the batch's size can be trusted for an allocation. */
static int precheck(const eng_receipts *r)
{
    if (!r)
        return eng__err(ENG_EINVAL, "receipts", "receipts is NULL");
    if (r->version == 0 || r->version > ENG_RECEIPTS_VERSION) /* version 1 ends before key_lengths */
        return eng__err(ENG_EVERSION, "receipts.version", "unknown receipts version %u", r->version);
    if (r->count > UINT32_MAX) /* the batch sort numbers receipts in 32 bits */
        return eng__err(ENG_EINVAL, "receipts.count", "at most 4294967295 receipts a call");
    if (r->count && (!r->keys || !r->statuses || !r->times))
        return eng__err(ENG_EINVAL, !r->keys ? "receipts.keys" : !r->statuses ? "receipts.statuses" : "receipts.times",
                        "receipts need keys, statuses and times");
    return ENG_OK;
}

/* Apply a checked batch whose key hashes are known, in passes over arrays,
 * because at scale the key index and the per-send arrays are far bigger
 * than the caches and a lookup per receipt is a cache miss per array:
 *  1. probe: each receipt's candidate send (its key map's entry, or the
 *     first index entry with its hash's tag, index slots prefetched
 *     PROBE_AHEAD receipts ahead);
 *  2. order: a stable radix sort of the receipts by candidate send, so the
 *     per-send arrays are then read and written in ascending id order;
 *  3. apply in that order, by ranges of sends on the engine's threads
 *     (rapply.c), each candidate checked to be the receipt's send; the few
 *     that are not are found by the full hash after.
 * The sort is stable, so receipts of one send keep their arrival order (the
 * first click is the one kept); receipts without a send are kept waiting in
 * arrival order. Rows enter the tail in send order within a batch. */

/* Each receipt checked (the first bad one is the error) and its candidate
 * send: by its context's key map when its key has the context's prefix (an
 * array index, no hash), else by the hash index, probed for all the others
 * in one tight loop (h[i] stays 0 for mapped receipts). The per-row part
 * runs on the engine's threads (keypar.c). lens: each key's length. miss:
 * room for 2n. */
static int candidates(const eng__ev *ev, const eng_receipts *r, uint32_t *lens, uint64_t *h, size_t n,
                      uint32_t *cand, uint32_t *miss, uint64_t *mh, const uint32_t **slot, rkey *rk, eng__cspan *sp)
{
    int rc = eng__rcpt_parse(ev, r, n, lens, h, slot, rk, cand, sp);
    if (rc || !sp->none) /* every key in its map (the dispatcher's keys): nothing to look for */
        return rc;
    size_t nm = 0;
    for (size_t i = 0; i < n; i++)
        if (cand[i] == NO_SEND) {
            mh[nm] = h[i];
            miss[nm++] = (uint32_t)i;
        }
    probe_all(&ev->s, mh, nm, miss + n);
    for (size_t j = 0; j < nm; j++) {
        uint32_t c = miss[n + j];
        rk[miss[j]].cand = cand[miss[j]] = c;
        if (c != NO_SEND) {
            sp->none--;
            sp->lo = c < sp->lo ? c : sp->lo;
            sp->hi = c > sp->hi ? c : sp->hi;
        }
    }
    return ENG_OK;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Receipt i of r, whose send the apply pass left to the caller (rapply.c). */
static int matched(eng__ev *ev, const eng_receipts *r, size_t i, uint32_t send, const rkey *q, eng_event_report *rep,
                   eng__optlist *opts)
{
    const char *d = r->details && r->details[i] ? r->details[i] : "";
    int dup, opt, rc = eng__touch_apply(ev, send, q->status, q->t, d, strlen(d), &dup, &opt);
    if (rc)
        return rc;
    if (dup)
        rep->duplicates++;
    else
        rep->accepted++;
    return opt ? eng__opt_push(&ev->e->mem, opts, send, q->t, q->status) : ENG_OK;
}

/* Receipt i of r, which has no send yet: it waits for it (pending.c), unless its send expired
 * in doubt, which it proves (*proved: that send is written now, and found by the batch's next). */
static int unmatched(eng__ev *ev, const eng_receipts *r, size_t i, uint64_t h, size_t klen, const rkey *q,
                     eng_event_report *rep, eng__optlist *opts, int *proved)
{
    int64_t f = -1;
    int rc = ev->ndoubt ? eng__doubt_prove(ev, h, r->keys[i], klen, q->t, &f) : ENG_OK;
    if (!rc && f < 0 && *proved && (f = eng__sends_find(&ev->s, h)) < 0)
        f = eng__kmap_find_key(ev, r->keys[i], klen);
    if (rc || f >= 0) {
        *proved |= f >= 0;
        return rc ? rc : matched(ev, r, i, (uint32_t)f, q, rep, opts);
    }
    const char *d = r->details && r->details[i] ? r->details[i] : "";
    int dup = 0;
    rc = eng__pend_add(ev, h, r->keys[i], klen, q->status, q->t, d, &dup);
    if (rc)
        return rc;
    if (dup) /* a repeat of a pending receipt is a duplicate: rows = accepted + duplicates + unmatched */
        rep->duplicates++;
    else
        rep->unmatched++;
    if (r->unmatched_fn) {
        eng__callback_begin();
        r->unmatched_fn(i, r->keys[i], r->unmatched_user);
        eng__callback_end();
    }
    return ENG_OK;
}

/* h: room for the keys' hashes (computed here where needed), then their
 * lengths. *refused: the batch failed its checks, before any change. */
static int apply_receipts(eng__ev *ev, const eng_receipts *r, uint64_t *h, eng_event_report *rep, int *refused)
{
    *refused = 0;
    if (!r->count) /* nothing to apply, and no scratch to carve: no pointer made from NULL (h, tm) */
        return ENG_OK;
    uint32_t *lens = (uint32_t *)(h + r->count);
    eng_engine *e = ev->e;
    eng__optlist opts = {NULL, NULL, NULL, 0, 0};
    int rc = ENG_OK;
    size_t n = r->count;
    /* one block kept by the engine (rapply.c): the records first, each in one line */
    char *tm = eng__rcpt_temp(ev, (n + 1) * sizeof(rkey) + n * (sizeof(uint64_t) + sizeof(uint32_t *) +
                                                              3 * sizeof(uint32_t)));
    rkey *rk = (rkey *)(((uintptr_t)tm + 31) & ~(uintptr_t)31);
    uint64_t *ord = (uint64_t *)(rk + n);
    const uint32_t **slot = (const uint32_t **)(ord + n);
    uint32_t *cand = (uint32_t *)(slot + n), *miss = cand + n;
    if (!tm)
        rc = ENG_ENOMEM;
    eng__cspan span;
    if (!rc && (rc = candidates(ev, r, lens, h, n, cand, miss, ord, slot, rk, &span)))
        *refused = 1;
    if (!rc)
        rep->rows += n;
    /* the receipts with a candidate first (rapply.c), then those it leaves
     * (their send by the full hash), then those without a send, in arrival
     * order */
    size_t nm = 0, nstray = 0, nwait = 0;
    uint32_t *stray = miss; /* no longer needed */
    if (!rc)
        rc = eng__rcpt_apply(ev, r, rk, h, cand, &span, n, ord, &nm, rep, &opts, stray, &nstray);
    if (!rc)
        rc = eng__tseal_poll(ev);
    for (size_t k = 0; k < nstray && !rc; k++) {
        uint32_t i = (uint32_t)ord[stray[k]];
        if (rk[i].mapped) /* the map's send has another channel */
            h[i] = eng__ev_keyhash(r->keys[i], lens[i]);
        int64_t f = eng__sends_find(&ev->s, h[i]);
        if (f >= 0)
            rc = matched(ev, r, i, (uint32_t)f, &rk[i], rep, &opts);
        else
            stray[nwait++] = i;
    }
    if (nwait > 1)
        qsort(stray, nwait, sizeof *stray, cmp_u32);
    int proved = 0;
    for (size_t a = 0, k = nm; !rc && (a < nwait || k < n);) {
        uint32_t i = k == n || (a < nwait && stray[a] < (uint32_t)ord[k]) ? stray[a++] : (uint32_t)ord[k++];
        rc = unmatched(ev, r, i, h[i], lens[i], &rk[i], rep, &opts, &proved);
    }
    if (!rc)
        rc = apply_optouts(ev, opts.send, opts.src, opts.ts, opts.n);
    if (!rc)
        rep->consent_changes += opts.n;
    opt_free(&e->mem, &opts);
    if (!rc) /* before the scratch is freed (as for `sent` rows); a seal behind joined first */
        rc = eng__ev_flush(ev);
    else
        eng__tseal_drop(ev);
    eng__rcpt_temp_done(ev);
    return rc;
}

/* A batch refused by its checks changed nothing: the empty batch is rolled
 * back and the cache kept (dropped only if the rollback fails). */
static int refuse(eng_engine *e, int rc)
{
    char det[256], msg[768];
    snprintf(det, sizeof det, "%s", eng_error_last()->detail);
    snprintf(msg, sizeof msg, "%s", eng_error_last()->message);
    if (eng__kv_rollback(e->store))
        eng__events_abandon(e);
    return eng__err(rc, det, "%s", msg);
}

int eng__touch_receipts(eng_engine *e, const eng_receipts *r, eng_event_report *rep)
{
    eng__ev *ev;
    uint64_t *h = NULL;
    int rc = precheck(r);
    if (!rc && r->count && !(h = eng__malloc(&e->mem, r->count * (sizeof *h + sizeof(uint32_t)))))
        rc = eng__nomem();
    int refused;
    if (!rc && !(rc = eng__ev_get(e, &ev)))
        rc = apply_receipts(ev, r, h, rep, &refused);
    eng__free(&e->mem, h);
    return rc;
}

ENG_API int eng_receipts_init(eng_receipts *r, unsigned int version)
{
    static const eng_receipts init = ENG_RECEIPTS_INIT;
    return eng__struct_init(r, &init, ENG__SIZES(ENG__UPTO(eng_receipts, unmatched_user), sizeof init), version,
                            "eng_receipts");
}

int eng__ev_report_start(eng_event_report *in, eng_event_report *tmp, eng_event_report **out)
{
    *tmp = (eng_event_report)ENG_EVENT_REPORT_INIT;
    *out = in ? in : tmp;
    return in ? eng__out_open(in, ENG__SIZES(sizeof *in), "eng_event_report", "report") : ENG_OK;
}

ENG_API int eng_touch_append(eng_engine *e, const eng_receipts *receipts, eng_event_report *report)
{
    eng__out_clear(report, ENG__SIZES(sizeof *report));
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng_event_report tmp, *rep = &tmp;
    uint64_t *h = NULL;
    eng__ev *ev;
    if (!(rc = eng__ev_report_start(report, &tmp, &rep)) && !(rc = precheck(receipts)) &&
        !(rc = receipts->count && !(h = eng__malloc(&e->mem, receipts->count * (sizeof *h + sizeof(uint32_t))))
                   ? eng__nomem()
                   : ENG_OK) &&
        !(rc = eng__ev_get(e, &ev)) && !(rc = eng__kv_begin(e->store))) {
        int refused;
        rc = apply_receipts(ev, receipts, h, rep, &refused);
        rc = !rc ? eng__ev_commit(e) : refused ? refuse(e, rc) : eng__ev_fail(e, rc);
        if (rc)
            memset(&rep->accepted, 0, sizeof *rep - offsetof(eng_event_report, accepted));
        eng__log(e, ENG_LOG_DEBUG, "receipts appended: %llu given, %llu new, %llu duplicates, %llu pending, %llu opt-outs",
                 (unsigned long long)receipts->count, (unsigned long long)rep->accepted,
                 (unsigned long long)rep->duplicates, (unsigned long long)rep->unmatched,
                 (unsigned long long)rep->consent_changes);
    }
    eng__free(&e->mem, h);
    eng__leave(e);
    return rc;
}
