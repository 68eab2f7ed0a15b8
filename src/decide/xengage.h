/* X-Engage: the per-customer channel optimizer (internal API of the decide layer).
 *
 * For each test-group customer it picks the one channel with the highest
 * sampled expected value  V * d_c * q~_ic * pi~_gc - cost_c, or none when
 * nothing is worth its cost:
 *   d_c    delivery rate of channel c (population, recency-weighted);
 *   q~_ic  engagement of customer i on c: a Beta posterior from the
 *          customer's own counts, shrunk toward the segment x channel rate
 *          with an empirical-Bayes prior strength (cold start);
 *   pi~_gc incremental conversion given engagement of segment g on c:
 *          P(conv | engaged) above the organic rate of the control group.
 * Posterior means by default; Thompson draws of q~ and pi~ (options) come from
 * counter-based random numbers keyed by (seed, customer, wave), as does the
 * exploration bucket, so a decision depends only on the model snapshot and
 * never on batch size or thread count.
 *
 * Protocol: eng__xe_observe() for every resolved send (engaged, or its
 * response window closed), eng__xe_baseline() for control-group customers,
 * eng__xe_refresh() between batches, eng__xe_new_wave() between waves,
 * eng__xe_decide() per batch. The model is not thread-safe while observing;
 * decide only reads it. */
#ifndef ENG_DECIDE_XENGAGE_H
#define ENG_DECIDE_XENGAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"

#define ENG__XE_MAXK 16 /* channels; per-customer state is 2 bytes a channel (<= 32 B) */

/* Outcome flags of one resolved send. */
enum {
    ENG__XE_DELIVERED = 1u << 0,
    ENG__XE_ENGAGED = 1u << 1,   /* opened or clicked */
    ENG__XE_CONVERTED = 1u << 2, /* the customer converted after engaging */
    ENG__XE_NO_CONV = 1u << 3    /* conversion unknown (history from earlier campaigns) */
};

typedef struct eng__xe_config {
    unsigned k;                    /* channels, 1..ENG__XE_MAXK */
    unsigned g;                    /* segments, 1..65535 */
    uint32_t customers;            /* dense ids 0..customers-1 */
    double cost[ENG__XE_MAXK];     /* credits per message */
    double value;                  /* value per conversion (same unit as cost) */
    uint8_t priority[ENG__XE_MAXK];/* channel order for the no-data guard rail */
    double explore;                /* share of customers sent a uniform reachable channel, 0..0.5 */
    double forget;                 /* weight kept by population statistics at each new wave, 0..1 */
    int sample_q;                  /* Thompson draw of per-customer engagement (else posterior mean: the
                                      default, it wins in campaigns of a few waves, see docs/xengage.md) */
    int sample_pi;                 /* Thompson draw of conversion given engagement (else posterior mean: the default) */
    int skip_negative;             /* send nothing when the best expected value is <= 0 */
    int guard_priority;            /* customers with no data on any reachable channel: priority order */
    int customer_factor;           /* share a customer's responsiveness across channels */
    int q_lgn;                     /* engagement as the posterior mean of a logit-normal model of the customer's
                                      counts (xengage_lgn.c), else the Beta's; draws (sample_q, cold customers)
                                      stay Beta */
    uint64_t seed;
    /* Diagnostics only (the simulator's --truth; NULL otherwise, never persisted): may replace a channel's
     * engagement, incremental conversion given engagement, value and delivery rate before the score. */
    void (*truth)(void *u, uint32_t customer, unsigned channel, double *q, double *pi, double *value, double *delivery);
    void *truth_u;
} eng__xe_config;

/* Defaults: skip_negative, customer_factor on; sample_q, sample_pi off (posterior means: they win in
 * campaigns of a few waves, docs/xengage.md); explore 0.03, forget 0.5, priority 0..k-1, value 1. */
void eng__xe_config_default(eng__xe_config *c, unsigned k, unsigned g, uint32_t customers);

/* The exploration share for a test group of @p audience customers: enough explored customers for the
 * off-policy estimates (about 6,000), between 1 % and 3 % of the audience. */
double eng__xe_explore_share(uint64_t audience);
/* The exploration bucket's share bounded by the value of information it can buy: @p share unless the
 * bucket's expected cost, share x sum w[i] loss[i], passes sum w[i] gain[i] (negative terms count 0);
 * then the share that equals them (xengage_explore.c). */
double eng__xe_explore_bound(double share, const double *gain, const double *loss, const double *w, unsigned n);
/* A channel's weight in the exploration bucket (drawn with probability its weight over the reachable channels'
 * sum): 1 when @p info, the value of the sample information its sends buy, covers its outright @p loss over its
 * 1 / @p k of a bucket of @p share (share x loss / k), else info over that, at least 1 / 16. */
double eng__xe_explore_weight(double share, unsigned k, double loss, double info);
/* The expected value of perfect information about a net value X ~ N(@p mean, @p sd^2) when the choice's
 * alternative is worth @p alt: E[max(alt, X)] - max(alt, mean). */
double eng__xe_evpi(double mean, double sd, double alt);
/* The share of a posterior sd (precision @p n, in engagements) that @p dn more engagements resolve beyond @p f
 * already in flight: the preposterior sd ratio sqrt(n dn / ((n + f)(n + f + dn))); sqrt(dn / (f + dn)) at
 * n = 0, 0 without dn. */
double eng__xe_explore_grow(double n, double f, double dn);

typedef struct eng__xe eng__xe;
/* The prior mean of conversion given engagement before any conversion is seen, from the organic rate
 * @p p0 (the lift log-uniform between p0 and 1; 1/2 when p0 is unknown: not in (0, 1)). */
double eng__xe_cold_conversion(double p0);
/* The lower @p alpha quantile of that prior: r = p0 + (1 - p0) p0^(1 - alpha) (alpha when p0 is unknown: r
 * uniform). With skipping on, a customer is contacted only when some reachable channel pays at conversion
 * given engagement estimated with the cold prior at this quantile (the guard rail; the channel is still the
 * best by the posterior means), so a campaign does not send at a loss on the prior's optimism alone. */
double eng__xe_cold_conversion_low(double p0, double alpha);
/* The variance of that prior ((1 - p0)^2 Var(pi), pi log-uniform on [p0, 1]; 1/12 when p0 is unknown: r
 * uniform): the top of the guard rail's hierarchy of variances (xengage_model.c guard_low). */
double eng__xe_cold_conversion_var(double p0);
/* The exploration bucket's share at the last refresh: the configured one, bounded (eng__xe_explore_bound). */
double eng__xe_explore_now(const eng__xe *xe);

int eng__xe_create(const eng__mem *mem, const eng__xe_config *cfg, eng__xe **out);
void eng__xe_free(eng__xe *xe);
const eng__xe_config *eng__xe_cfg(const eng__xe *xe);
/* Bytes of per-customer state (2 * k + 2). */
size_t eng__xe_state_bytes(const eng__xe *xe);

/* Learning. */
void eng__xe_observe(eng__xe *xe, uint32_t customer, unsigned segment, unsigned channel, unsigned flags);
/* A send whose response window is still open and that has no response yet: by now a response would have
 * come with probability @p w (the channel's delay distribution at the time elapsed, eng__xe_delay_fit), so
 * it counts as w of a miss in the population rates (not in the customer's own counts) until the next
 * eng__xe_pending_reset(). Without it, early in a campaign the counts hold the responses before the
 * non-responses and every rate looks high. ENG_ENOMEM or ENG_OK. */
int eng__xe_pending(eng__xe *xe, uint32_t customer, unsigned segment, unsigned channel, double w);
/* (Each call, w = 0 included, also counts the send as open on its channel: the engagements still to come from
 * the open sends are information in flight, which the exploration bucket's bound does not buy again.) */
void eng__xe_pending_reset(eng__xe *xe);

/* A channel's response delays (xengage_delay.c): answered sends (their delay) and sends still open (the
 * time elapsed since they left, in bins), in any one unit of time. */
#define ENG__XE_DBINS 96
typedef struct eng__xe_delays {
    double prior_n, prior_mean; /* the prior of the mean delay: prior_n answers of mean prior_mean */
    double k, t;                /* answered sends and the sum of their delays */
    double n[ENG__XE_DBINS], e[ENG__XE_DBINS]; /* open sends per bin of elapsed time, sum of it */
} eng__xe_delays;
void eng__xe_delays_init(eng__xe_delays *d, double prior_n, double prior_mean);
void eng__xe_delays_answered(eng__xe_delays *d, double delay);
void eng__xe_delays_open(eng__xe_delays *d, double elapsed, double count);
void eng__xe_delays_add(eng__xe_delays *d, const eng__xe_delays *o);
/* The mean delay (and the share answered in the end, if asked) of an exponential delay among the answered
 * (a cure model: answered with probability q, else never), by the posterior mode under the prior. */
double eng__xe_delay_fit(const eng__xe_delays *d, double *q);
/* P(a response that comes has come by @p elapsed) at mean delay @p mean. */
double eng__xe_delay_cdf(double mean, double elapsed);
void eng__xe_baseline(eng__xe *xe, unsigned segment, uint32_t n, uint32_t converted);
/* Forget the control counts (a host that recounts the control group from scratch each time). */
void eng__xe_baseline_reset(eng__xe *xe);
void eng__xe_refresh(eng__xe *xe);
void eng__xe_new_wave(eng__xe *xe);

/* One customer to decide for. */
typedef struct eng__xe_item {
    uint32_t customer;
    uint16_t segment;
    uint16_t reach; /* bit c: reachable on channel c (and enabled in the message) */
    float value;    /* this customer's value per conversion (e.g. average order); 0: the configured value */
    uint8_t units_ch; /* a send on this channel costs units x its cost (an SMS of several parts); */
    uint8_t units;    /* 0 or 1: every channel costs its cost once */
} eng__xe_item;

/* What sending @p it on channel @p c costs: the channel's cost times the item's billing units on it. */
static inline double eng__xe_item_cost(const double *cost, const eng__xe_item *it, unsigned c)
{
    return it->units > 1 && it->units_ch == c ? cost[c] * it->units : cost[c];
}

/* The audience's reach, for the exploration bucket (xengage_explore.c): @p n customers (a sample of the test group:
 * each item's segment and reachable channels) give each segment x channel the share of its customers reachable on
 * the channel and the channel's share of a uniform reachable draw (a segment's shrunk toward all segments' by
 * a few customers); the next refreshes spread the bucket's loss and information over them. Without it (or with
 * n = 0) every channel reaches everyone. ENG_ENOMEM (the model unchanged) or ENG_OK. */
int eng__xe_reach(eng__xe *xe, const eng__xe_item *items, size_t n);

typedef struct eng__xe_choice {
    int8_t channel;     /* -1: none */
    uint8_t explored;   /* 1: from the uniform exploration bucket */
    uint8_t n_reach;
    uint8_t guard;      /* 1: priority guard rail (no data) */
    float propensity;   /* exact P(channel) for explored choices; 0 when unknown (Thompson) */
    float score;        /* sampled expected value of the choice (net of cost) */
} eng__xe_choice;

/* Decide for @p n items of wave @p wave, with cost weighted by (1 + lambda)
 * (lambda = 0 without a budget). Pure read of the model: any split of the
 * items over calls or threads gives the same choices. */
void eng__xe_decide(const eng__xe *xe, uint32_t wave, double lambda, const eng__xe_item *items, size_t n,
                    eng__xe_choice *out);
/* The same on @p threads threads (1 = this thread). */
int eng__xe_decide_mt(const eng__xe *xe, uint32_t wave, double lambda, const eng__xe_item *items, size_t n,
                      eng__xe_choice *out, unsigned threads);
/* What the items' choices would cost if each customer's engagement were a draw from its posterior (every
 * channel's Beta, the customer's own stream; explored and guard-rail choices as they are): the expected spend
 * of an optimizer that knew the customers, by the model's own posterior. The means spend more where the
 * average customer's best channel is a dear one (their choice is the segment's for everyone the counts cannot
 * tell apart); a cap at this spend is the cost-aware choice that asks nothing of the host. A sum over items:
 * any split gives the same total. */
double eng__xe_sampled_spend(const eng__xe *xe, uint32_t wave, const eng__xe_item *items, size_t n);
/* Under a credit cap for this call: finds the smallest lambda whose choices
 * cost at most @p budget (bisection on the same draws) and returns it. */
double eng__xe_decide_budget(const eng__xe *xe, uint32_t wave, double budget, const eng__xe_item *items, size_t n,
                             eng__xe_choice *out);

/* A credit cap's plan over the customers still to decide, in the audience's order (ascending ids): the
 * choices of multiplier hi (they fit), except that a customer below @p until whose choice differs at lo
 * (they do not fit) takes lo's: what hi leaves of the cap goes to them in order. */
typedef struct eng__xe_plan {
    double hi, lo;
    uint32_t until;
} eng__xe_plan;
int eng__xe_cap_plan(const eng__xe *xe, uint32_t wave, double budget, const eng__xe_item *items, size_t n,
                     eng__xe_plan *plan);
/* Decide under a plan (@p scratch: n more choices). Per customer, like eng__xe_decide. */
void eng__xe_decide_plan(const eng__xe *xe, uint32_t wave, const eng__xe_plan *plan, const eng__xe_item *items,
                         size_t n, eng__xe_choice *out, eng__xe_choice *scratch);

/* Why this channel: the estimates, the cost and the draw of every channel. */
typedef struct eng__xe_trace {
    int channel;
    int explored;
    int guarded; /* no channel pays at the guard rail's conversion estimate: scores held at minus the cost */
    double propensity;
    struct {
        int reachable;
        double q_mean, q_draw;   /* engagement per delivered message */
        double pi_mean, pi_draw; /* incremental conversion given engagement */
        double delivery;
        double cost;
        double score; /* value * delivery * q_draw * pi_draw - (1 + lambda) * cost */
        uint8_t sent, engaged; /* the customer's counts */
    } ch[ENG__XE_MAXK];
} eng__xe_trace;
void eng__xe_explain(const eng__xe *xe, uint32_t wave, double lambda, const eng__xe_item *item, eng__xe_trace *out);

/* Posterior means (for the direct method of off-policy estimates): the
 * expected incremental conversions per message on channel c. */
double eng__xe_mean_incr(const eng__xe *xe, uint32_t customer, unsigned segment, unsigned channel);
/* Organic conversion rate of a segment (control group). */
double eng__xe_mean_organic(const eng__xe *xe, unsigned segment);

/* A customer's segment (kept in the per-customer state; eng__xe_observe() also sets it). */
void eng__xe_set_segment(eng__xe *xe, uint32_t customer, unsigned segment);
unsigned eng__xe_segment_of(const eng__xe *xe, uint32_t customer);

/* Per-customer counts (tests, persistence). */
void eng__xe_counts(const eng__xe *xe, uint32_t customer, unsigned channel, unsigned *sent, unsigned *engaged);

/* ---- posterior arithmetic (exposed for tests) ---- */
/* Beta(a, b) prior + (n, k) data -> posterior (a + k, b + n - k). */
typedef struct eng__xe_beta {
    double a, b;
} eng__xe_beta;
eng__xe_beta eng__xe_q_posterior(const eng__xe *xe, uint32_t customer, unsigned segment, unsigned channel);
eng__xe_beta eng__xe_pi_posterior(const eng__xe *xe, unsigned segment, unsigned channel);
/* Over-dispersion (1 / (kappa + 1)) of engagement between customers of channel c. */
double eng__xe_rho(const eng__xe *xe, unsigned channel);

/* ---- counter-based random numbers ---- */
typedef struct eng__xe_rng {
    uint64_t key, ctr;
} eng__xe_rng;
static inline eng__xe_rng eng__xe_rng_at(uint64_t seed, uint32_t customer, uint32_t wave)
{
    eng__xe_rng r = {seed ^ ((uint64_t)customer << 32 | wave) * 0xd6e8feb86659fd93ull, 0};
    return r;
}
uint64_t eng__xe_u64(eng__xe_rng *r);
double eng__xe_uniform(eng__xe_rng *r); /* (0, 1) */
double eng__xe_normal(eng__xe_rng *r);
double eng__xe_gamma(eng__xe_rng *r, double shape);
double eng__xe_beta_draw(eng__xe_rng *r, double a, double b);

/* ---- off-policy estimates from the exploration bucket ---- */
typedef struct eng__xe_ope_row {
    int8_t logged;      /* channel sent (uniform over n_reach reachable) */
    int8_t target;      /* channel the evaluated policy would send (-1 none) */
    float propensity;   /* P(logged) under the logging policy */
    double reward;      /* observed value of conversions - cost */
    double dm_logged;   /* model estimate of the reward of the logged channel */
    double dm_target;   /* model estimate of the reward of the target channel */
} eng__xe_ope_row;
typedef struct eng__xe_estimate {
    double value, lo, hi; /* per customer, 95 % interval */
    double se;            /* the normal standard error */
    double unit;          /* the bucket's events' Poisson unit: E[e^2] / E[e] of one event's term */
} eng__xe_estimate;
/* IPW and doubly-robust means of the target policy's reward per customer,
 * minus the mean of @p control (each control customer's reward, the organic
 * value) so the result is the incremental net value per customer, with 95 %
 * intervals: the conversions' part of each mean (its positive terms) from
 * Garwood's exact Poisson bounds of a count in units of the campaign's event
 * sizes, the rest normal, combined as independent parts (xengage_ope.c). */
void eng__xe_ope(const eng__xe_ope_row *rows, size_t n, const double *control, size_t ncontrol,
                 eng__xe_estimate *ipw, eng__xe_estimate *dr);
/* The same for the plain mean of @p values (a policy as it ran: every row its own weight 1). */
void eng__xe_mean(const double *values, size_t n, const double *control, size_t ncontrol, eng__xe_estimate *out);

/* ---- persistence through the storage contract ---- */
struct eng_store;
int eng__xe_save(const eng__xe *xe, struct eng_store *s, const char *key);
int eng__xe_load(const eng__mem *mem, struct eng_store *s, const char *key, eng__xe **out);
/* The same without deriving the priors (no refresh, no likelihood counters): for a caller that loads
 * the population statistics a decision used right after (the trace). */
int eng__xe_load_counts(const eng__mem *mem, struct eng_store *s, const char *key, eng__xe **out);
/* The population statistics a decision used (derived fields included) and the message's channel mask:
 * loaded over a model of the same shape, they replay that decision exactly (the trace). */
int eng__xe_save_population(const eng__xe *xe, uint32_t channels, struct eng_store *s, const char *key);
int eng__xe_load_population(eng__xe *xe, struct eng_store *s, const char *key, uint32_t *channels);

/* ---- the dispatch strategy (xengage_exec.c) ---- */
/* Credits a conversion is worth per unit of the org's currency (the value of a
 * conversion is the mean transaction amount times this). Default 1. */
extern double eng__xengage_credits_per_unit;

#endif
