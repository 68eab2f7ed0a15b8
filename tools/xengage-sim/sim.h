/* One campaign per seed in a world, every policy side by side on the same
 * customers, control groups and random outcomes (common random numbers). */
#ifndef XSIM_SIM_H
#define XSIM_SIM_H

#include "driver.h"
#include "decide/xengage.h"

enum { P_SEND_ALL, P_PRIORITY, P_RANDOM, P_GREEDY, P_XENGAGE, P_ORACLE, P_ORACLE_BUDGET, P_COUNT };
extern const char *const xs_policy_name[P_COUNT];

#define XS_MAXW 64
#define XS_CALIB_BINS 7
extern const double xs_calib_edge[XS_CALIB_BINS - 1]; /* upper edges of score / cost; the last bin is open */

/* Expected totals over the wave's test group. */
typedef struct xs_wm {
    double incr, respond, contacted, msgs, cost, fatigue, net;
} xs_wm;

/* Off-policy estimates of one target policy from xengage's exploration bucket. */
typedef struct xs_ope {
    double truth; /* exact incremental net value per test customer (reachable) */
    eng__xe_estimate ipw, dr;
} xs_ope;
enum { OPE_PRIORITY, OPE_GREEDY, OPE_RANDOM, OPE_COUNT };

/* The engine's own off-policy estimate of a target in one wave's campaign report (engine driver). */
typedef struct xs_eope {
    int known;
    double truth;         /* the simulator's exact value of the target on that wave's test group */
    double dr, lo, hi;    /* the report's doubly-robust estimate and its 95 % interval */
} xs_eope;

/* --calib (direct driver): xengage's scored decisions of waves 2 on against the world's truth (calib.c). Sums; the
 * deciles are each seed's own. */
#define XS_DECILES 10
typedef struct xs_calib {
    double dec[2][XS_DECILES][4];       /* sends by decile of the estimated net value, [1] per credit: n, est, true, cost */
    double chan[XS_MAXK][2][7];         /* channel, [1] chosen / [0] reachable and not: n, est v, true v, est q, true q,
                                           est value of an engagement, true */
    double marg[2][XS_DECILES][4];      /* the choice against the runner-up, [1] the dearer chosen / [0] the cheaper:
                                           by decile of the estimated margin (net - net): n, est, true, true < 0 */
    double cross[XS_MAXK + 1][XS_MAXK + 1][6]; /* [xengage's channel + 1][the oracle's + 1] (0: none): n, xengage's
                                                  est net, its true net, the oracle's channel's est, its true, cost of
                                                  xengage's less the oracle's */
    double lam_xe, lam_or, lam_n;       /* the multipliers of the cap (xengage's per batch; the budgeted oracle's) */
} xs_calib;

typedef struct xs_seed_result {
    xs_wm w[P_COUNT][XS_MAXW];
    xs_eope eope[XS_MAXW][2]; /* [wave][priority, greedy] */
    int capped[XS_MAXW];      /* engine driver: the wave's message had a credit cap */
    double credits[XS_MAXW][3]; /* its cap, what the engine charged, what the transport saw leave (currency) */
    /* xengage's scored sends by score / cost (XS_CALIB_EDGES), wave 1 and later: sends, sum of scores, sum of
     * the truth's value x incremental probability - cost. */
    double calib[2][XS_CALIB_BINS][3];
    xs_ope ope[OPE_COUNT];
    size_t ope_rows;
    double seconds_xengage;
    int has_calib;
    xs_calib cal; /* --calib */
    /* Under a cap, per wave (xengage): the cap, its spend, the explored sends' part of it, and the multiplier of
     * its batches (direct driver: sum, min, max, batches) against the budgeted oracle's one for the wave. */
    double pace[XS_MAXW][8];
} xs_seed_result;

typedef struct xs_sim_opts {
    xs_driver_opts drv;
    unsigned policies; /* bit set of P_* */
    long trace;        /* >= 0: print xengage's trace of this customer at each wave */
    int calib;         /* collect xs_calib (the direct driver's estimates against the truth) */
    int channels;      /* --channels: print each wave's sends and true net value per channel (xengage, oracle,
                          priority) */
} xs_sim_opts;

int xs_run_seed(const xs_params *p, uint64_t seed, const xs_sim_opts *o, xs_seed_result *r);

/* calib.c: one seed's collection, fed each scored decision of waves 2 on; the deciles at the end. */
typedef struct xs_calib_acc xs_calib_acc;
xs_calib_acc *xs_calib_open(xs_calib *out);
/* Customer i's decision: xengage's channel @p xc (-1 none), the oracle's @p oc, the estimates, the truth's value x
 * incremental probability per channel (@p tv) and the channels' costs. */
void xs_calib_add(xs_calib_acc *a, unsigned k, int xc, int oc, const xs_est *e, const double *tv, const double *tq,
                  const double *tvpe, const double *cost);
void xs_calib_close(xs_calib_acc *a); /* the deciles into out, and frees */

#endif
