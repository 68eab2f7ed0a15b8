/* --truth qpost|qfit (direct driver, diagnostics): a customer's engagement as the exact posterior mean of
 * a logit-normal model from their own counts, in place of X-Engage's Beta estimate, to measure how much of
 * the gap to the oracle a better per-customer engagement estimator could close.
 *
 *   logit q_ic = eta_gc + r_i + u_ic,  r_i ~ N(0, sr^2) shared by the channels,  u_ic ~ N(0, su_c^2)
 *
 * qpost: the world's own eta (logit of the channel's mean + the segment effect), sr = resp_sd and
 * su = cust_sd (correlated preferences, pref_rank, are not in it): the best any estimator of this family
 * can do. qfit: eta_gc, sr and su_c from X-Engage's own fits (the logit-normal with each cell's fitted
 * mean and the channel's fitted Beta variance, the customer factor's variance as sr^2), rebuilt at each
 * refresh. qr (fit 2): the world's model with each customer's r known, the ceiling of any information about
 * a customer's responsiveness (their sales, their answers on other channels). The posterior over r is a
 * sum over a grid of NR points; for each cell and count pair (n, k) the likelihood and q x likelihood at each r are tabled (integrals over u on the same grid). */
#include "qpost.h"
#include "decide/xengage_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NQ 17 /* counts above 16 count as 16 */
#define NR 41

struct xs_qpost {
    const xs_world *w;
    const eng__xe *xe;
    int fit;
    uint8_t *cnt;    /* n x k x {delivered, engaged} */
    double *tl, *tm; /* g x k x NQ x NQ x NR: likelihood and q x likelihood at each r */
    double rg[NR], rw[NR], ug[NR], uw[NR];
    uint32_t last;   /* 1 + the customer whose r-posterior is in post (0: none) */
    double post[NR];
};

static double sigmoid(double x) { return 1 / (1 + exp(-x)); }

/* Mean and variance of sigmoid(eta + s z), z ~ N(0, 1). */
static void lgn_moments(double eta, double s, double *mean, double *var)
{
    double m = 0, m2 = 0, sw = 0;
    for (int j = 0; j < NR; j++) {
        double z = -5 + 10.0 * j / (NR - 1), wt = exp(-0.5 * z * z), q = sigmoid(eta + s * z);
        m += wt * q, m2 += wt * q * q, sw += wt;
    }
    *mean = m / sw;
    *var = m2 / sw - *mean * *mean;
}

/* The eta whose logit-normal of spread s has mean m (bisection: the mean rises with eta). */
static double lgn_eta(double m, double s)
{
    double lo = -30, hi = 30, mean, var;
    for (int it = 0; it < 60; it++) {
        double mid = 0.5 * (lo + hi);
        lgn_moments(mid, s, &mean, &var);
        if (mean < m)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

void xs_qpost_refresh(xs_qpost *q)
{
    const xs_params *p = q->w->p;
    const unsigned K = p->k, G = p->g;
    const size_t per = (size_t)NQ * NQ * NR;
    double sr = p->resp_sd, su[XS_MAXK], sig[XS_MAXK];
    for (unsigned c = 0; c < K; c++)
        su[c] = p->cust_sd;
    if (q->fit == 1) {
        sr = q->xe->resp_a > 0 ? sqrt(log(1 + 1 / q->xe->resp_a)) : 0; /* lognormal multiplier of variance 1/a */
        for (unsigned c = 0; c < K; c++) {
            /* the spread of the logit-normal with the channel's mean and its Beta prior's variance */
            double m = q->xe->chan[c].m, kap = xe_cell_at(q->xe, 0, c)->kappa, v = m * (1 - m) / (kap + 1);
            double lo = 0.01, hi = 5, mean, var;
            for (int it = 0; it < 40; it++) {
                double s = 0.5 * (lo + hi);
                lgn_moments(lgn_eta(m, s), s, &mean, &var);
                if (var > v)
                    hi = s;
                else
                    lo = s;
            }
            sig[c] = 0.5 * (lo + hi);
            double u2 = sig[c] * sig[c] - sr * sr;
            su[c] = sqrt(u2 > 0.01 ? u2 : 0.01);
        }
    }
    double sw = 0;
    for (int j = 0; j < NR; j++) {
        double z = -5 + 10.0 * j / (NR - 1);
        q->rg[j] = sr * z, q->ug[j] = z;
        q->rw[j] = q->uw[j] = exp(-0.5 * z * z);
        sw += q->rw[j];
    }
    for (int j = 0; j < NR; j++)
        q->rw[j] /= sw, q->uw[j] /= sw;
    memset(q->tl, 0, (size_t)G * K * per * sizeof *q->tl);
    memset(q->tm, 0, (size_t)G * K * per * sizeof *q->tm);
    for (unsigned g = 0; g < G; g++)
        for (unsigned c = 0; c < K; c++) {
            double eta = q->fit == 1 ? lgn_eta(xe_cell_at(q->xe, g, c)->m, sig[c])
                                : log(p->ch[c].qbar / (1 - p->ch[c].qbar)) + q->w->s[g * K + c];
            double *L = q->tl + (g * K + c) * per, *M = q->tm + (g * K + c) * per;
            for (int jr = 0; jr < NR; jr++)
                for (int ju = 0; ju < NR; ju++) {
                    double x = sigmoid(eta + q->rg[jr] + su[c] * q->ug[ju]), lq = log(x), l1 = log1p(-x);
                    for (int n = 0; n < NQ; n++)
                        for (int k = 0; k <= n; k++) {
                            double v = q->uw[ju] * exp(k * lq + (n - k) * l1);
                            L[((size_t)n * NQ + k) * NR + jr] += v;
                            M[((size_t)n * NQ + k) * NR + jr] += v * x;
                        }
                }
        }
    q->last = 0;
}

xs_qpost *xs_qpost_open(const xs_world *w, const eng__xe *xe, int fit)
{
    const xs_params *p = w->p;
    xs_qpost *q = calloc(1, sizeof *q);
    size_t cells = (size_t)p->g * p->k * NQ * NQ * NR;
    if (!q || !(q->cnt = calloc((size_t)w->n * p->k * 2, 1)) || !(q->tl = malloc(cells * sizeof *q->tl)) ||
        !(q->tm = malloc(cells * sizeof *q->tm))) {
        xs_qpost_close(q);
        return NULL;
    }
    q->w = w, q->xe = xe, q->fit = fit;
    xs_qpost_refresh(q);
    return q;
}

void xs_qpost_observe(xs_qpost *q, uint32_t i, unsigned c, unsigned flags)
{
    if (!(flags & ENG__XE_DELIVERED))
        return;
    uint8_t *s = q->cnt + ((size_t)i * q->w->p->k + c) * 2;
    if (s[0] < 255)
        s[0]++, s[1] = (uint8_t)(s[1] + ((flags & ENG__XE_ENGAGED) != 0));
    q->last = 0;
}

double xs_qpost_mean(xs_qpost *q, uint32_t i, unsigned c)
{
    const unsigned K = q->w->p->k, g = q->w->seg[i];
    const size_t per = (size_t)NQ * NQ * NR;
    const uint8_t *s = q->cnt + (size_t)i * K * 2;
    if (q->fit == 2) { /* qr: the customer's r known, the posterior over their own u_ic from this channel's counts */
        double r = xs_resp(q->w, i);
        double eta = log(q->w->p->ch[c].qbar / (1 - q->w->p->ch[c].qbar)) + q->w->s[g * K + c];
        unsigned n = s[2 * c], k = s[2 * c + 1];
        double L = 0, M = 0;
        for (int j = 0; j < NR; j++) {
            double x = sigmoid(eta + r + q->w->p->cust_sd * q->ug[j]);
            double v = q->uw[j] * exp(k * log(x) + (n - k) * log1p(-x));
            L += v, M += v * x;
        }
        return M / L;
    }
    if (q->last != i + 1) { /* the posterior of r from every channel's counts */
        double sum = 0;
        for (int j = 0; j < NR; j++) {
            double v = q->rw[j];
            for (unsigned cc = 0; cc < K; cc++) {
                unsigned n = s[2 * cc] < NQ ? s[2 * cc] : NQ - 1, k = s[2 * cc + 1] < n ? s[2 * cc + 1] : n;
                v *= q->tl[(g * K + cc) * per + ((size_t)n * NQ + k) * NR + j];
            }
            q->post[j] = v, sum += v;
        }
        for (int j = 0; j < NR; j++)
            q->post[j] /= sum;
        q->last = i + 1;
    }
    unsigned n = s[2 * c] < NQ ? s[2 * c] : NQ - 1, k = s[2 * c + 1] < n ? s[2 * c + 1] : n;
    const double *L = q->tl + (g * K + c) * per + ((size_t)n * NQ + k) * NR;
    const double *M = q->tm + (g * K + c) * per + ((size_t)n * NQ + k) * NR;
    double e = 0;
    for (int j = 0; j < NR; j++)
        e += q->post[j] * M[j] / L[j];
    return e;
}

void xs_qpost_close(xs_qpost *q)
{
    if (!q)
        return;
    free(q->cnt), free(q->tl), free(q->tm);
    free(q);
}
