/* The order and apply passes of a receipt batch by ranges of sends
 * (keypar.h, eng__rcpt_apply).
 *
 * What a receipt changes is its own send's state (the status mask that
 * deduplicates, the furthest status) and the tail row it adds, and the rows
 * go in ascending send order. The candidate sends are cut into ranges
 * (ENG__RANGES_PER a thread), balanced by a coarse count of the receipts per
 * block of sends, and the caller puts each receipt into its range's slice of
 * the batch's order, in arrival order (one pass). Each range, on whichever
 * thread takes it first (eng__pipe), sorts its slice by send (a stable LSD
 * radix sort), decides its receipts against its sends' masks and writes its
 * rows into columns of its own, sized by the caller ahead (a thread does not
 * allocate). The caller puts each range's rows into the tails as soon as
 * that range is done, in range order, which is the order one thread would
 * write them: the details interned, each tail sealed when full, the opt-outs
 * taken, all in row order, so the store is the same whatever the thread
 * count and whichever thread applied a range. */
#include "events/keypar.h"

#include <stdatomic.h>
#include <string.h>

enum { AHEAD = 32, HOT_AHEAD = 16, DIG = 11, RADIX = 1 << DIG, BLOCKS = 1024 };
#define RANGES_MAX (ENG__RANGES_PER * ENG__PAR_MAX)

typedef struct apart {
    eng__ev *ev;
    const eng_receipts *r;
    const eng__rkey *rk;
    const uint64_t *h;
    uint32_t base;           /* the lowest candidate */
    uint64_t klo, khi;       /* it takes the candidates [base + klo, base + khi) */
    uint64_t *ord, *tmp;     /* the batch's order and scratch (n each) */
    uint32_t *stray;         /* the positions it leaves, from stray[lo] on */
    size_t nstray;
    size_t lo, hi; /* its positions in ord */
    /* its rows; detail: the receipt's index + 1 when it has a detail, else 0 */
    eng__tcols rows;
    uint16_t *org;
    size_t dups;
    int sorted; /* its receipts arrived in send order: no pass of the sort */
    /* what its merge needs to look at: rows with a detail, opt-outs, all rows of one org */
    uint32_t ndet;
    size_t nopt;
    int one_org;
} apart;

_Atomic size_t eng__rcpt_presorted;

typedef struct merge {
    eng_event_report *rep;
    eng__optlist *opts;
} merge;

/* Its receipts, put into ord[lo, hi) in arrival order by cut(), sorted by
 * send; when they arrived in send order (a provider passing deliveries on in
 * the order they went out), the passes are skipped. Looked for here, on the
 * range's thread, rather than as cut() puts them (a store and a load a
 * receipt on the caller's): shuffled receipts stop the look at once. */
static void part_sort(apart *p)
{
    size_t n = p->hi - p->lo;
    if (n < 2) /* a range left empty (every receipt without a send) has no scratch */
        return;
    uint64_t *a = p->ord + p->lo, *b = p->tmp + p->lo;
    size_t up = 1;
    while (up < n && a[up] >> 32 >= a[up - 1] >> 32)
        up++;
    if ((p->sorted = up == n))
        return;
    /* more than one receipt, so there is scratch */
    uint64_t span = p->khi - p->klo;
    int bits = 0;
    while (bits < 33 && ((span - 1) >> bits))
        bits++;
    uint32_t count[RADIX];
    for (int sh = 0; sh < bits; sh += DIG) {
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++)
            count[(a[i] >> (32 + sh)) & (RADIX - 1)]++;
        uint32_t sum = 0;
        for (int d = 0; d < RADIX; d++) {
            uint32_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            b[count[(a[i] >> (32 + sh)) & (RADIX - 1)]++] = a[i];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    if (a != p->ord + p->lo)
        memcpy(p->ord + p->lo, a, n * sizeof *a);
}

static void part_run(apart *p)
{
    part_sort(p);
    eng__sends *sd = &p->ev->s;
    const eng__rkey *rk = p->rk;
    const uint64_t *ord = p->ord;
    const char *const *det = p->r->details;
    eng__tcols *w = &p->rows;
    size_t k = 0, nopt = 0;
    unsigned orgs = 0; /* bits where the rows' orgs differ from the first's */
    uint32_t ndet = 0;
    const uint64_t first = (uint64_t)p->base + p->klo; /* the send of sort key 0 */
    for (size_t pos = p->lo; pos < p->hi; pos++) {
        if (pos + AHEAD < p->hi)
            __builtin_prefetch(&rk[(uint32_t)ord[pos + AHEAD]]);
        /* the send records are read in ascending order but sparse (at W6's L a receipt every
         * ~150 sends: a line, often a page, each), which the hardware does not fetch ahead;
         * the sort key is the send, so its record is prefetched without reading anything else */
        if (pos + HOT_AHEAD < p->hi)
            __builtin_prefetch(&sd->hot[first + (ord[pos + HOT_AHEAD] >> 32)], 1);
        uint32_t i = (uint32_t)ord[pos];
        const eng__rkey *q = &rk[i];
        /* the candidate is the sort key's send: its record's read does not wait for q's */
        uint32_t c = (uint32_t)(first + (ord[pos] >> 32));
        eng__shot *x = &sd->hot[c];
        if (x->org == ENG__NO_ORG || (q->mapped ? x->channel != q->channel : sd->keyhash[c] != p->h[i])) {
            p->stray[p->lo + p->nstray++] = (uint32_t)pos; /* not its send: the caller's */
            continue;
        }
        uint8_t st = q->status, m = x->mask;
        if (m & (1u << st)) {
            p->dups++;
            continue;
        }
        x->mask = (uint8_t)(m | 1u << st);
        if (q->mapped) { /* the key is its send's own (keymap.c): the row's fields are the key's */
            p->org[k] = q->org;
            w->customer[k] = q->customer;
            w->ctx[k] = q->ctx;
            w->channel[k] = q->channel;
        } else {
            p->org[k] = x->org;
            w->customer[k] = sd->customer[c];
            w->ctx[k] = sd->ctx[c];
            w->channel[k] = (uint8_t)x->channel;
        }
        orgs |= (unsigned)(p->org[k] ^ p->org[0]);
        w->time[k] = q->t;
        w->status[k] = st;
        w->send[k] = c;
        if (det) { /* without details the column is not written: the merge zeroes the tail's */
            uint32_t d = det[i] && *det[i] ? i + 1 : 0;
            w->detail[k] = d;
            ndet += d != 0;
        }
        nopt += st == ENG_TOUCH_UNSUBSCRIBED || st == ENG_TOUCH_COMPLAINED;
        w->first[k] = (uint8_t)x->canon;
        k++;
    }
    w->n = k;
    p->ndet = ndet;
    p->nopt = nopt;
    p->one_org = orgs == 0;
}

/* Rows [a, a + n) of w into org o's tail, sealing it whenever it is full
 * before a row goes in (as one row at a time would), details interned (@p ndet:
 * rows of w with one; none, and w's detail column is not written). */
static int put_rows(eng__ev *ev, eng__evorg *o, const eng__tcols *w, size_t a, size_t n, const char *const *det,
                    uint32_t ndet)
{
    int rc;
    while (n) {
        eng__tcols *t = &o->tail;
        if (t->n >= eng__seg_seal_rows && (rc = eng__ttail_seal_behind(ev, o)))
            return rc;
        size_t m = eng__seg_seal_rows - t->n < n ? eng__seg_seal_rows - t->n : n, at = t->n;
        if ((rc = eng__tcols_reserve(t, &ev->e->mem, m)))
            return rc;
#define CP(f) memcpy(t->f + at, w->f + a, m * sizeof *t->f)
        CP(time);
        CP(customer);
        CP(ctx);
        CP(send);
        CP(channel);
        CP(status);
        CP(first);
#undef CP
        if (!ndet)
            memset(t->detail + at, 0, m * sizeof *t->detail);
        else {
            memcpy(t->detail + at, w->detail + a, m * sizeof *t->detail);
            for (size_t x = at; x < at + m; x++) {
                uint32_t d = t->detail[x], code;
                if (d && (rc = eng__dict_intern(&o->det, det[d - 1], strlen(det[d - 1]), &code)))
                    return rc;
                if (d)
                    t->detail[x] = code + 1;
            }
        }
        t->n += m;
        a += m;
        n -= m;
    }
    return ENG_OK;
}

static int part_merge(void *arg, void *user)
{
    apart *p = arg;
    merge *mg = user;
    eng__ev *ev = p->ev;
    const eng__tcols *w = &p->rows;
    int rc = ENG_OK;
    for (size_t a = 0, b; a < w->n && !rc; a = b) {
        uint16_t org = p->org[a];
        if (p->one_org) /* the range counted its orgs: one, so no run to find */
            b = w->n;
        else
            for (b = a + 1; b < w->n && p->org[b] == org;)
                b++;
        eng__evorg *o = eng__ev_org_by_code(ev, org);
        rc = o ? put_rows(ev, o, w, a, b - a, p->r->details, p->ndet)
               : eng__err(ENG_ECORRUPT, "send", "a send names org code %u, which is not known", (unsigned)org);
    }
    for (size_t k = 0; k < w->n && p->nopt && !rc; k++)
        if (w->status[k] == ENG_TOUCH_UNSUBSCRIBED || w->status[k] == ENG_TOUCH_COMPLAINED)
            rc = eng__opt_push(&ev->e->mem, mg->opts, w->send[k], w->time[k], w->status[k]);
    if (!rc) {
        mg->rep->accepted += w->n;
        mg->rep->duplicates += p->dups;
    }
    return rc;
}

/* Cut the candidates cand[0, n) (their span: sp) into np ranges of about as
 * many receipts (whole blocks of sends, counted in one pass), set each part's
 * range and positions and put its receipts into ord[lo, hi) in arrival order
 * (the sort key the send less the range's first); the receipts without a send
 * go after, into ord[*nm, n) in arrival order. */
static void cut(apart *ps, size_t np, const uint32_t *cand, const eng__cspan *sp, size_t n, uint64_t *ord, size_t *nm)
{
    uint32_t lo = sp->lo, hi = sp->hi;
    size_t m = n - sp->none;
    uint64_t top = m ? (uint64_t)hi - lo + 1 : 0;
    for (size_t i = 0, j = m; i < n && j < n; i++)
        if (cand[i] == ENG__NO_SEND)
            ord[j++] = i;
    *nm = m;
    for (size_t k = 0; k < np; k++) { /* by default the last takes all: the others none */
        ps[k].base = lo;
        ps[k].klo = k + 1 == np ? 0 : top;
        ps[k].khi = top;
        ps[k].lo = k + 1 == np ? 0 : m;
        ps[k].hi = m;
    }
    if (m == 0)
        return;
    int sh = 0;
    while (((top - 1) >> sh) >= BLOCKS)
        sh++;
    uint8_t range[BLOCKS]; /* of each block */
    memset(range, (int)(np - 1), sizeof range);
    if (np > 1) {
        uint32_t count[BLOCKS] = {0};
        for (size_t i = 0; i < n; i++)
            if (cand[i] != ENG__NO_SEND)
                count[(cand[i] - lo) >> sh]++;
        uint64_t acc = 0, klo = 0;
        size_t k = 0, b0 = 0;
        for (size_t b = 0; b < BLOCKS && k + 1 < np; b++) {
            acc += count[b];
            if (acc * np >= (uint64_t)m * (k + 1)) {
                ps[k].klo = klo;
                ps[k].khi = klo = (uint64_t)(b + 1) << sh;
                ps[k].lo = k ? ps[k - 1].hi : 0;
                ps[k].hi = acc;
                memset(range + b0, (int)k, b + 1 - b0);
                b0 = b + 1;
                k++;
            }
        }
        ps[k].klo = klo; /* the rest */
        ps[k].lo = k ? ps[k - 1].hi : 0;
        memset(range + b0, (int)k, BLOCKS - b0);
        for (size_t j = k + 1; j < np; j++) /* none left for these */
            ps[j].klo = top, ps[j].lo = m;
    }
    /* each receipt into its range, in arrival order */
    size_t at[RANGES_MAX];
    uint64_t first[RANGES_MAX]; /* the send of each range's sort key 0 */
    for (size_t k = 0; k < np; k++)
        at[k] = ps[k].lo, first[k] = lo + ps[k].klo;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = cand[i];
        if (c == ENG__NO_SEND)
            continue;
        uint8_t r = range[(c - lo) >> sh];
        ord[at[r]++] = ((uint64_t)c - first[r]) << 32 | i;
    }
}

/* The ranges' rows and sort scratch, kept by the engine between batches: freed
 * and allocated again each batch, malloc handed their pages back to the kernel
 * and each batch faulted them in afresh (a third of the apply pass's CPU at M). */
struct eng__rscratch {
    eng__tcols rows[RANGES_MAX];
    uint16_t *org[RANGES_MAX];
    size_t orgcap[RANGES_MAX];
    uint64_t *tmp;
    size_t tmpcap;
    void *temp; /* the batch's other temporaries (eng__rcpt_temp) */
    size_t tempcap;
};
typedef struct eng__rscratch eng__rscratch;

/* Scratch of more rows than this is freed after its batch (a host's batches of
 * 65,536 receipts keep ~2-4 MB). Tests set it low. */
size_t eng__rcpt_keep_rows = (size_t)1 << 18;

static int sc_get(eng__ev *ev)
{
    if (!ev->rsc && !(ev->rsc = eng__calloc(&ev->e->mem, 1, sizeof *ev->rsc)))
        return eng__nomem();
    return ENG_OK;
}

/* *p to at least n elements of size (its contents not kept). */
static int sc_room(const eng__mem *mem, void **p, size_t *cap, size_t n, size_t size)
{
    if (n <= *cap)
        return ENG_OK;
    void *q = eng__malloc(mem, n * size);
    if (!q)
        return eng__nomem();
    eng__free(mem, *p);
    *p = q;
    *cap = n;
    return ENG_OK;
}

void *eng__rcpt_temp(eng__ev *ev, size_t bytes)
{
    if (sc_get(ev) || sc_room(&ev->e->mem, &ev->rsc->temp, &ev->rsc->tempcap, bytes, 1)) {
        eng__nomem();
        return NULL;
    }
    return ev->rsc->temp;
}

void eng__rcpt_temp_done(eng__ev *ev)
{
    if (ev->rsc && ev->rsc->tempcap > eng__rcpt_keep_rows * 96) {
        eng__free(&ev->e->mem, ev->rsc->temp);
        ev->rsc->temp = NULL;
        ev->rsc->tempcap = 0;
    }
}

static size_t sc_rows(const eng__rscratch *sc)
{
    size_t m = sc->tmpcap;
    for (size_t k = 0; k < RANGES_MAX; k++)
        m += sc->rows[k].cap;
    return m;
}

/* The ranges' rows and sort keys freed (not the batch's temporaries: its caller still
 * reads them after eng__rcpt_apply, eng__rcpt_temp_done frees them). */
static void sc_rows_free(eng__rscratch *sc, const eng__mem *mem)
{
    for (size_t k = 0; k < RANGES_MAX; k++) {
        eng__tcols_free(&sc->rows[k], mem);
        eng__free(mem, sc->org[k]);
        sc->org[k] = NULL;
        sc->orgcap[k] = 0;
    }
    eng__free(mem, sc->tmp);
    sc->tmp = NULL;
    sc->tmpcap = 0;
}

void eng__rcpt_scratch_free(eng__ev *ev)
{
    eng__rscratch *sc = ev->rsc;
    if (!sc)
        return;
    const eng__mem *mem = &ev->e->mem;
    sc_rows_free(sc, mem);
    eng__free(mem, sc->temp);
    eng__free(mem, sc);
    ev->rsc = NULL;
}

static void range_run(void *user, size_t k)
{
    part_run((apart *)user + k);
}

int eng__rcpt_apply(eng__ev *ev, const eng_receipts *r, const eng__rkey *rk, const uint64_t *h, const uint32_t *cand,
                    const eng__cspan *span, size_t n, uint64_t *ord, size_t *nm, eng_event_report *rep, eng__optlist *opts, uint32_t *stray,
                    size_t *nstray)
{
    const eng__mem *mem = &ev->e->mem;
    apart ps[RANGES_MAX];
    memset(ps, 0, sizeof ps);
    *nstray = 0;
    size_t nt = eng__par_parts(ev, n), np = nt > 1 ? nt * ENG__RANGES_PER : 1;
    cut(ps, np, cand, span, n, ord, nm);
    int rc = sc_get(ev);
    eng__rscratch *sc = ev->rsc;
    uint64_t *tmp = NULL;
    if (!rc && *nm > 1) {
        if ((rc = sc_room(mem, (void **)&sc->tmp, &sc->tmpcap, *nm, sizeof *tmp)) == ENG_OK)
            tmp = sc->tmp;
    }
    for (size_t k = 0; k < np; k++) {
        apart *p = &ps[k];
        p->ev = ev;
        p->r = r;
        p->rk = rk;
        p->h = h;
        p->ord = ord;
        p->tmp = tmp;
        p->stray = stray;
        if (!rc && p->hi > p->lo) {
            sc->rows[k].n = 0;
            if (!(rc = eng__tcols_reserve(&sc->rows[k], mem, p->hi - p->lo)) &&
                !(rc = sc_room(mem, (void **)&sc->org[k], &sc->orgcap[k], p->hi - p->lo, sizeof *p->org))) {
                p->rows = sc->rows[k];
                p->org = sc->org[k];
            }
        }
    }
    merge mg = {rep, opts};
    if (!rc) { /* every range run, as one thread would, whatever a merge returns */
        eng__pipe pp;
        eng__pipe_start(&pp, &ev->e->pool, nt - 1, np, range_run, ps);
        for (size_t k = 0; k < np; k++) {
            eng__pipe_wait(&pp, k);
            rc = rc ? rc : part_merge(&ps[k], &mg);
            rc = rc ? rc : eng__tseal_poll(ev); /* a seal's write started while the batch goes on */
        }
        eng__pipe_end(&pp);
    }
    for (size_t k = 0; k < np; k++) {
        if (ps[k].sorted && ps[k].hi - ps[k].lo > 1)
            atomic_fetch_add_explicit(&eng__rcpt_presorted, 1, memory_order_relaxed);
        if (ps[k].nstray)
            memmove(stray + *nstray, stray + ps[k].lo, ps[k].nstray * sizeof *stray);
        *nstray += ps[k].nstray;
    }
    if (sc && sc_rows(sc) > eng__rcpt_keep_rows) /* a batch far larger than usual: its scratch not kept */
        sc_rows_free(sc, mem);
    return rc;
}
