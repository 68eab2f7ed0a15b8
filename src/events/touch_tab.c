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

int eng__touch_tab_check(const eng__touch_tab *v, unsigned st)
{
    tabrd *t = v->priv;
    if (st >= ENG_TOUCH_STATUS_COUNT)
        return eng__err(ENG_EINVAL, "status", "status %u is not an eng_touch_status", st);
    int rc = status_check(t);
    return rc ? rc : range_check(t, st, &t->ev->dec);
}

int eng__touch_tab_rows(const eng__touch_tab *v, unsigned st, eng__touch_cols *out)
{
    tabrd *t = v->priv;
    eng__tcols *d = &t->ev->dec;
    memset(out, 0, sizeof *out);
    out->org = v->org;
    int rc = eng__touch_tab_check(v, st);
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

int eng__touch_tab_visit(eng__ev *ev, uint16_t org, const char *key, const uint8_t *p, size_t len, const uint8_t *sel,
                         uint32_t selmax, eng__touch_tab_fn fn, void *user)
{
    const eng__mem *mem = &ev->e->mem;
    tabrd t;
    memset(&t, 0, sizeof t);
    t.ev = ev;
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
    (void)eng__rd_bytes(&r, (size_t)nkey * 8);
    eng__pcol_read(&r, n, 8, &t.first);
    if (!eng__rd_ok(&r))
        return corrupt(&t, "bad columns");
    eng__tcols *d = &ev->dec;
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
    eng__touch_tab v = {org, n, d->sum, d->nsum, t.z.cmax, &t};
    return fn(&v, user);
}
