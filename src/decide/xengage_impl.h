/* X-Engage model internals shared by the model, decide, explain and persist files. */
#ifndef ENG_DECIDE_XENGAGE_IMPL_H
#define ENG_DECIDE_XENGAGE_IMPL_H

#include "decide/xengage.h"

/* Segment x channel statistics. Decayed sums weigh recent waves more (drift);
 * pn/pk are exact sums over customers of n(n-1) and k(k-1), the moments that
 * gave the between-customer spread before the likelihood fit (xe_abn); kept in
 * the record's layout. */
typedef struct xe_cell {
    double sent, eng;  /* delivered messages and engagements (decayed) */
    double pn, pk;     /* sum over customers of n(n-1), k(k-1) */
    double en, ec;     /* engagements with a known outcome, conversions among them (decayed) */
    /* derived by refresh */
    double a0, b0;     /* per-customer engagement prior Beta(a0, b0) */
    double pa, pb;     /* P(convert | engaged) posterior */
    double m, kappa;   /* a0 / (a0 + b0), a0 + b0 */
    double r_mean, r_sd; /* of Beta(pa, pb) */
    double r_lo;       /* the guard rail's pessimistic estimate (xengage_model.c guard_low) */
    double r_tsd;      /* posterior sd of r_mean with the hierarchy's uncertainty (the channel's, all channels') */
    int r_exact;       /* small posterior: draw the Beta itself, not its normal approximation */
} xe_cell;

/* Per segment x channel, the counters of the engagement likelihood (xengage_fit.c): how many customers
 * have more than j engagements (a), more than j misses (b), more than j sends (n), for j < XE_NH. */
#define XE_NH 16
typedef struct xe_abn {
    int32_t a[XE_NH], b[XE_NH], n[XE_NH];
} xe_abn;
/* Per segment x channel, the sends whose outcome is still unknown (eng__xe_pending), each as a fraction of
 * a miss: its weight w in the likelihood's terms of its customer's count (b[n - k], n[n]) and in the cell's
 * sends. Rebuilt by the host before each refresh. */
typedef struct xe_pend {
    double b[XE_NH], n[XE_NH];
    double sent;
} xe_pend;
/* Bounds of the fitted prior strength kappa (spread rho = 1 / (kappa + 1) between 0.002 and 0.5). */
#define XE_KAPPA_MIN 1.0
#define XE_KAPPA_MAX 499.0

/* The logit-normal engagement estimate (xengage_lgn.c): Gauss-Hermite nodes of the customer's responsiveness,
 * count pairs (n, k) with n <= XE_LGN_NQ, floats per cell (per pair: the likelihood and the mean at each node),
 * and the most cells tabled (beyond, the Beta estimate: 255 segments x 16 channels is 4080). */
#define XE_LGN_NR 8 /* a multiple of 4 (xengage_lgn.c's dot) */
#define XE_LGN_NQ 16
#define XE_LGN_PAIRS ((XE_LGN_NQ + 1) * (XE_LGN_NQ + 2) / 2)
#define XE_LGN_CELL (XE_LGN_PAIRS * 2 * XE_LGN_NR)
#define XE_LGN_MAX_CELLS 4096

typedef struct xe_seg {
    double bn, bc; /* control customers and their conversions (decayed) */
    double p0;     /* organic conversion rate (derived) */
    double inv_1mp0; /* 1 / (1 - p0) */
} xe_seg;

typedef struct xe_chan {
    double sent, delivered; /* decayed */
    double d, rho, m;       /* derived: delivery rate, over-dispersion, engagement rate */
    double r_n;             /* derived: the effective engagements behind its conversion estimate (exploration's value) */
} xe_chan;

struct eng__xe {
    eng__mem mem;
    eng__xe_config cfg;
    uint8_t *st;   /* per customer: k x {n, k} (delivered messages, engagements), then the segment (u16) */
    size_t stride; /* bytes per customer: 2k + 2 */
    double resp_a; /* strength of the customer-responsiveness prior (0: none yet) */
    xe_cell *cell; /* g x k */
    xe_abn *abn;   /* g x k, derived from st (rebuilt on load) */
    xe_pend *pend; /* g x k, sends pending since the last eng__xe_pending_reset (NULL until the first) */
    int npend;     /* any pending weight now */
    double *fit_m; /* 2g: scratch of the fits */
    xe_seg *seg;
    xe_chan chan[ENG__XE_MAXK];
    double explore; /* the bucket's share now: cfg.explore bounded (xengage_explore.c), set by refresh and load */
    double xw[ENG__XE_MAXK]; /* per channel, the bucket's weight (xengage_explore.c; 1: uniform), set with explore */
    double open[ENG__XE_MAXK], open_w[ENG__XE_MAXK]; /* per channel, sends pending since the last reset and their
                                                        weights w (eng__xe_pending): the information in flight */
    double *reach;  /* g x k x 2 (eng__xe_reach; NULL: every channel reaches everyone): each segment x channel's
                       share of customers reachable on it and of a uniform reachable draw */
    double reach_draw[ENG__XE_MAXK]; /* the latter over all segments */
    float *lgn;     /* g x k x XE_LGN_CELL (cfg.q_lgn; NULL: the Beta estimate), derived by refresh and load */
    float lgn_w[XE_LGN_NR]; /* the nodes' weights */
};

static inline xe_cell *xe_cell_at(const eng__xe *xe, unsigned g, unsigned c)
{
    return &xe->cell[(size_t)g * xe->cfg.k + c];
}
static inline const uint8_t *xe_state(const eng__xe *xe, uint32_t i)
{
    return xe->st + (size_t)i * xe->stride;
}
static inline unsigned xe_segment(const eng__xe *xe, const uint8_t *s)
{
    return (unsigned)s[2 * xe->cfg.k] | (unsigned)s[2 * xe->cfg.k + 1] << 8;
}
static inline double xe_cell_mean(const xe_cell *c) { return c->m; }
/* A customer's responsiveness from the other channels than @p skip (-1: none):
 * engagements over the expected count, shrunk to 1 (a gamma-Poisson mean). */
eng__xe_beta eng__xe_q_prior(const eng__xe *xe, const uint8_t *s, unsigned segment, unsigned channel);
double eng__xe_resp(const eng__xe *xe, const uint8_t *s, unsigned seg, int skip);

/* A customer's counts on one channel of a cell went from (n0, k0) to (n1, k1). */
void eng__xe_abn_move(xe_abn *h, unsigned n0, unsigned k0, unsigned n1, unsigned k1);
/* The counters from the per-customer state (after a load). */
void eng__xe_abn_rebuild(eng__xe *xe);
/* Maximum marginal likelihood of one channel's g cells (@p stride apart; @p p their pending sends as
 * fractional misses, or NULL): a strength kappa shared by the segments and each segment's mean, shrunk
 * toward the channel's by @p seg_prior pseudo-observations. Without customers holding two outcomes the
 * strength is @p fallback_kappa; without any outcome, the means are @p fallback_m. */
void eng__xe_fit(const xe_abn *h, const xe_pend *p, size_t stride, unsigned g, double seg_prior,
                 double fallback_m, double fallback_kappa, double *m, double *kappa);

/* log Gamma(x) for x > 0 (thread-safe). */
double eng__xe_log_gamma(double x);
/* The regularized lower incomplete gamma P(a, x), the distribution function of Gamma(a, 1) at x (a > 0;
 * NaN otherwise), and its quantile: the x with P(a, x) = p (0 at p = 0, infinity at 1, NaN outside). */
double eng__xe_gamma_p(double a, double x);
double eng__xe_gamma_quantile(double a, double p);
/* Maximum marginal likelihood of the strength s of a Beta(s p, s (1 - p)) prior shared by @p g cells of
 * n[j * stride] trials and k[j * stride] successes (real: decayed counts), mean @p p fixed, over [lo, hi]
 * (golden section on log s); lo when p is not inside (0, 1). */
double eng__xe_fit_strength(const double *n, const double *k, size_t stride, unsigned g, double p, double lo,
                            double hi);

/* The engagement prior of a channel without data, from the @p k channels' decayed counts (@p sent, @p eng)
 * and customer spreads (@p rho): the channels with data (j of them) are draws of a Beta(tau mu, tau (1 - mu))
 * with mu the mean of their rates r = (eng + 1/2) / (sent + 1) and tau fitted by marginal likelihood. A
 * customer's rate on a new channel has the predictive spread between channels (mu unknown too) plus the mean
 * spread between customers within one, v = mu (1 - mu) / (tau + 1) (1 + 1/j) + mean(rho r (1 - r)): a Beta of
 * mean *m = mu and strength *kappa = mu (1 - mu) / v - 1 within [XE_KAPPA_MIN, XE_KAPPA_MAX]. (No cap at the
 * plain prior's 1/2 since the sends still open count as part misses, eng__xe_pending: early in a campaign
 * the counts held engagements before the non-engagements.) 0 (outputs untouched) with fewer than two
 * channels with data. */
int eng__xe_unseen_prior(const double *sent, const double *eng, const double *rho, unsigned k, double *m,
                         double *kappa);

int eng__xe_alloc(const eng__mem *mem, const eng__xe_config *cfg, eng__xe **out);

/* Conversion given engagement from the org's sends before @p before on the model's channels (@p idx: engine
 * channel -> model channel, -1 none), with transactions up to @p now (xengage_hist.c): added to the cells'
 * en/ec, over the organic rate carried in the model's segments. */
struct eng_engine;
int eng__xe_seed_conversions(struct eng_engine *e, const char *org, int64_t before, int64_t now, const int8_t *idx,
                             eng__xe *xe);
/* What every reading of the org's history starts with (xengage_hist.c): its events code in @p code and
 * the sends view; ENG_ITEROVER when the org has no events yet (nothing sent, nothing to read), any other failure (the
 * events state unread) as it is. */
struct eng__sends_view;
int eng__xe_org_sends(struct eng_engine *e, const char *org, uint16_t *code, struct eng__sends_view *v);

/* Storage keys of an execution's X-Engage records (xengage_exec.c writes, xengage_trace.c reads):
 * the starting checkpoint, the population statistics of each scheduler time it learned at, and per
 * chunk (named by its first customer) the scheduler time its decisions were made at. */
#include <stdio.h>
static inline void eng__xe_key_exec(char *buf, size_t cap, uint64_t msg, uint32_t occ)
{
    snprintf(buf, cap, "d/xe/%016llx/%08x", (unsigned long long)msg, (unsigned)occ);
}
static inline void eng__xe_key_snap(char *buf, size_t cap, uint64_t msg, uint32_t occ, int64_t now)
{
    snprintf(buf, cap, "d/xs/%016llx/%08x/%016llx", (unsigned long long)msg, (unsigned)occ, (unsigned long long)now);
}
static inline void eng__xe_key_chunk(char *buf, size_t cap, uint64_t msg, uint32_t occ, uint32_t first)
{
    snprintf(buf, cap, "d/xc/%016llx/%08x/%08x", (unsigned long long)msg, (unsigned)occ, (unsigned)first);
}
#define ENG__XE_CHUNK_SCHEMA 3 /* record ENG__REC_XENGAGE holding a chunk's decision time */
/* The same followed by u32 m and m x (u32 customer, u8 SMS parts): the chunk's multi-part SMS customers. */
#define ENG__XE_CHUNK_UNITS_SCHEMA 5

/* The credit cap (xengage_cap.c): per chunk, the credits its decisions plan to spend and the plan they were
 * made with; the sum over the execution's chunks other than @p first (the chunk being planned); the plan of
 * scheduler time @p now (ENG_ENOTFOUND before its first chunk). */
#define ENG__XE_CAP_SCHEMA 4
struct eng_store;
int eng__xe_cap_put(struct eng_store *s, uint64_t msg, uint32_t occ, uint32_t first, int64_t cost,
                    const eng__xe_plan *plan);
int eng__xe_cap_get(struct eng_store *s, uint64_t msg, uint32_t occ, uint32_t first, int64_t *cost, eng__xe_plan *plan);
int eng__xe_cap_planned(struct eng_store *s, uint64_t msg, uint32_t occ, uint32_t first, int64_t *out);
int eng__xe_cap_plan_put(struct eng_store *s, uint64_t msg, uint32_t occ, int64_t now, const eng__xe_plan *plan);
int eng__xe_cap_plan_get(struct eng_store *s, uint64_t msg, uint32_t occ, int64_t now, eng__xe_plan *plan);

/* The value of a conversion per customer (xengage_value.c): each buyer's mean order (sum / n, sq: the
 * sum of squares) shrunk toward @p mean by empirical Bayes; out[i] = 0 for customers left at @p mean
 * (no orders, or no repeat buyers to tell the spread within a customer from the spread between them).
 * Returns how many were personalised; the fitted within (s2) and between (tau2) variances if asked. */
size_t eng__xe_value_fit(const uint32_t *n, const double *sum, const double *sq, uint32_t customers, double mean,
                         float *out, double *s2_out, double *tau2_out);
/* An execution's values as a record (customers with a value only); get: ENG_ENOTFOUND when none was
 * stored, else a dense array of @p customers (0: the configured value) the caller frees. */
#define ENG__XE_VALUE_SCHEMA 6
int eng__xe_value_put(struct eng_store *s, const eng__mem *mem, uint64_t msg, uint32_t occ, const float *v,
                      uint32_t customers);
int eng__xe_value_get(struct eng_store *s, const eng__mem *mem, uint64_t msg, uint32_t occ, uint32_t customers,
                      float **out);

/* The organic purchase rate from the org's sales (xengage_organic.c): customer i (segment seg[i], or 0 when
 * @p seg is NULL) bought x[i] times over @p span; each segment's mean rate m[s] (per unit of span) shrunk
 * toward the org's, and the customers' heterogeneity *a (the shape of their Gamma rates) by maximum marginal
 * likelihood of the negative binomial counts. ENG_EINVAL (span <= 0), ENG_ENOMEM or ENG_OK. */
int eng__xe_organic_fit(const eng__mem *mem, const uint32_t *x, const uint16_t *seg, uint32_t n, unsigned g,
                        double span, double *m, double *a);
/* P(a customer with @p x orders over @p span buys within @p window) under the Gamma(a, a / m) prior: the
 * posterior Gamma(a + x, a / m + span)'s chance of at least one purchase. 0 without a rate. */
double eng__xe_organic_p(double a, double m, double span, uint32_t x, double window);

/* Each segment's mean of that chance over its customers (counts @p x, segments @p seg) at each window of a grid,
 * @p ref x 2^(k - ENG__XE_OWREF) for k < ENG__XE_OWN (@p ref at k = ENG__XE_OWREF), into out[s x ENG__XE_OWN + k];
 * a segment without customers, a customer's without orders. ENG_ENOMEM or ENG_OK. */
#define ENG__XE_OWN 13
#define ENG__XE_OWREF 10
int eng__xe_organic_table(const eng__mem *mem, const uint32_t *x, const uint16_t *seg, uint32_t n, unsigned g,
                          double span, const double *m, double a, double ref, double *out);
/* A table row's chance within @p window: linear in log2 of the window between the grid's, in proportion to the
 * window below it (nothing at none), the last beyond it. */
double eng__xe_organic_at(const double *row, double ref, double window);
/* An execution's table (g rows; a row whose first value is negative: that segment's organic rate is not the
 * sales history's), a record beside its checkpoint; get: ENG_ENOTFOUND when none was stored, else an array of
 * g x ENG__XE_OWN the caller frees. */
int eng__xe_organic_put(struct eng_store *s, const eng__mem *mem, uint64_t msg, uint32_t occ, const double *t,
                        unsigned g);
int eng__xe_organic_get(struct eng_store *s, const eng__mem *mem, uint64_t msg, uint32_t occ, unsigned g, double **out);

/* The logit-normal engagement estimate (xengage_lgn.c). Bytes of the tables for g x k cells (0: too many,
 * the Beta estimate is used); the tables from the fitted cells, channels and customer factor (after
 * refresh or a population load; nothing without tables); the posterior mean of the
 * customer's engagement on each channel c of the mask @p want from their counts @p s (NULL: none) into q[c]; Gauss-Hermite nodes and weights of
 * E[f(z)], z ~ N(0, 1), weights summing to 1. */
size_t eng__xe_lgn_bytes(unsigned g, unsigned k);
void eng__xe_lgn_build(eng__xe *xe);
void eng__xe_lgn_means(const eng__xe *xe, const uint8_t *s, unsigned seg, unsigned want, double *q);
void eng__xe_gauss_hermite(int n, double *z, double *w);
/* The customer factor's spread sr of the logit-normal model by maximum marginal likelihood of the counts of a
 * sample of customers (at most 16,384, of the first segments up to 48 cells), the cells' means and the channels'
 * spreads as fitted; and that sample's log likelihood at @p sr (without the binomial coefficients; n: the
 * customers in it). ENG_ENOMEM or ENG_OK. */
int eng__xe_lgn_fit_sr(const eng__xe *xe, double *sr);
int eng__xe_lgn_loglik(const eng__xe *xe, double sr, double *ll, size_t *n);

/* The bucket's share from the population statistics (xengage_explore.c). */
void eng__xe_explore_refresh(eng__xe *xe);

#endif
