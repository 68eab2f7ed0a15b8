/* The per-row key work of a batch on several threads (keypar.h).
 *
 * Checking, parsing and hashing idempotency keys is about 40 % of W6's ingest
 * (docs/events.md, "Where the time goes") and each row's result depends on
 * that row alone: the rows are cut into contiguous ranges, taken by the
 * caller's thread and the threads the engine keeps (base/tpool.c: at most
 * eng_config.threads beside the caller's), writing only its rows' slots of
 * the output arrays. They read the events state, which nobody writes
 * meanwhile. An error is the earliest range's, which is the error one thread
 * stops at (the first bad row). A range no worker has taken when the caller
 * is done is the caller's. A `sent` batch is parsed by chunks taken in order while the
 * caller applies the rows before them (eng__sent_pipe_*): the chunks read
 * the rows and the context's prefix only, which the caller does not change. */
#include "events/keypar.h"
#include "events/keytail.h"
#include "base/simd.h"

#include <stdio.h>
#include <string.h>

enum { AHEAD = 32, KEYS_AHEAD = 8 };
size_t eng__keypar_min_rows = 8192;

typedef struct job job;
typedef struct part {
    const job *j;
    size_t lo, hi;
    int rc;
    char det[64], msg[192]; /* the range's error, copied off its thread */
    eng__cspan span;        /* its candidates' */
} part;

struct job {
    const eng__ev *ev;
    const eng_receipts *r;
    uint32_t *lens;
    uint64_t *h;
    const uint32_t **slot;
    eng__rkey *rk;
    uint32_t *cand;
    eng__cspan *span;
    part *ps;
};

static void rcpt_range(part *p);

static void run_part(void *user, size_t k)
{
    rcpt_range(&((job *)user)->ps[k]);
}

/* Rows [0, n) of j in ranges, ENG__RANGES_PER a thread (the caller's
 * included), taken in order by the caller and the workers (eng__pipe): the
 * caller, done with the ranges it took, waits for a worker's last range at
 * most (with one range a thread it waited for a whole half of the batch when
 * the worker was woken late). Starts a multiple of 4 apart, for the hash's
 * four lanes; the error is the first range's, the first bad row. */
static int split(job *j, size_t n)
{
    part ps[ENG__PAR_MAX * ENG__RANGES_PER];
    size_t nt = eng__par_parts(j->ev, n), np = nt > 1 ? nt * ENG__RANGES_PER : 1;
    size_t per = np > 1 ? n / np & ~(size_t)3 : n;
    for (size_t k = 0; k < np; k++) {
        part *p = &ps[k];
        memset(p, 0, sizeof *p);
        p->j = j;
        p->lo = k * per;
        p->hi = k + 1 == np ? n : p->lo + per;
    }
    j->ps = ps;
    eng__pipe pp;
    eng__pipe_start(&pp, &j->ev->e->pool, nt - 1, np, run_part, j);
    eng__pipe_end(&pp);
    eng__cspan *sp = j->span;
    *sp = (eng__cspan){UINT32_MAX, 0, 0};
    for (size_t k = 0; k < np; k++) {
        if (ps[k].rc)
            return eng__err(ps[k].rc, ps[k].det, "%s", ps[k].msg);
        sp->lo = ps[k].span.lo < sp->lo ? ps[k].span.lo : sp->lo;
        sp->hi = ps[k].span.hi > sp->hi ? ps[k].span.hi : sp->hi;
        sp->none += ps[k].span.none;
    }
    return ENG_OK;
}

size_t eng__par_parts(const eng__ev *ev, size_t rows)
{
    size_t np = (size_t)ev->e->threads + 1;
    np = np > ENG__PAR_MAX ? ENG__PAR_MAX : np;
    while (np > 1 && rows / np < (eng__keypar_min_rows ? eng__keypar_min_rows : 1))
        np--;
    return np;
}

/* ---- receipts ---- */

static int bad_row(size_t i, const char *field, const char *why)
{
    char det[64];
    snprintf(det, sizeof det, "receipts[%zu].%s", i, field);
    return eng__err(ENG_EINVAL, det, "receipt %zu: %s; nothing was stored", i, why);
}

static void range_err(part *p)
{
    snprintf(p->det, sizeof p->det, "%s", eng_error_last()->detail);
    snprintf(p->msg, sizeof p->msg, "%s", eng_error_last()->message);
}

/* Check receipt i (its key's length into *len: the host's, @p kls, or found). */
static inline int check_one(const eng_receipts *r, const size_t *kls, size_t i, uint32_t *len)
{
    const char *bad = NULL, *why = "";
    size_t kl = !r->keys[i] ? 0 : kls ? kls[i] : strnlen(r->keys[i], ENG__EV_KEY_MAX + 1);
    if (kl == 0 || kl > ENG__EV_KEY_MAX)
        bad = "keys", why = "the key must be 1..1024 bytes";
    else if (r->statuses[i] <= ENG_TOUCH_SENT || r->statuses[i] >= ENG_TOUCH_STATUS_COUNT)
        bad = "statuses", why = "not a receipt status (sent is written by the library)";
    else if (r->times[i] < 0)
        bad = "times", why = "time before 1970";
    else if (r->details && r->details[i] && strnlen(r->details[i], ENG__EV_DETAIL_MAX + 1) > ENG__EV_DETAIL_MAX)
        bad = "details", why = "longer than 255 bytes";
    if (bad)
        return bad_row(i, bad, why);
    *len = (uint32_t)kl;
    return ENG_OK;
}

static void hash_rows(const eng_receipts *r, const uint32_t *lens, const size_t *q, size_t nq, uint64_t *h)
{
    if (nq == 4) { /* the hash is a chain of multiplies: four keys side by side */
        const void *kd[4] = {r->keys[q[0]], r->keys[q[1]], r->keys[q[2]], r->keys[q[3]]};
        size_t kl[4] = {lens[q[0]], lens[q[1]], lens[q[2]], lens[q[3]]};
        uint64_t out[4];
        eng__ev_keyhash4(kd, kl, out);
        for (int k = 0; k < 4; k++)
            h[q[k]] = out[k];
        return;
    }
    for (size_t k = 0; k < nq; k++)
        h[q[k]] = eng__ev_keyhash(r->keys[q[k]], lens[q[k]]);
}

/* The context of the last receipt whose key had one (a provider's batch runs by campaign). */
typedef struct rctx {
    const eng__evorg *o;
    const char *pfx; /* its key prefix, NULL when none */
    size_t plen;
    uint32_t cx;
} rctx;

/* A context's key prefix and its words at 0, a1, a2 and plen - 8 (plen 8 to 32; W6's is 21
 * bytes): a key is compared with it by four overlapping words whatever its length. */
typedef struct pwords {
    const char *pfx;
    size_t plen, a1, a2;
    uint64_t w0, w1, w2, w3;
} pwords;

static inline uint64_t word_at(const char *k, size_t at)
{
    uint64_t x;
    memcpy(&x, k + at, 8);
    return x;
}

static void pwords_set(pwords *w, const char *pfx, size_t plen)
{
    *w = (pwords){.pfx = pfx, .plen = plen};
    if (!pfx || plen < 8 || plen > 32)
        return;
    w->a1 = plen - 8 < 8 ? plen - 8 : 8;
    w->a2 = plen - 8 < 16 ? plen - 8 : 16;
    w->w0 = word_at(pfx, 0), w->w1 = word_at(pfx, w->a1), w->w2 = word_at(pfx, w->a2), w->w3 = word_at(pfx, plen - 8);
}

/* k (longer than the prefix) starts with it. */
static inline int pwords_same(const pwords *w, const char *k)
{
    if (w->plen - 8 > 24)
        return eng__key_same(k, w->pfx, w->plen);
    return !((word_at(k, 0) ^ w->w0) | (word_at(k, w->a1) ^ w->w1) | (word_at(k, w->a2) ^ w->w2) |
             (word_at(k, w->plen - 8) ^ w->w3));
}

/* What the usual receipt's key is checked and looked up against: rctx's context, its key
 * map's fields and its prefix's words, in locals of the loop (no pointer chase a key). */
typedef struct rfast {
    pwords p; /* p.pfx NULL: no map to look in */
    const uint32_t *v;
    const eng__kmrun *run;
    uint32_t base, span, cx;
    uint16_t org;
} rfast;

static void fast_set(rfast *f, const rctx *c)
{
    f->p.pfx = NULL;
    if (!c->pfx || c->cx >= c->o->nkm)
        return;
    const eng__kmap *m = &c->o->km[c->cx];
    pwords_set(&f->p, c->pfx, c->plen);
    f->v = m->v, f->run = m->run, f->base = m->base, f->span = m->span, f->cx = c->cx, f->org = c->o->code;
}

/* Where entry off of a map's runs is, in one word until the run is read: the runs' address
 * (an allocation's start: 8-aligned at least, as malloc's) times 4 plus off, so that the run's address is that word's top bits times 8 and
 * the entry's bit its low five (one add to make, a shift and a mask to read). */
static inline uint64_t run_at(const eng__kmrun *run, uint32_t off)
{
    return (uint64_t)(uintptr_t)run * 4 + off;
}

static inline const eng__kmrun *run_of(uint64_t x)
{
    return (const eng__kmrun *)(uintptr_t)(x >> 5 << 3);
}

/* Receipt i, checked, whose key is not the usual one of c's context (f): another context's,
 * out of its map, or no dispatcher's key at all. 0, or the range's error. */
static int rcpt_other(part *p, rctx *c, size_t i, size_t len)
{
    const job *j = p->j;
    const eng_receipts *r = j->r;
    eng__rkey *rk = j->rk;
    const char *key = r->keys[i];
    uint32_t cu;
    uint8_t ch;
    j->slot[i] = NULL;
    rk[i].mapped = 0;
    /* the last receipt's context first (a provider's batch runs by campaign) */
    size_t pl = c->pfx && len > c->plen && eng__key_same(key, c->pfx, c->plen)
                    ? eng__key_tail_at(key, len, c->plen, &cu, &ch, ENG__KEY_SWAR)
                    : 0;
    if (!pl && (pl = eng__key_tail(key, len, &cu, &ch)) &&
        (!c->pfx || pl != c->plen || memcmp(key, c->pfx, pl))) {
        /* another context: find it */
        eng__keyparts kp;
        int64_t x = -1;
        c->pfx = NULL;
        if (eng__key_parse(key, len, &kp) && (c->o = eng__ev_org_named(j->ev, c->o, kp.org, kp.orglen)) &&
            (x = eng__ev_ctx_find(c->o, &kp.ctx)) >= 0 && (c->pfx = eng__kmap_prefix(c->o, (uint32_t)x, &c->plen)) &&
            (pl != c->plen || memcmp(key, c->pfx, pl)))
            c->pfx = NULL;
        c->cx = (uint32_t)x;
    }
    if (pl && c->pfx && (j->slot[i] = eng__kmap_slot(c->o, c->cx, cu))) {
        rk[i].customer = cu;
        rk[i].ctx = c->cx;
        rk[i].org = c->o->code;
        rk[i].channel = ch;
        rk[i].mapped = 1;
        const eng__kmap *m = &c->o->km[c->cx];
        uint32_t off = cu - m->base;
        j->h[i] = run_at(m->run, off);
    } else if (r->version >= 2 && r->key_lengths && memchr(key, 0, len)) {
        /* a key of the map was read whole (its prefix, digits and channel name): no NUL */
        p->rc = bad_row(i, "keys", "a NUL byte within the key's length");
        range_err(p);
        return p->rc;
    }
    return ENG_OK;
}

/* The runs' pass's three stages (rcpt_range). Receipt i's run prefetched. */
static inline void run_ahead(const uint64_t *h, size_t i)
{
    if (h[i])
        __builtin_prefetch(run_of(h[i]));
}

typedef struct take {
    size_t q[4], nq, none;
    uint32_t lo, hi1; /* the candidates' span (hi1: the greatest + 1), for the apply pass's cut */
} take;

/* Receipt k's candidate s (ENG__NO_SEND: none) written, and counted into the span. */
static inline void cand_put(const job *j, take *tk, size_t k, uint32_t s)
{
    j->rk[k].cand = j->cand[k] = s;
    tk->lo = s < tk->lo ? s : tk->lo; /* one without (s UINT32_MAX) moves neither */
    tk->hi1 = s + 1 > tk->hi1 ? s + 1 : tk->hi1;
}

/* Receipt k, whose run did not give its candidate: its map entry's (slot), or its key hashed
 * (four at a time) when the maps do not hold it. */
static inline void cand_left(const job *j, take *tk, size_t k)
{
    uint32_t c = j->slot[k] ? *j->slot[k] : 0; /* c == 0: ENG__NO_SEND */
    cand_put(j, tk, k, c - 1);
    if (c)
        return;
    tk->none++;
    j->rk[k].mapped = 0;
    tk->q[tk->nq++] = k;
    if (tk->nq == 4) {
        hash_rows(j->r, j->lens, tk->q, tk->nq, j->h);
        tk->nq = 0;
    }
}

/* Receipt k's run read: its candidate when the run holds it (the usual receipt: done), else 0
 * (its map entry prefetched, for cand_left). */
static inline int run_read(const job *j, take *tk, size_t k)
{
    uint64_t x = j->h[k];
    if (!x) /* not the usual receipt */
        return 0;
    j->h[k] = 0;
    uint32_t c = eng__kmrun_get(*run_of(x), (uint32_t)(x % 32));
    if (!c) {
        __builtin_prefetch(j->slot[k]);
        return 0;
    }
    cand_put(j, tk, k, c - 1);
    return 1;
}

/* The range's work, built twice (rcpt_range): the map's runs count their bits by one
 * instruction where the CPU has it (the baseline build has no -mpopcnt). */
static inline __attribute__((always_inline)) void rcpt_range_in(part *p)
{
    const job *j = p->j;
    const eng_receipts *r = j->r;
    eng__rkey *rk = j->rk;
    const uint32_t **slot = j->slot;
    uint32_t *lens = j->lens;
    uint64_t *h = j->h;
    const char *const *keys = r->keys;
    const char *const *det = r->details;
    const int *sts = r->statuses;
    const eng_time *tms = r->times;
    rctx cur = {NULL, NULL, 0, 0};
    rfast f = {0};
    /* the host's key lengths (version 2): then a key is not scanned for its end */
    const size_t *kls = r->version >= 2 ? r->key_lengths : NULL;
    /* first where each candidate is ... */
    for (size_t i = p->lo; i < p->hi; i++) {
        if (i + KEYS_AHEAD < p->hi) { /* the host's keys may lie anywhere (a NULL one: prefetches do not fault) */
            uintptr_t k = (uintptr_t)keys[i + KEYS_AHEAD];
            __builtin_prefetch((const void *)k);
            /* the line a key of up to 64 bytes ends in (its channel name), when it is the next one */
            __builtin_prefetch((const void *)(k + 63));
        }
        const char *key = keys[i];
        size_t len = !key ? 0 : kls ? kls[i] : strnlen(key, ENG__EV_KEY_MAX + 1);
        int st = sts[i];
        eng_time t = tms[i];
        if (len - 1 >= ENG__EV_KEY_MAX || st <= ENG_TOUCH_SENT || st >= ENG_TOUCH_STATUS_COUNT || t < 0 ||
            (det && det[i] && strnlen(det[i], ENG__EV_DETAIL_MAX + 1) > ENG__EV_DETAIL_MAX)) {
            p->rc = check_one(r, kls, i, &lens[i]); /* the row's error, by the first field that fails */
            range_err(p);
            return;
        }
        lens[i] = (uint32_t)len;
        uint32_t cu, off;
        uint8_t ch;
        if (f.p.pfx && len > f.p.plen && pwords_same(&f.p, key) &&
            eng__key_tail_at(key, len, f.p.plen, &cu, &ch, ENG__KEY_SWAR) &&
            (off = cu - f.base) < f.span) { /* below base: off wraps past span (base + span <= 2^32) */
            /* the usual receipt: its context's, in the map's span (rcpt_other's result for it) */
            rk[i] = (eng__rkey){.t = t, .cand = 0, .customer = cu, .ctx = f.cx, .org = f.org, .channel = ch,
                                .mapped = 1, .status = (uint8_t)st};
            slot[i] = &f.v[off];
            h[i] = run_at(f.run, off); /* where its run is, until it is read */
            /* and its line asked for now: a range's runs (8,192 receipts: 512 KB at most) stay in
             * the second-level cache until the pass below, whose own prefetch, 32 receipts
             * ahead, came too late for most of them at L's scale */
            __builtin_prefetch(&f.run[off / 32]);
            continue;
        }
        rk[i].t = t;
        rk[i].status = (uint8_t)st;
        h[i] = 0; /* not the usual receipt: no run to read */
        if (rcpt_other(p, &cur, i, len))
            return;
        fast_set(&f, &cur);
    }
    /* ... then read them in one pass of two stages AHEAD receipts apart, so that the misses
     * overlap: a receipt's run prefetched (8 bytes per 32 customers: 16 times fewer lines than
     * the map's entries; asked for by the parse too, but that alone was slower); its run read,
     * which gives the usual receipt's candidate. The others (not the usual receipt, or not in
     * its run) are kept in `left` and taken when it is full and after the pass (their map
     * entries prefetched meanwhile). The middle loop has both stages in range (no checks). */
    enum { LEFT = 256 };
    size_t left[LEFT], nleft = 0;
    take tk = {{0, 0, 0, 0}, 0, 0, UINT32_MAX, 0};
    const size_t lo = p->lo, hi = p->hi;
#define READ(k)                                                                                                        \
    do {                                                                                                               \
        if (!run_read(j, &tk, (k)) && (left[nleft++] = (k), nleft == LEFT)) {                                          \
            for (size_t q_ = 0; q_ < LEFT; q_++)                                                                       \
                cand_left(j, &tk, left[q_]);                                                                           \
            nleft = 0;                                                                                                 \
        }                                                                                                              \
    } while (0)
    size_t i = lo;
    for (; i < hi + AHEAD && (i < lo + AHEAD || i >= hi); i++) {
        if (i < hi)
            run_ahead(h, i);
        if (i >= lo + AHEAD && i - AHEAD < hi)
            READ(i - AHEAD);
    }
    for (; i < hi; i++) {
        run_ahead(h, i);
        READ(i - AHEAD);
    }
    for (; i < hi + AHEAD; i++)
        if (i - AHEAD < hi)
            READ(i - AHEAD);
#undef READ
    for (size_t k = 0; k < nleft; k++)
        cand_left(j, &tk, left[k]);
    hash_rows(r, lens, tk.q, tk.nq, h);
    p->span = (eng__cspan){tk.lo, tk.hi1 ? tk.hi1 - 1 : 0, tk.none};
}

static void rcpt_range_base(part *p)
{
    rcpt_range_in(p);
}

#if ENG__SIMD_X86
ENG__AVX2 static void rcpt_range_avx2(part *p)
{
    rcpt_range_in(p);
}
#endif

static void rcpt_range(part *p)
{
#if ENG__SIMD_X86
    if (eng__isa() >= ENG__ISA_AVX2) {
        rcpt_range_avx2(p);
        return;
    }
#endif
    rcpt_range_base(p);
}

int eng__rcpt_parse(const eng__ev *ev, const eng_receipts *r, size_t n, uint32_t *lens, uint64_t *h,
                    const uint32_t **slot, eng__rkey *rk, uint32_t *cand, eng__cspan *span)
{
    job j = {.ev = ev, .r = r, .lens = lens, .h = h, .slot = slot, .rk = rk, .cand = cand, .span = span, .ps = NULL};
    *span = (eng__cspan){UINT32_MAX, 0, 0};
    return n ? split(&j, n) : ENG_OK;
}

/* ---- sent ---- */

/* Rows [lo, hi) of a `sent` batch: each key compared with the context's prefix, then hashed; returns 1 when
 * a key not mapped still has the dispatcher's form. A mapped key starts with the prefix, so its hash's
 * state after the prefix's whole words depends on its length alone: kept a length (st), each such key
 * is hashed from there (a W6 key of ~35 bytes: three mixes of the hash's six). */
static int sent_rows(const eng__spipe *sp, size_t lo, size_t hi)
{
    enum { G = 32, LENS = 64 };
    const eng__sent_row *rows = sp->rows;
    int dform = 0;
    pwords pw;
    pwords_set(&pw, sp->pfx, sp->plen);
    const size_t skip = sp->pfx ? sp->plen & ~(size_t)7 : 0;
    uint64_t st[LENS], have = 0; /* the state after the prefix's words, by length - plen - 1 */
    for (size_t i = lo; i < hi; i += G) {
        /* G keys checked, then hashed (vector lanes) while they are still in the first-level cache */
        const size_t m = hi - i < G ? hi - i : G;
        const void *at[G], *kd[G];
        size_t rest[G], kl[G], nr = 0, nf = 0;
        uint64_t h0[G], hr[G], hf[G];
        uint8_t fi[G];
        for (size_t k = 0; k < m; k++) {
            const eng__sent_row *w = &rows[i + k];
            int mp = w->klen > pw.plen && pwords_same(&pw, w->key) &&
                     eng__key_is_tail(w->key, w->klen, pw.plen, w->customer, w->channel);
            sp->mapped[i + k] = (uint8_t)mp;
            eng__keyparts kp;
            if (!mp && eng__key_parse(w->key, w->klen, &kp))
                dform = 1, sp->mapped[i + k] = 2;
            const size_t d = w->klen - pw.plen - 1;
            if (mp && skip && d < LENS) {
                if (!(have >> d & 1))
                    st[d] = eng__hash64_state(pw.pfx, skip, w->klen, ENG__EV_KEYSEED), have |= 1ull << d;
                h0[nr] = st[d], at[nr] = w->key + skip, rest[nr++] = w->klen - skip;
            } else {
                kd[nf] = w->key, kl[nf] = w->klen, fi[nf++] = (uint8_t)k;
            }
        }
        uint64_t *hs = sp->hs + i;
        eng__ev_keyhash_resume_n(h0, at, rest, nr, nf ? hr : hs); /* all mapped: in place */
        if (nf) {
            eng__ev_keyhash_n(kd, kl, nf, hf);
            for (size_t k = 0, r = 0, f = 0; k < m; k++)
                hs[k] = f < nf && fi[f] == k ? hf[f++] : hr[r++];
        }
    }
    return dform;
}

/* ---- sent, by chunks ---- */

static void sent_chunk(void *user, size_t k)
{
    eng__spipe *sp = user;
    size_t lo = sp->from + k * sp->chunk, hi = sp->n - lo < sp->chunk ? sp->n : lo + sp->chunk;
    sp->dform[k] = (unsigned char)sent_rows(sp, lo, hi);
}

void eng__sent_pipe_start(eng__spipe *sp, const eng__ev *ev, const eng__sent_row *rows, size_t from, size_t n,
                          const char *pfx, size_t plen, uint64_t *hs, uint8_t *mapped)
{
    size_t rows_n = n - from, min = eng__keypar_min_rows / 4 ? eng__keypar_min_rows / 4 : 1;
    sp->rows = rows, sp->pfx = pfx, sp->plen = plen, sp->hs = hs, sp->mapped = mapped;
    sp->from = sp->ready = from, sp->n = n;
    sp->chunk = (rows_n + ENG__PIPE_MAX - 1) / ENG__PIPE_MAX;
    sp->chunk = sp->chunk > min ? sp->chunk : min;
    size_t nch = (rows_n + sp->chunk - 1) / sp->chunk;
    eng__pipe_start(&sp->pp, &ev->e->pool, from < n ? eng__par_parts(ev, rows_n) - 1 : 0, nch, sent_chunk, sp);
}

size_t eng__sent_pipe_wait(eng__spipe *sp, size_t upto, int *dform)
{
    upto = upto < sp->n ? upto : sp->n;
    while (sp->ready < upto) {
        size_t k = (sp->ready - sp->from) / sp->chunk;
        eng__pipe_wait(&sp->pp, k);
        *dform |= sp->dform[k];
        sp->ready = sp->n - sp->ready < sp->chunk ? sp->n : sp->ready + sp->chunk;
    }
    return sp->ready;
}

void eng__sent_pipe_end(eng__spipe *sp)
{
    eng__pipe_drop(&sp->pp); /* the chunks not claimed: left */
}
