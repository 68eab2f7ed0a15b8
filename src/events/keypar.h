/* The per-row key work of a batch (check, parse, hash, key-map slot) on
 * eng_config.threads threads beside the caller's (keypar.c). Each row's
 * result depends on that row alone, so what a batch leaves is the same
 * whatever the thread count. Private to src/events. */
#ifndef ENG_EVENTS_KEYPAR_H
#define ENG_EVENTS_KEYPAR_H

#include "events/ev_state.h"

#define ENG__EV_KEY_MAX 1024
#define ENG__NO_SEND UINT32_MAX

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

/* Receipts of r checked (the first bad one is the error, nothing changed)
 * and read: lens[i] its key's length; rk[i] its time, status and, when its
 * key has its context's prefix, what the key says and the key map's
 * candidate (rk[i].cand, ENG__NO_SEND when the map has none: then h[i] is
 * the key's hash, else 0). slot: scratch of n pointers. */
int eng__rcpt_parse(const eng__ev *ev, const eng_receipts *r, size_t n, uint32_t *lens, uint64_t *h,
                    const uint32_t **slot, eng__rkey *rk);

/* `sent` rows [from, n) of one context (its key prefix pfx, plen, set):
 * hs[i] each key's hash, mapped[i] 1 when the key is the dispatcher's key
 * of the row's customer and channel with that prefix. *dform: some key not
 * mapped still has the dispatcher's form (the map alone cannot rule it out). */
void eng__sent_parse(const eng__ev *ev, const eng__sent_row *rows, size_t from, size_t n, const char *pfx,
                     size_t plen, uint64_t *hs, uint8_t *mapped, int *dform);

/* Batches of fewer rows than this a thread stay on the caller's thread
 * (starting a thread costs tens of microseconds); tests lower it. */
extern size_t eng__keypar_min_rows;

#endif
