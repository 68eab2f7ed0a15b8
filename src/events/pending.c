/* Receipts that arrived before their send: kept (and stored) until the
 * `sent` with their key is written, then applied to it in the same batch.
 *
 * Usually short (the dispatcher commits `sent` before the provider can
 * answer), but a host that feeds many receipts of sends it never made, or a
 * crash before the sends commit, can leave 10^5 and more waiting. So every
 * operation costs what it changes: an exact index on the key hash (linear
 * probing, grown with the list) finds a send's receipts, and the list is
 * stored in chunks of PEND_CHUNK positions, of which a batch rewrites only
 * those it changed.
 *
 * Positions keep the arrival order (a send's receipts join in that order);
 * a receipt that joins leaves a hole, and when holes are more than half the
 * positions the list is packed and rewritten (amortized O(1) a change).
 *
 * Record e/p/c/<chunk:08x> (0x0405, schema 2): the receipts of positions
 *   [chunk * PEND_CHUNK, +PEND_CHUNK) that are not holes, in position order,
 *   uvar n, n x (u64 keyhash, svar time, u8 status, blob detail, blob key).
 * Schema 1 (before 2026-12-05) stored the whole list as e/p/<seq:016x>: it is
 * read, and replaced by chunks at the next change.
 *
 * Sends the dispatcher expired in doubt (handed over, never confirmed: the
 * provider may have sent them) are kept here too, as entries of status `sent`
 * (schema 3: a chunk that holds one; an older library refuses it): a receipt
 * for such a key proves the message left, so it writes the send's `sent`
 * touch and joins it instead of waiting for ever (docs/dispatch.md). They are
 * counted apart (ndoubt), so the `sent` path's "no receipt waits" test and
 * eng_touch_pending see only receipts. */
#include "events/ev_state.h"
#include "base/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEND_V 3 /* 3: a chunk holds a send expired in doubt; 2 otherwise */
#define PEND_CHUNK 32 /* a change rewrites at most 32 receipts */

/* A slot holds the key hash's high half (its tag: most probes end without
 * reading the list) and the position + 1; the tag also gives the home slot. */
static size_t home(const eng__ev *ev, uint64_t h)
{
    return (size_t)(h >> 32) & (ev->npslots - 1);
}

/* Entries of the list: receipts and sends in doubt. */
static size_t live(const eng__ev *ev)
{
    return ev->npend + ev->ndoubt;
}

static uint64_t slot_of(uint64_t h, size_t pos)
{
    return h >> 32 << 32 | (uint64_t)(pos + 1);
}

static void pend_clear(const eng__mem *mem, eng__pend *p)
{
    eng__free(mem, p->detail);
    eng__free(mem, p->key);
    p->detail = p->key = NULL;
}

static void index_put(eng__ev *ev, size_t pos)
{
    size_t m = ev->npslots - 1, i = home(ev, ev->pend[pos].keyhash);
    while (ev->pslots[i])
        i = (i + 1) & m;
    ev->pslots[i] = slot_of(ev->pend[pos].keyhash, pos);
}

/* Rebuild the index with room for @p want live receipts (holes are not indexed). */
static int index_build(eng__ev *ev, size_t want)
{
    size_t n = 64;
    while (n < want * 2)
        n *= 2;
    uint64_t *v = eng__calloc(&ev->e->mem, n, sizeof *v);
    if (!v)
        return eng__nomem();
    eng__free(&ev->e->mem, ev->pslots);
    ev->pslots = v;
    ev->npslots = n;
    for (size_t p = 0; p < ev->npos; p++)
        if (ev->pend[p].key)
            index_put(ev, p);
    ENG__WORK(ev->npos);
    return ENG_OK;
}

/* Remove position @p pos from the index (backward shift: no tombstones). */
static void index_del(eng__ev *ev, size_t pos)
{
    size_t m = ev->npslots - 1, i = home(ev, ev->pend[pos].keyhash);
    while ((uint32_t)ev->pslots[i] != pos + 1)
        i = (i + 1) & m;
    for (size_t j = i;;) {
        j = (j + 1) & m;
        if (!ev->pslots[j])
            break;
        size_t k = home(ev, ev->pslots[j]);
        /* j's entry may move to i when its home is not cyclically in (i, j] */
        if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
            ev->pslots[i] = ev->pslots[j];
            i = j;
        }
    }
    ev->pslots[i] = 0;
}

/* Positions of the receipts with key hash @p h, in position (arrival) order; at
 * most one a status (eng__pend_add refuses the others). */
static size_t find_all(const eng__ev *ev, uint64_t h, size_t *out)
{
    size_t n = 0;
    if (!live(ev))
        return 0;
    size_t m = ev->npslots - 1;
    for (size_t i = home(ev, h); ev->pslots[i]; i = (i + 1) & m) {
        ENG__WORK(1);
        uint64_t v = ev->pslots[i];
        size_t p = (uint32_t)v - 1;
        if (v >> 32 != h >> 32 || ev->pend[p].keyhash != h || n == ENG_TOUCH_STATUS_COUNT)
            continue;
        size_t j = n++;
        for (; j && out[j - 1] > p; j--)
            out[j] = out[j - 1];
        out[j] = p;
    }
    return n;
}

static int mark_dirty(eng__ev *ev, size_t pos)
{
    size_t c = pos / PEND_CHUNK, w = c / 64;
    if (w >= ev->pdirtycap) {
        size_t cap = ev->pdirtycap;
        if (eng__grow(&ev->e->mem, (void **)&ev->pdirty, &cap, w + 1, sizeof *ev->pdirty))
            return eng__nomem();
        memset(ev->pdirty + ev->pdirtycap, 0, (cap - ev->pdirtycap) * sizeof *ev->pdirty);
        ev->pdirtycap = cap;
    }
    ev->pdirty[w] |= 1ull << (c % 64);
    ev->pend_dirty = 1;
    return ENG_OK;
}

/* Append a receipt at the next position (it owns p's strings from here on). */
static int push(eng__ev *ev, eng__pend *p)
{
    const eng__mem *mem = &ev->e->mem;
    int rc;
    if (ev->npos + 1 > ev->pendcap && eng__grow(mem, (void **)&ev->pend, &ev->pendcap, ev->npos + 1, sizeof *ev->pend))
        rc = eng__nomem();
    else if ((live(ev) + 1) * 2 > ev->npslots && (rc = index_build(ev, live(ev) + 1)))
        ;
    else
        rc = mark_dirty(ev, ev->npos);
    if (rc) {
        pend_clear(mem, p);
        return rc;
    }
    ev->pend[ev->npos] = *p;
    index_put(ev, ev->npos++);
    if (p->status == ENG_TOUCH_SENT)
        ev->ndoubt++;
    else
        ev->npend++;
    ev->pend_changes++;
    return ENG_OK;
}

int eng__pend_add(eng__ev *ev, uint64_t keyhash, const char *key, size_t klen, uint8_t status, eng_time t,
                  const char *detail, int *dup)
{
    const eng__mem *mem = &ev->e->mem;
    size_t at[ENG_TOUCH_STATUS_COUNT];
    size_t n = find_all(ev, keyhash, at);
    *dup = 0;
    for (size_t i = 0; i < n; i++)
        if (ev->pend[at[i]].status == status) {
            *dup = 1;
            return ENG_OK;
        }
    eng__pend p = {keyhash, t, status, NULL, NULL};
    if ((detail && *detail && !(p.detail = eng__strdup(mem, detail))) || !(p.key = eng__strndup(mem, key, klen))) {
        pend_clear(mem, &p);
        return eng__nomem();
    }
    return push(ev, &p);
}

int eng__pend_join(eng__ev *ev, uint32_t send, uint64_t keyhash, uint64_t *joined, eng__optlist *opts)
{
    size_t at[ENG_TOUCH_STATUS_COUNT];
    size_t n = find_all(ev, keyhash, at);
    const eng__mem *mem = &ev->e->mem;
    for (size_t i = 0; i < n; i++) {
        eng__pend *p = &ev->pend[at[i]];
        if (p->status == ENG_TOUCH_SENT) /* a send in doubt, not a receipt (eng__doubt_prove takes it) */
            continue;
        int dup, opt, rc;
        const char *d = p->detail ? p->detail : "";
        /* a failure keeps the receipt (the batch fails and the cache is dropped) */
        if ((rc = mark_dirty(ev, at[i])) || (rc = eng__touch_apply(ev, send, p->status, p->time, d, strlen(d), &dup, &opt)))
            return rc;
        *joined += !dup;
        if (opt && (rc = eng__opt_push(mem, opts, send, p->time, p->status)))
            return rc;
        index_del(ev, at[i]);
        pend_clear(mem, p);
        ev->npend--;
        ev->pend_changes++;
    }
    return ENG_OK;
}

/* ---- sends expired in doubt ---- */

/* The position of the send in doubt with key[0, klen) (hash @p h), or -1. */
static int64_t doubt_at(const eng__ev *ev, uint64_t h, const char *key, size_t klen)
{
    size_t at[ENG_TOUCH_STATUS_COUNT], n = find_all(ev, h, at);
    for (size_t i = 0; i < n; i++) {
        const eng__pend *p = &ev->pend[at[i]];
        if (p->status == ENG_TOUCH_SENT && strlen(p->key) == klen && !memcmp(p->key, key, klen))
            return (int64_t)at[i];
    }
    return -1;
}

int eng__touch_doubt(eng_engine *e, const eng__send_ctx *ctx, const eng__sent_row *rows, size_t n)
{
    eng__ev *ev;
    eng__evorg *o;
    int rc = n ? eng__ev_get(e, &ev) : ENG_OK;
    if (rc || !n)
        return rc;
    eng__ev_mark(ev, eng__ev_org(ev, ctx->org, 0, &o) == ENG_OK ? o : NULL); /* undo.c: refused (pend_changes) */
    for (size_t i = 0; i < n && !rc; i++) {
        const eng__sent_row *w = &rows[i];
        uint64_t h = eng__ev_keyhash(w->key, w->klen);
        if (doubt_at(ev, h, w->key, w->klen) >= 0) /* kept already (an outcome stored again) */
            continue;
        size_t at[ENG_TOUCH_STATUS_COUNT], m = find_all(ev, h, at), got = 0;
        eng_time first = w->time;
        for (size_t j = 0; j < m; j++) /* receipts came first: the send is proven now */
            if (ev->pend[at[j]].status != ENG_TOUCH_SENT) {
                got++;
                first = ev->pend[at[j]].time < first ? ev->pend[at[j]].time : first;
            }
        if (got) { /* written at the earliest of them (it left by then); eng__touch_sent joins them */
            eng__sent_row x = *w;
            x.time = first;
            rc = eng__touch_sent(e, ctx, &x, 1, NULL);
            continue;
        }
        eng__pend p = {h, w->time, ENG_TOUCH_SENT, NULL, eng__strndup(&e->mem, w->key, w->klen)};
        rc = p.key ? push(ev, &p) : eng__nomem();
    }
    return rc ? rc : eng__ev_flush(ev);
}

int eng__doubt_prove(eng__ev *ev, uint64_t h, const char *key, size_t klen, eng_time t, int64_t *send)
{
    *send = -1;
    int64_t pos = doubt_at(ev, h, key, klen);
    if (pos < 0)
        return ENG_OK;
    eng__pend *p = &ev->pend[pos];
    eng__keyparts kp;
    char org[256];
    if (!eng__key_parse(p->key, klen, &kp) || kp.orglen >= sizeof org)
        return eng__err(ENG_ECORRUPT, "e/p/c", "a send in doubt has a key not of the dispatcher's form");
    memcpy(org, kp.org, kp.orglen);
    org[kp.orglen] = 0;
    eng__send_ctx ctx = {org, kp.ctx.campaign, kp.ctx.message, kp.ctx.version, kp.ctx.occurrence};
    eng__sent_row row = {key, klen, kp.customer, kp.channel, t < p->time ? t : p->time};
    int rc = mark_dirty(ev, (size_t)pos);
    if (rc)
        return rc;
    index_del(ev, (size_t)pos);
    pend_clear(&ev->e->mem, p);
    ev->ndoubt--;
    ev->pend_changes++;
    eng__sent_result res;
    if ((rc = eng__touch_sent(ev->e, &ctx, &row, 1, &res)))
        return rc;
    *send = res.accepted ? (int64_t)ev->s.n - 1 : eng__sends_find(&ev->s, h);
    if (*send < 0)
        *send = eng__kmap_find_key(ev, key, klen);
    return *send >= 0 ? ENG_OK : eng__err(ENG_ECORRUPT, "e/p/c", "a send proven by its receipt was not written");
}

static void chunk_key(char *buf, size_t cap, size_t chunk)
{
    snprintf(buf, cap, "e/p/c/%08x", (unsigned)chunk);
}

/* Move the receipts to the front (order kept); every chunk is rewritten. */
static int pack(eng__ev *ev)
{
    size_t j = 0;
    for (size_t p = 0; p < ev->npos; p++)
        if (ev->pend[p].key)
            ev->pend[j++] = ev->pend[p];
    ENG__WORK(ev->npos);
    size_t old = ev->npos;
    if (old > j) /* never memset(NULL, 0, 0): the list may not exist yet */
        memset(ev->pend + j, 0, (old - j) * sizeof *ev->pend);
    ev->npos = j;
    int rc = live(ev) ? index_build(ev, live(ev)) : ENG_OK;
    for (size_t p = 0; p < old && !rc; p += PEND_CHUNK)
        rc = mark_dirty(ev, p);
    return rc;
}

static int save_chunk(eng__ev *ev, size_t c)
{
    eng_store *s = ev->e->store;
    char key[32];
    chunk_key(key, sizeof key, c);
    size_t lo = c * PEND_CHUNK, hi = lo + PEND_CHUNK < ev->npos ? lo + PEND_CHUNK : ev->npos, n = 0;
    int doubt = 0;
    for (size_t p = lo; p < hi; p++) {
        n += ev->pend[p].key != NULL;
        doubt |= ev->pend[p].key && ev->pend[p].status == ENG_TOUCH_SENT;
    }
    ENG__WORK(PEND_CHUNK);
    if (!n)
        return eng__kv_del(s, ENG__K(key));
    eng__wr w;
    eng__wr_init(&w, &ev->e->mem);
    eng__wr_uvar(&w, n);
    for (size_t p = lo; p < hi; p++) {
        const eng__pend *q = &ev->pend[p];
        if (!q->key)
            continue;
        eng__wr_u64(&w, q->keyhash);
        eng__wr_svar(&w, q->time);
        eng__wr_u8(&w, q->status);
        eng__wr_str(&w, q->detail);
        eng__wr_str(&w, q->key);
    }
    return eng__rec_put_wr(s, ENG__K(key), ENG__REC_EV_PENDING, doubt ? 3 : 2, &w);
}

int eng__ev_pend_save(eng__ev *ev)
{
    int rc = ENG_OK;
    if (ev->pend_legacy) { /* the schema-1 record: its receipts are all in dirty chunks */
        char key[32];
        snprintf(key, sizeof key, "e/p/%016llx", (unsigned long long)(ev->pend_legacy - 1));
        if ((rc = eng__kv_del(ev->e->store, ENG__K(key))))
            return rc;
        ev->pend_legacy = 0;
    }
    if (!live(ev))
        ev->npos = 0; /* every chunk that held a receipt is dirty: all are deleted */
    else if (ev->npos > 2 * PEND_CHUNK && live(ev) * 2 < ev->npos && (rc = pack(ev)))
        return rc;
    for (size_t w = 0; w < ev->pdirtycap; w++)
        for (uint64_t b = ev->pdirty[w]; b; b &= b - 1) {
            size_t c = w * 64 + (size_t)__builtin_ctzll(b);
            if ((rc = save_chunk(ev, c)))
                return rc;
            ev->pdirty[w] &= ~(1ull << (c % 64));
        }
    ev->pend_dirty = 0;
    return ENG_OK;
}

void eng__pend_free(eng__ev *ev)
{
    const eng__mem *mem = &ev->e->mem;
    for (size_t p = 0; p < ev->npos; p++)
        pend_clear(mem, &ev->pend[p]);
    eng__free(mem, ev->pend);
    eng__free(mem, ev->pslots);
    eng__free(mem, ev->pdirty);
}

/* ---- loading ---- */

static int load_cb(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    eng__ev *ev = user;
    const eng__mem *mem = &ev->e->mem;
    char k[64];
    eng__key_printable(key, klen, k, sizeof k);
    eng__rec rec;
    int rc = eng__rec_decode(key, klen, val, vlen, ENG__REC_EV_PENDING, PEND_V, &rec);
    if (rc)
        return rc;
    uint64_t seq = 0;
    int legacy = rec.schema == 1;
    if (legacy ? klen != 4 + 16 || !eng__hex_u64(k + 4, 16, &seq) || ev->pend_legacy || ev->npos
               : klen != 6 + 8 || memcmp(k, "e/p/c/", 6) || !eng__hex_u64(k + 6, 8, &seq) ||
                     seq > UINT32_MAX / PEND_CHUNK || seq * PEND_CHUNK < ev->npos || ev->pend_legacy)
        return eng__err(ENG_ECORRUPT, k, "bad or extra pending receipts record %s", k);
    eng__rd r;
    eng__rd_init(&r, rec.payload, rec.len);
    uint64_t n = eng__rd_uvar(&r);
    if (!eng__rd_ok(&r) || n > rec.len || (!legacy && n > PEND_CHUNK))
        return eng__err(ENG_ECORRUPT, k, "bad pending receipts record %s", k);
    if (legacy) {
        ev->pend_legacy = seq + 1; /* deleted at the next save; its receipts go to chunks */
    } else { /* the positions a chunk had are kept, so that it is the same chunk when rewritten */
        size_t at = (size_t)seq * PEND_CHUNK;
        if (at > ev->pendcap && eng__grow(mem, (void **)&ev->pend, &ev->pendcap, at, sizeof *ev->pend))
            return eng__nomem();
        if (at > ev->npos) /* never memset(NULL, 0, 0): a first chunk at 0 has no list yet */
            memset(ev->pend + ev->npos, 0, (at - ev->npos) * sizeof *ev->pend);
        ev->npos = at;
    }
    for (uint64_t i = 0; i < n; i++) {
        eng__pend p = {0, 0, 0, NULL, NULL};
        p.keyhash = eng__rd_u64(&r);
        p.time = eng__rd_svar(&r);
        p.status = eng__rd_u8(&r);
        p.detail = eng__rd_str(&r, mem);
        p.key = eng__rd_str(&r, mem);
        if (r.err == ENG_ENOMEM || (!p.key && eng__rd_ok(&r))) {
            pend_clear(mem, &p);
            return eng__nomem();
        }
        if (!eng__rd_ok(&r) || (p.status == ENG_TOUCH_SENT && rec.schema < 3) || p.status >= ENG_TOUCH_STATUS_COUNT) {
            pend_clear(mem, &p);
            return eng__err(ENG_ECORRUPT, k, "bad pending receipt %llu in %s", (unsigned long long)i, k);
        }
        if (p.detail && !*p.detail) {
            eng__free(mem, p.detail);
            p.detail = NULL;
        }
        size_t at[ENG_TOUCH_STATUS_COUNT], m = find_all(ev, p.keyhash, at), j = 0;
        while (j < m && ev->pend[at[j]].status != p.status)
            j++;
        if (j < m) /* a repeat (not written by this library): the first is kept */
            pend_clear(mem, &p);
        else if ((rc = push(ev, &p)))
            return rc;
    }
    if (!legacy && seq / 64 < ev->pdirtycap) /* only what a batch changes is dirty */
        ev->pdirty[seq / 64] &= ~(1ull << (seq % 64));
    return ENG_OK;
}

int eng__ev_load_pending(eng__ev *ev)
{
    int rc = eng__kv_scan(ev->e->store, "e/p/", 4, load_cb, ev);
    if (!rc) {
        ev->pend_dirty = ev->pend_legacy != 0;
        ev->pend_changes = 0;
    }
    return rc;
}
