/* The demo's shared pieces: what the run measured (for the text and HTML
 * reports) and the HTML writer. */
#ifndef DEMO_H
#define DEMO_H

#include <stdio.h>
#include "engage.h"

#define DEMO_MAX_BATCHES 64
#define DEMO_MAX_MESSAGES 4

/* One transport batch of the X-Engage execution, as the simulated provider saw it. */
typedef struct demo_batch {
    uint64_t sent[ENG_CH_COUNT];
    uint64_t opened[ENG_CH_COUNT];
} demo_batch;

typedef struct demo_result {
    const char *store_kind;
    uint64_t customers, history_txns, campaign_txns;
    eng_report_figures total;
    int has_channel[ENG_CH_COUNT];
    eng_report_figures channel[ENG_CH_COUNT];
    size_t nmsg;
    uint32_t msg_id[DEMO_MAX_MESSAGES];
    const char *msg_title[DEMO_MAX_MESSAGES];
    eng_report_figures msg[DEMO_MAX_MESSAGES];
    size_t nbatches;
    demo_batch batch[DEMO_MAX_BATCHES];
    eng_ope_estimate ope[4];
} demo_result;

/* Write the self-contained HTML report (inline SVG, no network). Returns 0 or -1 (errno set). */
int demo_write_html(const char *path, const demo_result *r);

#endif
