/* The events layer's in-memory state (private to src/events).
 *
 * Storage is the truth; this is a cache loaded on first use (state.c):
 * sealed segments are kept as their encoded bytes and decoded segment by
 * segment when scanned; each org's open tail is kept as plain column arrays.
 * Writers change the cache as they write into the open storage batch; a
 * failed batch drops the whole cache (eng__events_abandon). */
#ifndef ENG_EVENTS_EV_STATE_H
#define ENG_EVENTS_EV_STATE_H

#include "events/events_impl.h"
#include "base/hash.h"

/* Plain touch columns: an org's open tail, or a decoded segment. */
typedef struct eng__tcols {
    size_t n, cap;
    int64_t *time;
    uint32_t *customer, *ctx, *send, *detail;
    uint8_t *channel, *status;
    /* 1: the row's send is the only one of its (context, customer, channel)
     * (eng__sends_canon), so the row is the first and only of its status for
     * them; 0: not known. Stored (tseg.c); the measure layer counts such rows
     * without deduplicating them. */
    uint8_t *first;
    /* of the sent rows, in row order; 0: not stored (a row flagged `first`, whose key is its
     * context's stored prefix, its customer and its channel: eng__sends_rekey) */
    uint64_t *keyhash;
    size_t nkey, keycap;
    /* A decoded ordered segment (payload kind 3, tsum.c): rows by (status,
     * customer), and its table (nsum entries; 0 once rows are filtered out). */
    int ordered;
    eng__touch_ent *sum;
    size_t nsum, sumcap;
} eng__tcols;

/* One entry of an ordered segment's table (events_impl.h). */
typedef eng__touch_ent eng__tsum_ent;

/* Plain transaction columns. Strings (ids, unknown customers' external ids)
 * live in one arena with offsets. */
typedef struct eng__rcols {
    size_t n, cap;
    uint32_t *customer, *store;
    int64_t *time, *amount;
    uint32_t *item_off; /* n + 1 */
    uint32_t *items;
    size_t nitems, itemcap;
    uint32_t *id_off, *ext_off; /* n + 1 each, into str */
    char *str;
    size_t slen, scap;
    uint32_t nfields;
    int64_t **field;
    uint64_t **present;
} eng__rcols;

/* A sealed segment: its stored payload and the zone used to skip it. */
typedef struct eng__seg {
    uint8_t *buf; /* record header + payload, as stored; NULL: dropped, read again on use (resident.c) */
    size_t len;
    uint64_t used; /* eng__ev.seg_tick at its last use */
    uint32_t id;
    uint32_t n;
    eng_time tmin, tmax;
    uint32_t statuses, channels;
    uint32_t cmin, cmax, xmin, xmax; /* customers, contexts */
    uint8_t kind;                    /* a touch segment's payload kind (1-5; tseg.c) */
    uint8_t skeys;                   /* its `sent` keys stored as ENG__TSEG_SKEYS says (a kind 2 or 3) */
    uint16_t skew; /* buf - skew is its allocation (a seal built around a tail chunk's bytes: tblock.c) */
} eng__seg;

typedef struct eng__segs {
    eng__seg *v;
    size_t n, cap;
    uint32_t next_id;
} eng__segs;

typedef struct eng__ctxkey {
    uint64_t campaign, message;
    uint32_t version, occurrence;
} eng__ctxkey;

/* Runs of a key map, one per 32 entries of v (keymap.c): the entries whose
 * bit is in mask hold, in customer order, the sends send, send + 1, ... (a
 * dispatcher writes a context's customers in ascending order), so such an
 * entry is send + the bits below its own, read from 8 bytes per 32 customers
 * instead of a line of v per receipt. Entries not in mask are read from v. */
typedef struct eng__kmrun {
    uint32_t send, mask;
} eng__kmrun;

/* Per send context: dense customer -> send id + 1 (0: none), keymap.c. */
typedef struct eng__kmap {
    uint32_t base, span, cap, count;
    uint32_t zeroed; /* v[span, zeroed) is zero already (cleared ahead, not a row at a time) */
    uint32_t *v;   /* customers [base, base + span) */
    eng__kmrun *run; /* cap / 32 entries: v[32 k, 32 k + 32) as runs (the parse's read) */
    char *prefix;  /* the context's keys up to "/u", as the dispatcher writes them */
    uint32_t plen;
    uint8_t probe; /* some send of the context is in the hash index only */
    /* The prefix in the org's dictionary records (state.c, DK_KPFX), for a context
     * learning it in the session that wrote the context first (its sends flagged
     * `first` all have it): 0 not to store, 1 to store, 2 stored in record pseq. */
    uint8_t pstore;
    uint32_t pseq;
} eng__kmap;

/* A chunk record of an org's touch tail (tblock.c): the tail's rows up to end, sent keys up to keys_end. */
typedef struct eng__tchunk {
    uint32_t end, keys_end;
    uint8_t *own;       /* the allocation holding p (eng__free), or NULL */
    const uint8_t *p;   /* its payload as stored (kind 2), or NULL: not kept, encoded again at seal */
    size_t len;
    size_t cap;         /* own's size (0: unknown); room before p and after p + len is free */
    uint32_t crc;       /* its record's checksum (record.h), which a segment naming it keeps (tref.c) */
} eng__tchunk;

#define ENG__TSEG_PARTS 7 /* eng__tseg_encode_part */

/* A block of a sealed segment (tblock.c): rows of the tail, or a chunk's bytes kept. */
typedef struct eng__tblk {
    size_t from, n, key_from, nkey;
    const uint8_t *p; /* bytes kept, or NULL: encoded (into a scratch at off, or in place) */
    size_t len, off;
    uint32_t chunk;   /* p is the bytes of the tail's chunk chunk - 1 (0: not a chunk's) */
} eng__tblk;

typedef struct eng__evorg eng__evorg;
typedef struct eng__ev eng__ev;

/* An org's tail being sealed (tseal.c): its segment encoded on a worker while the batch
 * goes on, put into the batch by the caller at the join (the next seal, the flush, the
 * end of the call). One at a time an engine. */
typedef struct eng__tseal {
    eng__pipe pp;
    int running;     /* the encode started and not joined */
    int plain;       /* 1: the rows encoded whole into w (kind 2); 0: around the first chunk's bytes */
    eng__ev *ev;
    eng__evorg *o;   /* the org sealed */
    eng__tcols cols; /* its tail's rows (swapped with the org's); between seals, the columns
                      * the next seal gives the tail */
    eng__tblk *b;    /* the blocks (b[0]: the first chunk's bytes) */
    size_t nb, bcap;
    eng__wr w;       /* the record once finished: the first chunk's buffer, or (plain) its own */
    size_t at;       /* where the first chunk's bytes start in w */
    eng__wr par[ENG__TSEG_PARTS]; /* the encode's parts (tseg_par.c), room reserved by the caller */
    eng__wr rec;     /* the record that names the chunks' records (tref.c), kept between seals */
    char key[48];
} eng__tseal;

struct eng__evorg {
    char *name;
    uint16_t code;
    int dirty; /* the org record needs writing */
    uint32_t retention_days;
    eng_time data_from;
    uint32_t nfields;
    char (*fname)[ENG__COLNAME_MAX + 1];
    uint8_t *ftype;
    /* contexts: dense per org, with an open-addressing index (ctx + 1) */
    eng__ctxkey *ctx;
    uint32_t nctx, ctxcap, nctx_saved;
    uint32_t *ctxslots;
    uint32_t nctxslots;
    /* strings: details (reasons, links), stores, SKUs, string custom fields */
    eng__dict det, store, sku, fstr;
    uint32_t det_saved, store_saved, sku_saved, fstr_saved;
    uint32_t next_dict_seq;
    /* key map per context (keymap.c); contexts below km_loaded were loaded
     * from storage or read from another engine's commits (sync.c): their
     * sends are in the hash index, and sends into them are not flagged `first` */
    eng__kmap *km;
    uint32_t nkm, km_loaded;
    uint32_t npstore; /* contexts whose prefix waits for the next dictionary record */
    /* touches */
    eng__segs tseg;
    eng__tcols tail;
    size_t tail_saved, tail_keys_saved; /* rows (and sent keys) of tail already in chunk records */
    uint64_t tchunk_first, tchunk_next; /* chunk records holding the tail */
    eng__tchunk *tch;                   /* ... one entry each, in order (tblock.c) */
    uint32_t ntch, tchcap;
    /* the chunk records sealed segments name instead of holding their bytes (kind 5, tref.c):
     * their numbers, ascending (a segment's are id << 32 | k) */
    uint64_t *tref;
    uint32_t ntref, trefcap;
    /* transactions */
    eng__segs rseg;
    eng__rcols rtail;
    size_t rtail_saved;
    uint64_t rchunk_first, rchunk_next;
    uint64_t *txslots; /* hash of id (never 0) */
    uint32_t ntxslots;
    uint64_t ntx;
    /* other engines' commits since the last sync (sync.c): EV_SYNC_* bits */
    unsigned sync;
};

/* Per-send state, indexed by send id; the key index maps key hash -> send. */
typedef struct eng__sends {
    uint32_t n, cap;
    eng__shot *hot; /* org, channel, statuses (the furthest: eng__mask_furthest) */
    uint32_t *ctx, *customer;
    eng_time *sent_at;
    uint64_t *keyhash; /* of the sends in the hash index only (eng__sends_fields) */
    uint64_t *slots; /* key hash >> 32 << 32 | (send id + 1); 0 = empty */
    uint32_t nslots;
    uint64_t *hashed; /* bit per send: in the hash index (the others are in a key map) */
    uint32_t nhashed;
} eng__sends;

/* A receipt waiting for its send. */
typedef struct eng__pend {
    uint64_t keyhash;
    eng_time time;
    uint8_t status;
    char *detail; /* NULL or owned */
    char *key;    /* owned: for reporting */
} eng__pend;

struct eng__ev {
    eng_engine *e;
    eng__prog *load_pg; /* while the state loads: "events.load", stepped per segment by its rows */
    uint64_t load_rows;
    eng__evorg **orgs;
    uint32_t norgs, orgcap;
    eng__sends s;
    /* receipts waiting for their send (pending.c): by position, in arrival
     * order (key NULL: a hole); an exact index by key hash;
     * a bit per stored chunk of positions that needs rewriting */
    eng__pend *pend;
    size_t npos, pendcap, npend; /* npend: receipts (positions that are not holes) */
    size_t ndoubt;               /* sends expired in doubt (entries of status `sent`) */
    uint64_t *pslots; /* key hash >> 32 << 32 | (position + 1); 0: empty */
    size_t npslots;
    uint64_t *pdirty;
    size_t pdirtycap;
    int pend_dirty;         /* some chunk needs writing */
    uint64_t pend_legacy;   /* 1 + seq of a schema-1 record to delete, 0: none */
    uint64_t pend_changes;  /* receipts added or joined (undo.c) */
    int km_probe_all;               /* a key of the dispatcher's form named other fields than its row */
    int aud_written;                /* a batch wrote consent through the audience layer (opt-out replies) */
    int sync_all;                   /* another engine changed what no org's catch-up covers: reload */
    /* What the cache held before the first `sent` rows of a dispatcher's batch (undo.c). */
    struct {
        unsigned batch; /* the store's serial of that batch; 0: none */
        int org;        /* its org's code, -1 when the batch made the org */
        uint32_t norgs, sends, nctx, nctx_saved, next_dict_seq, dict[4];
        size_t tail, tail_keys, tseg;
        uint64_t pend_changes;
        int aud_written;
        uint64_t tchunk_first, tchunk_next, seals;
    } mark;
    uint64_t seg_tick;              /* uses of sealed segments, for least recently used (resident.c) */
    eng__tcols dec;                 /* scratch for decoding a touch segment */
    eng__tcols ord;                 /* scratch for ordering a sealed touch segment (tsum.c) */
    eng__wr blk;                    /* scratch for the blocks a seal encodes (tblock.c) */
    eng__wr par[ENG__TSEG_PARTS];   /* scratch for the parts encoded beside the caller (tseg_par.c) */
    void *ordtmp;                   /* ... and its sort keys and packed rows */
    size_t ordtmp_cap;
    eng__rcols rdec;
    struct eng__rscratch *rsc;      /* the receipts' apply ranges' rows, kept between batches (rapply.c) */
    eng__tseal *seal;               /* a seal encoded beside the caller, and its kept room (tseal.c) */
    uint64_t seals;                 /* tails sealed (undo.c: a batch that sealed cannot be taken back) */
    uint32_t *rekey;                /* sends read whose key hash is made from their context's prefix (sends.c) */
    size_t nrekey, rekeycap;
};

/* Free the receipts' kept apply scratch (rapply.c). */
void eng__rcpt_scratch_free(eng__ev *ev);
/* A receipt batch's temporaries: @p bytes kept by the engine between batches (malloc
 * handed freed ones back to the kernel, and each batch faulted them in again); NULL
 * when out of memory (the error set). eng__rcpt_temp_done after the batch frees an
 * unusually large one. */
void *eng__rcpt_temp(eng__ev *ev, size_t bytes);
void eng__rcpt_temp_done(eng__ev *ev);
/* Batches whose apply scratch passes this many rows (the temporaries: x 96 bytes) do not
 * keep it (rapply.c; tests set it low). */
extern size_t eng__rcpt_keep_rows;

/* A key of context ctx that its key map does not hold may still be in the hash index (keymap.c). */
static inline int eng__kmap_probe(const eng__ev *ev, const eng__evorg *o, uint32_t ctx)
{
    return ev->km_probe_all || ctx < o->km_loaded || (ctx < o->nkm && o->km[ctx].probe);
}

/* state.c */
int eng__ev_get(eng_engine *e, eng__ev **out);
int eng__ev_org(eng__ev *ev, const char *name, int create, eng__evorg **out);
eng__evorg *eng__ev_org_by_code(eng__ev *ev, uint16_t code);
int eng__ev_ctx_intern(eng__evorg *o, const eng__ctxkey *k, uint32_t *out);
int64_t eng__ev_ctx_find(const eng__evorg *o, const eng__ctxkey *k);
/* Persist what changed in an org (dictionary additions, tail chunk, org record)
 * and the pending list, into the open batch. */
int eng__ev_flush(eng__ev *ev);
void eng__ev_key(char *buf, size_t cap, uint16_t org, const char *what, uint64_t seq, int wide);

eng__evorg *eng__ev_org_new(eng__ev *ev, const char *name, size_t len, uint16_t code);
void eng__ev_org_free(const eng__mem *mem, eng__evorg *o);
/* The loaded org named name[0..len) (@p last, when it is that one again); NULL when none is. */
const eng__evorg *eng__ev_org_named(const eng__ev *ev, const eng__evorg *last, const char *name, size_t len);
void eng__ev_free(eng_engine *e, void *state);
/* Read an org's dictionary, touches and transactions (a load, or a reload of that org). */
int eng__ev_load_org(eng__ev *ev, eng__evorg *o);
/* Read the dictionary records another engine added after the org's last one. */
int eng__ev_dict_catch_up(eng__ev *ev, eng__evorg *o);

/* sync.c: several engines on one store. Another engine's commit marks what
 * it changed (watch); the next sync reads the chunks and dictionary records
 * it appended to an org (catch-up), or reloads that org, or (anything else)
 * drops the whole cache. */
enum { EV_SYNC_DICT = 1, EV_SYNC_TAIL = 2, EV_SYNC_RELOAD = 4 };
int eng__ev_watch(eng_engine *e, void *state, const void *key, size_t klen);
void eng__ev_invalidate(eng_engine *e, void *state);
int eng__ev_catch_up_inside(eng_engine *e, void *state);

/* undo.c: a dispatcher's batch that failed without applying anything takes its `sent` rows back
 * from the cache instead of dropping it (at 10^6 sends a reload decodes every segment). */
void eng__ev_mark(eng__ev *ev, eng__evorg *o);
/* 1 when the rows are taken back; 0: the caller drops the cache. */
int eng__ev_undo(eng__ev *ev);
/* Forget contexts from @p n on (state.c). */
int eng__ev_ctx_truncate(eng__evorg *o, uint32_t n);
/* Clear the key map's entry of a send that is taken back (keymap.c). */
void eng__kmap_unput(eng__evorg *o, uint32_t ctx, uint32_t customer, uint32_t send);
/* Take back the sends from id @p n on (sends.c); the index is rebuilt. */
int eng__sends_truncate(eng__sends *s, const eng__mem *mem, uint32_t n);

/* sends.c */
int eng__sends_reserve(eng__sends *s, const eng__mem *mem, size_t more);
int64_t eng__sends_find(const eng__sends *s, uint64_t keyhash);
enum { ENG__SEND_MAPPED = 0, ENG__SEND_INDEX = 1, ENG__SEND_INDEX_LATER = 2 };
/* Add a send (ids are given in order). index: ENG__SEND_MAPPED (found through a
 * key map, not the hash index), ENG__SEND_INDEX (into the hash index now) or
 * ENG__SEND_INDEX_LATER (a load: eng__sends_reindex at its end). */
int eng__sends_add(eng__sends *s, const eng__mem *mem, uint32_t id, uint16_t org, uint32_t ctx,
                   uint32_t customer, uint8_t channel, eng_time at, uint64_t keyhash, int index);
/* The rows of a decoded touch segment or chunk of org @p o (tseg.c), in any order of a
 * send's rows: its fields and key hash from its sent row, its statuses. index:
 * ENG__SEND_INDEX_LATER (a load: eng__sends_reindex at its end; a `sent` row flagged
 * `first` of a context whose key prefix is stored goes into the context's key map, its
 * key hash not kept) or ENG__SEND_INDEX (another engine's chunk: into the index now). */
int eng__sends_load(eng__ev *ev, eng__evorg *o, const eng__tcols *c, int index);
/* The sends eng__sends_load read without a key hash (flagged `first`, not stored, not put in a
 * key map) given the hash of their key, remade from their context's prefix, customer and
 * channel: exactly the dispatcher's key that eng__ev_keyhash hashed when they were written.
 * Called once o's dictionary is read (the prefixes); ENG__SEND_INDEX puts them into the hash
 * index now, ENG__SEND_INDEX_LATER leaves that to eng__sends_reindex. ENG_ECORRUPT when a
 * context has no prefix. */
int eng__sends_rekey(eng__ev *ev, eng__evorg *o, int index);
/* A send read without its key hash, for eng__sends_rekey (rekey.c). */
int eng__rekey_push(eng__ev *ev, uint32_t id);
/* Sends id[0, n) given their key hashes h (in the hash index now when @p index is
 * ENG__SEND_INDEX, else at eng__sends_reindex): eng__sends_rekey's end (sends.c). */
int eng__sends_hashed(eng__sends *s, const eng__mem *mem, const uint32_t *id, const uint64_t *h, size_t n,
                      int index);
/* The key hashes of c's flagged `sent` rows that a record of the format before stored, set to 0
 * (not stored again) where the hash of the key made from the row is the one stored (o's
 * prefixes): a rewrite of an older segment (compaction) then leaves them out. */
int eng__tkeys_unstore(eng__ev *ev, const eng__evorg *o, eng__tcols *c);
/* Rebuild the hash index for nhashed sends; @p pg (may be NULL) is stepped as it goes. */
int eng__sends_reindex(eng__sends *s, const eng__mem *mem, eng__prog *pg);
/* Room in the hash index for @p more sends, so that adding them does not
 * rehash; the rehash, if any, steps @p pg (may be NULL). ENG_ECANCELLED or
 * ENG_ENOMEM keep the old index. */
int eng__sends_room(eng__sends *s, const eng__mem *mem, size_t more, eng__prog *pg);
/* Mark send @p id as the only send of its (context, customer, channel): its key
 * is the dispatcher's key for exactly those, in the context's key map (so a
 * second send with them would have the same key and be a duplicate). Its rows,
 * and its receipts' rows, are written with `first` set. The bit lives in the
 * send's record, which every receipt reads anyway. */
static inline int eng__sends_canon(const eng__sends *s, uint32_t id)
{
    return s->hot[id].canon;
}
/* A send's record written as one 4-byte store: a compound literal stored field by field
 * left byte stores that a wider load of the record then waited for (touch_write.c). */
static inline void eng__shot_store(eng__shot *p, eng__shot v)
{
    uint32_t w;
    _Static_assert(sizeof w == sizeof v, "eng__shot is one word");
    memcpy(&w, &v, sizeof w);
    memcpy(p, &w, sizeof w);
}
static inline void eng__sends_canon_set(eng__sends *s, uint32_t id)
{
    s->hot[id].canon = 1;
}
/* A send's fields from its sent row (id within the arrays), but its key hash: kept in
 * memory for a send of the hash index only (eng__sends_add). A send found through a key
 * map has its context's prefix, its customer and its channel for key (keymap.c), so what
 * reads it there compares the channel instead, and its 8 bytes are neither written nor
 * first touched (most of the page faults of a dispatcher's batch, with the time). */
static inline void eng__sends_fields(eng__sends *s, uint32_t id, uint16_t org, uint32_t ctx, uint32_t customer,
                                     uint8_t channel, eng_time at)
{
    s->hot[id].org = org;
    s->hot[id].channel = channel;
    s->ctx[id] = ctx;
    s->customer[id] = customer;
    s->sent_at[id] = at;
}
/* A mapped send's key hash is not kept. Builds with assertions write its complement
 * there, so that a reader comparing it makes the tests fail. */
static inline void eng__sends_mapped_hash(eng__sends *s, uint32_t id, uint64_t keyhash)
{
#ifndef NDEBUG
    s->keyhash[id] = ~keyhash;
#else
    (void)s, (void)id, (void)keyhash;
#endif
}
/* eng__sends_add of the next id, found through a key map (ENG__SEND_MAPPED), inline
 * when there is room (a `sent` batch reserves it), its canon bit @p canon
 * (eng__sends_canon_set): 0 when not done, the caller calls eng__sends_add. */
static inline int eng__sends_add_mapped(eng__sends *s, uint32_t id, uint16_t org, uint32_t ctx, uint32_t customer,
                                        uint8_t channel, eng_time at, uint64_t keyhash, int canon)
{
    if (id != s->n || id >= s->cap)
        return 0;
    s->hashed[id / 64] &= ~(1ull << (id % 64));
    s->n = id + 1;
    /* the record in one store: its bit fields set one by one were a 16-bit load after a
     * byte store to it, which waits for the store (~40 % of eng__touch_sent at W6's M) */
    eng__shot_store(&s->hot[id], (eng__shot){.org = org, .channel = channel & 0x7fu, .canon = canon != 0,
                                             .mask = (uint8_t)(1u << ENG_TOUCH_SENT)});
    s->ctx[id] = ctx;
    s->customer[id] = customer;
    s->sent_at[id] = at;
    eng__sends_mapped_hash(s, id, keyhash);
    return 1;
}
void eng__sends_free(eng__sends *s, const eng__mem *mem);
/* One of @p pool's threads (when @p threads, and the system allocator) faulting in the
 * pages of the per-send arrays for ids [from, to), within their capacity, while the caller
 * writes the sends before them: the kernel's zeroing of fresh pages, most of a `sent`
 * batch's page faults, then costs the calling thread nothing. NULL when no thread can take
 * it (nothing is lost: the writer takes the faults). Joined before the arrays grow or are
 * freed (by the caller, when no thread has taken it by then). */
void *eng__sends_ahead(const eng__sends *s, const eng__mem *mem, eng__tpool *pool, unsigned threads, uint32_t from,
                       uint32_t to);
void eng__sends_ahead_join(const eng__mem *mem, void *ahead);
#define ENG__EV_KEYSEED 0x6b657973ull /* "keys" */
static inline uint64_t eng__ev_keyhash(const char *key, size_t len)
{
    uint64_t h = eng__hash64(key, len, ENG__EV_KEYSEED);
    return h ? h : 1;
}
/* eng__ev_keyhash of n keys (eng__hash64_n: vector lanes where the CPU has them). */
static inline void eng__ev_keyhash_n(const void *const *key, const size_t *len, size_t n, uint64_t *out)
{
    eng__hash64_n(key, len, n, ENG__EV_KEYSEED, out);
    for (size_t j = 0; j < n; j++)
        out[j] = out[j] ? out[j] : 1;
}
/* eng__ev_keyhash of n keys of 8 bytes or more from their states after a shared start
 * (eng__hash64_resume_n: h[i] = eng__hash64_state(key, skip, len[i], ENG__EV_KEYSEED), at[i] =
 * key + skip, rest[i] = len[i] - skip). */
static inline void eng__ev_keyhash_resume_n(const uint64_t *h, const void *const *at, const size_t *rest, size_t n,
                                            uint64_t *out)
{
    eng__hash64_resume_n(h, at, rest, n, out);
    for (size_t j = 0; j < n; j++)
        out[j] = out[j] ? out[j] : 1;
}
/* eng__ev_keyhash of four keys at once. */
static inline void eng__ev_keyhash4(const void *const key[4], const size_t len[4], uint64_t out[4])
{
    eng__hash64_x4(key, len, ENG__EV_KEYSEED, out);
    for (int j = 0; j < 4; j++)
        out[j] = out[j] ? out[j] : 1;
}

/* keymap.c: the dispatcher's key by its fields */
typedef struct eng__keyparts {
    const char *org;
    size_t orglen;
    eng__ctxkey ctx;
    uint32_t customer;
    uint8_t channel;
} eng__keyparts;
/* 1 when key has the dispatcher's form (canonical numbers, a known channel). */
int eng__key_parse(const char *key, size_t len, eng__keyparts *p);
/* A key ending in "/u<customer>/<channel>": the length of what comes before the
 * customer's digits (the prefix), else 0. */
size_t eng__key_tail(const char *key, size_t len, uint32_t *customer, uint8_t *channel);
/* The same for a key whose first @p plen bytes are a prefix the map learned (they end
 * in "/u"): the customer's digits are parsed forward from there. */
size_t eng__key_tail_after(const char *key, size_t len, size_t plen, uint32_t *customer, uint8_t *channel);
/* The context's key prefix (NULL until a send of it is mapped), and setting it. */
const char *eng__kmap_prefix(const eng__evorg *o, uint32_t ctx, size_t *plen);
/* store: the context is this session's own (not loaded): its prefix goes to the dictionary. */
int eng__kmap_learn(eng__evorg *o, const eng__mem *mem, uint32_t ctx, const char *key, size_t plen, int store);
/* After an org's rows are loaded: its sends flagged `first` of contexts whose prefix was
 * stored go into their maps (out of the hash index) when the maps can hold them. */
/* The send whose key (of the dispatcher's form) is found through the key map of the
 * context it names, or -1 (a key that names other fields than its row's). */
int64_t eng__kmap_find_key(const eng__ev *ev, const char *key, size_t len);
/* Where the candidate send id + 1 of (ctx, customer) in org o is kept (NULL:
 * outside the map), to prefetch it. Inline, as the next two: once a row. */
static inline const uint32_t *eng__kmap_slot(const eng__evorg *o, uint32_t ctx, uint32_t customer)
{
    if (ctx >= o->nkm)
        return NULL;
    const eng__kmap *m = &o->km[ctx];
    uint32_t off = customer - m->base;
    return customer >= m->base && off < m->span ? &m->v[off] : NULL;
}
/* The bits of x set (no libcall to popcount without -mpopcnt). */
static inline uint32_t eng__kmap_bits(uint32_t x)
{
    x = x - (x >> 1 & 0x55555555u);
    x = (x & 0x33333333u) + (x >> 2 & 0x33333333u);
    return ((x + (x >> 4)) & 0x0f0f0f0fu) * 0x01010101u >> 24;
}
/* The send id + 1 of entry b (0 to 31) of run r when r holds it; 0: read the map's entry. */
static inline uint32_t eng__kmrun_get(eng__kmrun r, uint32_t b)
{
    return r.mask >> b & 1 ? r.send + eng__kmap_bits(r.mask & ((1u << b) - 1)) + 1 : 0;
}
/* Entry off of m newly set to send + 1 (it was 0): into its run when it extends it. */
static inline void eng__kmap_run_add(eng__kmap *m, uint32_t off, uint32_t send)
{
    eng__kmrun *r = &m->run[off / 32];
    uint32_t b = off % 32;
    if (!r->mask) {
        r->send = send, r->mask = 1u << b;
    } else if (!(r->mask >> b)) {
        /* entry b - 1 the run's last (a dispatcher's ascending customers): the send after
         * its own is v's entry, read back instead of counted (the count without -mpopcnt
         * was a third of eng__touch_sent's own time at W6's M) */
        uint64_t next = r->mask >> (b - 1) ? m->v[off - 1] : (uint64_t)r->send + eng__kmap_bits(r->mask);
        if (next == send)
            r->mask |= 1u << b;
    }
}
/* That candidate, 0 if none. */
static inline uint32_t eng__kmap_get(const eng__evorg *o, uint32_t ctx, uint32_t customer)
{
    const uint32_t *p = eng__kmap_slot(o, ctx, customer);
    return p ? *p : 0;
}
/* *placed = 0 when the map cannot hold it (the caller indexes the send by hash). */
int eng__kmap_put(eng__evorg *o, const eng__sends *s, const eng__mem *mem, uint32_t ctx, uint32_t customer,
                  uint32_t send, int *placed);
/* eng__kmap_put's usual case inline (once a `sent` row): the customer's entry is free
 * inside the map's span, or right past it in room already cleared and within the
 * sparsity bound. 1: placed; 0: not decided, the caller calls eng__kmap_put. */
static inline int eng__kmap_put_next(eng__evorg *o, uint32_t ctx, uint32_t customer, uint32_t send)
{
    if (ctx >= o->nkm)
        return 0;
    eng__kmap *m = &o->km[ctx];
    uint32_t off = customer - m->base;
    if (!m->span || customer < m->base)
        return 0;
    if (off >= m->span) { /* cover()'s growth by one entry, upwards */
        if (off != m->span || off >= m->zeroed || (uint64_t)off + 1 > 4 * (uint64_t)m->count + 65536)
            return 0;
        m->span = off + 1;
    }
    if (m->v[off]) /* taken, or a send retention dropped: eng__kmap_put decides */
        return 0;
    m->v[off] = send + 1;
    eng__kmap_run_add(m, off, send);
    m->count++;
    return 1;
}
void eng__kmap_free(eng__evorg *o, const eng__mem *mem);

/* tcols.c: touch columns and segments */
int eng__tcols_reserve(eng__tcols *c, const eng__mem *mem, size_t more);
int eng__tcols_key_reserve(eng__tcols *c, const eng__mem *mem, size_t more);
void eng__tcols_free(eng__tcols *c, const eng__mem *mem);
/* Encode rows [from, from + n) of c as a touch segment payload into w. */
/* ordered: c's rows [from, from + n) are eng__tseg_order's (all of them): kind 3 with its table. */
void eng__tseg_encode(eng__wr *w, const eng__tcols *c, size_t from, size_t n, size_t key_from, size_t nkey,
                      int ordered);
/* Its zone (the bounds of rows [from, from + n); all 0 when n is 0). */
void eng__tseg_zone_of(const eng__tcols *c, size_t from, size_t n, eng__seg *z);
/* The columns after the header (eng__tseg_zone_put of the zone z), in parts whose bytes
 * follow one another (eng__tseg_encode writes them in turn; tseg_par.c on the engine's
 * threads): time; customer; context; channel and status; send; detail; the keys' hashes
 * and first (ENG__TSEG_PARTS of them). */
void eng__tseg_encode_part(eng__wr *w, const eng__tcols *c, size_t from, size_t n, size_t key_from, size_t nkey,
                           const eng__seg *z, int part);
/* The most bytes part @p part of n rows and nkey keys takes. */
size_t eng__tseg_part_room(size_t n, size_t nkey, int part);
/* eng__tseg_encode, the parts of the other columns on the engine's threads beside the caller's
 * head when the engine has threads and the rows repay it. */
void eng__tseg_encode_par(eng__ev *ev, eng__wr *w, const eng__tcols *c, size_t from, size_t n, size_t key_from,
                          size_t nkey, int ordered);
/* The same with the part writers par[ENG__TSEG_PARTS] (the engine's are ev->par). */
void eng__tseg_encode_par_with(eng__ev *ev, eng__wr *par, eng__wr *w, const eng__tcols *c, size_t from, size_t n,
                               size_t key_from, size_t nkey, int ordered);
/* Decode a payload into c (reset first; room grows as needed). */
int eng__tseg_decode(const uint8_t *p, size_t len, const char *key, eng__tcols *c, const eng__mem *mem);
/* The columns of a payload of kind 1-3 read from r (after its header: zone z, nkey sent
 * keys) appended to c at c->n and c->nkey, in room the caller reserved. */
int eng__tseg_decode_cols(eng__rd *r, const char *key, const eng__seg *z, uint64_t nkey, uint8_t kind, eng__tcols *c);
/* A payload's header (kind, rows, sent keys, zone) into w. */
void eng__tseg_zone_put(eng__wr *w, uint8_t kind, size_t n, size_t nkey, const eng__seg *z);
/* A writer with room for a record header (zeroed, written) and a payload of about n rows and nkey keys. */
void eng__tseg_wr_start(eng__wr *w, const eng__mem *mem, size_t n, size_t nkey);
/* tblock.c: the tail's chunk entries and blocked segments (kind 4). */
/* Bytes kept free before the record of a tail's first chunk (ahead of its payload: the
 * record header's too), for the header of a segment sealed around it (at most 62, tblock.c). */
#define ENG__TCHUNK_FRONT 64
/* The fewest rows of a chunk whose bytes a seal keeps (eng__seg_seal_rows / 16, at least 1). */
static inline size_t eng__tblock_min_rows(void)
{
    return eng__seg_seal_rows / 16 ? eng__seg_seal_rows / 16 : 1;
}
/* 1 (default): a seal whose first block is the tail's first chunk's bytes builds the
 * segment around them in their buffer; 0: into a buffer of its own (the same bytes). */
extern uint8_t eng__tblock_around;
/* Free a segment's bytes (its allocation starts skew bytes before them). */
static inline void eng__seg_free_buf(const eng__mem *mem, eng__seg *z)
{
    eng__free(mem, z->buf ? z->buf - z->skew : NULL);
    z->buf = NULL;
    z->skew = 0;
}
int eng__tchunks_room(eng__evorg *o, const eng__mem *mem);
void eng__tchunks_push(eng__evorg *o, uint32_t end, uint32_t keys_end, uint8_t *own, const uint8_t *p, size_t len,
                       size_t cap, uint32_t crc);
void eng__tchunks_keep(eng__evorg *o, const eng__mem *mem, uint32_t n);
/* The seal of o's tail under s->key (the blocks planned in s->b): *blocked = 1: w holds
 * the record (header room, then the payload) of the whole tail sealed from its chunks'
 * bytes; 2: prepared to be built around the first chunk's bytes, in its buffer (s->w):
 * eng__tblock_around_encode, which allocates nothing (a worker may run it), then
 * eng__tblock_around_finish; 0: the caller encodes it (nothing to gain). */
int eng__tblock_seal(eng__ev *ev, eng__evorg *o, eng__tseal *s, eng__wr *w, int *blocked);
/* The blocks after the first chunk's bytes, of the rows in s->cols. */
void eng__tblock_around_encode(eng__tseal *s);
/* The header before them: *w the record at w->data + *skew, in the buffer of o's first
 * chunk (still the chunk's: the caller takes it over once the record is put). */
int eng__tblock_around_finish(eng__ev *ev, eng__evorg *o, eng__tseal *s, eng__wr *w, size_t *skew);
/* tref.c: sealed segments that name their chunks' records (payload kind 5, record schema
 * ENG__TSEG_V_REFS) instead of holding their bytes again. */
#define ENG__TSEG_V_REFS 2
/* The schema of touch segment and tail chunk records before (tseg.c). */
#define ENG__TSEG_V 1
/* Record schema of touch records that may hold payloads with ENG__TSEG_SKEYS (chunks and
 * segments; an older library stops at them with ENG_EVERSION); readers take every schema to it. */
#define ENG__TSEG_V_SKEYS 3
/* In a payload's kind byte (kinds 2 and 3): the `sent` rows' keys are uvar the number stored,
 * when some but not all are a bitmap of the `sent` rows whose key is (bit k of byte k / 8), then
 * those keys; a row whose key is not stored is flagged `first` (its key: eng__sends_rekey).
 * Without it, every `sent` row's key is stored. */
#define ENG__TSEG_SKEYS 0x10
/* 1 (default): touch records are written with ENG__TSEG_SKEYS (schema ENG__TSEG_V_SKEYS), the
 * `first` sends' keys not stored; 0: the format before (every key; tests write such stores
 * with it, from their start: a key not stored cannot be written the old way). */
extern uint8_t eng__tseg_skeys;
/* The schema a touch record is written with (@p refs: a kind-5 record). */
static inline uint16_t eng__tseg_schema(int refs)
{
    return eng__tseg_skeys ? ENG__TSEG_V_SKEYS : refs ? ENG__TSEG_V_REFS : ENG__TSEG_V;
}
/* The kind byte of a kind-2 (or, @p ordered, kind-3) payload written now. */
static inline uint8_t eng__tseg_kind(int ordered)
{
    return (uint8_t)((ordered ? 3 : 2) | (eng__tseg_skeys ? ENG__TSEG_SKEYS : 0));
}
/* The `sent` rows' keys of a payload skipped (r after its `detail` column; z its zone, nkey its sent rows). */
void eng__tseg_keys_skip(eng__rd *r, const eng__seg *z, uint64_t nkey);
/* 1 (default): a seal names the tail's chunks it keeps whole (kind 5); 0: it stores them
 * again (kind 4, schema 1: the format before; tests write such stores with it). */
extern uint8_t eng__tseg_refs;
/* The kind-5 record of the segment s->key (id @p id) whose kind-4 payload k4[0, len) holds
 * the blocks b[0, nb) of o's tail, built in s->rec (record header room first): *named the
 * chunks it names (0: none, nothing built: the kind-4 payload is the record). Room for
 * them reserved in o->tref (eng__tref_add, after the put, cannot fail). */
int eng__tref_build(eng__ev *ev, eng__evorg *o, eng__tseal *s, uint32_t id, const uint8_t *k4, size_t len,
                    const eng__tblk *b, size_t nb, size_t *named);
void eng__tref_add(eng__evorg *o, const eng__tseal *s, uint32_t id);
/* 1 when a sealed segment of o names chunk record @p seq. */
int eng__tref_named(const eng__evorg *o, uint64_t seq);
/* The kind-5 payload p[0, len) of segment @p key resolved: *out (eng__free) the record header's
 * room and the kind-4 payload of the same rows, *outlen its bytes; the chunks it names noted
 * in @p note (NULL: not). A chunk missing, or not the one named: ENG_ECORRUPT naming it. */
int eng__tref_resolve(eng__ev *ev, eng__evorg *note, const char *key, const uint8_t *p, size_t len, uint8_t **out,
                      size_t *outlen);
/* The chunk records segment @p id of o names deleted in the open batch (its rewrite or deletion). */
int eng__tref_drop(eng__ev *ev, eng__evorg *o, uint32_t id);
/* o's chunk records but those sealed segments name, ascending (the tail's). */
int eng__tchunks_scan(eng__ev *ev, const eng__evorg *o, eng_store_scan_fn cb, void *user);
/* The blocks of a kind-4 payload read from r (after its header: zone z, nkey keys) into c (reset, room reserved). */
int eng__tblock_decode(eng__rd *r, const char *key, const eng__seg *z, uint64_t nkey, eng__tcols *c);
/* Zone of a payload without decoding the columns. */
int eng__tseg_zone(const uint8_t *p, size_t len, const char *key, eng__seg *z);
/* The header of a payload read from r (left at the first column): zone, sent keys, kind. */
int eng__tseg_head(eng__rd *r, const char *key, eng__seg *z, uint64_t *nkey, uint8_t *kind);
/* tsum.c: rows [from, from + n) of c (at most 2^16; their keys from key_from) ordered
 * by (status, customer) into out, ties in storage order, with out's table. out and
 * *tmp (*tmp_cap bytes) are scratch kept by the caller between calls: reused, not
 * allocated a seal at a time (the churn of a few MB a seal grew a loaded engine's
 * resident memory by half at W6's M). */
int eng__tseg_order(const eng__tcols *c, size_t from, size_t n, size_t key_from, eng__tcols *out,
                    void **tmp, size_t *tmp_cap, const eng__mem *mem);
void eng__tsum_encode(eng__wr *w, const eng__tcols *c);
/* The table after c's rows (decoded): read and checked against them (order, counts). */
int eng__tsum_decode(eng__rd *r, const char *key, eng__tcols *c, const eng__mem *mem);
/* The table of a segment of nrows rows into c->sum (c->nsum entries): each entry
 * well formed, ascending, and the rows adding up to nrows; not checked against the rows. */
int eng__tsum_read(eng__rd *r, const char *key, size_t nrows, eng__tcols *c, const eng__mem *mem);
/* The n rows of one status (their contexts, channels, `first` flags) against that
 * status's entries e[0, ne): the same rows and flagged rows at each, else ENG_ECORRUPT. */
int eng__tsum_check(const uint32_t *ctx, const uint8_t *channel, const uint8_t *first, size_t n,
                    const eng__tsum_ent *e, size_t ne, const char *key, const eng__mem *mem);
/* 1: sealed segments and rewrites are stored ordered (kind 3) at seal; 0 (default: the
 * order costs ingest CPU, so compaction orders instead): in storage order (kind 2).
 * Every kind is read either way. */
extern uint8_t eng__tseg_ordered;
/* 1 (default): eng_events_compact() rewrites every sealed touch segment of an older kind
 * as kind 3, so that ingest keeps its speed and a compacted store's reports read tables;
 * 0: it leaves them. */
extern uint8_t eng__tseg_order_compact;
/* touch_tab.c: the ordered segment of payload p under key opened for a table scan
 * (eng__touch_scan_tables): its table to fn; sel (NULL: all) the contexts whose rows it reads;
 * @p d the reader's scratch (ev->dec, or a thread's own: eng__touch_plan). */
int eng__touch_tab_visit(eng__ev *ev, eng__tcols *d, uint16_t org, const char *key, const uint8_t *p, size_t len,
                         const uint8_t *sel, uint32_t selmax, eng__touch_tab_fn fn, void *user);
/* Seal an org's whole tail now (compaction): its record put when this returns. */
int eng__ttail_seal(eng__ev *ev, eng__evorg *o);
/* The same, the segment's encode on a worker while the caller goes on (the append
 * calls): its record put at eng__tseal_join, which every caller of it must reach
 * before its batch commits or is taken back. */
int eng__ttail_seal_behind(eng__ev *ev, eng__evorg *o);
/* tseal.c: the seal started behind, if any, finished: its record put into the open batch,
 * the segment added to its org, its chunks' records deleted. */
int eng__tseal_join(eng__ev *ev);
/* eng__tseal_join once the seal's encode is done (else nothing): called as the batch goes on,
 * so that the record's write behind (store/file_behind.c) has the rest of the batch to run
 * rather than being joined by the flush's write at once. */
int eng__tseal_poll(eng__ev *ev);
/* The seal started behind, if any, waited for and left unput: the batch fails (and the
 * cache is dropped: undo.c refuses a batch that sealed). */
void eng__tseal_drop(eng__ev *ev);
/* A seal's state freed (one running dropped first). */
void eng__tseal_free(eng__ev *ev);
/* Tests: seals whose encode was started on the pool (taken by a worker or by the caller at
 * the join); a hook called with 1 before that encode runs and 0 after (kills inside it). */
extern _Atomic size_t eng__tseal_behind;
extern void (*eng__tseal_job_hook)(int starting);
/* The engine's seal state (made on first use). */
int eng__tseal_room(eng__ev *ev, eng__tseal **out);
/* Room in s's part writers for an encode of n rows and nkey keys (tseg_par.c). */
int eng__tseal_parts(eng__tseal *s, size_t n, size_t nkey);
/* The seal prepared in ev->seal (eng__tblock_seal's 2, or s->plain with s->w sized for the
 * rows) started: o's tail handed to it and emptied; finished now unless @p later
 * (eng__tseal_join then). */
int eng__tseal_start(eng__ev *ev, eng__evorg *o, int later);
/* tseg.c: the record in w at skew (eng__tblock_around_finish) put under key, the segment
 * added to o, its tail's chunk records deleted, the first chunk's buffer the segment's. */
int eng__ttail_put_around(eng__ev *ev, eng__evorg *o, const char *key, const eng__wr *w, size_t skew);
/* The same for a plain segment's record in w (taken: kept by the segment, or freed). */
int eng__ttail_put_plain(eng__ev *ev, eng__evorg *o, const char *key, eng__wr *w);
/* Write the tail rows not yet stored as one chunk. */
int eng__ttail_save(eng__ev *ev, eng__evorg *o);
/* The number of an empty tail's first chunk. */
uint64_t eng__ttail_base(const eng__evorg *o);
/* Read the chunks other engines appended after the tail's last (t/c/<tchunk_next> on,
 * until one is missing) into the tail and the sends (hash-indexed); *chunks: how many. */
int eng__ttail_catch_up(eng__ev *ev, eng__evorg *o, uint64_t *chunks);
/* *same = 1 when the stored chunks are exactly those the tail holds. */
int eng__ttail_matches(eng__ev *ev, const eng__evorg *o, int *same);

/* Apply one receipt (matched to send id) to memory: row into the org tail, send state. */
int eng__touch_apply(eng__ev *ev, uint32_t send, uint8_t status, eng_time t, const char *detail, size_t dlen,
                     int *dup, int *optout);

/* rseg.c: transaction columns, segments and the id index */
#define ENG__TXN_MAX_ITEMS 1024
int eng__txid_add(eng__evorg *o, const eng__mem *mem, const char *id, size_t n, int *dup);
int eng__rcols_reserve(eng__rcols *c, const eng__mem *mem, size_t more, size_t more_items, size_t more_str);
int eng__rcols_fields(eng__rcols *c, const eng__mem *mem, uint32_t nfields);
void eng__rcols_free(eng__rcols *c, const eng__mem *mem);
/* Append d's rows to t; keep only rows with keep[i] set (in place). */
int eng__rcols_append(eng__rcols *t, const eng__mem *mem, const eng__rcols *d);
size_t eng__rcols_keep(eng__rcols *c, const uint8_t *keep);
void eng__rseg_encode(eng__wr *w, const eng__rcols *c, size_t from, size_t n);
int eng__rseg_decode(const uint8_t *p, size_t len, const char *key, eng__rcols *c, const eng__mem *mem);
/* The customer, time, amount and store columns of a segment only (the rest unread and
 * unchecked; c's other columns left as they were); *unknown: its rows of customers
 * unknown when written, whose external ids (unread) a join needs. */
int eng__rseg_decode_cols(const uint8_t *p, size_t len, const char *key, eng__rcols *c, const eng__mem *mem,
                          size_t *unknown);
int eng__rseg_zone(const uint8_t *p, size_t len, const char *key, eng__seg *z);
int eng__rtail_seal(eng__ev *ev, eng__evorg *o);
int eng__rtail_save(eng__ev *ev, eng__evorg *o);
/* Replace sealed transaction segment idx by the rows of c, in the open batch (an empty c deletes it). */
int eng__rseg_replace(eng__ev *ev, eng__evorg *o, size_t idx, const eng__rcols *c);

/* Sends whose customers opt out (unsubscribe/complaint), collected while
 * writing and applied through the audience layer at the end (touch_write.c). */
typedef struct eng__optlist {
    uint32_t *send;
    eng_time *ts;
    uint8_t *src; /* eng_consent_source: unsubscribe or complaint (the consent history) */
    size_t n, cap;
} eng__optlist;
/* @p status is the receipt's: ENG_TOUCH_UNSUBSCRIBED or ENG_TOUCH_COMPLAINED. */
int eng__opt_push(const eng__mem *mem, eng__optlist *l, uint32_t send, eng_time t, int status);

/* pending.c */
/* A receipt key[0, klen) (no NUL inside) without a send yet: kept until its send is written. */
int eng__pend_add(eng__ev *ev, uint64_t keyhash, const char *key, size_t klen, uint8_t status, eng_time t,
                  const char *detail, int *dup);
/* Apply the pending receipts of a send that was just written. */
int eng__pend_join(eng__ev *ev, uint32_t send, uint64_t keyhash, uint64_t *joined, eng__optlist *opts);
/* A receipt of a send the dispatcher expired in doubt (eng__touch_doubt): its `sent` written
 * (at the earlier of its time and the expiry's) and taken from the list; *send: its id, or -1
 * when key[0, klen) names no such send. */
int eng__doubt_prove(eng__ev *ev, uint64_t keyhash, const char *key, size_t klen, eng_time t, int64_t *send);
int eng__ev_pend_save(eng__ev *ev);
int eng__ev_load_pending(eng__ev *ev);
void eng__pend_free(eng__ev *ev);

/* Loading (tseg.c, txn.c) and retention rewrites. */
int eng__ev_load_touches(eng__ev *ev, eng__evorg *o);
/* An org's sealed touch segments, decoded beside the loading of their sends (tload.c). */
int eng__tseg_load(eng__ev *ev, eng__evorg *o);
/* A loaded segment of @p rows: counted as work and stepped on the load's progress. */
int eng__ev_load_step(eng__ev *ev, size_t rows);
int eng__ev_load_txns(eng__ev *ev, eng__evorg *o);
/* ordered: stored as kind 3 (retention: when eng__tseg_ordered or eng__tseg_order_compact). */
int eng__tseg_rewrite(eng__ev *ev, eng__evorg *o, size_t idx, const eng__tcols *c, int ordered);
int eng__retain_txns(eng__ev *ev, eng__evorg *o, eng_time cutoff, eng__prog *pg, uint64_t *dropped);
/* Check the caller's report version (or use tmp) and zero it. */
int eng__ev_report_start(eng_event_report *in, eng_event_report *tmp, eng_event_report **out);

/* The org an actor administers (ENG_EDENIED otherwise), and an org named
 * directly: its events state, made only when the org exists (orgauth.c). */
int eng__ev_admin_org(eng_engine *e, const char *actor, char *org, size_t cap);
int eng__org_exists(eng_engine *e, const char *org); /* ENG_ENOTFOUND */

/* Shared segment helpers (segs.c). */
int eng__segs_push(eng__segs *s, const eng__mem *mem, const eng__seg *z);
void eng__segs_free(eng__segs *s, const eng__mem *mem);

/* resident.c: sealed segments in memory, at most eng_engine.evcache.cap.
 * Every segment goes through these so the counts stay right. */
/* Append z (its bytes, if any, now owned by the list); may drop other segments' bytes. */
int eng__seg_add(eng__ev *ev, eng__segs *s, const eng__seg *z);
/* Segment z (keeping its id) becomes nz, whose bytes it takes over. */
void eng__seg_replace(eng__ev *ev, eng__seg *z, const eng__seg *nz);
/* Remove the segments whose zone has n = 0 (deleted by a rewrite). */
void eng__segs_compact(eng__ev *ev, eng__segs *s);
/* Take a list that is about to be freed off the counts. */
void eng__segs_forget(eng__ev *ev, const eng__segs *s);
/* The payload of z, read again from the store under @p key (record @p type, @p schema)
 * when it was dropped; ENG_EBUSY when the stored segment is no longer the one loaded.
 * Valid until the next call here or on the segment lists. */
int eng__seg_payload(eng__ev *ev, eng__seg *z, const char *key, uint16_t type, uint16_t schema,
                     int (*zone)(const uint8_t *, size_t, const char *, eng__seg *), const uint8_t **p, size_t *len);
/* The same, a payload read again turned by @p resolve (NULL: none) into the bytes kept
 * (*out: header room, then the payload; 0 and *out NULL: the record as read). */
typedef int (*eng__seg_resolve_fn)(eng__ev *ev, const char *key, const uint8_t *p, size_t len, uint8_t **out,
                                   size_t *outlen);
int eng__seg_payload_with(eng__ev *ev, eng__seg *z, const char *key, uint16_t type, uint16_t schema,
                          int (*zone)(const uint8_t *, size_t, const char *, eng__seg *), eng__seg_resolve_fn resolve,
                          const uint8_t **p, size_t *len);
/* A unit a scan plan lists (eng__touch_plan, eng__txn_plan): a sealed segment, its payload
 * fetched (p; NULL: the org's tail), and the base both plans start with (eng__plan_units). */
typedef struct eng__punit {
    const uint8_t *p;
    size_t len;
    uint32_t seg, id, rows; /* index in the org's list, id (its key), rows */
    uint8_t table;          /* touches: an ordered segment inside the time range, its table to tab_fn */
    uint8_t filter;         /* touches: rows the filter may drop */
} eng__punit;
typedef struct eng__plan_base {
    eng__punit *u;
    size_t n;
} eng__plan_base;
/* Whether every unit's payload a plan listed from @p s is still where it was fetched: a
 * later fetch may have dropped it (the least recently used past the cap, resident.c). */
int eng__plan_held(const void *plan, const eng__segs *s);
/* The same for an org's touch (tseg.c) and transaction (rseg.c) segment @p idx. */
int eng__tseg_payload(eng__ev *ev, eng__evorg *o, size_t idx, const uint8_t **p, size_t *len);
int eng__rseg_payload(eng__ev *ev, eng__evorg *o, size_t idx, const uint8_t **p, size_t *len);

/* Roll back the batch keeping the error, and drop the cache. */
int eng__ev_fail(eng_engine *e, int rc);
/* Commit the batch; on failure roll back and drop the cache. */
int eng__ev_commit(eng_engine *e);

#endif
