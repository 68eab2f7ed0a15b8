/* Ordered touch segments and their summaries (payload kind 3, tseg.c).
 *
 * A sealed segment's rows are stored ordered by (status, customer), ties in
 * storage order, followed by a table with one entry per (status, context,
 * channel) that occurs: its rows and how many of them are flagged `first`,
 * entries ascending by (status, context, channel). A reader can then take a
 * status's rows as one range ordered by customer, and a campaign's counts
 * from the table instead of the rows (docs/events.md). */
#include "events/ev_state.h"

#include <stdlib.h>
#include <string.h>

/* Off at seal: ordering there costs about a fifth of W6's ingest CPU
 * (docs/events.md); eng_events_compact() orders the older segments instead. */
uint8_t eng__tseg_ordered = 0;
uint8_t eng__tseg_order_compact = 1;

static int ent_cmp(const void *a, const void *b)
{
    const eng__tsum_ent *x = a, *y = b;
    if (x->status != y->status)
        return x->status < y->status ? -1 : 1;
    if (x->ctx != y->ctx)
        return x->ctx < y->ctx ? -1 : 1;
    return (x->channel > y->channel) - (x->channel < y->channel);
}

static int sum_reserve(eng__tcols *c, const eng__mem *mem, size_t need)
{
    if (need <= c->sumcap)
        return ENG_OK;
    return eng__grow(mem, (void **)&c->sum, &c->sumcap, need, sizeof *c->sum) ? eng__nomem() : ENG_OK;
}

/* Entry index + 1 by (status, context, channel): open addressing, at most half
 * full. A segment has few entries, so this stays in the L1 cache. */
typedef struct emap {
    uint32_t *slot;
    size_t mask;
    unsigned shift; /* 64 - log2(slots): the product's top bits, which every key bit reaches */
} emap;

static inline uint64_t ekey(unsigned status, uint32_t ctx, unsigned channel)
{
    return (uint64_t)status << 40 | (uint64_t)ctx << 8 | channel;
}

static inline size_t ehash(const emap *m, uint64_t k)
{
    return (size_t)((k * 0x9e3779b97f4a7c15ull) >> m->shift);
}

/* Room for @p n entries. */
static int emap_init(emap *m, const eng__mem *mem, size_t n)
{
    size_t cap = 16;
    m->shift = 60;
    while (cap < n * 2)
        cap *= 2, m->shift--;
    m->mask = cap - 1;
    m->slot = eng__calloc(mem, cap, sizeof *m->slot);
    return m->slot ? ENG_OK : eng__nomem();
}

/* The slot of key k among entries e: holding its index + 1, or 0 (free). */
static inline uint32_t *emap_find(const emap *m, const eng__tsum_ent *e, uint64_t k)
{
    size_t h = ehash(m, k);
    while (m->slot[h] && ekey(e[m->slot[h] - 1].status, e[m->slot[h] - 1].ctx, e[m->slot[h] - 1].channel) != k)
        h = (h + 1) & m->mask;
    return &m->slot[h];
}

/* The table of c's rows into c->sum (c->nsum entries, sorted), counted as met. */
static int sum_hashed(eng__tcols *c, const eng__mem *mem)
{
    emap m = {NULL, 0, 0};
    size_t n = 0, room = 64;
    int rc = emap_init(&m, mem, room);
    for (size_t i = 0; i < c->n && !rc; i++) {
        uint64_t k = ekey(c->status[i], c->ctx[i], c->channel[i]);
        uint32_t *s = emap_find(&m, c->sum, k);
        if (!*s) {
            if ((rc = sum_reserve(c, mem, n + 1)))
                break;
            c->sum[n] = (eng__tsum_ent){c->ctx[i], 0, 0, c->channel[i], c->status[i]};
            *s = (uint32_t)++n;
            if (n == room) { /* twice the room: every entry placed again */
                eng__free(mem, m.slot);
                if ((rc = emap_init(&m, mem, room *= 2)))
                    break;
                for (size_t j = 0; j < n; j++)
                    *emap_find(&m, c->sum, ekey(c->sum[j].status, c->sum[j].ctx, c->sum[j].channel)) = (uint32_t)j + 1;
                s = emap_find(&m, c->sum, k);
            }
        }
        c->sum[*s - 1].rows++;
        c->sum[*s - 1].first += c->first[i];
    }
    eng__free(mem, m.slot);
    if (rc)
        return rc;
    if (n > 1)
        qsort(c->sum, n, sizeof *c->sum, ent_cmp);
    c->nsum = n;
    return ENG_OK;
}

/* Cells of the direct count: (status, context - least, channel), 16 channel slots. */
enum { SUM_STATUSES = 8, SUM_CHANNELS = 16, SUM_CELLS = 8192 };

/* The same table counted in an array indexed by (status, context, channel) when the
 * segment's contexts span few enough values (a segment holds a few campaigns' sends):
 * no hash a row, and the cells read in index order are the entries in table order, so
 * no sort. cell: 2 * SUM_CELLS counts. Else the hashed count. */
static int sum_build(eng__tcols *c, const eng__mem *mem, uint32_t *cell)
{
    const size_t n = c->n;
    if (!n) {
        c->nsum = 0;
        return ENG_OK;
    }
    uint32_t xmin = c->ctx[0], xmax = xmin;
    unsigned st = 0, ch = 0;
    for (size_t i = 0; i < n; i++) {
        xmin = c->ctx[i] < xmin ? c->ctx[i] : xmin;
        xmax = c->ctx[i] > xmax ? c->ctx[i] : xmax;
        st |= c->status[i];
        ch |= c->channel[i];
    }
    const uint64_t xr = (uint64_t)xmax - xmin + 1;
    if (st >= SUM_STATUSES || ch >= SUM_CHANNELS || xr * SUM_STATUSES * SUM_CHANNELS > SUM_CELLS)
        return sum_hashed(c, mem);
    const size_t cells = (size_t)xr * SUM_STATUSES * SUM_CHANNELS;
    memset(cell, 0, 2 * cells * sizeof *cell);
    for (size_t i = 0; i < n; i++) {
        const size_t j = ((c->status[i] * (size_t)xr + (c->ctx[i] - xmin)) * SUM_CHANNELS + c->channel[i]) * 2;
        cell[j]++;
        cell[j + 1] += c->first[i];
    }
    size_t ne = 0;
    for (size_t j = 0; j < cells; j++)
        ne += cell[2 * j] != 0;
    int rc = sum_reserve(c, mem, ne);
    if (rc)
        return rc;
    size_t e = 0;
    for (size_t j = 0; j < cells; j++)
        if (cell[2 * j]) {
            const size_t sx = j / SUM_CHANNELS;
            c->sum[e++] = (eng__tsum_ent){xmin + (uint32_t)(sx % xr), cell[2 * j], cell[2 * j + 1],
                                          (uint8_t)(j % SUM_CHANNELS), (uint8_t)(sx / xr)};
        }
    c->nsum = ne;
    return ENG_OK;
}

/* LSD radix sort of packed (order key << 16 | row) by bits 16 .. 16 + bits, stable, so
 * ties keep storage order; the result ends in a. As few passes of at most 12-bit digits
 * as the bits need, the digits of equal width (a segment's 23 bits: two passes, not three
 * of 11), every pass's counts taken in one read of the keys. */
enum { SORT_W = 12, SORT_P = (35 + SORT_W - 1) / SORT_W }; /* status and customer: 35 bits at most */
typedef uint32_t sort_counts[SORT_P][1u << SORT_W];

static void sort_keys(uint64_t *a, uint64_t *tmp, size_t n, unsigned bits, sort_counts cnt)
{
    enum { MAXW = SORT_W };
    const unsigned passes = (bits + MAXW - 1) / MAXW;
    if (!passes)
        return;
    const unsigned w = (bits + passes - 1) / passes;
    const uint64_t mask = ((uint64_t)1 << w) - 1;
    memset(cnt, 0, passes * sizeof cnt[0]);
    for (size_t i = 0; i < n; i++)
        for (unsigned p = 0; p < passes; p++)
            cnt[p][(a[i] >> (16 + p * w)) & mask]++;
    uint64_t *src = a, *dst = tmp;
    for (unsigned p = 0; p < passes; p++) {
        uint32_t *c = cnt[p], sum = 0;
        for (size_t d = 0; d <= mask; d++) {
            uint32_t k = c[d];
            c[d] = sum;
            sum += k;
        }
        const unsigned shift = 16 + p * w;
        for (size_t i = 0; i < n; i++)
            dst[c[(src[i] >> shift) & mask]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
}

/* One row in 40 bytes: gathered in sorted order with one or two cache lines
 * read instead of one per column (the columns of 65,536 rows outgrow the L2). */
typedef struct prow {
    int64_t time;
    uint64_t keyhash; /* a sent row's */
    uint32_t customer, ctx, send, detail;
    uint8_t channel, status, first;
} prow;

int eng__tseg_order(const eng__tcols *c, size_t from, size_t n, size_t key_from, eng__tcols *out,
                    void **tmp, size_t *tmp_cap, const eng__mem *mem)
{
    out->n = out->nkey = 0;
    size_t nkey = 0;
    for (size_t i = from; i < from + n; i++)
        nkey += c->status[i] == ENG_TOUCH_SENT;
    if (n > ENG__SEG_ROWS) /* rows are numbered in 16 bits */
        return eng__err(ENG_ETOOBIG, "segment", "%zu rows do not fit an ordered segment", n);
    const size_t need = (n ? n : 1) * (2 * sizeof(uint64_t) + sizeof(prow)) + sizeof(sort_counts)
                        + 2 * SUM_CELLS * sizeof(uint32_t);
    if (*tmp_cap < need) {
        void *t = eng__realloc(mem, *tmp, need);
        if (!t)
            return eng__nomem();
        *tmp = t;
        *tmp_cap = need;
    }
    int rc = eng__tcols_reserve(out, mem, n);
    if (!rc)
        rc = eng__tcols_key_reserve(out, mem, nkey);
    if (rc)
        return rc;
    uint64_t *k = *tmp;
    prow *p = (prow *)(k + 2 * (n ? n : 1));
    /* The order key: status above the customer's offset from the segment's least,
     * in as few bits as the range needs (fewer digit passes). */
    uint32_t cmin = UINT32_MAX, cmax = 0;
    for (size_t i = from; i < from + n; i++) {
        cmin = c->customer[i] < cmin ? c->customer[i] : cmin;
        cmax = c->customer[i] > cmax ? c->customer[i] : cmax;
    }
    unsigned cbits = 0;
    while (cbits < 32 && ((uint64_t)1 << cbits) <= (uint64_t)(cmax - cmin))
        cbits++;
    size_t unsorted = 0;
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        const size_t r = from + i;
        k[i] = ((uint64_t)c->status[r] << cbits | (uint64_t)(c->customer[r] - cmin)) << 16 | i;
        unsorted += k[i] < prev;
        prev = k[i];
    }
    if (!unsorted) { /* already in order (a batch of sends by customer): the columns as they are */
        memcpy(out->time, c->time + from, n * sizeof *c->time);
        memcpy(out->customer, c->customer + from, n * sizeof *c->customer);
        memcpy(out->ctx, c->ctx + from, n * sizeof *c->ctx);
        memcpy(out->send, c->send + from, n * sizeof *c->send);
        memcpy(out->detail, c->detail + from, n * sizeof *c->detail);
        memcpy(out->channel, c->channel + from, n);
        memcpy(out->status, c->status + from, n);
        memcpy(out->first, c->first + from, n);
        if (nkey)
            memcpy(out->keyhash, c->keyhash + key_from, nkey * sizeof *c->keyhash);
    } else {
        size_t s = key_from;
        for (size_t i = 0; i < n; i++) {
            const size_t r = from + i;
            p[i] = (prow){c->time[r], c->status[r] == ENG_TOUCH_SENT ? c->keyhash[s++] : 0, c->customer[r],
                          c->ctx[r], c->send[r], c->detail[r], c->channel[r], c->status[r], c->first[r]};
        }
        sort_keys(k, k + n, n, cbits + 3, (uint32_t(*)[1u << SORT_W])(p + (n ? n : 1)));
        /* the columns in locals: stores through out's pointers would reload them every row */
        int64_t *restrict time = out->time;
        uint32_t *restrict cust = out->customer, *restrict ctx = out->ctx, *restrict send = out->send,
                           *restrict detail = out->detail;
        uint8_t *restrict channel = out->channel, *restrict status = out->status, *restrict first = out->first;
        uint64_t *restrict keyhash = out->keyhash;
        size_t kk = 0;
        for (size_t j = 0; j < n; j++) {
            if (j + 8 < n)
                __builtin_prefetch(&p[k[j + 8] & 0xffff]);
            const prow *q = &p[k[j] & 0xffff];
            time[j] = q->time;
            cust[j] = q->customer;
            ctx[j] = q->ctx;
            send[j] = q->send;
            detail[j] = q->detail;
            channel[j] = q->channel;
            status[j] = q->status;
            first[j] = q->first;
            if (q->status == ENG_TOUCH_SENT)
                keyhash[kk++] = q->keyhash;
        }
    }
    out->n = n;
    out->nkey = nkey;
    out->ordered = 1;
    return sum_build(out, mem, (uint32_t *)((char *)*tmp + need - 2 * SUM_CELLS * sizeof(uint32_t)));
}

void eng__tsum_encode(eng__wr *w, const eng__tcols *c)
{
    eng__wr_uvar(w, c->nsum);
    for (size_t i = 0; i < c->nsum; i++) {
        const eng__tsum_ent *e = &c->sum[i];
        eng__wr_u8(w, e->status);
        eng__wr_uvar(w, e->ctx);
        eng__wr_u8(w, e->channel);
        eng__wr_uvar(w, e->rows);
        eng__wr_uvar(w, e->first);
    }
}

/* The table's n entries into c->sum (a segment of nrows rows); the row total through *rows. */
static int read_table(eng__rd *r, const char *key, eng__tcols *c, size_t n, size_t nrows, uint64_t *rows)
{
    *rows = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t st = eng__rd_u8(r);
        uint64_t ctx = eng__rd_uvar(r);
        uint8_t ch = eng__rd_u8(r);
        uint64_t nr = eng__rd_uvar(r), nf = eng__rd_uvar(r);
        eng__tsum_ent e = {(uint32_t)ctx, (uint32_t)nr, (uint32_t)nf, ch, st};
        if (!eng__rd_ok(r) || st >= ENG_TOUCH_STATUS_COUNT || ch >= ENG_CH_COUNT || ctx > UINT32_MAX || !nr ||
            nr > nrows || nf > nr || (i && ent_cmp(&c->sum[i - 1], &e) >= 0))
            return eng__err(ENG_ECORRUPT, key, "touch segment %s: bad summary entry %zu", key, i);
        c->sum[i] = e;
        *rows += nr;
    }
    return ENG_OK;
}

int eng__tsum_read(eng__rd *r, const char *key, size_t nrows, eng__tcols *c, const eng__mem *mem)
{
    c->nsum = 0;
    c->ordered = 0;
    uint64_t n64 = eng__rd_uvar(r), rows;
    if (!eng__rd_ok(r) || n64 > nrows)
        return eng__err(ENG_ECORRUPT, key, "touch segment %s: bad summary", key);
    const size_t n = (size_t)n64;
    int rc = sum_reserve(c, mem, n + 1);
    if (rc || (rc = read_table(r, key, c, n, nrows, &rows)))
        return rc;
    if (rows != nrows)
        return eng__err(ENG_ECORRUPT, key, "touch segment %s: summary of %llu rows, segment of %zu", key,
                        (unsigned long long)rows, nrows);
    c->nsum = n;
    return ENG_OK;
}

int eng__tsum_check(const uint32_t *ctx, const uint8_t *channel, const uint8_t *first, size_t n,
                    const eng__tsum_ent *e, size_t ne, const char *key, const eng__mem *mem)
{
    uint64_t want = 0;
    uint32_t cmin = UINT32_MAX, cmax = 0;
    for (size_t j = 0; j < ne; j++) {
        want += e[j].rows;
        cmin = e[j].ctx < cmin ? e[j].ctx : cmin;
        cmax = e[j].ctx > cmax ? e[j].ctx : cmax;
    }
    if (want != n)
        return eng__err(ENG_ECORRUPT, key, "touch segment %s: status %u has %zu rows, its summary %llu", key,
                        ne ? e[0].status : 0, n, (unsigned long long)want);
    if (!n)
        return ENG_OK;
    /* Each row counted at its (context - cmin, channel) — rows << 32 | first rows,
     * four lanes so that rows of one entry do not wait on each other — then each
     * entry compared: with the totals equal, no row is outside the entries. A
     * context past the range counts in a slot no entry has. When the contexts
     * are many, a map of the entries instead. */
    const uint64_t span = (uint64_t)(cmax - cmin) + 1;
    enum { DENSE = 1024 };
    if (span * 16 < DENSE) {
        uint64_t cnt[4][DENSE];
        const size_t slots = (size_t)span * 16 + 1, out = slots - 1;
        for (int l = 0; l < 4; l++)
            memset(cnt[l], 0, slots * sizeof **cnt);
        for (size_t i = 0; i < n; i++) {
            uint32_t d = ctx[i] - cmin;
            size_t at = d < span && channel[i] < 16 ? (size_t)d * 16 + channel[i] : out;
            cnt[i & 3][at] += (uint64_t)1 << 32 | first[i];
        }
        for (size_t j = 0; j < ne; j++) {
            size_t at = (size_t)(e[j].ctx - cmin) * 16 + e[j].channel;
            uint64_t got = cnt[0][at] + cnt[1][at] + cnt[2][at] + cnt[3][at];
            if (got != ((uint64_t)e[j].rows << 32 | e[j].first))
                return eng__err(ENG_ECORRUPT, key, "touch segment %s: summary entry (status %u, context %u) does "
                                "not match the rows", key, e[j].status, e[j].ctx);
        }
        return ENG_OK;
    }
    emap m = {NULL, 0, 0};
    uint64_t *cnt = eng__calloc(mem, ne, sizeof *cnt);
    int rc = cnt ? emap_init(&m, mem, ne) : eng__nomem();
    for (size_t j = 0; j < ne && !rc; j++)
        *emap_find(&m, e, ekey(e[j].status, e[j].ctx, e[j].channel)) = (uint32_t)j + 1;
    for (size_t i = 0; i < n && !rc; i++) {
        uint32_t at = *emap_find(&m, e, ekey(e[0].status, ctx[i], channel[i]));
        if (!at)
            rc = eng__err(ENG_ECORRUPT, key, "touch segment %s: row of context %u is not in the summary", key,
                          ctx[i]);
        else
            cnt[at - 1] += (uint64_t)1 << 32 | first[i];
    }
    for (size_t j = 0; j < ne && !rc; j++)
        if (cnt[j] != ((uint64_t)e[j].rows << 32 | e[j].first))
            rc = eng__err(ENG_ECORRUPT, key, "touch segment %s: summary entry (status %u, context %u) does not "
                          "match the rows", key, e[j].status, e[j].ctx);
    eng__free(mem, m.slot);
    eng__free(mem, cnt);
    return rc;
}

int eng__tsum_decode(eng__rd *r, const char *key, eng__tcols *c, const eng__mem *mem)
{
    int rc = eng__tsum_read(r, key, c->n, c, mem);
    if (rc)
        return rc;
    const size_t n = c->nsum;
    c->nsum = 0;
    /* The rows in order, and the table theirs, one status's range at a time. */
    size_t e0 = 0, r0 = 0;
    if (c->n && c->status[0] < c->sum[0].status)
        return eng__err(ENG_ECORRUPT, key, "touch segment %s: row 0 is not in the summary", key);
    while (e0 < n) {
        const uint8_t st = c->sum[e0].status;
        size_t e1 = e0, r1 = r0;
        while (e1 < n && c->sum[e1].status == st)
            e1++;
        while (r1 < c->n && c->status[r1] == st)
            r1++;
        if (r1 < c->n && (c->status[r1] < st || e1 == n || c->status[r1] < c->sum[e1].status))
            return eng__err(ENG_ECORRUPT, key, "touch segment %s: row %zu out of order or not in the summary", key,
                            r1);
        int bad = 0; /* the customers ascend in the range (a loop the compiler vectorises) */
        for (size_t i = r0 + 1; i < r1; i++)
            bad |= c->customer[i] < c->customer[i - 1];
        if (bad)
            return eng__err(ENG_ECORRUPT, key, "touch segment %s: rows %zu..%zu out of order", key, r0, r1);
        if ((rc = eng__tsum_check(c->ctx + r0, c->channel + r0, c->first + r0, r1 - r0, c->sum + e0, e1 - e0, key,
                                  mem)))
            return rc;
        e0 = e1;
        r0 = r1;
    }
    c->nsum = n;
    c->ordered = 1;
    return ENG_OK;
}
