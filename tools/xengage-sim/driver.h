/* How the simulator talks to the optimizer under test. The direct driver
 * calls the decide layer's internal API; an engine driver (org, campaign,
 * X-Engage message, run-due, transport callback, receipts through the events
 * API) implements the same calls. */
#ifndef XSIM_DRIVER_H
#define XSIM_DRIVER_H

#include <stdio.h>

#include "world.h"

typedef struct xs_choice {
    int8_t ch;        /* -1: none */
    uint8_t explored; /* from the exploration bucket (propensity is exact) */
    float propensity;
    uint8_t scored;   /* score holds the optimizer's own figure (direct driver, not explored) */
    float score;      /* expected value of the send less its cost (x (1 + lambda) under a cap), by its estimates */
} xs_choice;

/* The optimizer's own estimates for one customer (direct driver, --calib): per channel, whether reachable, the
 * expected value of a send before its cost as scored (value x delivery x engagement x conversion given
 * engagement), the engagement and the value of an engagement (value x conversion given engagement). */
typedef struct xs_est {
    uint8_t reach[XS_MAXK];
    double v[XS_MAXK], q[XS_MAXK], vpe[XS_MAXK];
} xs_est;

typedef struct xs_driver_opts {
    double explore, forget;
    int sample_q, sample_pi, guard_priority, skip_negative;
    int informed;       /* direct driver: spend no more than the Thompson draws' choices would */
    int q_lgn;          /* direct driver: the logit-normal engagement estimate (eng__xe_config's q_lgn) */
    unsigned threads;
    int customer_value; /* the host passes each customer's order value (else the world's mean) */
    int engine;         /* play through the real engine (driver_engine.c) instead of the internal API */
    int verbose;        /* engine driver: print the campaign report after each wave */
    int no_segments;    /* engine driver: one include group, so X-Engage sees one segment */
    int no_history;     /* engine driver: do not replay the warm-up history (the engine starts cold) */
    unsigned truth;     /* direct driver, diagnostics: XS_TRUTH_* parts of the score taken from the world */
    int delay;          /* direct driver: open sends count as F(elapsed) of a miss, F fitted from the receipts
                           (XS_DELAY_FIT), the world's own (XS_DELAY_TRUE), or not at all (XS_DELAY_OFF) */
} xs_driver_opts;
enum { XS_DELAY_FIT = 0, XS_DELAY_TRUE = 1, XS_DELAY_OFF = 2 };
void xs_driver_opts_default(xs_driver_opts *o);
/* --truth: engagement, incremental conversion given engagement, the customer's order value, delivery rate;
 * qpost / qfit: engagement as the exact posterior mean of a logit-normal model (qpost.c). */
enum { XS_TRUTH_Q = 1, XS_TRUTH_PI = 2, XS_TRUTH_VALUE = 4, XS_TRUTH_DELIVERY = 8, XS_TRUTH_QPOST = 16,
       XS_TRUTH_QFIT = 32, XS_TRUTH_QR = 64 }; /* qr: qpost with r known */

/* An outcome flag of the simulator's own beside ENG__XE_*: a send of the warm history (earlier campaigns, before
 * the first wave); with ENG__XE_NO_CONV unless the sales history covers it (its conversion is then known). */
#define XS_WARM (1u << 6)

typedef struct xs_driver xs_driver;
struct xs_driver {
    /* Decide for customers @p ids of wave @p wave; @p budget < 0: no cap. */
    void (*decide)(xs_driver *d, unsigned wave, const uint32_t *ids, size_t n, double budget, xs_choice *out);
    /* A resolved send (flags: ENG__XE_*), a control customer's wave, and the batch/wave boundaries. */
    void (*outcome)(xs_driver *d, uint32_t i, unsigned ch, unsigned flags);
    void (*control)(xs_driver *d, uint32_t i, int converted);
    void (*refresh)(xs_driver *d);
    void (*new_wave)(xs_driver *d);
    /* Model estimate of the reward (value x conversion - cost) of sending i channel c (-1: nothing). */
    double (*dm)(xs_driver *d, uint32_t i, int ch);
    /* Print why customer i gets its channel in wave @p wave (the optimizer's trace). Optional. */
    void (*explain)(xs_driver *d, unsigned wave, uint32_t i, FILE *f);
    void (*close)(xs_driver *d);
    const char *name;
    double now_h; /* the simulation's clock (hours), set before outcome/decide calls */
    /* Optional: the driver defines the wave's control group and batches (batch[i] = b, or 200 + b for
     * control), e.g. the engine's own frozen split; called before the wave is played. */
    void (*plan_wave)(xs_driver *d, unsigned wave, double t0_h, uint8_t *batch);
    /* Optional: after the wave's last batch. */
    void (*wave_done)(xs_driver *d, unsigned wave);
    /* Optional (engine driver): the wave's campaign report's estimate of target 0 priority, 1 greedy, in
     * currency per test customer: out = {dr, lo, hi}; returns 1 when the report had one. */
    int (*report_ope)(xs_driver *d, unsigned wave, int target, double out[3]);
    /* Optional (engine driver): a test customer's purchase that no message caused (the organic draw),
     * when the send's outcome does not already carry it; the host's sales feed has every purchase. */
    void (*organic)(xs_driver *d, uint32_t i);
    /* Optional (engine driver): the wave's credit cap, what the engine charged for the wave and what the
     * transport saw leave at the org's costs, in currency: out = {cap, charged, sent}; 1 when capped. */
    int (*credits)(xs_driver *d, unsigned wave, double out[3]);
    /* Optional (direct driver): before each refresh, every send of the campaign as a host's receipts show
     * it, with the hours since it left: 1 answered (at its delay, once), 2 closed unanswered (once),
     * 0 still open (every refresh). */
    void (*timing)(xs_driver *d, uint32_t i, unsigned ch, double elapsed_h, int state);
    /* Optional (direct driver): the org's sales before the campaign, as a host knows them: whether
     * customer i bought in a wave's time before any message of it (its organic rate). */
    void (*sales)(xs_driver *d, uint32_t i, int bought);
    /* Optional: one order of the org's sales history before the campaign (world key sales_history_weeks): customer
     * i bought for @p amount at @p t_h hours (negative: before the campaign's first wave), as a host's CRM holds it. */
    void (*order)(xs_driver *d, uint32_t i, double t_h, double amount);
    /* Optional (direct driver): the estimates customer i was decided with in wave @p wave (call right after the
     * batch's decide); *lambda the credit cap's multiplier of that batch (0 without a cap). 1 when known. */
    int (*estimate)(xs_driver *d, unsigned wave, uint32_t i, xs_est *out, double *lambda);
};

xs_driver *xs_direct_open(const xs_world *w, uint64_t seed, const xs_driver_opts *o);
/* The same loop through the real engine's public API (org, customers, campaign, X-Engage message,
 * approval, run-due, transport, receipts and transactions, the campaign report). */
xs_driver *xs_engine_open(const xs_world *w, uint64_t seed, const xs_driver_opts *o);

#endif
