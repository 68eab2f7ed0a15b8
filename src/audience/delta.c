/* Replaying an import delta into the table. The writer is import.c; both
 * sides agree on:
 *   uvar ncols, ncols x (u8 kind, uvar index), u8 id kind,
 *   [schema >= 2: svar the part's time], uvar nrows,
 *   nrows ids (blob or svar), then per row and column a u8 tag
 *   (0 = NULL/clear, 1 = value) and the value by kind.
 * Schema 3 has the values of schema 2 grouped by column instead of by row:
 * per column a uvar byte length, then that column's tag and value for every
 * row (delta_cols.c applies it a column at a time).
 * Schema 2 adds denser tags (about 40 % fewer bytes for the benchmark's rows):
 *   STRING column with slots  2 + k: the value last given in full (tag 1) in slot k
 *                             of this part (eng__dslot; no bytes follow)
 *   DATE                      2: svar whole days since the epoch
 *   phone channel contact     2: uvar the digits after '+' as an integer
 *   consent / opt-out         2: yes at the part's time; 3: no, time 0
 * The ids come first so that they can be looked up as a batch, with the
 * index slots prefetched ahead (the id index is the hot spot of a big import). */
#include "audience/delta_impl.h"
#include "audience/values.h"

/* Per STRING column (the first ENG__DSLOT_COLS of the part) a table of
 * ENG__DSLOT_N dictionary codes (code + 1; 0: empty) by eng__dslot of the
 * value. Schema 1 uses it as a cache: most such columns have few distinct
 * values, and a hit costs a cheap hash and one compare instead of a full hash
 * and a probe of the column's dictionary. Schema 2 names the slot in the tag
 * (the writer mirrors the table), so a repeated value costs no hash at all. */
int eng__delta_set_str_slot(eng__table *t, uint32_t *slots, uint32_t col, uint32_t id, const uint8_t *s, size_t l,
                            int check)
{
    uint32_t k = eng__dslot(s, l), e = slots[k];
    if (e && check) {
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
    slots[k] = code + 1;
    return ENG_OK;
}

int eng__delta_apply(eng__table *t, const uint8_t *p, size_t n, unsigned schema, const char *key, const uint8_t *idh,
                     uint64_t *ins, uint64_t *upd)
{
    eng__rd r;
    eng__rd_init(&r, p, n);
    uint64_t nc = eng__rd_uvar(&r);
    if (!eng__rd_ok(&r) || nc > ENG__CSV_MAX_FIELDS)
        return eng__err(ENG_ECORRUPT, key, "delta: bad column count");
    eng__dcols dc;
    uint8_t *kind = dc.kind;
    uint32_t *idx = dc.idx;
    dc.nc = (uint32_t)nc;
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
    int64_t now = dc.now = schema >= 2 ? eng__rd_svar(&r) : 0; /* the part's time (consent tag 2) */
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
            sp[k] = (const char *)eng__drd_blob(&r, &sl[k]);
            if (!sp[k] || sl[k] == 0 || sl[k] > ENG__ID_MAX)
                rc = eng__err(ENG_ECORRUPT, key, "delta: bad customer id");
        }
        if (!rc && idh)
            memcpy(h, idh, nrows * sizeof *h);
        else if (!rc)
            for (uint64_t k = 0; k < nrows; k++)
                h[k] = eng__dict_hash(sp[k], sl[k]);
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
    if (schema >= 3) {
        rc = eng__delta_apply_cols(t, &r, &dc, ids, (uint32_t)nrows, key);
        eng__free(t->mem, ids);
        if (!rc && eng__rd_left(&r))
            rc = eng__err(ENG_ECORRUPT, key, "delta: trailing bytes");
        return rc;
    }
    static const uint32_t no_cache = ENG__DSLOT_COLS;
    uint32_t sc[ENG__DSLOT_COLS][ENG__DSLOT_N], scol[ENG__CSV_MAX_FIELDS], nsc = 0;
    uint8_t maxtag[ENG__CSV_MAX_FIELDS]; /* the largest tag a column may have */
    for (uint64_t i = 0; i < nc; i++) {
        scol[i] = no_cache;
        maxtag[i] = 1;
        if (kind[i] == ENG__DK_ATTR && t->cols[idx[i]].type == ENG_COL_STRING && nsc < ENG__DSLOT_COLS) {
            scol[i] = nsc++;
            maxtag[i] = schema >= 2 ? 1 + ENG__DSLOT_N : 1;
        } else if (schema >= 2) {
            if (kind[i] == ENG__DK_ATTR && t->cols[idx[i]].type == ENG_COL_DATE)
                maxtag[i] = 2;
            else if (kind[i] == ENG__DK_CONTACT && eng__val_is_phone((int)idx[i]))
                maxtag[i] = 2;
            else if (kind[i] == ENG__DK_CONSENT || kind[i] == ENG__DK_OPTOUT)
                maxtag[i] = 3;
        }
    }
    memset(sc, 0, sizeof sc[0] * nsc);
    for (uint64_t row = 0; row < nrows; row++) {
        uint32_t id = ids[row];
        if (eng__rd_left(&r) == 0 && nc) {
            eng__free(t->mem, ids);
            return eng__err(ENG_ECORRUPT, key, "delta: truncated rows");
        }
        for (uint64_t i = 0; i < nc; i++) {
            uint8_t tag = eng__drd_u8(&r);
            if (!eng__rd_ok(&r) || tag > maxtag[i]) {
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
                else if (tag >= 2 && ty == ENG_COL_STRING) { /* schema 2: the value of slot tag - 2 */
                    uint32_t e = sc[scol[i]][tag - 2];
                    if (!e)
                        rc = ENG_ECORRUPT;
                    else
                        eng__table_set_code(t, idx[i], id, e - 1);
                } else if (ty == ENG_COL_STRING) {
                    s = eng__drd_blob(&r, &l);
                    if (!s)
                        rc = ENG_ECORRUPT;
                    else if (scol[i] != no_cache)
                        rc = eng__delta_set_str_slot(t, sc[scol[i]], idx[i], id, s, l, schema < 2);
                    else
                        rc = eng__table_set_str(t, idx[i], id, (const char *)s, l);
                } else if (tag == 2) { /* schema 2, a DATE column: whole days */
                    v = eng__drd_svar(&r);
                    if (v > INT64_MAX / ENG__DAY_MS || v < INT64_MIN / ENG__DAY_MS)
                        rc = ENG_ECORRUPT;
                    else
                        rc = eng__table_set_i64(t, idx[i], id, v * ENG__DAY_MS);
                } else if (ty == ENG_COL_BOOL) {
                    v = eng__drd_u8(&r);
                    rc = eng__table_set_i64(t, idx[i], id, v != 0);
                } else {
                    v = eng__drd_svar(&r);
                    rc = eng__table_set_i64(t, idx[i], id, v);
                }
                break;
            }
            case ENG__DK_CONTACT:
                if (tag == 2) { /* schema 2, a phone channel: the number */
                    char ph[17];
                    l = eng__delta_phone_text(eng__drd_uvar(&r), ph);
                    rc = !l ? ENG_ECORRUPT : eng__table_set_contact(t, (int)idx[i], id, ph, l);
                    break;
                }
                if (tag)
                    s = eng__drd_blob(&r, &l);
                rc = tag && !s ? ENG_ECORRUPT : eng__table_set_contact(t, (int)idx[i], id, (const char *)s, l);
                break;
            case ENG__DK_CONSENT:
            case ENG__DK_OPTOUT:
                if (tag == 1) {
                    yes = eng__drd_u8(&r) != 0;
                    v = eng__drd_svar(&r);
                } else if (tag == 2) { /* schema 2: yes at the part's time (3: no, no time) */
                    yes = 1;
                    v = now;
                }
                rc = kind[i] == ENG__DK_CONSENT ? eng__table_set_consent(t, (int)idx[i], id, yes, v)
                                                : eng__table_set_optout(t, (int)idx[i], id, yes, v);
                break;
            default:
                yes = tag ? eng__drd_u8(&r) != 0 : 0;
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
