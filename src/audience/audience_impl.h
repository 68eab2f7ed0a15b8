/* The audience layer's engine state, stored record types and keys.
 *
 * Storage is the truth; the state in the engine slot is a cache loaded on
 * first use. Every org has its own customer table, columns, groups and frozen
 * audiences under its own prefix P = "a/o/<org>/" (org ids hold no '/'), so
 * two orgs importing the same external ids never share a row:
 *   P s                          schema (id kind, columns)          0x0301
 *   P t/<seq:016x>/<part:08x>    a validated import delta (rows)    0x0302
 *   P g/<id:08x>                 group definition                   0x0303
 *   P m/<id:08x>                 uploaded group members (id set)    0x0304
 *   P f/<key>                    frozen audience                    0x0305
 *   a/i/<id:08x>                 the org owning group id            0x0306
 *   P gc                         the global control setting         0x0307
 *   P h/<seq:016x>/<part:08x>    origin of a delta that can change
 *                                consent: source, actor, time       0x0308
 *   P c/<part:08x>               consent history archive (chist.c)  0x0309
 * Group ids come from one engine-wide sequence (store/seq.h), so an id names
 * at most one group of one org. The customer table is rebuilt by replaying the deltas in key order, so
 * dense ids come out the same on every load. A change is written in one
 * batch and applied in memory only after the commit; if anything fails after
 * the commit the cache is dropped and reloaded on next use. */
#ifndef ENG_AUDIENCE_IMPL_H
#define ENG_AUDIENCE_IMPL_H

#include "core/engine_impl.h"
#include "audience/table.h"
#include "audience/split_cache.h"
#include "audience/csv.h"
#include "store/record.h"
#include "base/utf8.h"
#include "engage/rules.h"
#include "audience/audience_link.h"
#include "audience/values.h"

#include <string.h>

enum {
    ENG__REC_AUD_SCHEMA = 0x0301,
    ENG__REC_AUD_DELTA = 0x0302,
    ENG__REC_AUD_GROUP = 0x0303,
    ENG__REC_AUD_MEMBERS = 0x0304,
    ENG__REC_AUD_FROZEN = 0x0305,
    ENG__REC_AUD_OWNER = 0x0306,
    ENG__REC_AUD_GCONTROL = 0x0307,
    ENG__REC_AUD_ORIGIN = 0x0308,
    ENG__REC_AUD_CHIST = 0x0309,
};

#define ENG__MAX_GROUP_REFS 256
#define ENG__GROUP_NAME_MAX 128
#define ENG__EXPR_MAX 65536

typedef struct eng__group {
    uint32_t id;
    int kind;
    char *name;
    char *expr;            /* filter */
    int op;                /* combined */
    uint32_t *inc, *exc;   /* combined */
    uint32_t ninc, nexc;
    eng__idset members;    /* uploaded */
} eng__group;

#define ENG__AUD_PFX_MAX 80

/* The global control setting as stored (mode 0: off). */
typedef struct eng__gcontrol {
    int mode;
    uint32_t percent, group;
    uint64_t seed;
} eng__gcontrol;

typedef struct eng__aud {
    eng_engine *e;
    char org[ENG__AUD_PFX_MAX];
    char pfx[ENG__AUD_PFX_MAX]; /* "a/o/<org>/" */
    size_t plen;
    int stale;                  /* another engine changed this org's state: dropped at the next sync */
    char obj[96];               /* what the call changes, for the audit */
    char detail[160];
    eng__table t;
    uint64_t next_seq;
    eng__group *g;
    uint32_t ng;
    size_t gcap;
    uint32_t next_gid;
    eng__gcontrol gc;           /* the org's global control group (gcontrol.c) */
    eng__split_cache split;     /* test-side bitmaps of the seeds resolved lately */
} eng__aud;

/* gcontrol.c: load the setting (with the state); is @p id a member now; split
 * @p all into test (non-members) and control (members). */
int eng__gc_load(eng__aud *a);
int eng__gc_member(const eng__aud *a, uint32_t id);
int eng__gc_split(eng__aud *a, const eng__idset *all, eng__idset *test, eng__idset *control);
/* A control list (the global one, a campaign's own): ENG_OK for an uploaded group of @p a,
 * else its error at @p what. */
int eng__aud_control_list_check(eng__aud *a, uint32_t group, const char *what);

/* The loaded state of @p org (loading it on first use); ENG_EDENIED without
 * an org. Call inside eng__enter. The _cx form takes the org of @p cx and
 * clears the audit text (a->obj, a->detail) for the call. */
int eng__aud_get(eng_engine *e, const char *org, eng__aud **out);
int eng__aud_get_cx(eng_engine *e, const eng__aud_cx *cx, eng__aud **out);
/* Forget every org's cached state; the next eng__aud_get reloads from storage. */
void eng__aud_drop(eng_engine *e);

/* Roll the open batch back, keeping the error that caused it; returns rc. */
int eng__aud_abort(eng_store *s, int rc);
/* Append @p cx's audit entry (a->obj, a->detail; none when cx or its audit
 * is NULL), then commit; on failure roll back and drop the cache (the
 * outcome may be unknown). */
int eng__aud_commit(eng__aud *a, const eng__aud_cx *cx);

/* Schema record (in its own batch, audited). */
int eng__aud_put_schema(eng__aud *a, const eng__aud_cx *cx);

/* Delta records: columns of an import (kind + index) then rows. */
/* The id kind byte of a delta is the table's #eng_id_kind, or ENG__IDK_INT_TOMB:
 * integer ids each preceded by a u8 (0: svar id follows; 1: a tombstone row,
 * no id), written only by a rewrite (compact.c), which starts from an empty
 * table, so a tombstone row gets its old dense id back. */
#define ENG__IDK_INT_TOMB 0x82
enum { ENG__DK_ATTR = 1, ENG__DK_CONTACT = 2, ENG__DK_CONSENT = 3, ENG__DK_OPTOUT = 4, ENG__DK_SUPP = 5 };
/* Delta schema 2 (1 is still read, and still written by compaction and
 * opt-out deltas; 3, written by the import, is 2 grouped by column) adds the part's time after the id kind
 * and denser values behind tags 2 and up (delta.c has the list): a repeated
 * string value by its slot in a per-part cache, dates in whole days, phone
 * numbers as integers, consent "yes at the part's time" and "no" in the tag. */
#define ENG__DELTA_V 3
/* The schema an import writes: ENG__DELTA_V (3, the values of schema 2
 * grouped by column); tests write 2 to check that stored parts of schema 2
 * still replay. */
extern unsigned eng__aud_delta_write_v;
#define ENG__DAY_MS 86400000
#define ENG__DSLOT_COLS 8  /* the first 8 STRING columns of a part use slots */
#define ENG__DSLOT_N 128   /* slots per column: tags 2 .. 129 */
/* The slot of a string value: writer and reader must agree. It hashes two
 * words: the first 8 bytes and the last 8 (l >= 8), or the bytes (l < 8,
 * b = 0); for l <= 16 they are the value itself, so the writer compares
 * them instead of the bytes. */
static inline void eng__dslot_words(const uint8_t *s, size_t l, uint64_t *a, uint64_t *b)
{
    *a = *b = 0;
    if (l >= 8) {
        memcpy(a, s, 8);
        memcpy(b, s + l - 8, 8);
    } else if (l >= 4) { /* the bytes, first lowest: two overlapping 4-byte words */
        uint64_t x = eng__le4((const char *)s), y = eng__le4((const char *)s + l - 4);
        *a = x | (y >> (8 * (8 - l))) << 32;
    } else if (l) {
        *a = (uint64_t)s[0] | (uint64_t)s[l / 2] << (8 * (l / 2)) | (uint64_t)s[l - 1] << (8 * (l - 1));
    }
}
static inline uint32_t eng__dslot_hash(uint64_t a, uint64_t b, size_t l)
{
    uint64_t h = (a * 0x9e3779b97f4a7c15ull) ^ (b * 0xc2b2ae3d27d4eb4full) ^ l;
    h *= 0xff51afd7ed558ccdull;
    return (uint32_t)(h >> 57); /* 0 .. ENG__DSLOT_N - 1 */
}
static inline uint32_t eng__dslot(const uint8_t *s, size_t l)
{
    uint64_t a, b;
    eng__dslot_words(s, l, &a, &b);
    return eng__dslot_hash(a, b, l);
}
/* Apply one delta part of record schema @p schema (1, 2 or 3). @p idh: NULL, or
 * the eng__dict_hash of each row's string id, 4 bytes a row in host order
 * (computed where the part was parsed; unaligned). */
int eng__delta_apply(eng__table *t, const uint8_t *p, size_t n, unsigned schema, const char *key, const uint8_t *idh,
                     uint64_t *ins, uint64_t *upd);

/* Per-row failure reported by a row handler. */
typedef struct eng__rowerr {
    uint32_t col; /* 1-based field, 0 = whole row */
    int code;
    const char *why;
} eng__rowerr;

/* CSV driver: the header goes to hdr(), each record to row(); a row handler
 * returns 0, 1 (bad row; *err filled) or a negative fatal code. Applies the
 * options' error mode and fills the report's rows/bad_rows/bytes. */
typedef int (*eng__hdr_fn)(void *ctx, const eng__csv *c, eng__rowerr *err);
typedef int (*eng__row_fn)(void *ctx, const eng__csv *c, uint64_t line, eng__rowerr *err);
/* Optional: good rows taken a block at a time (*rows of them; 0: the row
 * handler takes the next record), or a negative fatal code. */
typedef int (*eng__blk_fn)(void *ctx, eng__csv *c, uint64_t *rows);
/* The header of a CSV that lists customers (a group upload, an erasure): the index of its one "id"
 * column in @p col, or 1 with @p err filled (no "id" column, or two: which names them would be a guess). */
int eng__csv_id_column(const eng__csv *c, uint32_t *col, eng__rowerr *err);
/* Rows per stored delta part of an import (8192), and per slice of a filter
 * evaluation with a progress callback (2^18, a multiple of 64): what the work
 * between two progress reports can hold; tests lower them. */
extern uint32_t eng__aud_part_rows;
extern uint32_t eng__aud_rewrite_rows; /* per delta part of a compaction or erasure rewrite (2^16) */
extern size_t eng__filter_slice_rows;
/* @p op names the operation for progress (bytes read of the input's size, when known). */
int eng__import_drive(eng_engine *e, const char *op, eng__csv *c, eng__hdr_fn hdr, eng__row_fn row, eng__blk_fn blk,
                      void *ctx, const eng_import_options *o, eng_import_report *rep);
int eng__import_opts(const eng_import_options *in, eng_import_options *out);
/* Check the caller's report version (or use tmp) and zero it. */
int eng__report_start(eng_import_report *in, eng_import_report *tmp, eng_import_report **out);

/* Groups. */
eng__group *eng__group_find(eng__aud *a, uint32_t id);
/* The error for group @p id that @p a does not hold, reported at @p what:
 * ENG_EDENIED when another org owns it (as the model refuses another org's
 * campaign), else ENG_ENOTFOUND. */
int eng__group_missing(eng__aud *a, uint32_t id, const char *what);
/* Resolve a group's current members into out. */
int eng__group_eval(eng__aud *a, uint32_t id, eng__idset *out);
/* The same, but an uploaded group's own set is lent (*ref) instead of copied;
 * other kinds are evaluated into tmp and *ref points at it. */
int eng__group_eval_ref(eng__aud *a, uint32_t id, eng__idset *tmp, const eng__idset **ref);
int eng__groups_load(eng__aud *a);
void eng__groups_free(eng__aud *a);

/* Replace a group's members after storing them (members is consumed on success). */
int eng__group_store_members(eng__aud *a, const eng__aud_cx *cx, eng__group *g, eng__idset *members);
/* Store an uploaded group's members inside the caller's open batch (memory unchanged). */
int eng__group_put_members(eng__aud *a, uint32_t gid, const eng__idset *members);
/* Filter groups: evaluated by the rules engine (filter.c). */
int eng__filter_eval(eng__aud *a, const eng__group *g, eng__idset *out);
/* Compile an expression against the current customer schema. */
int eng__filter_compile(eng__aud *a, const char *expr, eng_rule **out);
/* Dense id of an external id in text form; ENG_ENOTFOUND without a message. */
int eng__customer_find(const eng__table *t, const char *s, size_t n, uint32_t *out);

/* Opt customers out of channels (channels[i] for ids[i], at ts[i]) inside the
 * caller's open storage batch, applying it to the cached table as it writes.
 * If the batch then fails, the caller drops the cache (eng__aud_drop). */
int eng__aud_optout(eng_engine *e, const char *org, const uint32_t *ids, const uint8_t *channels,
                    const uint8_t *sources, const eng_time *ts, size_t n);

/* Erasure (erase.c, docs/privacy.md), inside the caller's open batch: the
 * customer table of @p org is rewritten with the customers in @p ids as
 * tombstones (dense id kept, every value cleared, external id replaced) and
 * they leave every uploaded group of the org. The keys whose old values held
 * their data are added to @p keys, for the storage contract's `erased`.
 * Whatever the outcome, the caller then commits or rolls back and calls
 * eng__aud_drop(e). */
int eng__aud_erase(eng_engine *e, const char *org, const eng__idset *ids, eng__keys *keys);
/* Rewrite the org's table deltas as one (compaction), with @p erase rows (may be NULL)
 * as tombstones, inside the open batch; the deleted delta keys go to @p old_keys (may be NULL). */
/* Progress as @p op: customers written of all (the caller rolls back on ENG_ECANCELLED). */
int eng__aud_rewrite(eng_engine *e, const char *op, eng__aud *a, const eng__idset *erase, eng__keys *old_keys);

/* Consent history (chist.c): changes noted while deltas are replayed into a
 * scratch table, after the archive written by the last rewrite. */
typedef struct eng__chg {
    uint32_t id, origin, pos; /* pos: order of noting, for a stable sort */
    uint8_t ch, kind, yes;    /* kind 0 consent, 1 opt-out */
    int64_t ts;
} eng__chg;
typedef struct eng__origin {
    int source; /* eng_consent_source */
    eng_time when;
    char *actor;
} eng__origin;
#define ENG__CHIST_ALL UINT32_MAX
typedef struct eng__chist {
    const eng__mem *mem;
    uint32_t only, cur; /* only: one customer or ENG__CHIST_ALL; cur: origin being replayed */
    eng__chg *v;
    size_t n, cap;
    eng__origin *o;
    size_t no, ocap;
} eng__chist;
void eng__chist_init(eng__chist *h, const eng__mem *mem, uint32_t only);
void eng__chist_free(eng__chist *h);
/* The org's history (of h->only, or all), oldest first per customer. */
/* @p pg: the caller's progress, stepped (done unchanged) per record read; NULL: none. */
int eng__chist_build(eng__aud *a, eng__chist *h, eng__prog *pg);
/* Inside the open batch: the origin record beside delta key @p dkey. */
int eng__chist_put_origin(eng__aud *a, const char *dkey, int source, const char *actor, eng_time when);
/* Inside the open batch: replace the archive by @p h (sorted here) without the
 * customers erased or in @p erase, and delete every origin record; the old
 * archive keys go to @p old_keys (may be NULL). */
int eng__chist_rewrite(eng__aud *a, eng__chist *h, const eng__idset *erase, eng__keys *old_keys, eng__prog *pg);
/* Entry i of h as the public struct (its version already set). */
void eng__chist_fill(const eng__chist *h, size_t i, eng_consent_change *out);

/* Values as eng_customer_get prints them: a time (a date at midnight UTC as
 * YYYY-MM-DD) and a decimal scaled by 10^4 without trailing zeros. */
int eng__fmt_time(char *out, size_t cap, int64_t ms);
int eng__fmt_decimal4(char *out, size_t cap, int64_t v);

/* Key helpers: the org's prefix, then @p prefix ("g/", "m/"), then the id in hex. */
void eng__aud_key(const eng__aud *a, char *buf, size_t cap, const char *prefix, uint32_t id);
/* The org's prefix then @p rest; length in *len. */
void eng__aud_keys(const eng__aud *a, char *buf, size_t cap, const char *rest, size_t *len);
/* Delta key "P t/<seq>/<part>" (buf at least ENG__AUD_PFX_MAX + 32). */
void eng__aud_delta_key(const eng__aud *a, char *buf, size_t cap, uint64_t seq, uint32_t part);
#define ENG__AUD_KEY_MAX (ENG__AUD_PFX_MAX + 240)
/* The keys under the org's prefix then @p rest, in key order (a scan that
 * keeps only the keys, each NUL-terminated). */
typedef struct eng__aud_keylist {
    const eng__mem *mem;
    char (*k)[ENG__AUD_KEY_MAX];
    size_t n, cap;
} eng__aud_keylist;
int eng__aud_keys_of(eng__aud *a, const char *rest, eng__aud_keylist *kl);
void eng__aud_keylist_free(eng__aud_keylist *kl);
/* Delete every key under the org's prefix then @p rest (inside a batch), each
 * also told to @p old_keys when given (the backend's vacuum after an erasure). */
int eng__aud_del_keys(eng__aud *a, const char *rest, eng__keys *old_keys);

#endif
