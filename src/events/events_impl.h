/* The events layer: the touch log and transactions (docs/events.md).
 *
 * ---- What other layers call ------------------------------------------------
 *
 * Writing `sent` (dispatch). The dispatcher opens a storage batch, records its
 * ledger outcome, and in the SAME batch calls
 *     eng__touch_sent(e, &ctx, rows, n, &res)
 * with the idempotency key it gave the transport for each send. Events stores
 * the key's 64-bit hash with the `sent` row; that is the key -> send mapping,
 * so a later provider receipt (eng_touch_append) finds its send by key alone.
 * A key of the dispatcher's form (eng__send_key) is also entered in its
 * context's key map, which matches receipts by an array index (keymap.c);
 * any other string works too, through the hash.
 * Then the dispatcher commits. Events changes its in-memory state as it writes
 * (so reads inside the batch see the rows); if the batch is rolled back or
 * its commit fails, the caller MUST call eng__events_abandon(e), which drops
 * the cached events (and audience) state so the next use reloads it from
 * storage. A `sent` whose key is already stored is a duplicate (changes
 * nothing, counted in res->duplicates).
 *
 * Reading. Readers are scans over columns. eng__touch_scan() calls back once
 * per segment (at most ENG__SEG_ROWS rows) with column arrays of the rows that
 * pass the filter, so an attribution pass over 10^8 touches is a loop over
 * arrays:
 *     static int cb(const eng__touch_cols *c, void *u) {
 *         for (size_t i = 0; i < c->n; i++) ... c->customer[i], c->time[i] ...
 *         return 0;
 *     }
 * Rows come in storage order (time order within one writer's batches, not
 * globally), except that a sealed segment of payload kind 3 holds its rows
 * ordered by (status, customer) (tsum.c); eng__touch_customer() gives one
 * customer's touches sorted by time.
 * Per-send state (furthest status, channel, customer, context) is an array
 * indexed by send id: eng__sends_view().
 *
 * ---- Storage (keys; record types 0x04xx) -----------------------------------
 *   e/g/<org:04x>                  org: name, retention, data_from, fields   0x0401
 *   e/<org:04x>/x/<seq:08x>        dictionary additions (contexts, strings)   0x0402
 *   e/<org:04x>/t/s/<seg:08x>      sealed touch segment                       0x0403
 *   e/<org:04x>/t/c/<seq:016x>     touch tail chunk (rows of one batch)       0x0403
 *   e/<org:04x>/r/s/<seg:08x>      sealed transaction segment                 0x0404
 *   e/<org:04x>/r/c/<seq:016x>     transaction tail chunk                     0x0404
 *   e/p/c/<chunk:08x>              receipts waiting for their send (32 each)  0x0405
 * A tail chunk holds the rows of one storage batch; when an org's tail reaches
 * ENG__SEG_ROWS rows it is sealed: one segment record replaces its chunks, in
 * the batch that filled it. A crash loses at most the uncommitted batch. */
#ifndef ENG_EVENTS_IMPL_H
#define ENG_EVENTS_IMPL_H

#include "core/engine_impl.h"
#include "audience/audience_impl.h"
#include "audience/dict.h"
#include "engage/events.h"
#include "store/record.h"

enum {
    ENG__REC_EV_ORG = 0x0401,
    ENG__REC_EV_DICT = 0x0402,
    ENG__REC_EV_TSEG = 0x0403,
    ENG__REC_EV_RSEG = 0x0404,
    ENG__REC_EV_PENDING = 0x0405,
};

#define ENG__SEG_ROWS 65536u
/* Rows at which a tail is sealed: ENG__SEG_ROWS (the most a segment holds).
 * Tests lower it to reach sealing with few rows; set it before any write. */
extern uint32_t eng__seg_seal_rows;
#define ENG__EV_MAX_ORGS 65535u
#define ENG__EV_DETAIL_MAX 255
#define ENG__NO_CUSTOMER UINT32_MAX
#define ENG__NO_ORG 0xffffu

/* Progress order of the statuses: the furthest (highest rank) is the send's status. */
static inline int eng__touch_rank(int status)
{
    static const uint8_t rank[ENG_TOUCH_STATUS_COUNT] = {0, 3, 4, 5, 1, 6, 2, 7};
    return rank[status];
}

/* The furthest status (highest eng__touch_rank) of a set of statuses (bit s: status
 * s), `sent` for none: a table of the 256 sets (sends.c). */
extern const uint8_t eng__furthest_of[256];
static inline int eng__mask_furthest(unsigned mask)
{
    return eng__furthest_of[mask & 255];
}

/* What a receipt reads and writes of its send, in one record (one cache line holds
 * 16 sends, where separate arrays cost a line each). */
typedef struct eng__shot {
    uint16_t org;        /* ENG__NO_ORG: no send (a hole, or dropped by retention) */
    unsigned channel : 7;
    unsigned canon : 1;  /* its rows are flagged `first` (eng__sends_canon) */
    uint8_t mask;        /* the statuses stored for the send: bit s for status s */
} eng__shot;

/* ---- send contexts --------------------------------------------------------- */

/* What one execution of one message is: the part of the dispatch key that is
 * shared by all its sends. Dense per org (uint32 "ctx"). */
typedef struct eng__send_ctx {
    const char *org;
    uint64_t campaign, message;
    uint32_t version, occurrence;
} eng__send_ctx;

/* ---- writing `sent` (dispatch) --------------------------------------------- */

typedef struct eng__sent_row {
    const char *key;   /* idempotency key given to the transport */
    size_t klen;
    uint32_t customer; /* dense customer id */
    uint8_t channel;   /* an eng_channel */
    eng_time time;
} eng__sent_row;

typedef struct eng__sent_result {
    uint64_t accepted;   /* new sends */
    uint64_t duplicates; /* keys already stored */
    uint64_t joined;     /* pending receipts that found their send */
} eng__sent_result;

/* Write `sent` touches into the batch the caller holds (eng__kv_begin done).
 * res may be NULL. On any failure the caller rolls back and calls
 * eng__events_abandon(). Does not take the engine lock (the caller holds it). */
int eng__touch_sent(eng_engine *e, const eng__send_ctx *ctx, const eng__sent_row *rows, size_t n,
                    eng__sent_result *res);

/* Make room for @p n more sends in the events state (loading it first if
 * needed), so that eng__touch_sent of at most n rows does not rebuild the
 * send-key index: at 10^6 sends that rebuild is ~100 ms, and here it steps
 * @p pg and can be cancelled (ENG_ECANCELLED, nothing stored, the old index
 * kept), before the sends are made rather than while their outcome is stored. */
int eng__touch_sent_room(eng_engine *e, size_t n, eng__prog *pg);

/* Sends the dispatcher stored expired in doubt (handed over, never confirmed), in the batch
 * that stores that outcome: a receipt of one, before or after, proves it left: its `sent` is
 * written then and the receipt joins it (pending.c). */
int eng__touch_doubt(eng_engine *e, const eng__send_ctx *ctx, const eng__sent_row *rows, size_t n);

/* The same for receipts (what eng_touch_append does inside its own batch). */
int eng__touch_receipts(eng_engine *e, const eng_receipts *r, eng_event_report *rep);

/* Forget the cached events and audience state after a batch that carried
 * events writes was rolled back or failed to commit. */
void eng__events_abandon(eng_engine *e);
/* The same after eng__touch_sent's batch failed (rolled back): a batch that
 * failed before eng__touch_sent changed nothing here; one that applied nothing
 * (rolled back, or a conflict at its commit) takes its rows back (undo.c);
 * otherwise the events cache is dropped, and the audience cache too when the
 * batch wrote consent (a pending opt-out reply joined its send). A
 * dispatcher's conflict with another engine then costs no reload. */
void eng__events_abandon_sent(eng_engine *e);
/* Roll the open batch back keeping the thread's error, abandon the caches,
 * and return rc: the one-line failure path of a writer of events. */
int eng__events_fail(eng_engine *e, int rc);

/* Erasure (erase.c, docs/privacy.md), inside the caller's open batch: every
 * transaction of @p org stored while its customer was unknown whose external
 * id names a customer in @p ids (dense ids of the org's table @p t, before the erasure drops it) is
 * bound to that dense id, and the records that held the id are rewritten; their
 * keys go to @p keys. On failure the caller rolls back and calls eng__events_abandon(). */
int eng__events_erase(eng_engine *e, const char *org, const eng__table *t, const eng__idset *ids, eng__keys *keys);

/* ---- reading touches ------------------------------------------------------- */

/* Column arrays of up to ENG__SEG_ROWS touch rows (valid during the callback). */
typedef struct eng__touch_cols {
    size_t n;
    uint16_t org;             /* every row of a callback is of one org */
    const eng_time *time;
    const uint32_t *customer; /* dense customer id */
    const uint32_t *ctx;      /* send context (eng__ctx_get) */
    const uint8_t *channel;
    const uint8_t *status;    /* eng_touch_status of this touch (not the send's furthest) */
    const uint32_t *send;     /* send id (eng__sends_view) */
    const uint32_t *detail;   /* 0, or string code + 1 (eng__ev_detail_str) */
    /* 1: the first and only row of its status for its (context, customer,
     * channel): its send is the only send of them (ev_state.h); 0: not known */
    const uint8_t *first;
} eng__touch_cols;

typedef int (*eng__touch_seg_fn)(const eng__touch_cols *c, void *user);

/* Which rows a scan gives. Zero-initialise, then narrow; segments whose zone
 * (time range, statuses, channels, contexts, customers) cannot match are skipped. */
typedef struct eng__touch_filter {
    const char *org;         /* NULL: every org */
    eng_time from, to;       /* time in [from, to); to == 0 means no upper bound */
    uint32_t statuses;       /* bit (1u << status); 0 = all */
    uint32_t channels;       /* bit (1u << channel); 0 = all */
    uint32_t customer;       /* ENG__NO_CUSTOMER (set by eng__touch_filter_init) = all */
    uint64_t campaign;       /* 0 = all */
    uint64_t message;        /* 0 = all messages (of the campaign) */
    eng__prog *pg;           /* the caller's progress: reported (done unchanged) per segment read; NULL: none */
} eng__touch_filter;

void eng__touch_filter_init(eng__touch_filter *f);
/* Calls fn per segment with the matching rows (skips empty ones). A non-zero
 * return from fn stops the scan and is returned. ENG_ECORRUPT names a bad segment. */
int eng__touch_scan(eng_engine *e, const eng__touch_filter *f, eng__touch_seg_fn fn, void *user);

/* Ordered segments' tables, for the report (touch_tab.c). One entry of a sealed
 * ordered segment's table (payload kind 3): its rows of one (status, send context,
 * channel), and how many of them are flagged `first`. */
typedef struct eng__touch_ent {
    uint32_t ctx, rows, first;
    uint8_t channel, status;
} eng__touch_ent;

/* A sealed ordered segment as a table scan hands it out: its table, its rows
 * still packed (read a status at a time below). */
typedef struct eng__touch_tab {
    uint16_t org;
    size_t n;                  /* rows, of every context */
    const eng__touch_ent *ent; /* ascending by (status, context, channel) */
    size_t nent;
    uint32_t cmax;             /* the greatest customer of its rows */
    uint32_t cmin;             /* the least */
    int64_t tmin;              /* the earliest time of its rows */
    void *priv;                /* the reader's */
} eng__touch_tab;
typedef int (*eng__touch_tab_fn)(const eng__touch_tab *t, void *user);

/* eng__touch_scan over @p f (its org, time range and campaign or message; statuses,
 * channels and customer unfiltered), except that each sealed ordered segment whose
 * time range lies inside [f->from, f->to) goes to @p tab_fn as its table; the other
 * segments (older kinds, straddling the range) and the tail go to @p fn as rows. */
int eng__touch_scan_tables(eng_engine *e, const eng__touch_filter *f, eng__touch_tab_fn tab_fn,
                           eng__touch_seg_fn fn, void *user);
/* The same scan shared between threads (touch_read.c): the units eng__touch_scan_tables
 * would visit for one org (@p f as there, f->org set) — its segments whose zone may match,
 * payloads fetched, then the tail —, listed on the calling thread; each contiguous range
 * of them may then be visited on any thread with a reader of its own (0 to @p readers - 1),
 * while the engine is held and nothing else reads or changes its segments. *out NULL (and
 * ENG_OK): the cache (eng_config.events_segments) dropped a listed payload while fetching
 * the next: scan on one thread instead. */
typedef struct eng__touch_plan eng__touch_plan;
int eng__touch_plan_make(eng_engine *e, const eng__touch_filter *f, size_t readers, eng__touch_plan **out);
/* Either plan's (eng__touch_plan, eng__txn_plan) units, and the rows of unit @p u (every
 * status and context: a weight for cutting ranges). */
size_t eng__plan_units(const void *plan);
uint64_t eng__plan_rows(const void *plan, size_t u);
/* Units [u0, u1) with reader @p reader, as eng__touch_scan_tables visits them (tables inside
 * tab_fn valid on this thread until it returns). */
int eng__touch_plan_run(eng__touch_plan *p, size_t reader, size_t u0, size_t u1, eng__touch_tab_fn tab_fn,
                        eng__touch_seg_fn fn, void *user);
void eng__touch_plan_free(eng_engine *e, eng__touch_plan *p);
/* Inside tab_fn: the rows of status @p st of the filter's contexts, by customer, as
 * time, customer, ctx, channel, status and first (send and detail NULL), checked
 * against the table's entries of st (ENG_ECORRUPT naming the segment). Valid until
 * the next call on t. */
int eng__touch_tab_rows(const eng__touch_tab *t, unsigned st, eng__touch_cols *out);
/* Inside tab_fn: the entries of status @p st checked against its rows' contexts,
 * channels and flags, the rest left packed, before a caller counts from them. */
int eng__touch_tab_check(const eng__touch_tab *t, unsigned st);
/* Inside tab_fn: the rows of status @p st (every context's), by customer, a block
 * of up to ENG__TOUCH_BLK at a time: customer, ctx and channel decoded, time left
 * packed (eng__touch_tab_times). What a block holds is checked before fn sees it
 * (customers ascending and inside the zone); the entries of st against the rows'
 * contexts, channels and flags after the last block (or before the first), so a
 * mismatch is ENG_ECORRUPT naming the segment from this call. Blocks are valid
 * during fn only; a non-zero return from fn stops and is returned. */
enum { ENG__TOUCH_BLK = 2048 };
typedef struct eng__touch_blk {
    size_t n, row0; /* rows, and the segment row of the first */
    const uint32_t *customer, *ctx;
    const uint8_t *channel;
    uint32_t ctx1; /* the one context of every row of the block (ctx[] all hold it), or ENG__TOUCH_CTX_MIXED */
} eng__touch_blk;
#define ENG__TOUCH_CTX_MIXED UINT32_MAX
typedef int (*eng__touch_blk_fn)(const eng__touch_tab *t, const eng__touch_blk *b, void *user);
int eng__touch_tab_blocks(const eng__touch_tab *t, unsigned st, eng__touch_blk_fn fn, void *user);
/* Contexts x 16 below which a status's entries are checked a block at a time (1024;
 * tests lower it to take the other path, a decode of the range checked first). */
extern unsigned eng__touch_tab_dense;
/* Inside tab_fn: the times of segment rows @p rows (k of them) into out, each checked
 * inside the segment's zone (ENG_ECORRUPT naming it otherwise). */
int eng__touch_tab_times(const eng__touch_tab *t, const uint32_t *rows, size_t k, int64_t *out);

/* One customer's touches (of one org, or all when org is NULL) sorted by time,
 * as columns in caller-freed arrays (eng__touch_cols_free). */
typedef struct eng__touch_buf {
    eng__touch_cols c;
    void *mem; /* owns the arrays */
} eng__touch_buf;
int eng__touch_customer(eng_engine *e, const char *org, uint32_t customer, eng__prog *pg, eng__touch_buf *out);
void eng__touch_buf_free(eng_engine *e, eng__touch_buf *b);

/* X-Engage history: for customers [lo, hi) of an org, counts of sends and of
 * responses (opened or clicked, one per send) per channel for sends whose
 * `sent` is in [from, to). sends/responses are caller arrays of
 * (hi - lo) * ENG_CH_COUNT counters, indexed (customer - lo) * ENG_CH_COUNT + ch,
 * added to (not cleared). */
int eng__touch_history(eng_engine *e, const char *org, eng_time from, eng_time to, uint32_t lo, uint32_t hi,
                       uint32_t *sends, uint32_t *responses);

/* Per-send state as arrays indexed by send id (valid until the next events
 * write or abandon). hot[s]: org (ENG__NO_ORG for a send dropped by retention),
 * channel, and the statuses stored (eng__mask_furthest: the furthest reached). */
typedef struct eng__sends_view {
    uint32_t n;
    const eng__shot *hot;
    const uint32_t *ctx;
    const uint32_t *customer;
    const eng_time *sent_at;
} eng__sends_view;
int eng__sends_view_get(eng_engine *e, eng__sends_view *out);

/* Org code of an org name (ENG_ENOTFOUND when it has no events). */
int eng__ev_org_code(eng_engine *e, const char *org, uint16_t *out);
/* A context's fields (ctx from a scan of org). */
int eng__ctx_get(eng_engine *e, uint16_t org, uint32_t ctx, uint64_t *campaign, uint64_t *message,
                 uint32_t *version, uint32_t *occurrence);
/* The string of a detail code (reason or link id); "" for 0. Not NUL-terminated: *len. */
const char *eng__ev_detail_str(eng_engine *e, uint16_t org, uint32_t detail, size_t *len);

/* ---- reading transactions -------------------------------------------------- */

typedef struct eng__txn_cols {
    size_t n;
    uint16_t org;
    const uint32_t *customer;  /* dense id, or ENG__NO_CUSTOMER while unknown */
    const eng_time *time;
    const int64_t *amount;     /* x 10^4 */
    const uint32_t *store;     /* 0 = none, else store code + 1 (eng__txn_store_str) */
    const uint32_t *item_off;  /* n + 1 offsets into items */
    const uint32_t *items;     /* SKU codes (eng__txn_sku_str) */
    uint32_t nfields;          /* the org's custom fields */
    const int64_t *const *field; /* field[f][i]: int64 / decimal x 10^4 / date ms / bool 0-1 / string code */
    const uint64_t *const *field_present; /* bit i set: not NULL */
    const char *const *id;     /* transaction ids (not NUL-terminated) ... */
    const uint32_t *id_len;    /* ... and their lengths */
    const char *const *ext;    /* the customer's external id as given (not NUL-terminated) ... */
    const uint32_t *ext_len;   /* ... and its length */
} eng__txn_cols;

typedef int (*eng__txn_seg_fn)(const eng__txn_cols *c, void *user);

/* Transactions of an org (NULL: every org) with time in [from, to) (to == 0:
 * no bound), of one customer (ENG__NO_CUSTOMER: all). @p pg: the caller's
 * progress, reported (done unchanged) per segment read; NULL: none. */
int eng__txn_scan(eng_engine *e, const char *org, eng_time from, eng_time to, uint32_t customer, eng__prog *pg,
                  eng__txn_seg_fn fn, void *user);
/* eng__txn_scan of one org over all time, for readers of the customer, time, amount and
 * store columns only: a sealed segment without rows of customers unknown when it was
 * written gives those four (item_off, items, fields, ids and ext NULL, nfields 0), its
 * other columns left unread; the rest come whole, as eng__txn_scan gives them. */
int eng__txn_scan_cols(eng_engine *e, const char *org, eng__txn_seg_fn fn, void *user);
/* eng__txn_scan_cols shared between threads (txn_read.c), as eng__touch_plan is for touches:
 * the org's segments (payloads fetched) and its tail listed on the calling thread, each
 * contiguous range then visited on any thread with a reader of its own (0 to @p readers - 1),
 * while the engine is held and nothing else reads or changes its segments. *out NULL (and
 * ENG_OK): the cache dropped a listed payload while fetching the next: scan instead. */
typedef struct eng__txn_plan eng__txn_plan;
int eng__txn_plan_make(eng_engine *e, const char *org, size_t readers, eng__txn_plan **out);
int eng__txn_plan_run(eng__txn_plan *p, size_t reader, size_t u0, size_t u1, eng__txn_seg_fn fn, void *user);
void eng__txn_plan_free(eng_engine *e, eng__txn_plan *p);
/* Transaction rows one org holds (sealed and in its tail; 0 for an org without events):
 * what eng__txn_scan_cols gives at most, so that a reader sizes its columns once; and
 * @p customers (may be NULL): the org's customers, above every customer a row names. */
int eng__txn_rows(eng_engine *e, const char *org, size_t *rows, uint32_t *customers);
const char *eng__txn_store_str(eng_engine *e, uint16_t org, uint32_t store, size_t *len);
const char *eng__txn_sku_str(eng_engine *e, uint16_t org, uint32_t sku, size_t *len);
/* A string custom field's value by its code (field[f][i] of a string field). */
const char *eng__txn_fstr(eng_engine *e, uint16_t org, uint32_t code, size_t *len);
/* Custom field f of an org (by code): its name, and its eng_col_type in *type; NULL past the last. */
const char *eng__txn_field_name(eng_engine *e, uint16_t org, uint32_t f, int *type);
/* A custom field of an org: index by name, and its type. */
int eng__txn_field(eng_engine *e, const char *org, const char *name, uint32_t *index, int *type);

#endif
