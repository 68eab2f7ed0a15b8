/* The touch pass over one status of an ordered segment, a block at a time.
 *
 * The report reads the `sent` range (contacted customers) and the starting
 * status's range (kept touches) of each ordered segment. When every row of the
 * run's messages there is of a trusted message, a row needs only its customer,
 * context and channel (eng__touch_tab_blocks): a `sent` row puts its key into
 * the bucket as eng__attr_touches does, a starting-status row of a trusted
 * message is counted from the segment's table, and the time is read only for
 * the rows kept (a customer with a qualifying transaction) and, for `sent`,
 * for the messages whose earliest send the segment may lower (its earliest
 * time before the one known). The state after is eng__attr_touches's over the
 * same rows; the checks are the reader's (touch_tab.c). */
#include "measure/measure_impl.h"
#include "events/events_impl.h"

#include <string.h>

#define BIT(bm, c) (((bm)[(c) >> 6] >> ((c) & 63)) & 1u)

typedef struct tpass {
    eng__attr *x;
    int keys, keep;                           /* `sent`: bits set; the starting status: kept touches */
    int direct;                               /* `sent`: each row sets its bit (else its key goes into the buckets) */
    int cust_ok;                              /* every row's customer is below n_customers (the zone's greatest is) */
    int any_early;
    uint64_t blk_one, blk_mixed;              /* blocks of one context and of several (eng__attr_table_runs) */
    uint8_t *early;                           /* `sent`: the segment may lower the unit's earliest send */
    /* (unit, channel) slots of `sent` the segment's entries list, their bitmaps allocated: a
     * row of another is a table that does not match its rows, which the reader reports */
    uint8_t *has;
    uint32_t rows[ENG__TOUCH_BLK];            /* the block's rows whose time is read (segment rows) */
    eng_time t[ENG__TOUCH_BLK];
} tpass;

/* Unit + 1 of send context @p id (0: not the run's). */
static inline unsigned msg_of(const uint16_t *mtab, size_t mtab_n, uint32_t id)
{
    return id < mtab_n ? mtab[id] : 0;
}

static int bad_row(const eng__touch_blk *b, size_t i)
{
    return eng__err(ENG_EINVAL, "touches.customer", "segment row %zu: customer %u is out of range", b->row0 + i,
                    b->customer[i]);
}

/* `sent` rows of a block of one context whose customers are all below n_customers:
 * each sets its bit. The customers ascend, so each bitmap is written in order. */
static void block_bits(tpass *p, const eng__touch_blk *b, unsigned m)
{
    eng__attr *x = p->x;
    uint64_t *bm[ENG_MAX_CHANNELS]; /* NULL: a (message, channel) without an entry, which the reader reports */
    const size_t at = ((size_t)ENG_TOUCH_SENT * x->nunit + m) * ENG_MAX_CHANNELS;
    for (unsigned ch = 0; ch < ENG_MAX_CHANNELS; ch++)
        bm[ch] = p->has[m * ENG_MAX_CHANNELS + ch] ? x->bits[at + ch] : NULL;
    const uint32_t *cu = b->customer;
    const uint8_t *chn = b->channel;
    for (size_t i = 0; i < b->n; i++) {
        uint64_t *w = chn[i] < ENG_MAX_CHANNELS ? bm[chn[i]] : NULL;
        if (w)
            w[cu[i] >> 6] |= 1ull << (cu[i] & 63);
    }
}

/* `sent` rows of a block of one context whose customers are all below n_customers,
 * as 32-bit keys into the buckets: the message and each channel's key looked up
 * once for the block, not per row. */
static void block_keys32(tpass *p, const eng__touch_blk *b, unsigned m)
{
    eng__attr *x = p->x;
    const unsigned shift = x->shift;
    const uint32_t low = ((uint32_t)1 << shift) - 1, *cu = b->customer;
    const uint64_t base = (uint64_t)ENG_TOUCH_SENT * x->nunit * ENG_MAX_CHANNELS + (uint64_t)m * ENG_MAX_CHANNELS;
    uint32_t hi[ENG_MAX_CHANNELS];
    uint8_t ok[ENG_MAX_CHANNELS];
    for (unsigned ch = 0; ch < ENG_MAX_CHANNELS; ch++) {
        hi[ch] = (uint32_t)(base + ch) << shift;
        ok[ch] = p->has[m * ENG_MAX_CHANNELS + ch];
    }
    const uint8_t *chn = b->channel;
    uint32_t *keys = x->keys32, *fill = x->bfill;
    const size_t bcap = x->bcap;
    unsigned kb = cu[0] >> shift;
    uint32_t f = fill[kb], *kp = keys + (size_t)kb * bcap;
    for (size_t i = 0; i < b->n; i++) {
        const uint32_t c = cu[i];
        const unsigned ch = chn[i] & (ENG_MAX_CHANNELS - 1);
        if (chn[i] >= ENG_MAX_CHANNELS || !ok[ch])
            continue;
        const unsigned k = c >> shift;
        if (k != kb) {
            fill[kb] = f;
            kb = k, f = fill[k], kp = keys + (size_t)k * bcap;
        }
        kp[f] = hi[ch] | (c & low);
        if (++f == bcap) {
            fill[kb] = f;
            eng__attr_flush_bucket(x, kb);
            f = 0;
        }
    }
    fill[kb] = f;
}

/* `sent` rows: their bits set (block_bits), or their keys into the buckets
 * (eng__attr_touches's, without the checks the reader made). */
static int block_keys(tpass *p, const eng__touch_blk *b)
{
    if (p->cust_ok && b->ctx1 != ENG__TOUCH_CTX_MIXED && (p->direct || p->x->keys32)) {
        const unsigned m = msg_of(p->x->mtab, p->x->mtab_n, b->ctx1);
        if (m && p->direct)
            block_bits(p, b, m - 1);
        else if (m)
            block_keys32(p, b, m - 1);
        return ENG_OK;
    }
    eng__attr *x = p->x;
    const uint16_t *mtab = x->mtab;
    const size_t mtab_n = x->mtab_n, bcap = x->bcap, n = b->n;
    const uint32_t ncust = x->sp.n_customers, *cu = b->customer, *cx = b->ctx;
    const uint8_t *chn = b->channel, *has = p->has;
    const unsigned shift = x->shift;
    uint64_t *keys = x->keys;
    uint32_t *keys32 = x->keys32, *kp32 = keys32;
    const uint32_t low = shift < 32 ? ((uint32_t)1 << shift) - 1 : UINT32_MAX;
    uint32_t *fill = x->bfill;
    const uint64_t base = (uint64_t)ENG_TOUCH_SENT * x->nunit * ENG_MAX_CHANNELS;
    /* The customers ascend: the bucket changes rarely, so its fill is kept in a
     * register (a count in memory would make each row wait on the last one's store). */
    unsigned kb = 0;
    uint32_t f = fill[0];
    uint64_t *kp = keys;
    for (size_t i = 0; i < n; i++) {
        const unsigned m = msg_of(mtab, mtab_n, cx[i]);
        if (!m)
            continue;
        const uint32_t c = cu[i];
        const unsigned ch = chn[i], at = (m - 1) * ENG_MAX_CHANNELS + (ch & (ENG_MAX_CHANNELS - 1));
        if (c >= ncust) {
            fill[kb] = f;
            return bad_row(b, i);
        }
        if (ch >= ENG_MAX_CHANNELS || !has[at])
            continue;
        if (p->direct) {
            x->bits[(size_t)base + at][c >> 6] |= 1ull << (c & 63);
            continue;
        }
        const unsigned k = c >> shift;
        if (k != kb) {
            fill[kb] = f;
            kb = k, f = fill[k];
            if (keys32)
                kp32 = keys32 + (size_t)k * bcap;
            else
                kp = keys + (size_t)k * bcap;
        }
        if (keys32)
            kp32[f] = (uint32_t)(base + at) << shift | (c & low);
        else
            kp[f] = (base + at) << 32 | c;
        if (++f == bcap) {
            fill[kb] = f;
            eng__attr_flush_bucket(x, kb);
            f = 0;
        }
    }
    fill[kb] = f;
    return ENG_OK;
}

/* Starting-status rows of customers with a qualifying transaction kept, and the
 * earliest sends lowered: the time read for those rows only. */
static int block_times(tpass *p, const eng__touch_tab *t, const eng__touch_blk *b)
{
    eng__attr *x = p->x;
    const uint16_t *mtab = x->mtab;
    const size_t mtab_n = x->mtab_n, n = b->n;
    const uint32_t ncust = x->sp.n_customers, *cu = b->customer, *cx = b->ctx;
    const uint64_t *hasq = x->hasq;
    const uint8_t *early = p->early;
    const unsigned keep = (unsigned)p->keep;
    uint32_t *rows = p->rows;
    size_t nk = 0;
    const unsigned m1 = b->ctx1 != ENG__TOUCH_CTX_MIXED ? msg_of(mtab, mtab_n, b->ctx1) : 0;
    if (m1 && p->cust_ok) { /* one context, customers in range: a bit test a row */
        const unsigned all = early[m1 - 1];
        for (size_t i = 0; i < n; i++) {
            rows[nk] = (uint32_t)(b->row0 + i);
            nk += (keep & BIT(hasq, cu[i])) | all;
        }
    }
    for (size_t i = 0; i < n && !(m1 && p->cust_ok); i++) {
        const unsigned m = msg_of(mtab, mtab_n, cx[i]);
        if (!m || cu[i] >= ncust) {
            if (m)
                return bad_row(b, i);
            continue;
        }
        const uint32_t c = cu[i];
        rows[nk] = (uint32_t)(b->row0 + i);
        nk += (keep & BIT(hasq, c)) | early[m - 1];
    }
    if (!nk)
        return ENG_OK;
    int rc = eng__touch_tab_times(t, rows, nk, p->t);
    if (m1 && p->cust_ok && !early[m1 - 1]) { /* one context, no earliest send to lower: every row listed is kept */
        for (size_t j = 0; j < nk && !rc; j++) {
            const size_t i = rows[j] - b->row0;
            rc = eng__attr_keep(x, cu[i], m1 - 1, b->channel[i], p->t[j]);
        }
        return rc;
    }
    for (size_t j = 0; j < nk && !rc; j++) {
        const size_t i = rows[j] - b->row0;
        const unsigned m = mtab[cx[i]] - 1;
        const uint32_t c = cu[i];
        if (keep && BIT(hasq, c))
            rc = eng__attr_keep(x, c, m, b->channel[i], p->t[j]);
        if (early[m] && p->t[j] < x->sent_at[m])
            x->sent_at[m] = p->t[j];
    }
    return rc;
}

static int block(const eng__touch_tab *t, const eng__touch_blk *b, void *u)
{
    tpass *p = u;
    ++*(b->ctx1 != ENG__TOUCH_CTX_MIXED ? &p->blk_one : &p->blk_mixed);
    int rc = p->keys ? block_keys(p, b) : ENG_OK;
    return rc || !(p->keep || p->any_early) ? rc : block_times(p, t, b);
}

unsigned eng__attr_table_direct = 128;
uint64_t eng__attr_table_runs[4];

int eng__attr_table(eng__attr *x, const eng__touch_tab *t, unsigned st)
{
    if (x->to || x->from || st >= ENG_TOUCH_STATUS_COUNT)
        return eng__err(ENG_EMISUSE, "touches", "a table pass needs a run over all time and a status");
    x->touches_seen = 1;
    const unsigned want = x->sp.has_goal ? (unsigned)x->sp.goal->start_on : ENG_TOUCH_SENT;
    const size_t tail = x->nunit * (1 + ENG_MAX_CHANNELS);
    tpass *p = eng__malloc(x->mem, sizeof *p + tail);
    if (!p)
        return eng__nomem();
    p->x = x;
    p->keys = st == ENG_TOUCH_SENT;
    p->keep = st == want;
    p->early = (uint8_t *)(p + 1);
    p->has = p->early + x->nunit;
    memset(p->early, 0, tail);
    p->any_early = 0;
    p->blk_one = p->blk_mixed = 0;
    p->cust_ok = t->cmax < x->sp.n_customers;
    /* Bits set directly when the segment's rows of st are dense in its customers (one row or
     * more per 128 on average: the lines of a bitmap it touches are few and stream in order);
     * sparse rows (a batch spread over many customers) go through the buckets. */
    size_t nst = 0;
    for (size_t j = 0; j < t->nent; j++)
        nst += t->ent[j].status == st ? t->ent[j].rows : 0;
    p->direct = (uint64_t)nst * eng__attr_table_direct >= (uint64_t)t->cmax - t->cmin + 1;
    int rc = ENG_OK;
    for (size_t j = 0; j < t->nent && !rc; j++) {
        const eng__touch_ent *e = &t->ent[j];
        const unsigned m = e->status == st && e->ctx < x->mtab_n ? x->mtab[e->ctx] : 0;
        if (!m)
            continue;
        if (!x->trust[m - 1] || e->channel >= ENG_MAX_CHANNELS)
            rc = eng__err(ENG_EMISUSE, "touches", "a table pass over a message the events layer does not vouch for");
        else if (st == ENG_TOUCH_SENT) {
            const size_t slot = (size_t)(m - 1) * ENG_MAX_CHANNELS + e->channel;
            uint64_t **bm = &x->bits[(size_t)ENG_TOUCH_SENT * x->nunit * ENG_MAX_CHANNELS + slot];
            if (!*bm && !(*bm = eng__calloc(x->mem, x->words, sizeof **bm)))
                rc = eng__nomem();
            p->has[slot] = 1;
            p->early[m - 1] |= t->tmin < x->sent_at[m - 1];
            p->any_early |= p->early[m - 1];
        } else /* each row the only one of its (customer, slot): what the pass would count */
            x->cnt[((size_t)st * x->nunit + m - 1) * ENG_MAX_CHANNELS + e->channel] += e->rows;
    }
    if (!rc && p->keys && !p->direct)
        rc = eng__attr_keys(x, t->n);
    if (!rc)
        rc = eng__touch_tab_blocks(t, st, block, p);
    if (p->keys)
        __atomic_add_fetch(&eng__attr_table_runs[2 + !p->direct], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&eng__attr_table_runs[0], p->blk_one, __ATOMIC_RELAXED);
    __atomic_add_fetch(&eng__attr_table_runs[1], p->blk_mixed, __ATOMIC_RELAXED);
    eng__free(x->mem, p);
    return rc;
}
