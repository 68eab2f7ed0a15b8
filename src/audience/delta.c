/* Replaying an import delta into the table. The writer is import.c; both
 * sides agree on:
 *   uvar ncols, ncols x (u8 kind, uvar index), u8 id kind, uvar nrows,
 *   nrows ids (blob or svar), then per row and column a u8 tag
 *   (0 = NULL/clear, 1 = value) and the value by kind.
 * The ids come first so that they can be looked up as a batch, with the
 * index slots prefetched ahead (the id index is the hot spot of a big import). */
#include "audience/audience_impl.h"
#include "base/codec.h"

#include <string.h>

/* Inline readers for the row loop: the common case (no error yet, bytes
 * left, a short varint) without a call; anything else goes to the codec's
 * own reader, which sets the sticky error exactly as before. */
static inline uint8_t rd_u8(eng__rd *r)
{
    if (!r->err && r->p < r->end)
        return *r->p++;
    return eng__rd_u8(r);
}

static inline uint64_t rd_uvar(eng__rd *r)
{
    const uint8_t *p = r->p;
    if (!r->err && r->end - p >= 10) {
        uint64_t v = 0;
        for (int k = 0; k < 9; k++) {
            v |= (uint64_t)(p[k] & 0x7f) << (7 * k);
            if (!(p[k] & 0x80)) {
                r->p = p + k + 1;
                return v;
            }
        }
    }
    return eng__rd_uvar(r);
}

static inline int64_t rd_svar(eng__rd *r)
{
    uint64_t u = rd_uvar(r);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static inline const uint8_t *rd_blob(eng__rd *r, size_t *n)
{
    const uint8_t *p = r->p;
    if (!r->err && p < r->end && *p < 0x80 && (size_t)(r->end - p - 1) >= *p) {
        *n = *p;
        r->p = p + 1 + *p;
        return p + 1;
    }
    return eng__rd_blob(r, n);
}

/* A small direct-mapped cache per STRING column (the first SC_COLS of
 * them): most such columns have few distinct values, and a hit costs a
 * cheap hash and one compare instead of a full hash and a probe of the
 * column's dictionary. */
#define SC_COLS 8
#define SC_SIZE 256

static inline uint32_t sc_hash(const uint8_t *s, size_t l)
{
    uint64_t a = 0, b = 0;
    if (l >= 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + l - 8, 8);
    } else {
        for (size_t k = 0; k < l; k++) /* bytes, not a short memcpy: no store-forwarding stall */
            a |= (uint64_t)s[k] << (8 * k);
    }
    uint64_t h = (a * 0x9e3779b97f4a7c15ull) ^ (b * 0xc2b2ae3d27d4eb4full) ^ l;
    h *= 0xff51afd7ed558ccdull;
    return (uint32_t)(h >> 56); /* 0 .. SC_SIZE - 1 */
}

static int set_str_cached(eng__table *t, uint32_t *cache, uint32_t col, uint32_t id, const uint8_t *s, size_t l)
{
    uint32_t k = sc_hash(s, l), e = cache[k];
    if (e) {
        size_t cl;
        const char *cs = eng__dict_str(&t->cols[col].dict, e - 1, &cl);
        if (cl == l && memcmp(cs, s, l) == 0) {
            eng__table_set_code(t, col, id, e - 1);
            return ENG_OK;
        }
    }
    uint32_t code;
    int rc = eng__dict_intern(&t->cols[col].dict, (const char *)s, l, &code);
    if (rc)
        return rc;
    eng__table_set_code(t, col, id, code);
    cache[k] = code + 1;
    return ENG_OK;
}

int eng__delta_apply(eng__table *t, const uint8_t *p, size_t n, const char *key, uint64_t *ins, uint64_t *upd)
{
    eng__rd r;
    eng__rd_init(&r, p, n);
    uint64_t nc = eng__rd_uvar(&r);
    if (!eng__rd_ok(&r) || nc > ENG__CSV_MAX_FIELDS)
        return eng__err(ENG_ECORRUPT, key, "delta: bad column count");
    uint8_t kind[ENG__CSV_MAX_FIELDS];
    uint32_t idx[ENG__CSV_MAX_FIELDS];
    for (uint64_t i = 0; i < nc; i++) {
        kind[i] = eng__rd_u8(&r);
        uint64_t x = eng__rd_uvar(&r);
        int ok = eng__rd_ok(&r);
        if (ok && kind[i] == ENG__DK_ATTR)
            ok = x < t->ncols;
        else if (ok && kind[i] >= ENG__DK_CONTACT && kind[i] <= ENG__DK_OPTOUT)
            ok = x < ENG_CH_COUNT;
        else if (ok)
            ok = kind[i] == ENG__DK_SUPP;
        if (!ok)
            return eng__err(ENG_ECORRUPT, key, "delta: bad column %llu", (unsigned long long)i);
        idx[i] = (uint32_t)x;
    }
    int idkind = eng__rd_u8(&r);
    uint64_t nrows = eng__rd_uvar(&r);
    ENG__WORK(nrows);
    int tombs = idkind == ENG__IDK_INT_TOMB && t->idkind == ENG_ID_INT64;
    if (!eng__rd_ok(&r) || (idkind != t->idkind && !tombs))
        return eng__err(ENG_ECORRUPT, key, "delta: id kind does not match the schema");
    if (nrows > eng__rd_left(&r) || nrows > (1u << 24))
        return eng__err(ENG_ECORRUPT, key, "delta: bad row count");
    uint32_t *ids = eng__malloc(t->mem, (nrows ? nrows : 1) * sizeof *ids);
    if (!ids)
        return eng__nomem();
    int rc = ENG_OK;
    uint64_t before = *ins;
    if (idkind == ENG_ID_STRING) {
        const char **sp = eng__malloc(t->mem, (nrows ? nrows : 1) * sizeof *sp);
        size_t *sl = eng__malloc(t->mem, (nrows ? nrows : 1) * sizeof *sl);
        uint32_t *h = eng__malloc(t->mem, (nrows ? nrows : 1) * sizeof *h);
        if (!sp || !sl || !h)
            rc = eng__nomem();
        for (uint64_t k = 0; k < nrows && !rc; k++) {
            sp[k] = (const char *)eng__rd_blob(&r, &sl[k]);
            if (!sp[k] || sl[k] == 0 || sl[k] > ENG__ID_MAX)
                rc = eng__err(ENG_ECORRUPT, key, "delta: bad customer id");
        }
        if (!rc)
            rc = eng__table_upsert_strs(t, sp, sl, nrows, h, ids, ins);
        eng__free(t->mem, sp);
        eng__free(t->mem, sl);
        eng__free(t->mem, h);
    } else {
        for (uint64_t k = 0; k < nrows && !rc; k++) {
            uint8_t flag = tombs ? eng__rd_u8(&r) : 0;
            int64_t v = flag ? 0 : eng__rd_svar(&r);
            int isnew = 1;
            if (!eng__rd_ok(&r) || flag > 1)
                rc = eng__err(ENG_ECORRUPT, key, "delta: bad customer id");
            else if (!(rc = flag ? eng__table_append_tomb(t, &ids[k]) : eng__table_upsert_int(t, v, &ids[k], &isnew)))
                *ins += (uint64_t)isnew;
        }
    }
    if (rc) {
        eng__free(t->mem, ids);
        return rc;
    }
    *upd += nrows - (*ins - before);
    static const uint32_t no_cache = SC_COLS;
    uint32_t sc[SC_COLS][SC_SIZE], scol[ENG__CSV_MAX_FIELDS], nsc = 0;
    for (uint64_t i = 0; i < nc; i++) {
        scol[i] = no_cache;
        if (kind[i] == ENG__DK_ATTR && t->cols[idx[i]].type == ENG_COL_STRING && nsc < SC_COLS)
            scol[i] = nsc++;
    }
    memset(sc, 0, sizeof sc[0] * nsc);
    for (uint64_t row = 0; row < nrows; row++) {
        uint32_t id = ids[row];
        if (eng__rd_left(&r) == 0 && nc) {
            eng__free(t->mem, ids);
            return eng__err(ENG_ECORRUPT, key, "delta: truncated rows");
        }
        for (uint64_t i = 0; i < nc; i++) {
            uint8_t tag = rd_u8(&r);
            if (!eng__rd_ok(&r) || tag > 1) {
                eng__free(t->mem, ids);
                return eng__err(ENG_ECORRUPT, key, "delta: bad value tag");
            }
            size_t l = 0;
            const uint8_t *s = NULL;
            int64_t v = 0;
            int yes = 0;
            switch (kind[i]) {
            case ENG__DK_ATTR: {
                int ty = t->cols[idx[i]].type;
                if (!tag)
                    rc = eng__table_set_null(t, idx[i], id);
                else if (ty == ENG_COL_STRING) {
                    s = rd_blob(&r, &l);
                    if (!s)
                        rc = ENG_ECORRUPT;
                    else if (scol[i] != no_cache)
                        rc = set_str_cached(t, sc[scol[i]], idx[i], id, s, l);
                    else
                        rc = eng__table_set_str(t, idx[i], id, (const char *)s, l);
                } else if (ty == ENG_COL_BOOL) {
                    v = rd_u8(&r);
                    rc = eng__table_set_i64(t, idx[i], id, v != 0);
                } else {
                    v = rd_svar(&r);
                    rc = eng__table_set_i64(t, idx[i], id, v);
                }
                break;
            }
            case ENG__DK_CONTACT:
                if (tag)
                    s = rd_blob(&r, &l);
                rc = tag && !s ? ENG_ECORRUPT : eng__table_set_contact(t, (int)idx[i], id, (const char *)s, l);
                break;
            case ENG__DK_CONSENT:
            case ENG__DK_OPTOUT:
                if (tag) {
                    yes = rd_u8(&r) != 0;
                    v = rd_svar(&r);
                }
                rc = kind[i] == ENG__DK_CONSENT ? eng__table_set_consent(t, (int)idx[i], id, yes, v)
                                                : eng__table_set_optout(t, (int)idx[i], id, yes, v);
                break;
            default:
                yes = tag ? rd_u8(&r) != 0 : 0;
                rc = eng__table_set_suppressed(t, id, yes);
                break;
            }
            if (rc == ENG_ECORRUPT || !eng__rd_ok(&r))
                rc = eng__err(ENG_ECORRUPT, key, "delta: truncated value");
            if (rc) {
                eng__free(t->mem, ids);
                return rc;
            }
        }
    }
    eng__free(t->mem, ids);
    if (eng__rd_left(&r))
        return eng__err(ENG_ECORRUPT, key, "delta: trailing bytes");
    return ENG_OK;
}
