/* Replaying an import delta into the table. The writer is import.c; both
 * sides agree on:
 *   uvar ncols, ncols x (u8 kind, uvar index), u8 id kind,
 *   then rows until the end: id (blob or svar), per column u8 tag
 *   (0 = NULL/clear, 1 = value) and the value by kind. */
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
    if (!eng__rd_ok(&r) || idkind != t->idkind)
        return eng__err(ENG_ECORRUPT, key, "delta: id kind does not match the schema");
    while (eng__rd_left(&r) > 0) {
        uint32_t id;
        int isnew, rc;
        if (idkind == ENG_ID_STRING) {
            size_t l;
            const uint8_t *s = eng__rd_blob(&r, &l);
            if (!s || l == 0 || l > ENG__ID_MAX)
                return eng__err(ENG_ECORRUPT, key, "delta: bad customer id");
            rc = eng__table_upsert_str(t, (const char *)s, l, &id, &isnew);
        } else {
            int64_t v = eng__rd_svar(&r);
            if (!eng__rd_ok(&r))
                return eng__err(ENG_ECORRUPT, key, "delta: bad customer id");
            rc = eng__table_upsert_int(t, v, &id, &isnew);
        }
        if (rc)
            return rc;
        *(isnew ? ins : upd) += 1;
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
                return eng__err(ENG_ECORRUPT, key, "delta: truncated value");
            if (rc)
                return rc;
        }
    }
    return ENG_OK;
}
