/* Transaction columns, their segment encoding, an org's transaction tail,
 * and the id index that makes appends idempotent.
 *
 * Payload of a transaction segment or tail chunk (record 0x0404, schema 1):
 *   u8 kind (2), uvar n, uvar nfields, svar tmin, svar tmax,
 *   packed (colpack.h): customer + 1 (0 = unknown), time, amount, store,
 *   items per row; uvar nitems, packed SKU codes;
 *   n blobs: transaction ids; one blob per unknown customer: its external id;
 *   per custom field: u8 type, presence bitmap (ceil(n / 8) bytes), packed values. */
#include "events/ev_state.h"
#include "events/colpack.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RSEG_V 1

void eng__rcols_free(eng__rcols *c, const eng__mem *mem)
{
    eng__free(mem, c->customer);
    eng__free(mem, c->store);
    eng__free(mem, c->time);
    eng__free(mem, c->amount);
    eng__free(mem, c->item_off);
    eng__free(mem, c->items);
    eng__free(mem, c->id_off);
    eng__free(mem, c->ext_off);
    eng__free(mem, c->str);
    for (uint32_t f = 0; f < c->nfields; f++) {
        eng__free(mem, c->field ? c->field[f] : NULL);
        eng__free(mem, c->present ? c->present[f] : NULL);
    }
    eng__free(mem, c->field);
    eng__free(mem, c->present);
    memset(c, 0, sizeof *c);
}

#define G(arr, cnt)                                                            \
    do {                                                                       \
        void *p_ = eng__realloc_array(mem, (arr), (cnt), sizeof *(arr));       \
        if (!p_)                                                               \
            return eng__nomem();                                               \
        (arr) = p_;                                                            \
    } while (0)

static int grow_rows(eng__rcols *c, const eng__mem *mem, size_t cap)
{
    G(c->customer, cap);
    G(c->store, cap);
    G(c->time, cap);
    G(c->amount, cap);
    G(c->item_off, cap + 1);
    G(c->id_off, cap + 1);
    G(c->ext_off, cap + 1);
    for (uint32_t f = 0; f < c->nfields; f++) {
        G(c->field[f], cap);
        size_t old = (c->cap + 63) / 64, nw = (cap + 63) / 64;
        G(c->present[f], nw);
        memset(c->present[f] + old, 0, (nw - old) * sizeof **c->present);
    }
    if (c->cap == 0)
        c->item_off[0] = c->id_off[0] = c->ext_off[0] = 0;
    c->cap = cap;
    return ENG_OK;
}

int eng__rcols_reserve(eng__rcols *c, const eng__mem *mem, size_t more, size_t more_items, size_t more_str)
{
    int rc;
    if (c->n + more > c->cap) {
        size_t cap = c->cap ? c->cap : 64;
        while (cap < c->n + more)
            cap *= 2;
        if ((rc = grow_rows(c, mem, cap)))
            return rc;
    }
    if (c->nitems + more_items > c->itemcap &&
        eng__grow(mem, (void **)&c->items, &c->itemcap, c->nitems + more_items, sizeof *c->items))
        return eng__nomem();
    if (c->slen + more_str > c->scap && eng__grow(mem, (void **)&c->str, &c->scap, c->slen + more_str, 1))
        return eng__nomem();
    return ENG_OK;
}

/* Give c room for nfields custom fields (fields are only ever added). */
int eng__rcols_fields(eng__rcols *c, const eng__mem *mem, uint32_t nfields)
{
    if (nfields <= c->nfields)
        return ENG_OK;
    G(c->field, nfields);
    G(c->present, nfields);
    for (uint32_t f = c->nfields; f < nfields; f++) {
        size_t cap = c->cap ? c->cap : 1;
        c->field[f] = eng__calloc(mem, cap, sizeof **c->field);
        c->present[f] = eng__calloc(mem, (cap + 63) / 64, sizeof **c->present);
        if (!c->field[f] || !c->present[f]) {
            eng__free(mem, c->field[f]);
            eng__free(mem, c->present[f]);
            return eng__nomem();
        }
        c->nfields = f + 1;
    }
    return ENG_OK;
}

#undef G

void eng__rseg_encode(eng__wr *w, const eng__rcols *c, size_t from, size_t n)
{
    const eng__mem *mem = w->mem;
    eng_time tmin = n ? c->time[from] : 0, tmax = tmin;
    for (size_t i = from; i < from + n; i++) {
        tmin = c->time[i] < tmin ? c->time[i] : tmin;
        tmax = c->time[i] > tmax ? c->time[i] : tmax;
    }
    eng__wr_u8(w, 2);
    eng__wr_uvar(w, n);
    eng__wr_uvar(w, c->nfields);
    eng__wr_svar(w, tmin);
    eng__wr_svar(w, tmax);
    uint32_t *tmp = eng__malloc(mem, (n ? n : 1) * sizeof *tmp);
    if (!tmp) {
        w->err = ENG_ENOMEM;
        return;
    }
    for (size_t i = 0; i < n; i++)
        tmp[i] = c->customer[from + i] + 1; /* unknown (UINT32_MAX) -> 0 */
    eng__pack_u32(w, tmp, n);
    eng__pack_i64(w, c->time + from, n);
    eng__pack_i64(w, c->amount + from, n);
    eng__pack_u32(w, c->store + from, n);
    for (size_t i = 0; i < n; i++)
        tmp[i] = c->item_off[from + i + 1] - c->item_off[from + i];
    eng__pack_u32(w, tmp, n);
    eng__free(mem, tmp);
    size_t i0 = c->item_off[from], i1 = c->item_off[from + n];
    eng__wr_uvar(w, i1 - i0);
    eng__pack_u32(w, c->items ? c->items + i0 : NULL, i1 - i0); /* no items yet: NULL, no offset on it */
    for (size_t i = from; i < from + n; i++)
        eng__wr_blob(w, c->str + c->id_off[i], c->ext_off[i] - c->id_off[i]);
    for (size_t i = from; i < from + n; i++)
        if (c->customer[i] == ENG__NO_CUSTOMER)
            eng__wr_blob(w, c->str + c->ext_off[i], c->id_off[i + 1] - c->ext_off[i]);
    for (uint32_t f = 0; f < c->nfields; f++) {
        eng__wr_u8(w, 0);
        size_t nb = (n + 7) / 8;
        if (eng__wr_reserve(w, nb))
            return;
        uint8_t *p = w->data + w->len;
        memset(p, 0, nb);
        for (size_t i = 0; i < n; i++)
            if (c->present[f][(from + i) >> 6] >> ((from + i) & 63) & 1)
                p[i >> 3] |= (uint8_t)(1u << (i & 7));
        w->len += nb;
        eng__pack_i64(w, c->field[f] + from, n);
    }
}

/* Row i's strings sit in c->str as id then (for an unknown customer) the
 * external id: id_off[i] .. ext_off[i] .. id_off[i + 1]. */
/* A segment's header (rows, fields, time range) read from r, checked; c emptied. */
static int seg_head(eng__rd *r, const char *key, eng__rcols *c, uint64_t *n, uint64_t *nf, eng_time *tmin,
                    eng_time *tmax)
{
    uint8_t kind = eng__rd_u8(r);
    *n = eng__rd_uvar(r), *nf = eng__rd_uvar(r);
    *tmin = eng__rd_svar(r), *tmax = eng__rd_svar(r);
    if (!eng__rd_ok(r) || kind != 2 || *n > ENG__SEG_ROWS || *nf > ENG__MAX_COLS || *tmin > *tmax)
        return eng__err(ENG_ECORRUPT, key, "transaction segment %s: bad header", key);
    c->n = c->nitems = c->slen = 0;
    return ENG_OK;
}

int eng__rseg_decode(const uint8_t *p, size_t len, const char *key, eng__rcols *c, const eng__mem *mem)
{
    eng__rd r;
    eng__rd_init(&r, p, len);
    uint64_t n, nf;
    eng_time tmin, tmax;
    int rc;
    if ((rc = seg_head(&r, key, c, &n, &nf, &tmin, &tmax)) || (rc = eng__rcols_fields(c, mem, (uint32_t)nf)) ||
        (rc = eng__rcols_reserve(c, mem, n, 0, 0)))
        return rc;
    uint32_t *cnt = eng__malloc(mem, (n ? n : 1) * sizeof *cnt);
    if (!cnt)
        return eng__nomem();
    eng__unpack_u32(&r, c->customer, n);
    eng__unpack_i64(&r, c->time, n);
    eng__unpack_i64(&r, c->amount, n);
    eng__unpack_u32(&r, c->store, n);
    eng__unpack_u32(&r, cnt, n);
    uint64_t ni = eng__rd_uvar(&r), sum = 0;
    for (size_t i = 0; i < n; i++) {
        c->item_off[i] = (uint32_t)sum;
        sum += cnt[i];
        c->customer[i] -= 1; /* 0 -> unknown */
    }
    eng__free(mem, cnt);
    if (!eng__rd_ok(&r) || sum != ni || ni > n * ENG__TXN_MAX_ITEMS)
        return eng__err(ENG_ECORRUPT, key, "transaction segment %s: bad columns", key);
    c->item_off[n] = (uint32_t)ni;
    if ((rc = eng__rcols_reserve(c, mem, 0, ni, eng__rd_left(&r))))
        return rc;
    eng__unpack_u32(&r, c->items, ni);
    c->nitems = ni;
    const uint8_t *q = r.p;
    for (size_t i = 0; i < n; i++) { /* ids, then the external ids of unknown customers */
        size_t l;
        const uint8_t *s = eng__rd_blob(&r, &l);
        if (!s || l == 0)
            return eng__err(ENG_ECORRUPT, key, "transaction segment %s: bad id %zu", key, i);
        c->id_off[i] = (uint32_t)c->slen;
        memcpy(c->str + c->slen, s, l);
        c->slen += l;
        c->ext_off[i] = (uint32_t)c->slen;
        c->id_off[i + 1] = (uint32_t)c->slen;
    }
    (void)q;
    /* second pass: external ids go after each row's id, so rebuild the arena in row order */
    size_t nunk = 0;
    for (size_t i = 0; i < n; i++)
        nunk += c->customer[i] == ENG__NO_CUSTOMER;
    if (nunk) {
        char *ids = c->str;
        uint32_t *ioff = eng__malloc(mem, (n + 1) * sizeof *ioff);
        char *copy = eng__malloc(mem, c->slen ? c->slen : 1);
        if (!ioff || !copy) {
            eng__free(mem, ioff);
            eng__free(mem, copy);
            return eng__nomem();
        }
        memcpy(ioff, c->id_off, (n + 1) * sizeof *ioff);
        memcpy(copy, ids, c->slen);
        c->slen = 0;
        for (size_t i = 0; i < n && !rc; i++) {
            size_t l = ioff[i + 1] - ioff[i];
            c->id_off[i] = (uint32_t)c->slen;
            memcpy(c->str + c->slen, copy + ioff[i], l);
            c->slen += l;
            c->ext_off[i] = (uint32_t)c->slen;
            if (c->customer[i] == ENG__NO_CUSTOMER) {
                size_t el;
                const uint8_t *s = eng__rd_blob(&r, &el);
                if (!s || el == 0 || (c->slen + el > c->scap && eng__rcols_reserve(c, mem, 0, 0, el)))
                    rc = s && el ? eng__nomem() : eng__err(ENG_ECORRUPT, key, "transaction segment %s: bad customer", key);
                else {
                    memcpy(c->str + c->slen, s, el);
                    c->slen += el;
                }
            }
            c->id_off[i + 1] = (uint32_t)c->slen;
        }
        eng__free(mem, ioff);
        eng__free(mem, copy);
        if (rc)
            return rc;
    }
    for (uint64_t f = 0; f < nf; f++) {
        uint8_t ty = eng__rd_u8(&r);
        size_t nb = (n + 7) / 8;
        const uint8_t *bits = eng__rd_bytes(&r, nb);
        if (!bits || ty != 0)
            return eng__err(ENG_ECORRUPT, key, "transaction segment %s: bad field %llu", key, (unsigned long long)f);
        memset(c->present[f], 0, ((n + 63) / 64) * sizeof **c->present);
        for (size_t i = 0; i < n; i++)
            if (bits[i >> 3] >> (i & 7) & 1)
                c->present[f][i >> 6] |= 1ull << (i & 63);
        eng__unpack_i64(&r, c->field[f], n);
    }
    /* fields declared after this segment was written are null in it (c may hold more fields,
     * and their bits, from the segment decoded before) */
    for (uint32_t f = (uint32_t)nf; f < c->nfields; f++)
        memset(c->present[f], 0, ((n + 63) / 64) * sizeof **c->present);
    if (!eng__rd_ok(&r) || eng__rd_left(&r))
        return eng__err(ENG_ECORRUPT, key, "transaction segment %s: bad columns", key);
    for (size_t i = 0; i < n; i++)
        if (c->time[i] < tmin || c->time[i] > tmax)
            return eng__err(ENG_ECORRUPT, key, "transaction segment %s: bad row %zu", key, i);
    c->n = n;
    return ENG_OK;
}

int eng__rseg_decode_cols(const uint8_t *p, size_t len, const char *key, eng__rcols *c, const eng__mem *mem,
                          size_t *unknown)
{
    eng__rd r;
    eng__rd_init(&r, p, len);
    uint64_t n, nf;
    eng_time tmin, tmax;
    *unknown = 0;
    int rc;
    if ((rc = seg_head(&r, key, c, &n, &nf, &tmin, &tmax)) || (rc = eng__rcols_reserve(c, mem, n, 0, 0)))
        return rc;
    eng__unpack_u32(&r, c->customer, n);
    eng__unpack_i64(&r, c->time, n);
    eng__unpack_i64(&r, c->amount, n);
    eng__unpack_u32(&r, c->store, n);
    if (!eng__rd_ok(&r))
        return eng__err(ENG_ECORRUPT, key, "transaction segment %s: bad columns", key);
    size_t unk = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        unk += c->customer[i] == 0;
        c->customer[i] -= 1; /* 0 -> unknown */
        bad += (c->time[i] < tmin) | (c->time[i] > tmax);
    }
    if (bad)
        return eng__err(ENG_ECORRUPT, key, "transaction segment %s: a row outside its time range", key);
    *unknown = unk;
    c->n = n;
    return ENG_OK;
}

int eng__rseg_zone(const uint8_t *p, size_t len, const char *key, eng__seg *z)
{
    eng__rd r;
    eng__rd_init(&r, p, len);
    uint8_t kind = eng__rd_u8(&r);
    uint64_t n = eng__rd_uvar(&r);
    (void)eng__rd_uvar(&r);
    z->tmin = eng__rd_svar(&r);
    z->tmax = eng__rd_svar(&r);
    if (!eng__rd_ok(&r) || kind != 2 || n > ENG__SEG_ROWS || z->tmin > z->tmax)
        return eng__err(ENG_ECORRUPT, key, "transaction segment %s: bad header", key);
    memset(&z->statuses, 0, sizeof *z - offsetof(eng__seg, statuses));
    z->n = (uint32_t)n;
    return ENG_OK;
}

/* ---- the id index ---- */

static uint64_t id_hash(const char *s, size_t n)
{
    uint64_t h = eng__hash64(s, n, 0x74786e73ull); /* "txns" */
    return h ? h : 1;
}

static int idx_rehash(eng__evorg *o, const eng__mem *mem, uint32_t nslots)
{
    uint64_t *t = eng__calloc(mem, nslots, sizeof *t);
    if (!t)
        return eng__nomem();
    for (uint32_t i = 0; i < o->ntxslots; i++) {
        uint64_t h = o->txslots[i];
        if (!h)
            continue;
        uint32_t j = (uint32_t)h & (nslots - 1);
        while (t[j])
            j = (j + 1) & (nslots - 1);
        t[j] = h;
    }
    eng__free(mem, o->txslots);
    o->txslots = t;
    o->ntxslots = nslots;
    return ENG_OK;
}

/* Add the id unless present: *dup tells which. */
int eng__txid_add(eng__evorg *o, const eng__mem *mem, const char *id, size_t n, int *dup)
{
    if ((o->ntx + 1) * 4 > (uint64_t)o->ntxslots * 3) {
        int rc = idx_rehash(o, mem, o->ntxslots ? o->ntxslots * 2 : 1024);
        if (rc)
            return rc;
    }
    uint64_t h = id_hash(id, n);
    uint32_t mask = o->ntxslots - 1, i = (uint32_t)h & mask;
    for (; o->txslots[i]; i = (i + 1) & mask)
        if (o->txslots[i] == h) {
            *dup = 1;
            return ENG_OK;
        }
    o->txslots[i] = h;
    o->ntx++;
    *dup = 0;
    return ENG_OK;
}

static int index_rows(eng__evorg *o, const eng__mem *mem, const eng__rcols *c)
{
    for (size_t i = 0; i < c->n; i++) {
        int dup, rc = eng__txid_add(o, mem, c->str + c->id_off[i], c->ext_off[i] - c->id_off[i], &dup);
        if (rc)
            return rc;
    }
    return ENG_OK;
}

/* ---- the tail ---- */

static int put_encoded(eng__ev *ev, eng__evorg *o, const char *key, const eng__rcols *c, size_t from, size_t n,
                       eng__seg *keep)
{
    eng__wr w;
    eng__wr_init(&w, &ev->e->mem);
    if (eng__wr_reserve(&w, ENG__REC_HEADER + 64 + n * 24) == ENG_OK) {
        memset(w.data, 0, ENG__REC_HEADER);
        w.len = ENG__REC_HEADER;
    }
    (void)o;
    eng__rseg_encode(&w, c, from, n);
    if (w.err) {
        eng__wr_free(&w);
        return eng__nomem();
    }
    int rc = eng__rec_put_framed(ev->e->store, ENG__K(key), ENG__REC_EV_RSEG, RSEG_V, w.data, w.len);
    if (!rc && keep && !(rc = eng__rseg_zone(w.data + ENG__REC_HEADER, w.len - ENG__REC_HEADER, key, keep))) {
        keep->buf = w.data;
        keep->len = w.len;
        return ENG_OK;
    }
    eng__wr_free(&w);
    return rc;
}

int eng__rtail_save(eng__ev *ev, eng__evorg *o)
{
    eng__rcols *t = &o->rtail;
    if (t->n == o->rtail_saved)
        return ENG_OK;
    char key[48];
    eng__ev_key(key, sizeof key, o->code, "r/c", o->rchunk_next, 1);
    int rc = put_encoded(ev, o, key, t, o->rtail_saved, t->n - o->rtail_saved, NULL);
    if (rc)
        return rc;
    o->rchunk_next++;
    o->rtail_saved = t->n;
    return ENG_OK;
}

int eng__rtail_seal(eng__ev *ev, eng__evorg *o)
{
    eng__rcols *t = &o->rtail;
    if (t->n == 0)
        return ENG_OK;
    const eng__mem *mem = &ev->e->mem;
    char key[48];
    eng__seg z;
    int rc = eng__segs_push(&o->rseg, mem, NULL);
    if (rc)
        return rc;
    eng__ev_key(key, sizeof key, o->code, "r/s", o->rseg.next_id, 0);
    if ((rc = put_encoded(ev, o, key, t, 0, t->n, &z)))
        return rc;
    z.id = o->rseg.next_id++;
    for (uint64_t s = o->rchunk_first; s < o->rchunk_next && !rc; s++) {
        eng__ev_key(key, sizeof key, o->code, "r/c", s, 1);
        rc = eng__kv_del(ev->e->store, ENG__K(key));
    }
    eng__seg_add(ev, &o->rseg, &z); /* cannot fail: room reserved */
    if (rc)
        return rc;
    o->rchunk_first = o->rchunk_next;
    t->n = t->nitems = t->slen = 0;
    o->rtail_saved = 0;
    return ENG_OK;
}

/* Replace segment idx by the rows of c (an empty c deletes it). */
static int rseg_rewrite(eng__ev *ev, eng__evorg *o, size_t idx, const eng__rcols *c)
{
    eng__seg *z = &o->rseg.v[idx], nz;
    char key[48];
    eng__ev_key(key, sizeof key, o->code, "r/s", z->id, 0);
    if (c->n == 0) {
        int rc = eng__kv_del(ev->e->store, ENG__K(key));
        if (!rc)
            z->n = 0;
        return rc;
    }
    int rc = put_encoded(ev, o, key, c, 0, c->n, &nz);
    if (rc)
        return rc;
    eng__seg_replace(ev, z, &nz);
    return ENG_OK;
}

int eng__rseg_payload(eng__ev *ev, eng__evorg *o, size_t idx, const uint8_t **p, size_t *len)
{
    char key[48];
    eng__ev_key(key, sizeof key, o->code, "r/s", o->rseg.v[idx].id, 0);
    return eng__seg_payload(ev, &o->rseg.v[idx], key, ENG__REC_EV_RSEG, RSEG_V, eng__rseg_zone, p, len);
}

int eng__rseg_replace(eng__ev *ev, eng__evorg *o, size_t idx, const eng__rcols *c)
{
    return rseg_rewrite(ev, o, idx, c);
}

/* Keep the rows whose keep[i] is set, in place (items and strings too). */
size_t eng__rcols_keep(eng__rcols *c, const uint8_t *keep)
{
    size_t j = 0, it = 0, st = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (!keep[i])
            continue;
        uint32_t i0 = c->item_off[i], i1 = c->item_off[i + 1], s0 = c->id_off[i], s1 = c->id_off[i + 1];
        uint32_t e0 = c->ext_off[i];
        c->customer[j] = c->customer[i];
        c->store[j] = c->store[i];
        c->time[j] = c->time[i];
        c->amount[j] = c->amount[i];
        for (uint32_t f = 0; f < c->nfields; f++) {
            c->field[f][j] = c->field[f][i];
            if (c->present[f][i >> 6] >> (i & 63) & 1)
                c->present[f][j >> 6] |= 1ull << (j & 63);
            else
                c->present[f][j >> 6] &= ~(1ull << (j & 63));
        }
        if (i1 > i0) /* no items may mean no buffer */
            memmove(c->items + it, c->items + i0, (i1 - i0) * sizeof *c->items);
        c->item_off[j] = (uint32_t)it;
        it += i1 - i0;
        if (s1 > s0)
            memmove(c->str + st, c->str + s0, s1 - s0);
        c->id_off[j] = (uint32_t)st;
        c->ext_off[j] = (uint32_t)(st + (e0 - s0));
        st += s1 - s0;
        j++;
    }
    size_t dropped = c->n - j;
    c->n = j;
    c->item_off[j] = (uint32_t)it;
    c->id_off[j] = (uint32_t)st;
    c->nitems = it;
    c->slen = st;
    return dropped;
}

int eng__retain_txns(eng__ev *ev, eng__evorg *o, eng_time cutoff, eng__prog *pg, uint64_t *dropped)
{
    const eng__mem *mem = &ev->e->mem;
    int rc = ENG_OK;
    uint64_t before = *dropped;
    for (size_t i = 0; i < o->rseg.n && !rc; i++) {
        eng__seg *z = &o->rseg.v[i];
        if (z->tmin >= cutoff)
            continue;
        char key[48];
        const uint8_t *p;
        size_t len;
        eng__ev_key(key, sizeof key, o->code, "r/s", z->id, 0);
        if ((rc = eng__prog_batch(pg, pg->done)) || (rc = eng__rseg_payload(ev, o, i, &p, &len)) ||
            (rc = eng__rseg_decode(p, len, key, &ev->rdec, mem)))
            break;
        eng__rcols *c = &ev->rdec;
        ENG__WORK(c->n);
        uint8_t *keep = eng__malloc(mem, c->n ? c->n : 1);
        if (!keep) {
            rc = eng__nomem();
            break;
        }
        for (size_t r = 0; r < c->n; r++)
            keep[r] = c->time[r] >= cutoff;
        size_t d = eng__rcols_keep(c, keep);
        eng__free(mem, keep);
        *dropped += d;
        if (d)
            rc = rseg_rewrite(ev, o, i, &ev->rdec);
    }
    eng__segs_compact(ev, &o->rseg);
    if (rc || *dropped == before)
        return rc;
    /* the ids of dropped transactions leave the index: rebuild it from what is kept */
    memset(o->txslots, 0, (size_t)o->ntxslots * sizeof *o->txslots);
    o->ntx = 0;
    for (size_t i = 0; i < o->rseg.n && !rc; i++) {
        char key[48];
        const uint8_t *p;
        size_t len;
        eng__ev_key(key, sizeof key, o->code, "r/s", o->rseg.v[i].id, 0);
        if (!(rc = eng__prog_batch(pg, pg->done)) && !(rc = eng__rseg_payload(ev, o, i, &p, &len)) &&
            !(rc = eng__rseg_decode(p, len, key, &ev->rdec, mem)))
            rc = index_rows(o, mem, &ev->rdec);
    }
    return rc;
}

/* ---- loading ---- */

typedef struct rload {
    eng__ev *ev;
    eng__evorg *o;
    int chunks;
} rload;

int eng__rcols_append(eng__rcols *t, const eng__mem *mem, const eng__rcols *d)
{
    int rc = eng__rcols_fields(t, mem, d->nfields);
    if (rc || (rc = eng__rcols_reserve(t, mem, d->n, d->nitems, d->slen)))
        return rc;
    for (size_t i = 0; i < d->n; i++) {
        size_t r = t->n + i;
        t->customer[r] = d->customer[i];
        t->store[r] = d->store[i];
        t->time[r] = d->time[i];
        t->amount[r] = d->amount[i];
        t->item_off[r + 1] = (uint32_t)(t->nitems + d->item_off[i + 1]);
        t->id_off[r] = (uint32_t)(t->slen + d->id_off[i]);
        t->ext_off[r] = (uint32_t)(t->slen + d->ext_off[i]);
        t->id_off[r + 1] = (uint32_t)(t->slen + d->id_off[i + 1]);
        /* every bit of the row written: t may be a reused buffer (a scan's decode buffer holds
         * the previous segment's rows), whose stale bits made an absent value read as present */
        for (uint32_t f = 0; f < t->nfields; f++) {
            int has = f < d->nfields && (d->present[f][i >> 6] >> (i & 63) & 1);
            t->field[f][r] = has ? d->field[f][i] : 0;
            if (has)
                t->present[f][r >> 6] |= 1ull << (r & 63);
            else
                t->present[f][r >> 6] &= ~(1ull << (r & 63));
        }
    }
    /* Empty columns may have no buffer: memcpy from NULL is undefined even for 0 bytes. */
    if (d->nitems)
        memcpy(t->items + t->nitems, d->items, d->nitems * sizeof *d->items);
    if (d->slen)
        memcpy(t->str + t->slen, d->str, d->slen);
    t->n += d->n;
    t->nitems += d->nitems;
    t->slen += d->slen;
    return ENG_OK;
}

static int rload_cb(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    rload *l = user;
    eng__evorg *o = l->o;
    const eng__mem *mem = &l->ev->e->mem;
    char k[64];
    eng__key_printable(key, klen, k, sizeof k);
    eng__rec rec;
    int rc = eng__rec_decode(key, klen, val, vlen, ENG__REC_EV_RSEG, RSEG_V, &rec);
    if (rc)
        return rc;
    size_t hl = l->chunks ? 16 : 8;
    if (klen != 11 + hl)
        return eng__err(ENG_ECORRUPT, k, "bad transaction segment key %s", k);
    char hex[17];
    memcpy(hex, (const char *)key + 11, hl);
    hex[hl] = 0;
    uint64_t seq = strtoull(hex, NULL, 16);
    eng__rcols *d = &l->ev->rdec;
    if ((rc = eng__rseg_decode(rec.payload, rec.len, k, d, mem)) || (rc = index_rows(o, mem, d)) ||
        (rc = eng__ev_load_step(l->ev, d->n)))
        return rc;
    if (l->chunks) {
        if (o->rtail.n + d->n > ENG__SEG_ROWS)
            return eng__err(ENG_ECORRUPT, k, "transaction tail chunk %s overfills the tail", k);
        if ((rc = eng__rcols_append(&o->rtail, mem, d)))
            return rc;
        if (o->rchunk_next == 0)
            o->rchunk_first = seq;
        o->rchunk_next = seq + 1;
        o->rtail_saved = o->rtail.n;
        return ENG_OK;
    }
    eng__seg z;
    if ((rc = eng__rseg_zone(rec.payload, rec.len, k, &z)))
        return rc;
    z.id = (uint32_t)seq;
    z.len = vlen;
    if (!(z.buf = eng__memdup(mem, val, vlen)))
        return eng__nomem();
    if ((rc = eng__seg_add(l->ev, &o->rseg, &z))) {
        eng__free(mem, z.buf);
        return rc;
    }
    if (seq >= o->rseg.next_id)
        o->rseg.next_id = (uint32_t)seq + 1;
    return ENG_OK;
}

int eng__ev_load_txns(eng__ev *ev, eng__evorg *o)
{
    char prefix[32];
    rload l = {ev, o, 0};
    int rc = eng__rcols_fields(&o->rtail, &ev->e->mem, o->nfields);
    snprintf(prefix, sizeof prefix, "e/%04x/r/s/", (unsigned)o->code);
    if (!rc)
        rc = eng__kv_scan(ev->e->store, ENG__K(prefix), rload_cb, &l);
    if (rc)
        return rc;
    l.chunks = 1;
    snprintf(prefix, sizeof prefix, "e/%04x/r/c/", (unsigned)o->code);
    return eng__kv_scan(ev->e->store, ENG__K(prefix), rload_cb, &l);
}
