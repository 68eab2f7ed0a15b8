/* W7 through the engine's own store (w7_store.c). */
#ifndef W7_STORE_H
#define W7_STORE_H

#include "engage.h"

/* The bench's generated data: touches (message m + 1 of nmsg, in the log's order:
 * each message's sends, then its receipts), transactions (amounts in cents, store
 * indexes 0..99 named "S<k>"), the control customers, the campaign's dates and goal. */
typedef struct w7_log {
    uint32_t nc;
    size_t nt, nx, nctl, nmsg;
    const uint32_t *cust, *msg;
    const uint8_t *ch, *st;
    const eng_time *t;
    const uint32_t *xcust, *xstore, *ctl;
    const eng_time *xt;
    const int64_t *xamt;
    eng_time start, end;
    const eng_goal_spec *goal;
} w7_log;

/* Write @p d into a new engine as it would arrive, then time eng_campaign_report @p reps
 * times: the best CPU (the calling thread's) and wall times; the last report (its
 * engine closed when it is freed). */
eng_report *w7_store(const w7_log *d, int reps, double *best_cpu, double *best_wall);

#endif
