/* The report's reader of ordered segments (payload kind 3, tsum.c): a segment
 * opened without decoding its columns, its table handed out, and the rows of
 * one status decoded on request while the others stay packed. A report counts
 * most statuses from the tables and reads only the rows it must (the `sent`
 * range for contacted customers, the starting status's for attribution).
 *
 * What is used is checked against the rows first: the status column against
 * the ranges the table implies (compared packed, several rows at a time), and
 * each status's entries against its rows' contexts, channels and flags, so a
 * table that does not match its segment is ENG_ECORRUPT naming it, as a full
 * decode would be. */
#include "events/ev_state.h"
#include "events/colpack.h"

#include <string.h>

typedef struct tabrd {
    eng__ev *ev;
    eng__tcols *d; /* the reader's scratch: the entries, decoded blocks and rows */
    const char *key;
    eng__seg z;
    eng__pcol time, customer, ctx, channel, status, first;
    uint32_t start[ENG_TOUCH_STATUS_COUNT + 1]; /* rows of status s: [start[s], start[s + 1]) */
    uint32_t e0[ENG_TOUCH_STATUS_COUNT + 1];    /* its entries: [e0[s], e0[s + 1]) */
    int status_ok;                              /* the status column matches start[] */
    const uint8_t *sel;                         /* the filter's contexts (NULL: all) */
    uint32_t selmax;
} tabrd;

static int corrupt(const tabrd *t, const char *what)
{
    return eng__err(ENG_ECORRUPT, t->key, "touch segment %s: %s", t->key, what);
}

static int status_check(tabrd *t)
{
    if (t->status_ok)
        return ENG_OK;
    for (unsigned s = 0; s < ENG_TOUCH_STATUS_COUNT; s++)
        if (!eng__pcol_same(&t->status, t->start[s], t->start[s + 1] - t->start[s], s))
            return corrupt(t, "its rows' statuses do not match its summary");
    t->status_ok = 1;
    return ENG_OK;
}

/* Contexts, channels and flags of status st's k rows into d (from row r0), checked against its entries. */
static int range_check(tabrd *t, unsigned st, eng__tcols *d)
{
    const size_t r0 = t->start[st], k = t->start[st + 1] - r0;
    eng__pcol_u32(&t->ctx, r0, k, d->ctx);
    eng__pcol_u8(&t->channel, r0, k, d->channel);
    eng__pcol_u8(&t->first, r0, k, d->first);
    uint8_t bad = 0;
    for (size_t i = 0; i < k; i++)
        bad |= d->first[i];
    if (bad > 1)
        return corrupt(t, "a `first` flag is not 0 or 1");
    return eng__tsum_check(d->ctx, d->channel, d->first, k, d->sum + t->e0[st], t->e0[st + 1] - t->e0[st], t->key,
                           &t->ev->e->mem);
}

int eng__touch_tab_rows(const eng__touch_tab *v, unsigned st, eng__touch_cols *out)
{
    tabrd *t = v->priv;
    eng__tcols *d = t->d;
    memset(out, 0, sizeof *out);
    out->org = v->org;
    if (st >= ENG_TOUCH_STATUS_COUNT)
        return eng__err(ENG_EINVAL, "status", "status %u is not an eng_touch_status", st);
    int rc = status_check(t);
    if (!rc)
        rc = range_check(t, st, d);
    if (rc)
        return rc;
    const size_t r0 = t->start[st], k = t->start[st + 1] - r0;
    eng__pcol_u32(&t->customer, r0, k, d->customer);
    eng__pcol_i64(&t->time, r0, k, d->time);
    int bad = 0; /* in order, inside the zone (loops the compiler vectorises) */
    for (size_t i = 1; i < k; i++)
        bad |= d->customer[i] < d->customer[i - 1];
    for (size_t i = 0; i < k; i++)
        bad |= (d->customer[i] < t->z.cmin) | (d->customer[i] > t->z.cmax) | (d->time[i] < t->z.tmin) |
               (d->time[i] > t->z.tmax);
    if (bad)
        return corrupt(t, "rows out of order or outside its zone");
    memset(d->status, (int)st, k);
    size_t n = k;
    int all = 1; /* every entry of st in the filter's contexts: nothing to drop */
    for (uint32_t j = t->e0[st]; t->sel && j < t->e0[st + 1]; j++)
        all &= d->sum[j].ctx <= t->selmax && t->sel[d->sum[j].ctx];
    if (!all) {
        n = 0;
        for (size_t i = 0; i < k; i++)
            if (d->ctx[i] <= t->selmax && t->sel[d->ctx[i]]) {
                d->time[n] = d->time[i], d->customer[n] = d->customer[i], d->ctx[n] = d->ctx[i];
                d->channel[n] = d->channel[i], d->first[n++] = d->first[i];
            }
    }
    *out = (eng__touch_cols){n, v->org, d->time, d->customer, d->ctx, d->channel, d->status, NULL, NULL, d->first};
    return ENG_OK;
}

/* Entry (context - lo, channel) slots counted from the rows when the contexts of a
 * status's entries span less than eng__touch_tab_dense / 16 (a segment of a few
 * sends, the usual case); a wider span is checked by range_check instead, before
 * the blocks. */
enum { DENSE = 1024 };
unsigned eng__touch_tab_dense = DENSE;

/* The rows of a block (customers NULL: not read): customers ascending from the last
 * block's, inside the zone; with @p cnt, (rows << 32 | first rows) added at each
 * (context - lo, channel) (b->ctx1 set: every row's context is lo, checked packed). */
static int blk_check(tabrd *t, const eng__touch_blk *b, uint32_t *prev, uint64_t *cnt, uint32_t lo,
                     uint64_t span, const uint8_t *first)
{
    const uint32_t *cu = b->customer;
    uint32_t bad = 0;
    if (cu) {
        bad = (cu[0] < *prev) | (cu[b->n - 1] > t->z.cmax);
        for (size_t i = 1; i < b->n; i++)
            bad |= cu[i] < cu[i - 1];
        *prev = cu[b->n - 1];
        if (bad)
            return corrupt(t, "rows out of order or outside its zone");
    }
    if (!cnt)
        return ENG_OK;
    /* Four lanes of counts (cnt[lane * stride + slot]): a row does not wait on the
     * last one's store to the same slot (a few channels: most rows share one). */
    const size_t out = (size_t)span * 16, stride = out + 1;
    if (b->ctx1 != ENG__TOUCH_CTX_MIXED && !first) { /* the usual range: one context, every row flagged */
        for (size_t i = 0; i < b->n; i++)
            cnt[(i & 3) * stride + (b->channel[i] < 16 ? b->channel[i] : out)] += (uint64_t)1 << 32 | 1u;
        return ENG_OK;
    }
    for (size_t i = 0; i < b->n; i++) {
        uint32_t d = b->ctx[i] - lo;
        size_t at = d < span && b->channel[i] < 16 ? (size_t)d * 16 + b->channel[i] : out;
        unsigned f = first ? first[i] : 1u;
        bad |= f > 1;
        cnt[(i & 3) * stride + at] += (uint64_t)1 << 32 | f;
    }
    return bad ? corrupt(t, "a `first` flag is not 0 or 1") : ENG_OK;
}

/* eng__touch_tab_blocks, or with fn NULL eng__touch_tab_check: the same checks
 * of the entries, the customers left packed. */
static int blocks(const eng__touch_tab *v, unsigned st, eng__touch_blk_fn fn, void *user)
{
    tabrd *t = v->priv;
    eng__tcols *d = t->d;
    if (st >= ENG_TOUCH_STATUS_COUNT)
        return eng__err(ENG_EINVAL, "status", "status %u is not an eng_touch_status", st);
    int rc = status_check(t);
    if (rc)
        return rc;
    const size_t r0 = t->start[st], k = t->start[st + 1] - r0;
    const eng__touch_ent *e = d->sum + t->e0[st];
    const size_t ne = t->e0[st + 1] - t->e0[st];
    uint32_t lo = UINT32_MAX, hi = 0;
    int all_first = 1; /* every entry's rows flagged: the column is checked packed */
    for (size_t j = 0; j < ne; j++) {
        lo = e[j].ctx < lo ? e[j].ctx : lo;
        hi = e[j].ctx > hi ? e[j].ctx : hi;
        all_first &= e[j].first == e[j].rows;
    }
    if (!k)
        return ENG_OK;
    const uint64_t span = (uint64_t)hi - lo + 1;
    const int dense = span * 16 < (eng__touch_tab_dense < DENSE ? eng__touch_tab_dense : DENSE);
    uint64_t cnt[4 * (DENSE + 1)];
    const size_t stride = (size_t)span * 16 + 1;
    if (dense) {
        memset(cnt, 0, 4 * stride * sizeof *cnt);
        if (all_first && !eng__pcol_same(&t->first, r0, k, 1))
            return corrupt(t, "its rows' `first` flags do not match its summary");
    } else if ((rc = range_check(t, st, d)) || !fn) { /* ctx, channel and first of the range into d */
        return rc;
    }
    /* A dense range's blocks are decoded into the front of d's columns; a wide one's
     * contexts and channels are where range_check put them. A range of one context
     * (a dispatcher's batch, a wave of receipts) is checked packed, not decoded. */
    const int one = dense && lo == hi && eng__pcol_same(&t->ctx, r0, k, lo);
    for (size_t i = 0; one && i < (k < ENG__TOUCH_BLK ? k : ENG__TOUCH_BLK); i++)
        d->ctx[i] = lo;
    uint32_t prev = t->z.cmin;
    for (size_t b0 = 0; b0 < k; b0 += ENG__TOUCH_BLK) {
        const size_t n = k - b0 < ENG__TOUCH_BLK ? k - b0 : ENG__TOUCH_BLK;
        if (fn)
            eng__pcol_u32(&t->customer, r0 + b0, n, d->customer);
        eng__touch_blk b = {n, r0 + b0, fn ? d->customer : NULL, d->ctx + b0, d->channel + b0,
                            one ? lo : ENG__TOUCH_CTX_MIXED};
        if (dense) {
            if (!one)
                eng__pcol_u32(&t->ctx, r0 + b0, n, d->ctx);
            eng__pcol_u8(&t->channel, r0 + b0, n, d->channel);
            if (!all_first)
                eng__pcol_u8(&t->first, r0 + b0, n, d->first);
            b.ctx = d->ctx, b.channel = d->channel;
        }
        if ((rc = blk_check(t, &b, &prev, dense ? cnt : NULL, lo, span, dense && !all_first ? d->first : NULL)) ||
            (fn && (rc = fn(v, &b, user))))
            return rc;
    }
    if (!dense)
        return ENG_OK;
    for (size_t at = 0; at < stride; at++)
        cnt[at] += cnt[stride + at] + cnt[2 * stride + at] + cnt[3 * stride + at];
    if (cnt[span * 16])
        return corrupt(t, "a row's context is not in its summary");
    uint64_t got = 0;
    for (size_t j = 0; j < ne; j++) {
        const size_t at = (size_t)(e[j].ctx - lo) * 16 + e[j].channel;
        if (e[j].channel >= 16 || cnt[at] != ((uint64_t)e[j].rows << 32 | e[j].first))
            return corrupt(t, "a summary entry does not match the rows");
        got += cnt[at] >> 32;
    }
    return got == k ? ENG_OK : corrupt(t, "a summary entry does not match the rows");
}

int eng__touch_tab_blocks(const eng__touch_tab *v, unsigned st, eng__touch_blk_fn fn, void *user)
{
    return fn ? blocks(v, st, fn, user) : eng__err(ENG_EINVAL, "fn", "eng__touch_tab_blocks: fn is NULL");
}

int eng__touch_tab_check(const eng__touch_tab *v, unsigned st)
{
    return blocks(v, st, NULL, NULL);
}

int eng__touch_tab_times(const eng__touch_tab *v, const uint32_t *rows, size_t k, int64_t *out)
{
    tabrd *t = v->priv;
    int bad = 0;
    for (size_t i = 0; i < k; i++) {
        if (rows[i] >= t->z.n)
            return eng__err(ENG_EINVAL, "rows", "row %u is past the segment's %zu", rows[i], (size_t)t->z.n);
        out[i] = eng__pcol_at(&t->time, rows[i]);
        bad |= (out[i] < t->z.tmin) | (out[i] > t->z.tmax);
    }
    return bad ? corrupt(t, "rows out of order or outside its zone") : ENG_OK;
}

int eng__touch_tab_visit(eng__ev *ev, eng__tcols *d, uint16_t org, const char *key, const uint8_t *p, size_t len,
                         const uint8_t *sel, uint32_t selmax, eng__touch_tab_fn fn, void *user)
{
    const eng__mem *mem = &ev->e->mem;
    tabrd t;
    memset(&t, 0, sizeof t);
    t.ev = ev;
    t.d = d;
    t.key = key;
    t.sel = sel;
    t.selmax = selmax;
    eng__rd r;
    eng__rd_init(&r, p, len);
    uint64_t nkey;
    uint8_t kind;
    int rc = eng__tseg_head(&r, key, &t.z, &nkey, &kind);
    if (rc)
        return rc;
    if (kind != 3)
        return eng__err(ENG_EINVAL, key, "touch segment %s is not ordered", key);
    const size_t n = t.z.n;
    eng__pcol_read(&r, n, 64, &t.time);
    eng__pcol_read(&r, n, 32, &t.customer);
    eng__pcol_read(&r, n, 32, &t.ctx);
    eng__pcol_read(&r, n, 8, &t.channel);
    eng__pcol_read(&r, n, 8, &t.status);
    eng__unpack_skip(&r, n); /* send */
    eng__unpack_skip(&r, n); /* detail */
    eng__tseg_keys_skip(&r, &t.z, nkey);
    eng__pcol_read(&r, n, 8, &t.first);
    if (!eng__rd_ok(&r))
        return corrupt(&t, "bad columns");
    d->n = d->nkey = 0;
    if ((rc = eng__tcols_reserve(d, mem, n)) || (rc = eng__tsum_read(&r, key, n, d, mem)))
        return rc;
    if (eng__rd_left(&r))
        return corrupt(&t, "bytes after the summary");
    /* The entries against the zone, and each status's rows and entries. */
    uint32_t sts = 0, chs = 0;
    for (size_t j = 0; j < d->nsum; j++) {
        const eng__touch_ent *e = &d->sum[j];
        if (e->ctx < t.z.xmin || e->ctx > t.z.xmax)
            return corrupt(&t, "a summary entry's context is outside its zone");
        sts |= 1u << e->status;
        chs |= 1u << e->channel;
        t.start[e->status + 1] += e->rows;
        t.e0[e->status + 1]++;
    }
    if (sts != t.z.statuses || chs != t.z.channels)
        return corrupt(&t, "its summary does not match its zone");
    for (unsigned s = 0; s < ENG_TOUCH_STATUS_COUNT; s++) {
        t.start[s + 1] += t.start[s];
        t.e0[s + 1] += t.e0[s];
    }
    eng__touch_tab v = {org, n, d->sum, d->nsum, t.z.cmax, t.z.cmin, t.z.tmin, &t};
    return fn(&v, user);
}
