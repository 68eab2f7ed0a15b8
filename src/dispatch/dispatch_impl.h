/* The dispatch layer's internals.
 *
 * Storage (records under "d/"), the truth an execution is re-derived from:
 *   d/x/<msg:016x>/<occ:08x>              execution: state, version, counters   0x0601
 *   d/l/<msg:016x>/<occ:08x>/<chunk:08x>  ledger chunk: the decisions for up to
 *                                         chunk_size customers of the frozen test
 *                                         group and one entry per send        0x0602
 *   d/k/<msg:016x>/<occ:08x>/<chunk:08x>  lease of a chunk (shared stores only,
 *                                         lease.c): owner engine, expiry      0x0603
 * A chunk record is written before any of its sends goes to the transport
 * (intent, attempt counted) and again after (outcomes, in the same batch as
 * the credits and the execution counters).
 *
 * Memory (the engine slot) only caches what storage says: per execution which
 * chunks are planned and which still have sends that are not final. The cache
 * is dropped after any storage error (a commit that reported failure may have
 * applied) and rebuilt by a scan. Claims (which chunk a thread is working on,
 * possibly outside the lock) live apart from the cache and survive a drop. */
#ifndef ENG_DISPATCH_IMPL_H
#define ENG_DISPATCH_IMPL_H

#include <pthread.h>
#include <stdint.h>
#include "engage/dispatch.h"
#include "engage/model.h"
#include "core/engine_impl.h"
#include "base/codec.h"
#include "store/record.h"
#include "model/model_impl.h"
#include "decide/decide.h"
#include "dispatch/struct_sizes.h"

enum {
    ENG__REC_DSP_EXEC = 0x0601,
    ENG__REC_DSP_CHUNK = 0x0602,
    ENG__REC_DSP_LEASE = 0x0603,
    ENG__REC_DSP_POC = 0x0604,
};
#define ENG__DSP_SCHEMA 1
/* Ledger chunks: 2 stores an X-Engage explored choice's logged propensity (1 took it as 1 / reachable). */
#define ENG__DSP_CHUNK_SCHEMA 2
#define ENG__CHUNK_DEFAULT 256

/* The org's unsubscribe set-up (unsub.c). */
typedef struct eng__unsub {
    char url[513];
    uint8_t secret[256];
    size_t secret_len;
} eng__unsub;

/* ---- send keys ---- */
/* "<org>/c<campaign>/m<message>.<version>/o<occurrence>/u<customer>/<channel>"; returns its length.
 * The events layer matches receipts by this form (events/keymap.c; test events_keymap checks
 * both agree): a change of form only moves receipts to its slower hash path. */
size_t eng__send_key(char *buf, size_t cap, const char *org, uint64_t campaign, uint64_t message, eng_time version,
                     uint32_t occurrence, uint32_t customer, int channel);
/* The same from a prefix made by eng__send_key_prefix (the hot path: no printf). */
size_t eng__send_key_prefix(char *buf, size_t cap, const char *org, uint64_t campaign, uint64_t message,
                            eng_time version, uint32_t occurrence);
size_t eng__send_key_tail(char *buf, size_t cap, const char *prefix, size_t plen, uint32_t customer, int channel);

/* ---- records ---- */
typedef struct eng__xrec {
    int state;          /* eng_exec_state */
    eng_time version;   /* the approval the execution works from */
    eng_time due;
    uint64_t audience;  /* test-group size */
    uint32_t chunk_size;
    uint64_t planned, sends, accepted, rejected, expired, skipped, unreachable;
    int64_t credits;
    char reason[256];
    /* points awards (points.c): entries due, and their final outcomes; stored only when non-zero */
    uint64_t pts_planned, pts_awarded, pts_rejected, pts_expired;
    int64_t pts_sum;
} eng__xrec;

void eng__exec_key(char *buf, size_t cap, uint64_t msg, uint32_t occ);
int eng__exec_load(eng_engine *e, uint64_t msg, uint32_t occ, eng__xrec *out); /* ENG_ENOTFOUND */
int eng__exec_store(eng_engine *e, uint64_t msg, uint32_t occ, const eng__xrec *x);

typedef struct eng__lcust {  /* one customer of a chunk */
    uint32_t id;
    uint32_t planned;        /* channels chosen */
    int16_t variant;
    uint8_t rule, detail;
    uint8_t unreach;         /* why no channel (ENG__UNREACH_*), 0 */
    uint32_t reach;          /* X-Engage only (stored for that rule): channels reachable at the decision */
    float prop;              /* X-Engage explored only: P(the channel) as logged (schema 1: 1 / reachable) */
} eng__lcust;

typedef struct eng__lsend {  /* one send of a chunk */
    uint32_t cust;           /* index into the chunk's customers */
    uint8_t ch, state, attempts, why; /* why: skip reason */
    eng_time next_at;        /* retry due (RETRY/UNKNOWN) */
} eng__lsend;

typedef struct eng__lpts {  /* the points award of one customer of a chunk (points.c) */
    uint32_t cust;           /* index into the chunk's customers */
    uint8_t state, attempts; /* an eng_ledger_state (never SKIPPED), calls made with its key */
    eng_time next_at;        /* retry due (RETRY/UNKNOWN) */
} eng__lpts;

typedef struct eng__chunk {
    const eng__mem *mem;
    uint32_t index;
    uint32_t ncust, nsend;
    eng__lcust *cust;
    eng__lsend *send;
    uint32_t npts;           /* points awards, in the order they became due (capacity ncust) */
    eng__lpts *pts;
} eng__chunk;

void eng__chunk_key(char *buf, size_t cap, uint64_t msg, uint32_t occ, uint32_t chunk);
void eng__chunk_free(eng__chunk *c);
int eng__chunk_load(eng_engine *e, uint64_t msg, uint32_t occ, uint32_t index, eng__chunk *out); /* ENG_ENOTFOUND */
/* The same, and the stored payload's eng__hash64 in *hash (eng__lease_claim compares it). */
int eng__chunk_load_hash(eng_engine *e, uint64_t msg, uint32_t occ, uint32_t index, eng__chunk *out, uint64_t *hash);
/* @p schema: the record's (eng__rec.schema), 1 or ENG__DSP_CHUNK_SCHEMA. */
int eng__chunk_decode(const eng__mem *mem, const char *key, uint16_t schema, const uint8_t *p, size_t n,
                      eng__chunk *out);
int eng__chunk_store(eng_engine *e, uint64_t msg, uint32_t occ, const eng__chunk *c);
static inline int eng__ledger_final(int state)
{
    return state == ENG_LEDGER_ACCEPTED || state == ENG_LEDGER_REJECTED || state == ENG_LEDGER_EXPIRED ||
           state == ENG_LEDGER_SKIPPED;
}

/* ---- templates (render.c) ---- */
typedef struct eng__tpl eng__tpl;
typedef struct eng__rctx {   /* what a render needs about the send */
    eng_engine *e;
    uint32_t customer;
    int channel;
    const char *coupon;      /* code for {{coupon_code}}, or NULL */
    const char *unsubscribe; /* URL for {{unsubscribe}}, or NULL */
    const char *campaign_name;
    const char *org;         /* whose customer: attributes are read from that org's table */
    eng_tiny_url_fn tiny;    /* the host's shortener for {{tiny_url}}, or NULL: the long link */
    void *tiny_user;
    const eng_tiny_url_request *tiny_req; /* the send's request (url filled per tag) */
} eng__rctx;
/* eng__tpl_render: the host's shortener failed; the send waits for a retry (positive, not an error). */
#define ENG__RENDER_LATER 1
/* Compile a template once per message; html: escape values for an email body. */
int eng__tpl_compile(const eng__mem *mem, const char *text, int html, eng__tpl **out);
void eng__tpl_free(const eng__mem *mem, eng__tpl *t);
/* Append the rendering to w (call with the engine locked). */
int eng__tpl_render(const eng__tpl *t, const eng__rctx *r, eng__wr *w);
/* Does the template use {{unsubscribe}}? */
int eng__tpl_has_unsubscribe(const eng__tpl *t);
/* Does the template use {{tiny_url}}? */
int eng__tpl_has_tiny(const eng__tpl *t);
/* SMS billing units of a rendered text: GSM-7 160/153, else UCS-2 70/67. */
uint32_t eng__sms_segments(const char *text, size_t len);

/* The pool a message draws unique codes from, or NULL (no coupon, or one common code). */
static inline const char *eng__msg_pool(const eng_message_spec *s)
{
    const eng_incentive *in = s->incentive;
    if (in->kind != ENG_INCENTIVE_COUPON || in->coupon_source == ENG_COUPON_COMMON)
        return NULL;
    return in->coupon_pool ? in->coupon_pool : "";
}

/* ---- executions in memory (exec.c) ---- */
typedef struct eng__xcache {
    struct eng__xcache *next;
    uint64_t msg;
    uint32_t occ;
    eng__msg_ctx x;           /* message, campaign, org, actor as loaded */
    eng__xrec rec;            /* as last read (counters are re-read before each write) */
    uint32_t *ids;            /* the frozen test group, ascending (copied: no engine reference held) */
    uint64_t nids;
    uint32_t nchunks;
    uint8_t *cstate;          /* per chunk: 0 unplanned, 1 has non-final sends, 2 final */
    eng_time *cdue;           /* per chunk with state 1: earliest time a send is due */
    int64_t *ccost;           /* per chunk with state 1: cost of its non-final sends */
    /* other engines' commits since the last sync (xsync.c): chunks to read again, all of them, the record */
    uint8_t *cstale;
    int rescan, rec_stale;
    const eng__strategy *strat;
    void *strat_state;
    eng__dctx dctx;
    eng__tpl *body[ENG_CH_COUNT], *subject[ENG_CH_COUNT];
    eng__tpl **vbody;          /* per variant */
    const char *sender[ENG_CH_COUNT];
    char keypfx[ENG_SEND_KEY_MAX + 1]; /* the send key up to the customer ("<org>/c../m../o../u") */
    eng__unsub unsub;         /* the org's unsubscribe set-up */
    int has_unsub;
    int dry;                  /* a dry run's private execution: no host shortener is called */
    int poc_state;            /* POC copies (poc.c): 1 when some are not final (poc_open, earliest due poc_due) */
    uint32_t poc_open;
    eng_time poc_due;
    size_t keypfx_len;
} eng__xcache;

typedef struct eng__claim {
    uint64_t msg;
    uint32_t occ, chunk;
} eng__claim;

/* A chunk whose lease another engine holds: not tried again before `until`. */
typedef struct eng__held {
    uint64_t msg;
    uint32_t occ, chunk;
    eng_time until;
} eng__held;

/* The ids of the last frozen audience a per-customer reader asked about (audpos.c). */
#define ENG__AUDPOS_KEY 160
typedef struct eng__audpos {
    char key[ENG__AUDPOS_KEY]; /* org and frozen audience key; "" when empty */
    uint32_t *test, *control;  /* sorted, as the audience holds them */
    uint64_t ntest, ncontrol;
} eng__audpos;

typedef struct eng__dsp {
    eng_dispatch_hooks hooks; /* the host's (eng_dispatch_hooks_set), with hooks_user */
    void *hooks_user;
    eng__xcache *execs;
    int drop_all;             /* another engine changed what the cached executions cannot read again alone */
    eng__claim *claims;
    size_t nclaims, cclaims;
    eng__held *held;
    size_t nheld, cheld;
    unsigned in_flight;
    pthread_cond_t cond;      /* a batch came back */
    eng__audpos apos;
    /* Rate limits (work.c): per channel, the earliest monotonic time (seconds) the
     * next message may go. Read and moved outside the engine lock, under rate_lock. */
    pthread_mutex_t rate_lock;
    double rate_next[ENG_CH_COUNT];
    /* Executed messages found with no occurrence left running (run.c), ascending. */
    uint64_t *settled;
    size_t nsettled, csettled;
} eng__dsp;

eng__dsp *eng__dsp_get(eng_engine *e); /* NULL on OOM */
/* Forget every cached execution (after a storage error). */
void eng__dsp_drop(eng_engine *e);
/* Several engines (xsync.c): which cached executions a key another engine committed makes stale,
 * and reading those parts again at the next sync (the rest of the cache is kept). */
int eng__dsp_watch(eng_engine *e, void *state, const void *key, size_t klen);
void eng__dsp_invalidate(eng_engine *e, void *state);
/* The execution's chunk records into its chunk states: all of them, or chunk @p idx. */
int eng__xcache_scan_chunks(eng_engine *e, eng__xcache *xc);
int eng__xcache_read_chunk(eng_engine *e, eng__xcache *xc, uint32_t idx);
/* The cached execution, loading it or starting it (which may refuse it:
 * then out->rec.state is ENG_EXEC_REFUSED). @p last: this is the schedule's last occurrence. */
int eng__xcache_get(eng_engine *e, const char *actor, uint64_t msg, uint32_t occ, eng_time due, eng__xcache **out);
void eng__xcache_forget(eng_engine *e, eng__xcache *xc);
/* A private execution for a dry run: nothing stored, not in the cache list; free with eng__xcache_free. */
int eng__xcache_dry(eng_engine *e, const char *actor, uint64_t msg, eng__xcache **out);
void eng__xcache_free(eng_engine *e, eng__xcache *xc);

int eng__claimed(const eng__dsp *d, uint64_t msg, uint32_t occ, uint32_t chunk);

/* Where @p customer sits in the frozen audience of the message of @p x: *pos
 * its position in the test group or -1, *control 1 when in the control group.
 * Errors as eng_message_audience(). */
int eng__audience_where(eng_engine *e, const char *actor, const eng__msg_ctx *x, uint32_t customer, int64_t *pos,
                        int *control);
void eng__audpos_drop(eng_engine *e, eng__audpos *p);

/* ---- ad audiences (adexport.c) ---- */
int eng__ad_channel(int channel);
/* Normalised identifier of a contact for the ad channel; its length, 0 when unusable. */
size_t eng__ad_normalise(int channel, const char *s, size_t n, char *out, size_t cap);
/* SHA-256 hex of the normalised contact; 64, or 0 when unusable. */
size_t eng__ad_hash(int channel, const char *contact, size_t n, char hex[65]);
/* The idempotency key of one part: the send-key prefix with "p<part>/<channel>" for the customer. */
size_t eng__ad_part_key(char *buf, size_t cap, const char *keypfx, size_t plen, uint32_t part, int channel);
/* SHA-256 hex of the list, each entry followed by a line feed. */
void eng__ad_list_hash(const char *const *hashes, size_t n, char hex[65]);

/* ---- leases of chunks on a store shared by several engines (lease.c) ---- */
#define ENG__LEASE_DEFAULT ((eng_time)30 * 1000)
/* Take the lease of a chunk in a batch of its own. *got: it is this engine's
 * now (then *planned: the ledger already holds the chunk); otherwise
 * *held_until says until when another engine holds it (0: it lost a race).
 * Errors are storage errors only. */
int eng__lease_take(eng_engine *e, uint64_t msg, uint32_t occ, uint32_t chunk, eng_time ttl, int *got,
                    int *planned, eng_time *held_until);
/* Inside the caller's batch: check the lease is still this engine's
 * (ENG__LEASE_LOST, positive, when it passed to another) and extend it by
 * @p ttl, or release it when @p ttl is 0. */
#define ENG__LEASE_LOST 1
int eng__lease_keep(eng_engine *e, uint64_t msg, uint32_t occ, uint32_t chunk, eng_time ttl);
/* Outside a batch: *held_until > 0 when another engine holds the chunk's lease (until then). */
int eng__lease_peek(eng_engine *e, uint64_t msg, uint32_t occ, uint32_t chunk, eng_time *held_until);

/* ---- credits (credit.c) ---- */
/* Cost of one send on a channel: the org's channel cost times segments. */
int64_t eng__send_cost(const eng_org_settings *s, int channel, uint32_t segments);
/* Charge inside the caller's batch; a charge after acceptance never fails for overdraft. */
int eng__dsp_charge(eng_engine *e, const char *org, int64_t amount);

/* ---- unsubscribe links (unsub.c) ---- */
int eng__unsub_load(eng_engine *e, const char *org, eng__unsub *out); /* ENG_ENOTFOUND */
/* The signed link for one send; 0 when it does not fit. */
size_t eng__unsub_url(const eng__unsub *u, const char *org, uint64_t campaign, uint32_t customer, int channel,
                      char *buf, size_t cap);

/* ---- touches ---- */
/* Write the "sent" touches of accepted sends into the caller's batch (events
 * layer, touch.c; kept apart because the model's and the audience's internal
 * headers cannot meet in one file); if that batch then fails, call
 * eng__dsp_touch_abandon(). doubt: the sends expired in doubt instead (handed
 * over, never confirmed): no touch, but a receipt of one later writes its
 * `sent` and joins it (docs/dispatch.md). */
typedef struct eng__dsp_sent {
    const char *key;
    uint32_t customer;
    uint8_t channel;
} eng__dsp_sent;
int eng__dsp_touch_sent(eng_engine *e, const char *org, uint64_t campaign, uint64_t message, eng_time version,
                        uint32_t occurrence, const eng__dsp_sent *rows, size_t n, eng_time at, int doubt);
void eng__dsp_touch_abandon(eng_engine *e);
/* Before a chunk's sends are made: room for @p n more "sent" touches, the
 * send-key index grown now (stepping @p pg, cancellable, nothing stored)
 * rather than in the outcome's batch, after the transport call. */
int eng__dsp_touch_room(eng_engine *e, size_t n, eng__prog *pg);

/* work_chunk / eng__points_work: another engine holds the chunk's lease (positive, not an error). */
#define ENG__NOT_MINE 2
/* Conflicts with other engines met in a row before a run gives up with ENG_EBUSY. */
#define ENG__DSP_RETRIES 200

/* ---- points awards (points.c) ---- */
/* Does the message award points? */
static inline int eng__msg_points(const eng_message_spec *s)
{
    return s->incentive->kind == ENG_INCENTIVE_POINTS;
}
/* Give customer @p cust of @p c a points award due now, unless it has one; *added: 1 when new. */
int eng__points_add(eng__chunk *c, uint32_t cust, int *added);
/* Is an award of @p c due at @p now? Its earliest due time goes to *due (when not final). */
int eng__points_due(const eng__chunk *c, eng_time now, eng_time *due, int *open);
/* The key of a customer's award: the send-key prefix, the customer, "/points". 0 when it does not fit. */
size_t eng__points_key(char *buf, size_t cap, const char *keypfx, size_t plen, uint32_t customer);

/* ---- POC copies (poc.c) ---- */
/* The pseudo-chunk index that claims (and, on a shared store, leases) an execution's POC copies. */
#define ENG__POC_CHUNK UINT32_MAX
/* Fill xc->poc_* from storage (or, before the first copy, from the message). */
int eng__poc_cache(eng_engine *e, eng__xcache *xc);

/* ---- working a chunk (work.c) ---- */
typedef struct eng__runctx {
    eng_engine *e;
    const char *actor;
    eng_time now;
    const eng_run_options *opts;
    eng_run_report *rep;
    eng__prog pg; /* "dispatch.run": sends so far, after each batch */
    int left;     /* run.c: an executed message was found with an occurrence still running */
} eng__runctx;
/* Work one execution until nothing more can be done now; @p last: the schedule's last
 * occurrence is due (finishing this one makes the message executed once every other
 * occurrence is final too). */
int eng__exec_work(eng__runctx *r, uint64_t msg, uint32_t occ, eng_time due, int last);
/* Message @p msg of org @p org, executing with every occurrence final, becomes executed in a
 * batch of its own (run.c: when no occurrence's finish did it). */
int eng__exec_message_done(eng__runctx *r, const char *org, uint64_t msg);

/* For points.c: add the deltas to the stored execution record (inside the caller's batch);
 * recompute the cached state of a chunk; the retry backoff after @p attempts. */
int eng__exec_bump(eng_engine *e, eng__xcache *xc, const eng__xrec *d);
void eng__chunk_state(eng__xcache *xc, const eng__chunk *c);
eng_time eng__backoff(unsigned attempts);
/* Occurrences of a schedule: 0 (none), 1 (once), or those from at to until (run.c). */
uint64_t eng__sched_occurrences(const eng_schedule *s);
/* Work the due points awards of a loaded chunk (frees it): intent stored, the host's callback
 * without the lock, outcomes stored. @p shared / @p ttl: the chunk's lease, as in work.c. */
int eng__points_work(eng__runctx *r, eng__xcache *xc, eng__chunk *c, int shared, eng_time ttl);
/* After a conflict with another engine: a short random pause with the engine unlocked (work.c). */
void eng__conflict_pause(eng_engine *e, unsigned attempt);
/* Remember that another engine holds a chunk's lease until @p until (work.c). */
void eng__held_add(eng_engine *e, uint64_t msg, uint32_t occ, uint32_t chunk, eng_time until);
/* Send the execution's due POC copies (claimed by the caller): intent, transport, outcome. */
int eng__poc_work(eng__runctx *r, eng__xcache *xc, int shared, eng_time ttl);

/* ---- recording worked batches under the lease (record.c) ---- */
/* A worked batch: its execution and the chunk whose lease it is worked under. */
typedef struct eng__dsp_at {
    uint64_t msg;
    uint32_t occ, chunk;
    eng_time due; /* the execution's: finds its cache again */
    int shared;   /* several engines: each batch checks the lease first */
    /* The intent of a chunk read and planned outside any lease: the batch takes the lease
     * (eng__lease_claim) instead of keeping one, after checking the stored chunk is the one
     * read (absent when fresh; else its payload's eng__hash64, read_hash). */
    int take, fresh;
    uint64_t read_hash;
} eng__dsp_at;
/* Inside the intent batch of an eng__dsp_at with take set: ENG__LEASE_LOST when another engine
 * holds the lease, ENG_EBUSY when the chunk changed since it was read; else the lease is this
 * engine's for @p ttl (none when 0). */
int eng__lease_claim(eng_engine *e, const eng__dsp_at *at, eng_time ttl);
/* The writes of one batch, inside the storage batch. */
typedef int (*eng__dsp_store_fn)(eng_engine *e, eng__xcache *xc, void *user);
/* Intent, in one storage batch: the lease kept (extended by @p ttl, given back when 0) and
 * @p store's writes. ENG__NOT_MINE when the lease passed to another engine (nothing written);
 * on any failure after the batch began the cache is dropped. */
int eng__dsp_record(eng_engine *e, const eng__dsp_at *at, eng_time ttl, eng__dsp_store_fn store, eng__xcache *xc,
                    void *user);
/* Outcome, after the call made without the lock. */
typedef struct eng__dsp_outcome {
    int (*settle)(eng__xcache *xc, void *user); /* the answers into the entries, before each try */
    eng__dsp_store_fn store;
    void (*done)(eng__xcache *xc, void *user); /* after the commit: the cache follows */
    int touches;                                /* store writes "sent" touches: abandoned on failure */
    void *user;
} eng__dsp_outcome;
/* Record the answers, the lease given back: found the cache again, retried on conflicts with
 * other engines, a lost lease is not an error (the new owner records). */
int eng__dsp_record_outcome(eng__runctx *r, const eng__dsp_at *at, const eng__dsp_outcome *o);
/* ENG_EMISUSE when the engine was closed while a call had the lock let go; else @p rc. */
int eng__dsp_closed(const eng_engine *e, int rc);

/* Plan and render every chunk of a dry execution, counting instead of storing and sending. */
int eng__dry_work(eng__runctx *r, eng__xcache *xc, eng_dry_report *out);

struct eng__customer_view_t;
/* One rendering into an arena (offsets into it; the strings are NUL-terminated there). */
typedef struct eng__rendered {
    size_t key, to, from, subj, body, body_len;
    uint32_t segments;
    int64_t cost;
} eng__rendered;
/* Render one customer's message on a channel whatever their reachability (preview, test
 * send), with the content variant @p variant (-1: the creative's own): 0, ENG_UNREACH_RENDER (a subject with a line break), or a negative error. */
/* eng__dctx.units for an execution (units_user: its eng__xcache): SMS parts as the creative renders now. */
int eng__dsp_units(const eng__dctx *ctx, int channel, const uint32_t *customers, size_t n, uint8_t *out);
int eng__render_one(eng__runctx *r, eng__xcache *xc, const struct eng__customer_view_t *view, uint32_t customer, int ch,
                    int variant, const char *coupon, eng__wr *w, eng__rendered *out);
/* The transport, with the rate limits (call without the engine lock). */
void eng__dsp_transmit(eng_engine *e, eng__dsp *d, const unsigned *limit, const eng_envelope *env, size_t n,
                       int *status);
/* A message's templates for a preview or test send: no audience, no strategy, any state; free with
 * eng__xcache_free. */
int eng__xcache_preview(eng_engine *e, const char *actor, uint64_t msg, int op, eng__xcache **out);

/* Commit helper: commit, or roll back keeping the first error; drops the cache on failure. */
int eng__dsp_commit(eng_engine *e, int rc);

#endif
