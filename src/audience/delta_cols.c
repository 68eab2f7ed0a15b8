/* Delta schema 3 (delta.c has the layout): a part's values applied a column
 * at a time. The kind's dispatch, the column's arrays and a channel's setup
 * are paid once per column of a part instead of once per value, and a
 * consent column of "yes at the part's time" becomes one palette look-up
 * and in-order id-set adds. Tags and values are those of schema 2. */
#include "audience/delta_impl.h"
#include "audience/values.h"

#define BAD ENG_ECORRUPT /* turned into a message naming the part by the caller */

unsigned eng__aud_cols_fast = 1;

/* The column loops read a value's tag and varint through a local pointer,
 * unchecked, while enough bytes are left for the longest form they take (a
 * tag and an 8-byte varint); anything else (the column's last bytes, a
 * longer varint, a sticky error) goes to the checked readers, which decide
 * exactly as before. The reader in memory is passed to those only, so the
 * common case keeps its pointer in a register. */
#define FAST_LEFT 9

/* A varint of at most 8 bytes from the 8 at p: its length (0: longer, for
 * the checked reader); the value the checked reader gives. */
static inline unsigned uvar8(const uint8_t *p, uint64_t *v)
{
    if (p[0] < 0x80) { /* a small value: one byte */
        *v = p[0];
        return 1;
    }
    uint64_t w = eng__get64(p);
    uint64_t stop = ~w & 0x8080808080808080ull; /* bytes without a continuation bit */
    if (!stop)
        return 0;
    /* its bytes, 7 bits each, packed: pairs, then fours, then eight */
    uint64_t x = w & (stop ^ (stop - 1)) & 0x7f7f7f7f7f7f7f7full;
    x = (x & 0x007f007f007f007full) | ((x & 0x7f007f007f007f00ull) >> 1);
    x = (x & 0x00003fff00003fffull) | ((x & 0x3fff00003fff0000ull) >> 2);
    x = (x & 0x000000000fffffffull) | ((x & 0x0fffffff00000000ull) >> 4);
    *v = x;
    return (unsigned)(__builtin_ctzll(stop) >> 3) + 1;
}

static inline void set_bit(uint64_t *w, uint32_t id)
{
    w[id >> 6] |= 1ull << (id & 63);
}

static inline void clear_bit(uint64_t *w, uint32_t id)
{
    w[id >> 6] &= ~(1ull << (id & 63));
}

/* A column's present bits set a word at a time: a part's ids mostly ascend,
 * and a read-modify-write of memory per id made each store wait for the one
 * before (a chain through one word). Pending bits are or-ed in when the word
 * changes and at the end; a clear drops its pending bit and clears memory,
 * so the order of sets and clears of one id is kept. */
typedef struct bitacc {
    uint64_t *w, acc;
    uint32_t at;
} bitacc;

static inline void ba_flush(bitacc *b)
{
    if (b->acc)
        b->w[b->at] |= b->acc;
    b->acc = 0;
}

static inline void ba_set(bitacc *b, uint32_t id)
{
    if (id >> 6 != b->at) {
        ba_flush(b);
        b->at = id >> 6;
    }
    b->acc |= 1ull << (id & 63);
}

static inline void ba_clear(bitacc *b, uint32_t id)
{
    if (id >> 6 == b->at)
        b->acc &= ~(1ull << (id & 63));
    clear_bit(b->w, id);
}

/* A STRING column; slots: its slot table (NULL past the first ENG__DSLOT_COLS). */
static int str_col(eng__table *t, eng__rd *r, uint32_t col, uint32_t *slots, const uint32_t *ids, uint32_t n)
{
    eng__col *c = &t->cols[col];
    bitacc pb = {c->present, 0, UINT32_MAX};
    int rc = ENG_OK, fast = eng__aud_cols_fast && !r->err;
    const uint8_t *p = r->p, *end = r->end;
    for (uint32_t row = 0; row < n && !rc; row++) {
        uint32_t id = ids[row];
        if (fast && p < end) { /* NULL, or a value of this part met before */
            uint8_t tag = *p;
            if (tag == 0) {
                p++;
                ba_clear(&pb, id);
                continue;
            }
            if (slots && tag - 2u < ENG__DSLOT_N && slots[tag - 2]) {
                p++;
                c->code[id] = slots[tag - 2] - 1;
                ba_set(&pb, id);
                continue;
            }
        }
        r->p = p;
        uint8_t tag = eng__drd_u8(r);
        p = r->p;
        if (tag == 0) {
            ba_clear(&pb, id);
        } else if (tag == 1) { /* sets its present bit in memory: or-ed with the pending ones */
            size_t l;
            r->p = p;
            const uint8_t *s = eng__drd_blob(r, &l);
            p = r->p;
            rc = !s ? BAD
                    : slots ? eng__delta_set_str_slot(t, slots, col, id, s, l, 0)
                            : eng__table_set_str(t, col, id, (const char *)s, l);
        } else if (slots && tag - 2u < ENG__DSLOT_N && slots[tag - 2]) {
            c->code[id] = slots[tag - 2] - 1;
            ba_set(&pb, id);
        } else {
            rc = BAD;
        }
        fast = fast && !r->err;
    }
    r->p = p;
    ba_flush(&pb);
    return rc;
}

/* An INT64, DECIMAL, DATE (tag 2: whole days) or BOOL column. */
static int num_col(eng__table *t, eng__rd *r, uint32_t col, const uint32_t *ids, uint32_t n)
{
    eng__col *c = &t->cols[col];
    uint64_t *present = c->present;
    if (c->type == ENG_COL_BOOL) {
        for (uint32_t row = 0; row < n; row++) {
            uint32_t id = ids[row];
            uint8_t tag = eng__drd_u8(r);
            if (tag > 1)
                return BAD;
            if (tag && eng__drd_u8(r))
                set_bit(c->bits, id);
            else if (tag)
                clear_bit(c->bits, id);
            if (tag)
                set_bit(present, id);
            else
                clear_bit(present, id);
        }
        return ENG_OK;
    }
    int64_t *v = c->i64;
    int days = c->type == ENG_COL_DATE, rc = ENG_OK, fast = eng__aud_cols_fast && !r->err;
    bitacc pb = {present, 0, UINT32_MAX};
    const uint8_t *p = r->p, *end = r->end;
    for (uint32_t row = 0; row < n && !rc; row++) {
        uint32_t id = ids[row];
        if (fast && end - p >= FAST_LEFT) {
            uint8_t tag = *p;
            uint64_t u;
            unsigned l;
            if (tag == 0) {
                p++;
                ba_clear(&pb, id);
                continue;
            }
            if (tag == 1 && (l = uvar8(p + 1, &u))) {
                v[id] = eng__unzig(u);
                p += 1 + l;
                ba_set(&pb, id);
                continue;
            }
            if (tag == 2 && days && (l = uvar8(p + 1, &u))) {
                int64_t d = eng__unzig(u);
                if (d <= INT64_MAX / ENG__DAY_MS && d >= INT64_MIN / ENG__DAY_MS) {
                    v[id] = d * ENG__DAY_MS;
                    p += 1 + l;
                    ba_set(&pb, id);
                    continue;
                }
            }
        }
        r->p = p;
        uint8_t tag = eng__drd_u8(r);
        if (tag == 1) {
            v[id] = eng__drd_svar(r);
            ba_set(&pb, id);
        } else if (tag == 2 && days) {
            int64_t d = eng__drd_svar(r);
            if (d > INT64_MAX / ENG__DAY_MS || d < INT64_MIN / ENG__DAY_MS) {
                rc = BAD;
            } else {
                v[id] = d * ENG__DAY_MS;
                ba_set(&pb, id);
            }
        } else if (tag == 0) {
            ba_clear(&pb, id);
        } else {
            rc = BAD;
        }
        p = r->p;
        fast = fast && !r->err;
    }
    r->p = p;
    ba_flush(&pb);
    return rc;
}

/* A contact column: the arena is sized once for the whole column (a value
 * takes at most its encoded bytes; a phone number, tag 2, at most 15 more,
 * which also covers the 17 bytes eng__delta_phone_text writes in place).
 * With buf (room for n ids; the ids distinct and ascending) the ids given a
 * contact join the channel's set together at the end. */
static int contact_col(eng__table *t, eng__rd *r, int ch, size_t bytes, const uint32_t *ids, uint32_t n, uint32_t *buf)
{
    int phone = eng__val_is_phone(ch);
    int rc = eng__table_contacts_begin(t, ch, bytes + (phone ? 15u * n : 0), n);
    uint32_t nh = 0;
    int fast = eng__aud_cols_fast && !r->err;
    const uint8_t *p = r->p, *end = r->end;
    /* The arena's end kept here: a byte stored into the arena may alias the
     * table's fields, which the compiler would load again after each. */
    eng__chan *cc = &t->ch[ch];
    char *arena = cc->arena;
    size_t alen = cc->alen;
    for (uint32_t row = 0; row < n && !rc; row++) {
        uint32_t id = ids[row];
        const char *s = NULL;
        size_t l = 0;
        uint64_t num = 0;
        uint8_t tag;
        unsigned k;
        if (fast && end - p >= FAST_LEFT && (tag = *p) == 2 && phone && (k = uvar8(p + 1, &num))) {
            p += 1 + k;
        } else if (fast && end - p >= 2 && (tag = *p) == 1 && p[1] < 0x80 && (size_t)(end - p - 2) >= p[1]) {
            s = (const char *)p + 2;
            l = p[1];
            p += 2 + l;
        } else { /* the checked readers */
            r->p = p;
            tag = eng__drd_u8(r);
            if (tag == 2 && phone)
                num = eng__drd_uvar(r);
            else if (tag == 1 && !(s = (const char *)eng__drd_blob(r, &l)))
                return BAD;
            p = r->p;
            fast = fast && !r->err;
        }
        if (tag == 2 && phone) { /* the text made where it is kept (after its one-byte length) */
            if (!(l = eng__delta_phone_text(num, arena + alen + 1))) {
                cc->alen = alen;
                return BAD;
            }
        } else if (tag > 1) {
            cc->alen = alen;
            return BAD;
        } else if (l && l < 0x80 && buf) {
            eng__copy_short(arena + alen + 1, s, l);
        } else { /* by the table's setters (the id joins the set there) */
            cc->alen = alen;
            rc = l && l <= UINT16_MAX ? eng__table_put_contact(t, ch, id, s, l) : eng__table_set_contact(t, ch, id, s, l);
            arena = cc->arena;
            alen = cc->alen;
            continue;
        }
        if (!buf && (rc = eng__idset_add(&cc->has, id)))
            break;
        /* a short contact at the arena's end: its length, then its text (eng__table_place) */
        arena[alen] = (char)l;
        cc->contact[id] = (uint32_t)alen + 1;
        alen += 1 + l;
        if (buf)
            buf[nh++] = id;
    }
    cc->alen = alen;
    r->p = p;
    return rc ? rc : eng__idset_add_many(&cc->has, buf, nh);
}

/* A consent or opt-out value by the per-value setter (tag 0..3). */
static int flag_one(eng__table *t, eng__rd *r, int kind, int ch, uint32_t id, uint8_t tag, int64_t now)
{
    int yes = 0;
    int64_t v = 0;
    if (tag == 1) {
        yes = eng__drd_u8(r) != 0;
        v = eng__drd_svar(r);
    } else if (tag == 2) {
        yes = 1;
        v = now;
    } else if (tag > 3) {
        return BAD;
    }
    return kind == ENG__DK_CONSENT ? eng__table_set_consent(t, ch, id, yes, v) : eng__table_set_optout(t, ch, id, yes, v);
}

/* A consent column over distinct ascending ids with no consent history
 * being noted: rows of "yes at the part's time" (tag 2) and of "no" (tags
 * 0 and 3) are set together; buf has room for n ids. */
static int consent_col(eng__table *t, eng__rd *r, int ch, int64_t now, const uint32_t *ids, uint32_t n, uint32_t *buf)
{
    eng__chan *c = &t->ch[ch];
    uint32_t ny = 0, nn = n; /* yes from the front of buf, no from the back */
    int rc = ENG_OK;
    eng__table_chan_begin(t, ch);
    int fast = eng__aud_cols_fast && !r->err;
    for (uint32_t row = 0; row < n && !rc; row++) {
        uint8_t tag = fast && r->p < r->end && (*r->p == 2 || *r->p == 0 || *r->p == 3) ? *r->p++ : eng__drd_u8(r);
        if (tag == 2)
            buf[ny++] = ids[row];
        else if (tag == 0 || tag == 3)
            buf[--nn] = ids[row];
        else
            rc = flag_one(t, r, ENG__DK_CONSENT, ch, ids[row], tag, now);
    }
    size_t rows = t->cap + 1;
    if (!rc)
        rc = eng__tcol_set_many(t->mem, &c->consent_t, rows, buf, ny, now);
    if (!rc)
        rc = eng__idset_add_many(&c->consent, buf, ny);
    if (!rc)
        rc = eng__tcol_set_many(t->mem, &c->consent_t, rows, buf + nn, n - nn, 0);
    for (uint32_t a = nn, b = n; a + 1 < b; a++, b--) { /* the "no" ids, put from the back: ascending */
        uint32_t x = buf[a];
        buf[a] = buf[b - 1];
        buf[b - 1] = x;
    }
    return rc ? rc : eng__idset_remove_many(&c->consent, buf + nn, n - nn);
}

int eng__delta_apply_cols(eng__table *t, eng__rd *r, const eng__dcols *dc, const uint32_t *ids, uint32_t nrows,
                          const char *key)
{
    /* Distinct ascending ids (a bulk load's new customers): a consent
     * column's rows may then be set in any order. */
    int ascending = 1;
    for (uint32_t k = 1; k < nrows && ascending; k++)
        ascending = ids[k - 1] < ids[k];
    uint32_t *buf = NULL, slots[ENG__DSLOT_COLS][ENG__DSLOT_N], nsc = 0;
    int rc = ENG_OK;
    for (uint32_t i = 0; i < dc->nc && !rc; i++) {
        uint64_t len = eng__rd_uvar(r);
        if (!eng__rd_ok(r) || len > eng__rd_left(r)) {
            rc = BAD;
            break;
        }
        eng__rd cr; /* this column's bytes */
        eng__rd_init(&cr, r->p, (size_t)len);
        r->p += len;
        int ch = (int)dc->idx[i];
        switch (dc->kind[i]) {
        case ENG__DK_ATTR:
            if (t->cols[dc->idx[i]].type != ENG_COL_STRING) {
                rc = num_col(t, &cr, dc->idx[i], ids, nrows);
                break;
            }
            if (nsc < ENG__DSLOT_COLS)
                memset(slots[nsc], 0, sizeof slots[nsc]);
            rc = str_col(t, &cr, dc->idx[i], nsc < ENG__DSLOT_COLS ? slots[nsc] : NULL, ids, nrows);
            nsc++;
            break;
        case ENG__DK_CONTACT:
            if (ascending && !buf && !(buf = eng__malloc(t->mem, (nrows ? nrows : 1) * sizeof *buf)))
                rc = eng__nomem();
            else
                rc = contact_col(t, &cr, ch, (size_t)len, ids, nrows, ascending ? buf : NULL);
            break;
        case ENG__DK_CONSENT:
        case ENG__DK_OPTOUT:
            if (dc->kind[i] == ENG__DK_CONSENT && ascending && !t->hist) {
                if (!buf && !(buf = eng__malloc(t->mem, (nrows ? nrows : 1) * sizeof *buf)))
                    rc = eng__nomem();
                else
                    rc = consent_col(t, &cr, ch, dc->now, ids, nrows, buf);
                break;
            }
            for (uint32_t row = 0; row < nrows && !rc; row++)
                rc = flag_one(t, &cr, dc->kind[i], ch, ids[row], eng__drd_u8(&cr), dc->now);
            break;
        default: /* suppressed */
            for (uint32_t row = 0; row < nrows && !rc; row++) {
                uint8_t tag = eng__drd_u8(&cr);
                rc = tag > 1 ? BAD : eng__table_set_suppressed(t, ids[row], tag && eng__drd_u8(&cr));
            }
            break;
        }
        if (!rc && (!eng__rd_ok(&cr) || eng__rd_left(&cr)))
            rc = BAD;
    }
    eng__free(t->mem, buf);
    if (rc == BAD)
        rc = eng__err(ENG_ECORRUPT, key, "delta: bad values in a column");
    return rc;
}
