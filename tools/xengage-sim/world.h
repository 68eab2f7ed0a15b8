/* The simulated world of the X-Engage benchmark (BENCHMARKS.md, "Decision
 * quality"): channels, segments, customers with latent engagement, conversion
 * given engagement, organic purchases, order values, overlap and fatigue,
 * drift and outage events. Built from a world file and a seed; the ground
 * truth stays here so oracle and regret are exact expectations. */
#ifndef XSIM_WORLD_H
#define XSIM_WORLD_H

#include <stddef.h>
#include <stdint.h>

#define XS_MAXK 16
#define XS_MAXEV 32

typedef struct xs_channel {
    char name[24];
    double reach, cost, qbar, conv, delivery, delay_h, window_h;
} xs_channel;

typedef struct xs_event {
    int kind;  /* 0 outage, 1 drift */
    int wave;  /* 1-based wave where it applies */
    int ch;    /* outage: channel */
    double x;  /* outage: delivery rate during the wave; drift: correlation kept */
    int waves; /* outage: how many waves */
} xs_event;

typedef struct xs_params {
    unsigned k, g, waves, batches;
    uint32_t customers;
    double control, batch_gap_h, wave_gap_h;
    unsigned history;        /* warm messages per customer before the campaign (engagement only) */
    uint32_t history_mask;   /* channels the warm history covers (bit c; 0: every channel) */
    unsigned sales_weeks;    /* weeks of the org's sales before the campaign, each customer at their own organic
                                rate and order values, with the warm history's conversions (0: none; sim.c) */
    double order_sd;         /* log-sd of a customer's orders around their own mean value (0: every order is it) */
    double seg_sd, cust_sd, resp_sd, conv_sd;
    double organic, organic_resp;
    double value_mean, value_sd; /* lognormal order value: mean and log-sd */
    double overlap, fatigue;
    unsigned pref_rank;      /* correlated preferences: low-rank factors */
    double pref_sd;
    double reach_corr;       /* correlation of reachability between channels (Gaussian copula) */
    double budget;           /* > 0: credit cap per wave as a share of send_all's cost */
    uint8_t priority[XS_MAXK];
    xs_channel ch[XS_MAXK];
    xs_event ev[XS_MAXEV];
    unsigned n_ev;
} xs_params;

/* Defaults = the default world of BENCHMARKS.md (also shipped as worlds/default.world). */
void xs_params_default(xs_params *p);
/* Read a world file over @p p; 0 or -1 with a message "file:line: ..." in @p err. */
int xs_params_load(xs_params *p, const char *path, char *err, size_t errcap);
/* Apply a named scenario switch (outage, drift, budget, cheap, dear, lowvalue); -1 if unknown. */
int xs_params_scenario(xs_params *p, const char *name);

typedef struct xs_world {
    const xs_params *p;
    uint64_t seed;
    uint32_t n;
    uint16_t *seg, *reach;
    float *base;  /* n x k: customer-channel preference + responsiveness (logit scale) */
    float *value; /* order value */
    float *p0;    /* organic purchase probability per wave */
    double *s;    /* g x k segment effect (drifts) */
    double *pi;   /* g x k conversion given engagement */
    double d[XS_MAXK]; /* delivery rate this wave */
    float *q;     /* n x k engagement per delivered message, this wave */
} xs_world;

int xs_world_build(xs_world *w, const xs_params *p, uint64_t seed);
void xs_world_free(xs_world *w);
/* Apply the events of wave @p wave (1-based) and recompute q. */
void xs_world_wave(xs_world *w, unsigned wave);

/* The amount of one order of customer i (draw ids @p wave, @p what): their mean value times a lognormal of
 * log-sd order_sd and mean 1 (every order is the value when order_sd is 0). */
enum { XS_U_ORDER = 400, XS_U_SALES = 401 }; /* draw ids of order amounts and of the sales history */
double xs_order_value(const xs_world *w, uint32_t i, uint32_t wave, uint32_t what);

/* Incremental conversion probability of sending customer i channel c alone. */
static inline double xs_tau(const xs_world *w, uint32_t i, unsigned c)
{
    return w->d[c] * w->q[(size_t)i * w->p->k + c] * w->pi[(size_t)w->seg[i] * w->p->k + c] * (1.0 - w->p0[i]);
}
/* Expected outcome of sending customer i the channel set @p set. */
typedef struct xs_outcome {
    double incr, respond, msgs, cost, fatigue, net;
} xs_outcome;
void xs_expect(const xs_world *w, uint32_t i, unsigned set, xs_outcome *o);

/* Counter-based uniforms of the world (common to every policy). */
double xs_u(uint64_t seed, uint32_t i, uint32_t wave, uint32_t what);
double xs_normal(uint64_t seed, uint32_t i, uint32_t wave, uint32_t what);
/* Customer i's responsiveness r (the logit shift shared by their channels and their organic buying). */
double xs_resp(const xs_world *w, uint32_t i);

#endif
