/* The customer import's field encoders (import.c, row by row, and
 * import_block.c, a column of a block at a time): one value checked and
 * appended to its column's writer. Inline so that each caller's loop gets
 * them specialised. */
#ifndef ENG_AUDIENCE_IMPORT_FIELD_H
#define ENG_AUDIENCE_IMPORT_FIELD_H

#include "audience/import_impl.h"
#include "audience/values.h"

#include <string.h>

#define NO_SLOT 0xff

/* Delta encoders writing through a raw pointer: the row's room is reserved
 * once (see cimp_row_fields and the column-wise block), so no per-value bounds or growth checks. The
 * encodings are those of eng__wr_uvar / eng__wr_svar / eng__wr_blob. */
static inline uint8_t *eng__enc_uvar(uint8_t *o, uint64_t v)
{
    while (v >= 0x80) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    return o;
}

static inline uint8_t *eng__enc_svar(uint8_t *o, int64_t v)
{
    return eng__enc_uvar(o, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static inline uint8_t *eng__enc_blob(uint8_t *o, const char *s, size_t n)
{
    o = eng__enc_uvar(o, n);
    memcpy(o, s, n);
    return o + n;
}

/* A STRING value: by its slot when the slot holds it already (tag 2 + slot),
 * else in full (tag 1), which then fills the slot once the row is accepted. */
static inline uint8_t *eng__put_str(cpar *p, uint32_t i, const char *s, size_t n, uint8_t *o, const uint8_t *base)
{
    uint32_t sc = p->ci->scol[i];
    if (sc == NO_SLOT) {
        *o++ = 1;
        return eng__enc_blob(o, s, n);
    }
    uint64_t a, b;
    eng__dslot_words((const uint8_t *)s, n, &a, &b);
    uint32_t k = eng__dslot_hash(a, b, n);
    const struct dslot *d = &p->slot[sc][k];
    if (d->used && d->len == n && (n <= 16 ? d->a == a && d->b == b : memcmp(base + d->off, s, n) == 0)) {
        *o++ = (uint8_t)(2 + k);
        return o;
    }
    *o++ = 1;
    o = eng__enc_uvar(o, n);
    p->pend[p->npend++] = (struct dpend){(size_t)(o - base), (uint32_t)n, (uint8_t)sc, (uint8_t)k, a, b};
    memcpy(o, s, n);
    return o + n;
}

/* Validate one field and append its encoding at *op (in the writer whose
 * data is @p base). ascii: the field is known to be plain ASCII (the UTF-8
 * check is then a no-op). quoted: the field was quoted in the CSV, so an
 * empty one is the empty string (for a string column; no other type has an
 * empty value) rather than NULL. Inlined into each row loop: a call per
 * field cost about 5 % of the parse. */
static inline __attribute__((always_inline)) int eng__put_field(cpar *p, uint32_t i, unsigned kind, unsigned type,
                                                             const char *s, size_t n, int ascii, int quoted,
                                                             uint8_t **op, const uint8_t *base, eng__rowerr *err)
{
    const cimp *ci = p->ci;
    uint8_t *o = *op;
    const char *why = "";
    int rc = ENG_OK;
    int64_t v = 0;
    int yes = 0;
    if (!n && quoted && kind == ENG__DK_ATTR && type == ENG_COL_STRING) {
        *op = eng__put_str(p, i, s, 0, o, base);
        return 0;
    }
    if (!n) {
        *o++ = 0; /* NULL / clear, whatever the kind */
        *op = o;
        return 0;
    }
    if (!ascii && (rc = eng__val_utf8(s, n, &why)))
        goto bad;
    switch (kind) {
    case ENG__DK_ATTR:
        switch (type) {
        case ENG_COL_STRING:
            if (n > ENG__STR_MAX) {
                rc = ENG_ETOOBIG;
                why = "string longer than 4096 bytes";
                goto bad;
            }
            o = eng__put_str(p, i, s, n, o, base);
            break;
        case ENG_COL_INT64:
            if (eng__val_int64_fast(s, n, &v) && (rc = eng__val_int64(s, n, &v, &why)))
                goto bad;
            *o++ = 1;
            o = eng__enc_svar(o, v);
            break;
        case ENG_COL_DECIMAL:
            if (eng__val_decimal_fast(s, n, &v) && (rc = eng__val_decimal(s, n, &v, &why)))
                goto bad;
            *o++ = 1;
            o = eng__enc_svar(o, v);
            break;
        case ENG_COL_DATE:
            if (eng__val_date_days_fast(s, n, &v) == 0) { /* a plain date, as the tag 2 below */
                *o++ = 2;
                o = eng__enc_svar(o, v);
                break;
            }
            if ((rc = eng__val_date(s, n, &v, &why)))
                goto bad;
            if (v % ENG__DAY_MS == 0) { /* a plain date: whole days */
                *o++ = 2;
                o = eng__enc_svar(o, v / ENG__DAY_MS);
                break;
            }
            *o++ = 1;
            o = eng__enc_svar(o, v);
            break;
        default:
            if (eng__val_bool_fast(s, n, &yes) && (rc = eng__val_bool(s, n, &yes, &why)))
                goto bad;
            *o++ = 1;
            *o++ = (uint8_t)yes;
            break;
        }
        break;
    case ENG__DK_CONTACT:
        if (type && n <= 4096) { /* a phone channel (longer: too big, below): stored as an integer */
            uint64_t num;
            if (eng__val_phone_fast(s, n, &num) && (rc = eng__val_phone(s, n, &num, &why)))
                goto bad;
            *o++ = 2;
            o = eng__enc_uvar(o, num);
            break;
        }
        if ((rc = eng__val_contact((int)ci->map[i].idx, s, n, &why)))
            goto bad;
        *o++ = 1;
        o = eng__enc_blob(o, s, n);
        break;
    case ENG__DK_SUPP:
        if (eng__val_bool_fast(s, n, &yes) && (rc = eng__val_bool(s, n, &yes, &why)))
            goto bad;
        *o++ = 1;
        *o++ = (uint8_t)yes;
        break;
    default: { /* consent, opt-out */
        int has_ts = 0;
        if (eng__val_bool_fast(s, n, &yes) && (rc = eng__val_flag(s, n, &yes, &v, &has_ts, &why)))
            goto bad;
        if (yes && !has_ts)
            v = ci->now; /* "yes" without a time: recorded at import */
        if ((yes && v == ci->now) || (!yes && v == 0)) {
            *o++ = yes ? 2 : 3; /* the part's time / no time */
            break;
        }
        *o++ = 1;
        *o++ = (uint8_t)yes;
        o = eng__enc_svar(o, v);
        break;
    }
    }
    *op = o;
    return 0;
bad:
    err->col = i + 1;
    err->code = rc;
    err->why = why;
    return 1;
}

/* Schema 3: a writer per field, each with room for at least @p need more
 * bytes, and headroom (4 KiB at first, doubling to 64 KiB) so that this runs
 * once in many rows (p->colroom: the room every writer has left at least). */
int eng__cpar_room(cpar *p, size_t need);

#endif
