/* The columnar customer table (see table.h). */
#include "audience/table.h"
#include "base/error.h"
#include "base/hash.h"
#include "core/engine_impl.h"

#include <stdio.h>
#include <string.h>

void eng__table_init(eng__table *t, const eng__mem *mem)
{
    memset(t, 0, sizeof *t);
    t->mem = mem;
    t->idkind = ENG_ID_STRING;
    eng__dict_init(&t->sid, mem);
    eng__idset_init(&t->suppressed, mem);
    eng__idset_init(&t->erased, mem);
    for (int c = 0; c < ENG_CH_COUNT; c++) {
        eng__idset_init(&t->ch[c].has, mem);
        eng__idset_init(&t->ch[c].consent, mem);
        eng__idset_init(&t->ch[c].optout, mem);
        eng__idset_init(&t->reach[c], mem);
    }
}

static void col_free(const eng__mem *mem, eng__col *c)
{
    eng__free(mem, c->present);
    eng__free(mem, c->i64);
    eng__free(mem, c->code);
    eng__free(mem, c->bits);
    eng__dict_free(&c->dict);
}

void eng__table_free(eng__table *t)
{
    const eng__mem *mem = t->mem;
    eng__dict_free(&t->sid);
    eng__free(mem, t->iid);
    eng__free(mem, t->islots);
    for (uint32_t i = 0; i < t->ncols; i++)
        col_free(mem, &t->cols[i]);
    eng__free(mem, t->cols);
    for (int c = 0; c < ENG_CH_COUNT; c++) {
        eng__chan *ch = &t->ch[c];
        eng__free(mem, ch->contact);
        eng__tcol_free(mem, &ch->consent_t);
        eng__free(mem, ch->optout_ts);
        eng__free(mem, ch->arena);
        eng__idset_free(&ch->has);
        eng__idset_free(&ch->consent);
        eng__idset_free(&ch->optout);
        eng__idset_free(&t->reach[c]);
    }
    eng__idset_free(&t->suppressed);
    eng__idset_free(&t->erased);
    eng__table_init(t, mem);
}

size_t eng__table_bytes(const eng__table *t)
{
    size_t b = eng__dict_bytes(&t->sid) + (size_t)t->nislots * 4;
    if (t->iid)
        b += t->cap * 8;
    for (uint32_t i = 0; i < t->ncols; i++) {
        const eng__col *c = &t->cols[i];
        b += t->cap / 8 + eng__dict_bytes(&c->dict);
        b += c->i64 ? t->cap * 8 : c->code ? t->cap * 4 : t->cap / 8;
    }
    for (int c = 0; c < ENG_CH_COUNT; c++) {
        const eng__chan *ch = &t->ch[c];
        if (!ch->used)
            continue;
        b += (ch->contact ? t->cap * 4 : 0) + eng__tcol_bytes(&ch->consent_t, t->cap + 1) +
             (ch->optout_ts ? t->cap * 8 : 0) + ch->acap;
        b += eng__idset_bytes(&ch->has) + eng__idset_bytes(&ch->consent) + eng__idset_bytes(&ch->optout) +
             eng__idset_bytes(&t->reach[c]);
    }
    return b + eng__idset_bytes(&t->suppressed) + eng__idset_bytes(&t->erased) + t->ncols * sizeof(eng__col);
}

/* Grow one array from oldcap to newcap elements, zero-filling the new part. */
static int grow_arr(const eng__mem *mem, void **p, size_t oldcap, size_t newcap, size_t size)
{
    if (!*p && oldcap) /* never allocated (lazy); stays NULL */
        return ENG_OK;
    if (size && newcap > SIZE_MAX / size)
        return eng__nomem();
    size_t ob = oldcap * size, nb = newcap * size;
    if (ob <= ((size_t)1 << 20) && nb - ob >= ((size_t)4 << 20)) {
        /* A big step from a small array (an import sized up front): fresh
         * zeroed pages, so rows reserved and never written (a size hint
         * above the truth) cost address space, not memory. */
        int zeroed;
        void *q = eng__malloc_big(mem, nb, &zeroed);
        if (!q)
            return eng__nomem();
        eng__mem_hint_huge(mem, q, nb);
        if (!zeroed)
            memset((char *)q + ob, 0, nb - ob);
        if (*p && ob)
            memcpy(q, *p, ob);
        eng__free(mem, *p);
        *p = q;
        return ENG_OK;
    }
    void *q = eng__realloc_array(mem, *p, newcap, size);
    if (!q)
        return eng__nomem();
    /* Before the new part is first touched: 2 MiB pages fault 512 times less
     * (an import of 10^7 customers otherwise spends seconds in page faults). */
    eng__mem_hint_huge(mem, q, newcap * size);
    memset((char *)q + oldcap * size, 0, (newcap - oldcap) * size);
    *p = q;
    return ENG_OK;
}

static int col_alloc(const eng__mem *mem, eng__col *c, size_t cap)
{
    c->present = eng__calloc(mem, cap / 64 + 1, 8);
    if (!c->present)
        return eng__nomem();
    if (c->type == ENG_COL_STRING)
        c->code = eng__calloc(mem, cap + 1, 4);
    else if (c->type == ENG_COL_BOOL)
        c->bits = eng__calloc(mem, cap / 64 + 1, 8);
    else
        c->i64 = eng__calloc(mem, cap + 1, 8);
    return c->code || c->bits || c->i64 ? ENG_OK : eng__nomem();
}

/* Make room for @p rows rows (all columns and used channels). A failure
 * leaves every array at least at the old capacity. */
static int reserve_rows(eng__table *t, size_t rows)
{
    if (rows <= t->cap)
        return ENG_OK;
    if (rows >= UINT32_MAX - 1)
        return eng__err(ENG_ETOOBIG, "", "customer table is full");
    /* Double for steady growth, but size a big batch (an import reserves
     * its row count) exactly: rounding 10^7 up to 2^24 would zero and
     * touch two thirds more memory than needed. */
    size_t old = t->cap, nc = old ? old * 2 : 1024;
    if (nc < rows)
        nc = (rows + 1023) / 1024 * 1024;
    /* Word-sized arrays are allocated as cap/64 + 1 words. */
    for (uint32_t i = 0; i < t->ncols; i++) {
        eng__col *c = &t->cols[i];
        if (grow_arr(t->mem, (void **)&c->present, old / 64 + 1, nc / 64 + 1, 8) ||
            (c->code && grow_arr(t->mem, (void **)&c->code, old + 1, nc + 1, 4)) ||
            (c->bits && grow_arr(t->mem, (void **)&c->bits, old / 64 + 1, nc / 64 + 1, 8)) ||
            (c->i64 && grow_arr(t->mem, (void **)&c->i64, old + 1, nc + 1, 8)))
            return ENG_ENOMEM;
    }
    for (int k = 0; k < ENG_CH_COUNT; k++) {
        eng__chan *ch = &t->ch[k];
        if (ch->used && (grow_arr(t->mem, (void **)&ch->contact, old + 1, nc + 1, 4) ||
                         eng__tcol_resize(t->mem, &ch->consent_t, old + 1, nc + 1) ||
                         grow_arr(t->mem, (void **)&ch->optout_ts, old + 1, nc + 1, 8)))
            return ENG_ENOMEM;
    }
    if (t->idkind == ENG_ID_INT64 && grow_arr(t->mem, (void **)&t->iid, old + 1, nc + 1, 8))
        return ENG_ENOMEM;
    t->cap = nc;
    return ENG_OK;
}

/* Shrink one array to @p n elements; on failure keep it as it is. */
static void shrink(const eng__mem *mem, void **p, size_t n, size_t size)
{
    if (!*p)
        return;
    void *q = eng__realloc_array(mem, *p, n ? n : 1, size);
    if (q)
        *p = q;
}

void eng__table_set_prog(eng__table *t, struct eng__prog *pg)
{
    t->pg = pg;
    t->sid.pg = pg;
    for (uint32_t i = 0; i < t->ncols; i++)
        t->cols[i].dict.pg = pg;
}

int eng__table_reserve(eng__table *t, size_t more)
{
    size_t rows = (size_t)t->n + more;
    int rc = reserve_rows(t, rows);
    if (!rc && t->idkind == ENG_ID_STRING)
        rc = eng__dict_reserve(&t->sid, rows);
    return rc;
}

void eng__table_trim(eng__table *t)
{
    for (int k = 0; k < ENG_CH_COUNT; k++) {
        eng__chan *ch = &t->ch[k];
        if (ch->arena && ch->acap > ch->alen + 1) {
            shrink(t->mem, (void **)&ch->arena, ch->alen + 1, 1);
            ch->acap = ch->alen + 1;
        }
    }
    size_t nc = ((size_t)t->n + 1023) / 1024 * 1024;
    if (nc >= t->cap)
        return;
    for (uint32_t i = 0; i < t->ncols; i++) {
        eng__col *c = &t->cols[i];
        shrink(t->mem, (void **)&c->present, nc / 64 + 1, 8);
        shrink(t->mem, (void **)&c->code, nc + 1, 4);
        shrink(t->mem, (void **)&c->bits, nc / 64 + 1, 8);
        shrink(t->mem, (void **)&c->i64, nc + 1, 8);
    }
    for (int k = 0; k < ENG_CH_COUNT; k++) {
        eng__chan *ch = &t->ch[k];
        shrink(t->mem, (void **)&ch->contact, nc + 1, 4);
        eng__tcol_resize(t->mem, &ch->consent_t, t->cap + 1, nc + 1); /* a failed shrink keeps it */
        shrink(t->mem, (void **)&ch->optout_ts, nc + 1, 8);
    }
    shrink(t->mem, (void **)&t->iid, nc + 1, 8);
    t->cap = nc;
}

int eng__table_add_col(eng__table *t, const char *name, int type)
{
    if (t->ncols >= ENG__MAX_COLS)
        return eng__err(ENG_ETOOBIG, name, "at most %d columns", ENG__MAX_COLS);
    eng__col *cols = eng__realloc_array(t->mem, t->cols, t->ncols + 1u, sizeof *cols);
    if (!cols)
        return eng__nomem();
    t->cols = cols;
    eng__col *c = &cols[t->ncols];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->type = type;
    eng__dict_init(&c->dict, t->mem);
    c->dict.pg = t->pg;
    if (col_alloc(t->mem, c, t->cap)) {
        col_free(t->mem, c);
        return ENG_ENOMEM;
    }
    t->ncols++;
    return ENG_OK;
}

int eng__table_col_index(const eng__table *t, const char *name, size_t len)
{
    for (uint32_t i = 0; i < t->ncols; i++)
        if (strlen(t->cols[i].name) == len && memcmp(t->cols[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

int64_t eng__table_find_str(const eng__table *t, const char *s, size_t len)
{
    return eng__dict_find(&t->sid, s, len);
}

static uint32_t ihash(int64_t v) { return (uint32_t)eng__mix64((uint64_t)v); }

int64_t eng__table_find_int(const eng__table *t, int64_t v)
{
    if (!t->nislots)
        return -1;
    uint32_t mask = t->nislots - 1;
    for (uint32_t i = ihash(v) & mask;; i = (i + 1) & mask) {
        uint32_t s = t->islots[i];
        if (!s)
            return -1;
        if (t->iid[s - 1] == v)
            return s - 1;
    }
}

int eng__table_erased(const eng__table *t, uint32_t id)
{
    if (id >= t->n)
        return 0;
    if (t->idkind != ENG_ID_STRING)
        return eng__idset_contains(&t->erased, id);
    size_t l;
    const char *s = eng__dict_str(&t->sid, id, &l);
    return l == ENG__TOMB_LEN && s[0] == 0x1f;
}

int eng__table_upsert_str(eng__table *t, const char *s, size_t len, uint32_t *id, int *isnew)
{
    int64_t f = eng__dict_find(&t->sid, s, len);
    if (f >= 0) {
        *id = (uint32_t)f;
        *isnew = 0;
        return ENG_OK;
    }
    int rc = reserve_rows(t, (size_t)t->n + 1);
    if (rc)
        return rc;
    uint32_t code;
    if ((rc = eng__dict_intern(&t->sid, s, len, &code)))
        return rc;
    *id = t->n++;
    *isnew = 1;
    return ENG_OK;
}

int eng__table_upsert_strs(eng__table *t, const char *const *s, const size_t *len, size_t n, const uint32_t *hash,
                           uint32_t *ids, uint64_t *ins)
{
    /* With every hash known, walk with the slot of row i + 16 prefetched: the
     * index is far bigger than the caches at L, so this hides most misses. */
    int rc = reserve_rows(t, (size_t)t->n + n);
    if (rc)
        return rc;
    uint64_t added = 0;
    rc = eng__dict_intern_many(&t->sid, s, len, hash, n, ids, &added);
    t->n += (uint32_t)added; /* code == dense id: the new ones are rows, also before an error */
    *ins += added;
    return rc;
}

int eng__table_upsert_int(eng__table *t, int64_t v, uint32_t *id, int *isnew)
{
    int64_t f = eng__table_find_int(t, v);
    if (f >= 0) {
        *id = (uint32_t)f;
        *isnew = 0;
        return ENG_OK;
    }
    int rc = reserve_rows(t, (size_t)t->n + 1);
    if (rc)
        return rc;
    if (!t->iid && grow_arr(t->mem, (void **)&t->iid, 0, t->cap + 1, 8))
        return ENG_ENOMEM;
    if ((uint64_t)(t->n + 1) * 2 > t->nislots) {
        uint32_t ns = t->nislots ? t->nislots * 2 : 1024, mask = ns - 1;
        uint32_t *sl = eng__calloc(t->mem, ns, sizeof *sl);
        if (!sl)
            return eng__nomem();
        for (uint32_t k = 0; k < t->n; k++) {
            if (!(k & 63)) {
                if (t->pg && (rc = eng__prog_batch(t->pg, t->pg->done))) { /* the old index stays */
                    eng__free(t->mem, sl);
                    return rc;
                }
                ENG__WORK(t->n - k < 64 ? t->n - k : 64);
            }
            uint32_t i = ihash(t->iid[k]) & mask;
            while (sl[i])
                i = (i + 1) & mask;
            sl[i] = k + 1;
        }
        eng__free(t->mem, t->islots);
        t->islots = sl;
        t->nislots = ns;
    }
    uint32_t mask = t->nislots - 1, i = ihash(v) & mask;
    while (t->islots[i])
        i = (i + 1) & mask;
    t->iid[t->n] = v;
    t->islots[i] = t->n + 1;
    *id = t->n++;
    *isnew = 1;
    return ENG_OK;
}

int eng__table_append_tomb(eng__table *t, uint32_t *id)
{
    int rc = reserve_rows(t, (size_t)t->n + 1);
    if (rc)
        return rc;
    if (!t->iid && grow_arr(t->mem, (void **)&t->iid, 0, t->cap + 1, 8))
        return ENG_ENOMEM;
    if ((rc = eng__idset_add(&t->erased, t->n)))
        return rc;
    t->iid[t->n] = 0; /* not in the index: no look-up finds it */
    *id = t->n++;
    return ENG_OK;
}

int eng__table_set_str(eng__table *t, uint32_t col, uint32_t id, const char *s, size_t len)
{
    eng__col *c = &t->cols[col];
    uint32_t code;
    int rc = eng__dict_intern(&c->dict, s, len, &code);
    if (rc)
        return rc;
    eng__table_set_code(t, col, id, code);
    return ENG_OK;
}

/* Per-channel arrays are allocated on first need: a channel nobody has a
 * contact for costs nothing, and the opt-out times of a channel where nobody
 * opted out cost nothing either. */
static int chan_use(eng__table *t, int k)
{
    t->ch[k].used = 1;
    return ENG_OK;
}

static int lazy(eng__table *t, void **p, size_t size)
{
    if (*p)
        return ENG_OK;
    *p = eng__calloc(t->mem, t->cap + 1, size);
    return *p ? ENG_OK : eng__nomem();
}

int eng__table_set_contact(eng__table *t, int k, uint32_t id, const char *s, size_t len)
{
    int rc = chan_use(t, k);
    if (rc)
        return rc;
    eng__chan *ch = &t->ch[k];
    eng__table_reach_drop(t, 1u << k);
    if (!len) {
        if (ch->contact)
            ch->contact[id] = 0;
        return eng__idset_remove(&ch->has, id);
    }
    if (len > UINT16_MAX || ch->alen + len + 3 >= UINT32_MAX)
        return eng__err(ENG_ETOOBIG, "", "contact arena is full (4 GiB)");
    if ((rc = lazy(t, (void **)&ch->contact, sizeof *ch->contact)))
        return rc;
    if (eng__grow(t->mem, (void **)&ch->arena, &ch->acap, ch->alen + len + 3, 1))
        return eng__nomem();
    return eng__table_put_contact(t, k, id, s, len);
}

int eng__table_contacts_begin(eng__table *t, int k, size_t bytes, size_t rows)
{
    eng__chan *ch = &t->ch[k];
    eng__table_chan_begin(t, k);
    if (ch->alen + bytes + 3 >= UINT32_MAX)
        return eng__err(ENG_ETOOBIG, "", "contact arena is full (4 GiB)");
    int rc = lazy(t, (void **)&ch->contact, sizeof *ch->contact);
    size_t need = ch->alen + bytes + 3;
    if (!rc && !ch->acap && rows && t->cap > t->n + rows) {
        /* The first column of a channel in a table reserved for more rows
         * (an import sized up front): room for them all at this column's
         * bytes a row, so the arena is not copied as it doubles (a copy
         * touches every page again). Pages never written are not memory;
         * eng__table_trim gives back the rest. */
        double est = (double)bytes / (double)rows * (double)(t->cap - t->n) + (double)need;
        if (est < (double)UINT32_MAX)
            need = (size_t)est;
    }
    if (!rc && eng__grow(t->mem, (void **)&ch->arena, &ch->acap, need, 1))
        rc = eng__nomem();
    return rc;
}

void eng__table_chan_begin(eng__table *t, int k)
{
    chan_use(t, k);
    eng__table_reach_drop(t, 1u << k);
}

const char *eng__table_contact(const eng__table *t, int k, uint32_t id, size_t *len)
{
    const eng__chan *ch = &t->ch[k];
    if (!ch->used || id >= t->n || !ch->contact || !ch->contact[id])
        return NULL;
    const uint8_t *p = (const uint8_t *)ch->arena + ch->contact[id] - 1;
    size_t n = 0;
    for (unsigned sh = 0;; sh += 7) {
        n |= (size_t)(*p & 0x7f) << sh;
        if (!(*p++ & 0x80))
            break;
    }
    *len = n;
    return (const char *)p;
}

int eng__table_set_consent(eng__table *t, int k, uint32_t id, int yes, int64_t ts)
{
    int rc = chan_use(t, k);
    if (rc)
        return rc;
    eng__chan *ch = &t->ch[k];
    eng__table_reach_drop(t, 1u << k);
    if (t->hist && (rc = eng__chist_note(t->hist, 0, k, id, yes, ts, eng__idset_contains(&ch->consent, id),
                                         eng__tcol_get(&ch->consent_t, id))))
        return rc;
    int64_t old = eng__tcol_get(&ch->consent_t, id);
    if ((rc = eng__tcol_set(t->mem, &ch->consent_t, t->cap + 1, id, yes ? ts : 0)))
        return rc;
    if ((rc = yes ? eng__idset_add(&ch->consent, id) : eng__idset_remove(&ch->consent, id)))
        eng__tcol_set(t->mem, &ch->consent_t, t->cap + 1, id, old); /* in the palette already: cannot fail */
    return rc;
}

int eng__table_set_optout(eng__table *t, int k, uint32_t id, int yes, int64_t ts)
{
    int rc = chan_use(t, k);
    if (rc)
        return rc;
    eng__chan *ch = &t->ch[k];
    eng__table_reach_drop(t, 1u << k);
    if (t->hist && (rc = eng__chist_note(t->hist, 1, k, id, yes, ts, eng__idset_contains(&ch->optout, id),
                                         ch->optout_ts ? ch->optout_ts[id] : 0)))
        return rc;
    if (yes && (rc = lazy(t, (void **)&ch->optout_ts, sizeof *ch->optout_ts)))
        return rc;
    if ((rc = yes ? eng__idset_add(&ch->optout, id) : eng__idset_remove(&ch->optout, id)))
        return rc;
    if (ch->optout_ts)
        ch->optout_ts[id] = yes ? ts : 0;
    return ENG_OK;
}

int eng__table_set_suppressed(eng__table *t, uint32_t id, int yes)
{
    eng__table_reach_drop(t, ~0u);
    return yes ? eng__idset_add(&t->suppressed, id) : eng__idset_remove(&t->suppressed, id);
}

int eng__table_reachable_set(const eng__table *t, int k, eng__idset *out)
{
    eng__idset_free(out);
    const eng__chan *ch = &t->ch[k];
    if (!ch->used)
        return ENG_OK;
    int rc = eng__idset_op(ENG__SET_AND, out, &ch->has, &ch->consent);
    if (!rc)
        rc = eng__idset_op_into(ENG__SET_ANDNOT, out, &ch->optout);
    if (!rc)
        rc = eng__idset_op_into(ENG__SET_ANDNOT, out, &t->suppressed);
    if (rc)
        eng__idset_free(out);
    return rc;
}

int eng__table_reachable_kept(eng__table *t, int k, const eng__idset **out)
{
    if (!(t->reach_ok >> k & 1)) {
        int rc = eng__table_reachable_set(t, k, &t->reach[k]);
        if (rc)
            return rc;
        t->reach_ok |= 1u << k;
    }
    *out = &t->reach[k];
    return ENG_OK;
}

int eng__table_reachable(const eng__table *t, int k, uint32_t id)
{
    const eng__chan *ch = &t->ch[k];
    return ch->used && eng__idset_contains(&ch->has, id) && eng__idset_contains(&ch->consent, id) &&
           !eng__idset_contains(&ch->optout, id) && !eng__idset_contains(&t->suppressed, id);
}
