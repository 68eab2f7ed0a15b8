/* The per-row key work of a batch (check, parse, hash, key-map slot) on
 * eng_config.threads threads beside the caller's (keypar.c). Each row's
 * result depends on that row alone, so what a batch leaves is the same
 * whatever the thread count. Private to src/events. */
#ifndef ENG_EVENTS_KEYPAR_H
#define ENG_EVENTS_KEYPAR_H

#include "events/ev_state.h"

#include "base/tpool.h"

#include <stdatomic.h>

#define ENG__EV_KEY_MAX 1024
#define ENG__NO_SEND UINT32_MAX
#define ENG__PAR_MAX 8

/* A receipt as the apply pass reads it, in one 32-byte record (read in send
 * order after the sort: one line a receipt rather than one for each of the
 * caller's arrays): its candidate send, time and status, and, when its key
 * is a key of a context's map, what the key says: the fields of its send's
 * row (the apply pass checks the send has that channel). */
typedef struct eng__rkey {
    eng_time t;
    uint32_t cand, customer, ctx;
    uint16_t org;
    uint8_t channel, mapped, status;
} eng__rkey;

/* The candidates of a batch: the least and greatest (UINT32_MAX and 0 when
 * none has one) and how many have none (ENG__NO_SEND). Counted as they are
 * found, so the apply pass's cut and the caller's look for the others read
 * no candidate array for them. */
typedef struct eng__cspan {
    uint32_t lo, hi;
    size_t none;
} eng__cspan;

/* Receipts of r checked (the first bad one is the error, nothing changed)
 * and read: lens[i] its key's length; rk[i] its time, status and, when its
 * key has its context's prefix, what the key says and the key map's
 * candidate (rk[i].cand and cand[i], ENG__NO_SEND when the map has none:
 * then h[i] is the key's hash, else 0); *span the candidates'. slot: scratch
 * of n pointers. */
int eng__rcpt_parse(const eng__ev *ev, const eng_receipts *r, size_t n, uint32_t *lens, uint64_t *h,
                    const uint32_t **slot, eng__rkey *rk, uint32_t *cand, eng__cspan *span);

/* `sent` rows [from, n) of one context (its key prefix pfx, plen, set),
 * parsed by chunks (eng__pipe jobs) while the caller applies the rows before
 * (eng__sent_pipe_wait): hs[i] each key's hash, mapped[i] 1 when the key is
 * the dispatcher's key of the row's customer and channel with that prefix,
 * 2 when a key not mapped still has the dispatcher's form (the map alone
 * cannot rule it out). Each row's result depends on that row alone, so they
 * are the same whoever parses it. */
typedef struct eng__spipe {
    eng__pipe pp;
    const eng__sent_row *rows;
    const char *pfx;
    size_t plen, from, n, chunk;
    uint64_t *hs;
    uint8_t *mapped;
    unsigned char dform[ENG__PIPE_MAX]; /* chunk k holds a mapped[i] of 2 */
    size_t ready;                       /* rows [from, ready): parsed, seen by the caller */
} eng__spipe;
void eng__sent_pipe_start(eng__spipe *sp, const eng__ev *ev, const eng__sent_row *rows, size_t from, size_t n,
                          const char *pfx, size_t plen, uint64_t *hs, uint8_t *mapped);
/* Rows up to @p upto (at most n) parsed; returns how far they are (>= upto).
 * *dform |= 1 when the chunks newly seen hold a mapped[i] of 2. */
size_t eng__sent_pipe_wait(eng__spipe *sp, size_t upto, int *dform);
/* The pool's workers out of it (the chunks not yet claimed are left unparsed). */
void eng__sent_pipe_end(eng__spipe *sp);

/* The order and apply passes of a receipt batch (rapply.c): the n
 * receipts of r with their candidate sends cand[i] (rk[i].cand; ENG__NO_SEND:
 * none; h[i] the hash of the keys not mapped), span their span. ord (n entries) gets the
 * positions (ord[k] & 0xffffffff) of the *nm receipts with a candidate, in
 * ascending candidate order, receipts of one candidate in arrival order,
 * then those without, in arrival order. A receipt whose candidate is its
 * send (a mapped key's send has the key's channel; a hashed key's has the
 * full hash; the send is live) and is not yet stored for it (its status
 * mask) becomes a row of its send's org's tail, in that order, sealing the
 * tail when full, the send's mask and furthest status updated; counts into
 * rep (accepted, duplicates), opt-outs pushed onto opts in row order. The
 * order positions of the others go into stray[0, *nstray) (n entries), in
 * order, for the caller (their send, if any, is found by the full hash).
 * The ranges of candidates run on the engine's threads, the rows they make
 * are put into the tails on the caller's, in order: the same store whatever
 * the thread count. */
int eng__rcpt_apply(eng__ev *ev, const eng_receipts *r, const eng__rkey *rk, const uint64_t *h, const uint32_t *cand,
                    const eng__cspan *span, size_t n, uint64_t *ord, size_t *nm, eng_event_report *rep, eng__optlist *opts, uint32_t *stray,
                    size_t *nstray);
/* The apply pass's ranges a thread (the caller's included) when there are
 * threads: the caller puts each range's rows into the tails as soon as it is
 * done, and applies ranges not yet taken while the threads apply the others,
 * so that they are not left idle while it puts the last ones. The receipts'
 * key parse is cut as finely, so that the caller waits for one range at most. */
#define ENG__RANGES_PER 4
/* Ranges of more than one receipt whose receipts arrived in send order, so
 * that the sort had no pass to make (counted for the tests). */
extern _Atomic size_t eng__rcpt_presorted;

/* How many parts @p rows rows are cut into: the engine's threads plus the
 * caller's, fewer when a part would have fewer than eng__keypar_min_rows. */
size_t eng__par_parts(const eng__ev *ev, size_t rows);

/* Batches of fewer rows than this a thread stay on the caller's thread
 * (starting a thread costs tens of microseconds); tests lower it. */
extern size_t eng__keypar_min_rows;

#endif
