/* The in-memory customer table: dense ids, external id index, typed attribute
 * columns with null bitmaps, and per-channel contacts, consent and opt-out.
 * Every array is indexed by dense id; nothing is allocated per customer.
 * The table is a cache of what storage holds (see store.c); it is changed
 * only by replaying validated deltas (eng__table_apply_*). */
#ifndef ENG_AUDIENCE_TABLE_H
#define ENG_AUDIENCE_TABLE_H

#include "audience/dict.h"
#include "audience/idset.h"
#include "audience/tcol.h"
#include "engage/audience.h"
#include "engage/channel.h"

#include <string.h>

#define ENG__MAX_COLS 1024
#define ENG__COLNAME_MAX 64
#define ENG__ID_MAX 255
#define ENG__STR_MAX 4096

typedef struct eng__col {
    char name[ENG__COLNAME_MAX + 1];
    int type;
    uint64_t *present; /* bit set: the value is not NULL */
    int64_t *i64;      /* INT64, DECIMAL (x 10^4), DATE (ms) */
    uint32_t *code;    /* STRING: dictionary code */
    uint64_t *bits;    /* BOOL values */
    eng__dict dict;
} eng__col;

/* Contacts are nearly all distinct and never looked up by value, so they are
 * not dictionary-encoded: each lives in an append-only arena as a varint
 * length (one byte below 128) and its bytes, and the row keeps its offset + 1 (0 = none). A changed
 * contact is appended again; the old bytes stay until the table is rebuilt. */
typedef struct eng__chan {
    int used;
    uint32_t *contact; /* arena offset + 1; 0 = none */
    eng__tcol consent_t; /* consent times by palette (read with eng__table_consent_ts) */
    int64_t *optout_ts;  /* a plain column: filters read it (filter.c) */
    char *arena;
    size_t alen, acap;
    eng__idset has, consent, optout;
} eng__chan;

typedef struct eng__table {
    const eng__mem *mem;
    int idkind;
    uint32_t n;
    size_t cap; /* rows allocated in every column (a multiple of 64) */
    eng__dict sid;     /* ENG_ID_STRING: code == dense id */
    int64_t *iid;      /* ENG_ID_INT64: value per dense id */
    uint32_t *islots;  /* ENG_ID_INT64 index: dense id + 1 */
    uint32_t nislots;
    uint32_t ncols;
    eng__col *cols;
    eng__chan ch[ENG_CH_COUNT];
    eng__idset suppressed;
    eng__idset erased; /* ENG_ID_INT64: tombstone rows (no value of the id space is free) */
    /* Each channel's reachable set, kept between resolves (bit c of reach_ok:
     * reach[c] is current); any change of a contact, consent, opt-out or
     * suppression drops it (eng__table_reach_drop). */
    eng__idset reach[ENG_CH_COUNT];
    uint32_t reach_ok;
    struct eng__chist *hist; /* NULL, or consent changes are noted there (chist.c's replay) */
    struct eng__prog *pg;    /* NULL, or the id indexes' rehashes step it (eng__table_set_prog) */
} eng__table;

/* Note one consent (kind 0) or opt-out (kind 1) change before it is applied:
 * the new value (yes, ts) and the old (oyes, ots); chist.c. */
struct eng__chist;
int eng__chist_note(struct eng__chist *h, int kind, int ch, uint32_t id, int yes, int64_t ts, int oyes, int64_t ots);

void eng__table_init(eng__table *t, const eng__mem *mem);
void eng__table_free(eng__table *t);
size_t eng__table_bytes(const eng__table *t);
/* Room for @p more customers (an import's row count), so filling does not
 * reallocate and rehash step by step. */
int eng__table_reserve(eng__table *t, size_t more);
/* Rehashing an index of 10^6 ids or strings takes tens of ms: while @p pg is
 * set (NULL: unset), the id and column dictionaries step it as they rehash,
 * and a cancel there fails the insert with ENG_ECANCELLED. */
void eng__table_set_prog(eng__table *t, struct eng__prog *pg);
/* Give back the spare capacity of growth by doubling (after an import). */
void eng__table_trim(eng__table *t);

int eng__table_add_col(eng__table *t, const char *name, int type);
int eng__table_col_index(const eng__table *t, const char *name, size_t len);

/* Dense id of an external id, or -1. */
int64_t eng__table_find_str(const eng__table *t, const char *s, size_t len);
int64_t eng__table_find_int(const eng__table *t, int64_t v);
/* Find or insert; *isnew tells which. */
int eng__table_upsert_str(eng__table *t, const char *s, size_t len, uint32_t *id, int *isnew);
int eng__table_upsert_int(eng__table *t, int64_t v, uint32_t *id, int *isnew);
/* Batch form for string ids: ids[i] receives the dense id of s[i], whose
 * eng__dict_hash is hash[i]; *ins counts new customers. */
int eng__table_upsert_strs(eng__table *t, const char *const *s, const size_t *len, size_t n, const uint32_t *hash,
                           uint32_t *ids, uint64_t *ins);

/* Setters (id < n). v/len NULL/0 for NULL where it applies. The simple
 * ones are inline: an import calls them for every value. */
static inline int eng__table_set_null(eng__table *t, uint32_t col, uint32_t id)
{
    t->cols[col].present[id >> 6] &= ~(1ull << (id & 63));
    return 0;
}

static inline int eng__table_set_i64(eng__table *t, uint32_t col, uint32_t id, int64_t v)
{
    eng__col *c = &t->cols[col];
    if (c->type == ENG_COL_BOOL) {
        if (v)
            c->bits[id >> 6] |= 1ull << (id & 63);
        else
            c->bits[id >> 6] &= ~(1ull << (id & 63));
    } else {
        c->i64[id] = v;
    }
    c->present[id >> 6] |= 1ull << (id & 63);
    return 0;
}

/* A STRING column's value by its dictionary code (already interned). */
static inline void eng__table_set_code(eng__table *t, uint32_t col, uint32_t id, uint32_t code)
{
    eng__col *c = &t->cols[col];
    c->code[id] = code;
    c->present[id >> 6] |= 1ull << (id & 63);
}
int eng__table_set_str(eng__table *t, uint32_t col, uint32_t id, const char *s, size_t len);
int eng__table_set_contact(eng__table *t, int ch, uint32_t id, const char *s, size_t len);
/* yes: 1 grant at ts, 0 withdraw. */
int eng__table_set_consent(eng__table *t, int ch, uint32_t id, int yes, int64_t ts);
int eng__table_set_optout(eng__table *t, int ch, uint32_t id, int yes, int64_t ts);
int eng__table_set_suppressed(eng__table *t, uint32_t id, int yes);

/* A part applied column by column (delta_cols.c) pays the setters' per-call
 * work once per column: eng__table_contacts_begin marks channel ch used,
 * drops its kept reachable set, allocates its contact column and makes room
 * for @p bytes more in its arena (ENG_ETOOBIG past 4 GiB), those of @p rows
 * rows (a channel's first column sizes the arena for all the table's
 * reserved rows at that rate); then each eng__table_put_contact of
 * 0 < len <= UINT16_MAX appends within that room. */
int eng__table_contacts_begin(eng__table *t, int ch, size_t bytes, size_t rows);
/* A contact of fewer than 128 bytes at the arena's end: its one-byte
 * length, then its text (already written there). delta_cols.c's contact
 * loop does the same with the arena's end in locals. */
static inline void eng__table_place(eng__table *t, int k, uint32_t id, size_t len)
{
    eng__chan *ch = &t->ch[k];
    ch->arena[ch->alen] = (char)len;
    ch->contact[id] = (uint32_t)ch->alen + 1;
    ch->alen += 1 + len;
}
static inline int eng__table_put_contact(eng__table *t, int k, uint32_t id, const char *s, size_t len)
{
    eng__chan *ch = &t->ch[k];
    int rc = eng__idset_add(&ch->has, id);
    if (rc)
        return rc;
    if (len < 0x80) {
        eng__copy_short(ch->arena + ch->alen + 1, s, len);
        eng__table_place(t, k, id, len);
        return 0;
    }
    /* The length as a varint: one byte for nearly every contact. */
    uint8_t *p = (uint8_t *)ch->arena + ch->alen, *q = p;
    size_t v = len;
    for (; v >= 0x80; v >>= 7)
        *q++ = (uint8_t)(v | 0x80);
    *q++ = (uint8_t)v;
    memcpy(q, s, len);
    ch->contact[id] = (uint32_t)ch->alen + 1;
    ch->alen += (size_t)(q - p) + len;
    return 0;
}
/* Channel ch used and its kept reachable set dropped, before consent or
 * opt-out changes made without the per-value setters. */
void eng__table_chan_begin(eng__table *t, int ch);

/* The time consent was given on channel ch (0 when none). */
static inline int64_t eng__table_consent_ts(const eng__table *t, int ch, uint32_t id)
{
    return eng__tcol_get(&t->ch[ch].consent_t, id);
}

/* The contact of a customer on a channel (NULL when none). */
const char *eng__table_contact(const eng__table *t, int ch, uint32_t id, size_t *len);

/* Customers reachable on channel ch: has contact, consent, no opt-out, not suppressed. */
int eng__table_reachable_set(const eng__table *t, int ch, eng__idset *out);
/* The same set, kept in the table: built on the first call after a change,
 * then lent (*out valid until the next change of the table); ENG_ENOMEM. */
int eng__table_reachable_kept(eng__table *t, int ch, const eng__idset **out);
/* Forget the kept reachable sets of the channels in mask (every setter of a
 * contact, consent, opt-out or suppression calls it before changing them). */
static inline void eng__table_reach_drop(eng__table *t, uint32_t mask)
{
    if (t->reach_ok & mask) {
        for (int c = 0; c < ENG_CH_COUNT; c++)
            if (t->reach_ok & mask & (1u << c))
                eng__idset_free(&t->reach[c]);
        t->reach_ok &= ~mask;
    }
}
int eng__table_reachable(const eng__table *t, int ch, uint32_t id);

/* An erased customer keeps its dense id (frozen audiences and the send ledger
 * name it) with every value cleared; its external id becomes a tombstone that
 * no import can produce: 0x1f and the dense id in 8 hex digits. */
#define ENG__TOMB_LEN 9
static inline void eng__tombstone(uint32_t id, char out[ENG__TOMB_LEN])
{
    static const char hx[] = "0123456789abcdef";
    out[0] = 0x1f;
    for (int i = 0; i < 8; i++)
        out[1 + i] = hx[(id >> (28 - 4 * i)) & 15];
}
/* 1 when customer id has been erased. */
int eng__table_erased(const eng__table *t, uint32_t id);
/* ENG_ID_INT64: every 64-bit value is a valid id, so an erased row keeps no
 * value at all: it is appended outside the id index and listed in t->erased
 * (a compacted delta writes it with the ENG__IDK_INT_TOMB id encoding). */
int eng__table_append_tomb(eng__table *t, uint32_t *id);

static inline int eng__bit(const uint64_t *w, uint32_t i) { return (int)((w[i >> 6] >> (i & 63)) & 1); }

#endif
