/* The measure layer as its files see it.
 *
 * attribute.c runs one campaign: a pass over the touch log (status counts
 * deduplicated with one customer bitmap per status/message/channel unless the
 * events layer vouches for the rows (eng__attr.trust), and the
 * starting-status touches of customers who have a qualifying transaction),
 * then a walk by customer over those touches and the qualifying transactions
 * (both radix-sorted by customer) that applies the attribution model.
 * report.c turns the exact accumulators into figures; export.c prints them. */
#ifndef ENG_MEASURE_IMPL_H
#define ENG_MEASURE_IMPL_H

#include "engage/measure.h"
#include "core/engine_impl.h"
#include "model/report_limit.h"

__extension__ typedef __int128 eng__i128;

#define ENG__MEASURE_MAX_MESSAGES ENG__REPORT_MAX_MESSAGES /* the model's approval limit */

/* Shares are kept in units of 1/ENG__SHARE_DEN of an amount unit: divisible by
 * 1..16 and by 5 x 1..16, so linear (up to 16 touches) and position-based (up
 * to 18) shares are exact; time-decay shares are real numbers anyway. */
#define ENG__SHARE_DEN 3603600

/* Exact accumulators of one scope (total, channel or message). */
typedef struct eng__acc {
    uint64_t count[ENG_TOUCH_STATUS_COUNT]; /* distinct (customer, message, channel) per status */
    uint64_t contacted, responders, conversions;
    eng__i128 sales;                        /* amount units x ENG__SHARE_DEN */
    int64_t credits;
    uint64_t control_n, control_resp;
    int used;
} eng__acc;

/* Off-policy estimates of an X-Engage message (ope.c), by #eng_ope_policy. */
#define ENG__OPE_N 4
typedef struct eng__ope_res {
    int known;
    uint64_t rows;
    double ipw, ipw_lo, ipw_hi, dr, dr_lo, dr_hi;
} eng__ope_res;

struct eng_report {
    uint32_t magic;
    uint64_t ope_message;         /* the X-Engage message estimated (0: none) */
    eng__ope_res ope[ENG__OPE_N];
    eng_engine *e;
    int responder_def, places, amount_scale;
    size_t nmsg;
    uint32_t *msg_ids;
    eng__acc total, chan[ENG_MAX_CHANNELS];
    eng__acc *msg;
};

#define ENG__REPORT_MAGIC 0x52505431u /* "RPT1" */

/* A starting-status touch of a customer who has a qualifying transaction. */
typedef struct eng__cand {
    eng_time t;
    uint32_t cust;
    uint16_t m; /* unit (eng__attr.umsg: its message) */
    uint8_t ch;
} eng__cand;

/* A qualifying transaction. */
typedef struct eng__qtx {
    eng_time t;
    int64_t amount;
    uint32_t cust;
    uint32_t row;
} eng__qtx;

/* The kept touches (kept.c), in buckets by the top digit of the customer (up to
 * eng__kept_digit_max bits, 11; tests lower it): each bucket a list of chunks in
 * feed order. */
enum { ENG__KCHUNK = 63 };
typedef struct eng__kchunk {
    struct eng__kchunk *next;
    uint32_t n;
    eng__cand c[ENG__KCHUNK];
} eng__kchunk;
typedef struct eng__kept {
    eng__kchunk **head, **tail; /* per bucket */
    uint32_t *cnt;              /* per bucket: touches */
    size_t nb, n;               /* buckets; touches in all */
    unsigned lo;                /* a touch's bucket: customer >> lo */
    eng__kchunk *next;          /* the current slab's unused chunks */
    size_t left;
    eng__kchunk **slabs;
    size_t nslabs, capslabs;
} eng__kept;
extern unsigned eng__kept_digit_max;
int eng__kept_init(eng__kept *k, const eng__mem *mem, uint32_t n_customers);
/* A new last chunk of bucket @p b (NULL: out of memory). */
eng__kchunk *eng__kept_chunk(eng__kept *k, const eng__mem *mem, size_t b);
/* @p s's touches appended after @p d's, bucket by bucket (its chunks move to d; s is left empty). */
int eng__kept_append(eng__kept *d, eng__kept *s, const eng__mem *mem);
void eng__kept_free(eng__kept *k, const eng__mem *mem);

/* Stable radix sort by customer; tmp holds as many elements as a. *out is the
 * one of the two that holds the result (the other holds garbage). It steps the
 * run's progress (sort.c): ENG_ECANCELLED leaves both in pieces. */
struct eng__attr;
int eng__sort_qtx(eng__qtx *a, eng__qtx *tmp, size_t n, struct eng__attr *x, eng__qtx **out);
/* Bucket @p b of the kept touches sorted stably by customer into out[0, k->cnt[b]) through
 * tmp (both that large; @p cnt: eng__sort_kept_counters(k) of them); steps the progress
 * (@p done: rows handled so far). */
size_t eng__sort_kept_counters(const eng__kept *k);
int eng__sort_kept(const eng__kept *k, size_t b, eng__cand *out, eng__cand *tmp, size_t *cnt, struct eng__attr *x,
                   size_t *done);

/* One attribution run (attribute.c): fed transactions first, then touches, in
 * chunks of any size (whole columns, or the events layer's segments), then
 * finished into a report (walk.c). */
/* Buckets of the touch pass (attribute.c). */
#define ENG__ATTR_BUCKETS 64
typedef struct eng__attr {
    eng_engine *e;
    const eng__mem *mem;
    eng_measure_spec sp;      /* the caller's spec: its arrays must outlive the run */
    eng_goal_spec goal;       /* sp.goal points here (NULL without a goal) */
    eng_report *r;
    size_t nmsg, words;
    uint16_t *mtab;           /* message key -> index + 1 */
    size_t mtab_n;
    int keys_are_ids;         /* keys above mtab_n are looked up in sp.messages */
    /* The touch pass counts per unit: one sending of a message, (message, occurrence) of its
     * schedule. Unit m < nmsg is message m's occurrence 0 (a one-off message's only one); the
     * others (eng__attr_units) follow. */
    size_t nunit;
    uint16_t *umsg;           /* per unit: its message index */
    uint32_t *uocc;           /* per unit: its occurrence */
    uint16_t *urank;          /* per unit: its place in (message, occurrence) order (the walk's ties) */
    uint64_t **bits;          /* [(status * nunit + unit) * ENG_MAX_CHANNELS + ch] */
    uint64_t *cnt;            /* same index: rows counted without a bitmap (the tally adds each bitmap's population) */
    uint64_t *hasq;           /* customers with a qualifying transaction */
    eng__qtx *qtx;
    size_t nq, capq;
    eng__kept kept;           /* starting-status touches of customers with a qualifying transaction */
    size_t kb0, kb1;          /* the walk's buckets of kept touches (a part's range; kb1 = 0: all) */
    uint64_t *keys;           /* the touch pass's buckets of (slot << 32 | customer), bcap each, or ... */
    uint32_t *keys32;         /* ... of (slot << shift | customer's low shift bits) when they fit (eng__attr_keys) */
    size_t bcap;
    uint32_t bfill[ENG__ATTR_BUCKETS]; /* keys in each bucket */
    unsigned shift;           /* a key's bucket: its customer >> shift */
    eng_time *sent_at;        /* per unit: earliest sent touch */
    /* Per unit: 1 when each of its touch rows is the only one of its (customer,
     * channel, status) (the events layer's `first` flag, campaign.c): rows other than
     * `sent` are counted without a bitmap (`sent` ones still set bits: contacted
     * customers are a union over messages and channels). */
    uint8_t *trust;
    eng_time window;
    int touches_seen;
    eng_time from, to;        /* only events in [from, to] (both 0: all) */
    size_t row0;              /* touch rows fed before this chunk (error messages name the whole column's row) */
    eng__prog *pg;            /* "measure.attribute" while a caller watches (NULL: none) */
    unsigned threads;         /* threads the walk may start beside the caller's (eng__attr_walk_split) */
    int slice;                /* qtx is a slice of another run's array: the walk sorts it in place */
    uint64_t pg_row;          /* rows fed before this call, for pg */
    size_t feed_rows;         /* rows to come in chunks, when known before the first (sizes the key buffer) */
    eng_rule *goal_rule;      /* the goal condition compiled, for transactions fed in chunks (NULL: every row) */
} eng__attr;

/* A progress report (rows fed so far, or none new) every eng__attr_beat_rows
 * rows of a pass (a power of two, 2^16; tests lower it); the report build after
 * the passes steps through eng__attr_beat(). */
extern size_t eng__attr_beat_rows;
/* @p chunk: after a chunk of work (reads the clock), else after one row. */
int eng__attr_beat(eng__attr *a, int chunk);

/* Start a run; the spec is checked by the caller. @p amount_scale: decimals of the amounts fed. */
int eng__attr_begin(eng_engine *e, const eng_measure_spec *sp, int amount_scale, eng__attr **out);
/* Map message keys (ids, or the events layer's send contexts) to unit + 1 (0: not ours). */
int eng__attr_map(eng__attr *a, const uint16_t *map, size_t n);
/* Units beyond the messages' occurrence 0, before any touch: @p n of them, message index
 * msg[i] and occurrence occ[i] > 0 each, distinct (at most ENG__MEASURE_MAX_UNITS in all).
 * Their trust is 0 until the caller sets it. */
#define ENG__MEASURE_MAX_UNITS 65534
int eng__attr_units(eng__attr *a, size_t n, const uint16_t *msg, const uint32_t *occ);
/* Transactions (all of them before any touch); @p sel: the rows whose goal condition holds (NULL: all). */
int eng__attr_txns(eng__attr *a, size_t n, const uint32_t *cust, const eng_time *t, const int64_t *amount,
                   const uint64_t *sel);
/* Touches: key is the message id (or context) mapped by the table. */
int eng__attr_touches(eng__attr *a, size_t n, const uint32_t *cust, const uint32_t *key, const uint8_t *ch,
                      const uint8_t *st, const eng_time *t);
/* The touch pass's pieces, for the pass over ordered segments' blocks (tabpass.c):
 * the key buffer (sized on the first call, from feed_rows or @p n; sets shift), a
 * bucket's bits set, and a starting-status touch kept. */
int eng__attr_keys(eng__attr *a, size_t n);
void eng__attr_flush_bucket(eng__attr *a, unsigned b);
static inline int eng__attr_keep(eng__attr *x, uint32_t c, unsigned m, unsigned ch, eng_time t)
{
    eng__kept *k = &x->kept;
    const size_t b = c >> k->lo;
    eng__kchunk *q = k->tail[b];
    if ((!q || q->n == ENG__KCHUNK) && !(q = eng__kept_chunk(k, x->mem, b)))
        return eng__nomem();
    k->cnt[b]++;
    k->n++;
    eng__cand *d = &q->c[q->n++];
    d->t = t;
    d->cust = c;
    d->m = (uint16_t)m;
    d->ch = (uint8_t)ch;
    return ENG_OK;
}
/* The touch pass over status @p st of an ordered segment, read a block at a time
 * (eng__touch_tab_blocks) instead of as rows: for a run over all time (from = to = 0)
 * on one thread, when the rows of the run's messages there (keys: the segment's
 * send contexts, mapped by eng__attr_map) are all of trusted messages. The same
 * state after as eng__attr_touches over those rows. */
struct eng__touch_tab;
int eng__attr_table(eng__attr *a, const struct eng__touch_tab *t, unsigned st);
/* `sent` rows of a table pass set their bits directly when the segment's rows of the
 * status are at least one per eng__attr_table_direct customers of its range (128; 0:
 * never, as tests set it), else through the buckets. eng__attr_table_runs counts the
 * blocks of one context [0] and of several [1], and `sent` statuses passed directly [2]
 * and through the buckets [3] (tests check which paths ran). */
extern unsigned eng__attr_table_direct;
extern uint64_t eng__attr_table_runs[4];
/* Statuses of ordered segments the engine-level report read a block at a time [0]
 * and as rows [1] (campaign.c; tests check which path ran); 0 in
 * eng__report_table_blocks (1 by default) reads them all as rows (tests). */
extern uint64_t eng__report_table_runs[2];
extern int eng__report_table_blocks;
/* Messages whose frozen audience the report skipped: the same content hash as an earlier
 * message's, its control ids already read (campaign.c; tests check the path ran). */
extern uint64_t eng__report_control_same;
/* 1 (the default): with threads, the engine-level report's second pass visits the segments
 * in ranges on threads (eng__attr_plan_split); 0: on the calling thread (tests compare). */
extern int eng__report_plan;
/* 1 (the default): the engine-level report feeds the transactions a segment at a time
 * through the goal when no X-Engage message needs them all; 0: read into columns first
 * (tests compare the two). eng__report_txn_chunked counts the reports fed in chunks. */
extern int eng__report_txn_chunks;
extern uint64_t eng__report_txn_chunked;
/* Set the bits of the keys the touch pass left in its buckets: after the last
 * eng__attr_touches call, before the bitmaps are read (eng__attr_tally does it). */
int eng__attr_flush(eng__attr *a);
/* The touch pass's buffered keys (as 64-bit keys: twice as many 32-bit ones), narrowest
 * bucket (log2 customers) and 32-bit keys where they fit (1, the default; 0: never);
 * tests change them. */
extern size_t eng__attr_part_rows;
extern unsigned eng__attr_part_min_shift;
extern int eng__attr_keys_32;
/* Run one campaign over whole columns, with events limited to [from, to] (both 0: all).
 * @p occ: NULL, or per touch row its occurrence (each (message, occurrence) a sending of its own).
 * @p progress: report it as "measure.attribute" (0: the caller reports its own).
 * @p trust: NULL, or per message of the spec 1 when no two of its touch rows share
 * (customer, channel, status) — the caller vouches for it (eng__attr.trust).
 * @p threads: threads the touch pass and the walk may start beside the caller's (0: none),
 * at most eng_config.threads. */
/* The occurrence column of a caller's touches (NULL: version 1, or none given). */
static inline const uint32_t *eng__touch_occ(const eng_touch_columns *tc)
{
    return tc && tc->version >= 2 ? tc->occurrence : NULL;
}
int eng__measure_columns(eng_engine *engine, const eng_touch_columns *touches, const uint32_t *occ,
                         const eng_txn_columns *txns, const eng_measure_spec *spec, eng_time from, eng_time to,
                         int progress, const uint8_t *trust, unsigned threads, eng_report **out);
/* eng__measure_columns (events in all time) with the touches brought by @p fn: called
 * once, after the transactions, to feed them through eng__attr_touches (after its own
 * eng__attr_map when its keys are not the spec's message ids; x->pg_row = transactions
 * + rows fed before, for the progress), or through eng__attr_touches_split when
 * x->threads allows threads. @p rows: about how many it will feed (the progress's total). */
typedef int (*eng__attr_feed_fn)(eng__attr *x, void *user);
/* @p txn_fn (NULL: none): the transactions brought in chunks instead of @p txns's rows (then
 * none: its fields declare the goal's), each chunk through eng__attr_txn_chunk, before @p fn. */
int eng__measure_feed(eng_engine *engine, const eng_txn_columns *txns, const eng_measure_spec *spec, int progress,
                      const uint8_t *trust, unsigned threads, eng__attr_feed_fn fn, void *user, size_t rows,
                      eng__attr_feed_fn txn_fn, eng_report **out);
/* A chunk of transactions (the fields of eng__measure_feed's @p txns): the rows whose goal
 * condition holds go to eng__attr_txns, as the whole column's would. */
int eng__attr_txn_chunk(eng__attr *x, const eng_txn_columns *chunk);
/* The touch pass over rows [0, n) with up to @p threads threads beside the caller's
 * (split.c): @p first feeds the caller's range [0, k) (and reports progress); the
 * other ranges run on threads of their own. Same state after as one thread's; fewer
 * parts for few rows. */
/* The walk (eng__attr_walk) with up to @p threads threads beside the caller's, over
 * ranges of customers; the same report and sorted arrays as one thread (split.c). */
int eng__attr_walk_split(eng__attr *x, unsigned threads);
/* A private copy @p r of the touch pass's state (bitmaps, counts, key buckets, kept touches,
 * earliest sends: empty) for a part of the pass on another thread, sharing what the pass only
 * reads (split.c); freed by eng__attr_free_pass. */
int eng__attr_pass_copy(eng__attr *r, const eng__attr *x);
/* A finished part's state (its buckets flushed) folded into x after the parts before it:
 * bitmaps OR-ed, counts added, earliest sends lowered, kept touches appended (r's move). */
int eng__attr_pass_fold(eng__attr *x, eng__attr *r);
/* Private copies of the qualifying transactions and their customers' bitmap (the rest shared
 * with x) for a part of the transactions' read on another thread, and the fold of a finished
 * part after the parts before it: its transactions appended, its bitmap OR-ed (attribute.c). */
int eng__attr_txn_copy(eng__attr *r, const eng__attr *x);
int eng__attr_txn_fold(eng__attr *x, eng__attr *r);
void eng__attr_txn_free(eng__attr *r);
/* The engine-level report's reads over an events-layer plan's units on threads (planpass.c):
 * cut into contiguous ranges by rows, one a part, the caller's thread taking the first with x
 * and @p user, each other on a thread of its own with a private copy of the run (copy) and
 * user state @p open makes for it (bound to that copy); done (NULL: none) on the part's thread
 * after its range; folded in range order (fold_run, then fold of its user state, then close
 * and free_run), so the run holds what one thread visiting every unit leaves. The error is the
 * earliest range's. Fewer parts for fewer than eng__attr_split_min_rows @p rows a part (one:
 * run over every unit on the caller's thread). */
enum { ENG__PLAN_PARTS = 8 }; /* parts at most; the plan's readers */
typedef struct eng__plan_ops {
    size_t (*units)(const void *plan);
    uint64_t (*rows)(const void *plan, size_t u);
    int (*run)(void *plan, size_t reader, size_t u0, size_t u1, void *user);
    int (*copy)(eng__attr *r, const eng__attr *x);
    int (*done)(eng__attr *r);
    int (*fold_run)(eng__attr *x, eng__attr *r);
    void (*free_run)(eng__attr *r);
    void *(*open)(void *user, eng__attr *r);
    int (*fold)(void *user, void *part);
    void (*close)(void *user, void *part);
    int runs;  /* the eng__attr_split_runs counter of its threads */
} eng__plan_ops;
int eng__attr_plan_split(eng__attr *x, void *plan, unsigned threads, size_t rows, const eng__plan_ops *ops,
                         void *user);
/* Rows (touches of the pass, kept touches of the walk) a part needs at least (2^16; tests lower it). */
extern size_t eng__attr_split_min_rows;
/* Threads started so far by the pass over rows [0], the walk [1], the pass over a plan's
 * touch segments [2] and the read of its transaction segments [3] (tests check the path
 * was taken). */
extern uint64_t eng__attr_split_runs[4];
int eng__attr_touches_split(eng__attr *x, unsigned threads, size_t n, const uint32_t *cu, const uint32_t *ms,
                            const uint8_t *ch, const uint8_t *st, const eng_time *t,
                            int (*first)(eng__attr *x, size_t n, void *user), void *user);
/* Build the report (walk.c); the run is freed either way. */
int eng__attr_finish(eng__attr *a, eng_report **out);
void eng__attr_free(eng__attr *a);
/* Free what the touch pass fills (bitmaps, counts, kept touches, keys, earliest sends), not the run. */
void eng__attr_free_pass(eng__attr *a);
/* walk.c */
int eng__attr_tally(eng__attr *a);
int eng__attr_walk(eng__attr *a);
int eng__attr_control(eng__attr *a);

/* Money: round x / den half-even (den > 0). */
eng__i128 eng__div_half_even(eng__i128 x, eng__i128 den);
/* 10^k as an i128, k <= 30. */
eng__i128 eng__pow10_128(int k);
/* Print minor units with @p places decimals into buf (at least 48 bytes). */
void eng__money_fmt(char *buf, size_t cap, int64_t v, int places);

/* Figures of one scope; @p ctl supplies the control figures for channel scopes. Returns the
 * name of a money figure that does not fit its int64 (then stored wrapped), or NULL. */
const char *eng__report_figures(const eng_report *r, const eng__acc *a, const eng__acc *ctl, eng_report_figures *f);
/* ENG_ERANGE naming the scope and figure when a money figure of @p r does not fit an int64. */
int eng__report_range(const eng_report *r);


/* ---- the engine-level campaign report (campaign.c reads events, ope.c the model and the ledger) ---- */
typedef struct eng__rep_msg {
    uint64_t id;
    int strategy;
    eng_time version;               /* approval time */
    uint8_t priority[ENG_MAX_CHANNELS]; /* channel order (the message's, then the other creative channels) */
    int npriority;
    uint32_t channels;              /* channels with a creative */
} eng__rep_msg;
typedef struct eng__rep_ctx {
    char org[80];
    eng_time start, end;
    int has_goal;
    eng_goal_spec goal;             /* strings owned (goal_event, goal_cond) */
    char *goal_event, *goal_cond;
    int64_t cost[ENG_MAX_CHANNELS];
    size_t nmsg;
    eng__rep_msg *msg;
} eng__rep_ctx;
/* The campaign as the actor may read it (ENG_OP_READ), its approved messages and the org's costs. */
int eng__rep_load(eng_engine *e, const char *actor, uint64_t campaign, eng__rep_ctx *out);
void eng__rep_free(eng_engine *e, eng__rep_ctx *c);

/* What the off-policy estimate of one X-Engage message needs from the events layer. */
typedef struct eng__ope_in {
    eng_engine *e;
    const char *org;
    const eng__rep_msg *msg;
    const int64_t *cost;            /* credits per channel */
    double credits_per_unit;        /* credits a unit of currency is worth */
    uint32_t ncust;
    const eng_time *sent_at;        /* per customer: its first sent touch of the message, or -1 */
    eng_time start;                 /* the message's first sent touch */
    eng_time window;                /* revenue counted in [decision, decision + window) */
    const uint32_t *rev_off;        /* transactions by customer: ncust + 1 offsets ... */
    const eng_time *rev_t;          /* ... their times ... */
    const int64_t *rev_amount;      /* ... and amounts x 10^4, time-sorted within a customer */
    const uint32_t *control;
    size_t ncontrol;
    /* Earlier campaigns' sends and responses per (customer - lo) x ENG_CH_COUNT + channel (added to). */
    int (*history)(void *user, uint32_t lo, uint32_t hi, uint32_t *sends, uint32_t *responses);
    void *user;
} eng__ope_in;
/* Revenue of customer @p c in [from, to), currency units. */
double eng__ope_revenue(const eng__ope_in *in, uint32_t c, eng_time from, eng_time to);
int eng__ope_run(const eng__ope_in *in, eng__ope_res out[ENG__OPE_N]);

#endif
