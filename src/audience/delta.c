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
    if (!eng__rd_ok(&r) || idkind != t->idkind)
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
            int64_t v = eng__rd_svar(&r);
            int isnew;
            if (!eng__rd_ok(&r))
                rc = eng__err(ENG_ECORRUPT, key, "delta: bad customer id");
            else if (!(rc = eng__table_upsert_int(t, v, &ids[k], &isnew)))
                *ins += (uint64_t)isnew;
        }
    }
    if (rc) {
        eng__free(t->mem, ids);
        return rc;
    }
    *upd += nrows - (*ins - before);
    for (uint64_t row = 0; row < nrows; row++) {
        uint32_t id = ids[row];
        if (eng__rd_left(&r) == 0 && nc) {
            eng__free(t->mem, ids);
            return eng__err(ENG_ECORRUPT, key, "delta: truncated rows");
        }
        for (uint64_t i = 0; i < nc; i++) {
            uint8_t tag = eng__rd_u8(&r);
            if (!eng__rd_ok(&r) || tag > 1)
                return eng__err(ENG_ECORRUPT, key, "delta: bad value tag");
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
                    s = eng__rd_blob(&r, &l);
                    rc = s ? eng__table_set_str(t, idx[i], id, (const char *)s, l) : ENG_ECORRUPT;
                } else if (ty == ENG_COL_BOOL) {
                    v = eng__rd_u8(&r);
                    rc = eng__table_set_i64(t, idx[i], id, v != 0);
                } else {
                    v = eng__rd_svar(&r);
                    rc = eng__table_set_i64(t, idx[i], id, v);
                }
                break;
            }
            case ENG__DK_CONTACT:
                if (tag)
                    s = eng__rd_blob(&r, &l);
                rc = tag && !s ? ENG_ECORRUPT : eng__table_set_contact(t, (int)idx[i], id, (const char *)s, l);
                break;
            case ENG__DK_CONSENT:
            case ENG__DK_OPTOUT:
                if (tag) {
                    yes = eng__rd_u8(&r) != 0;
                    v = eng__rd_svar(&r);
                }
                rc = kind[i] == ENG__DK_CONSENT ? eng__table_set_consent(t, (int)idx[i], id, yes, v)
                                                : eng__table_set_optout(t, (int)idx[i], id, yes, v);
                break;
            default:
                yes = tag ? eng__rd_u8(&r) != 0 : 0;
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
