/* X-Engage: a customer's engagement as the posterior mean of a logit-normal model of their counts.
 *
 *   logit q_ic = eta_gc + r_i + u_ic,  r_i ~ N(0, sr^2) shared by the customer's channels,  u_ic ~ N(0, su_c^2)
 *
 * Why: the Beta posterior shrinks each channel's counts toward the cell's rate and scales that rate by the
 * customer's responsiveness on the other channels (a gamma-Poisson multiplier); the logit-normal puts both on
 * one scale, so a customer's engagements elsewhere shift every channel's logit alike (a multiplier near 1 for
 * a channel of 30 %, near exp(r) for one of 1 %), and the posterior is the exact one of that model rather
 * than a moment match (docs/xengage.md, "The customer's value and engagement": --truth qfit).
 *
 * Nothing is tuned to a world: every parameter comes from the model's own fits at each refresh. sr^2 =
 * log(1 + 1/resp_a), the customer factor's variance read as a lognormal's; sig_c, the logit-normal spread
 * whose variance at the channel's mean equals the fitted Beta prior's m (1 - m) / (kappa + 1); su_c^2 =
 * sig_c^2 - sr^2 (at least XE_LGN_SU2_MIN); eta_gc, the location whose logit-normal mean is the cell's fitted
 * mean. The posterior over r is a Gauss-Hermite sum over XE_LGN_NR nodes. For each cell and count pair
 * (n, k), n <= XE_LGN_NQ, a table holds at each node the likelihood of the pair (u summed out over
 * XE_LGN_NU nodes; each row scaled to a maximum of 1) and the mean of q given r and the pair. A decision
 * multiplies the rows of the customer's channels with data and takes one weighted sum per reachable channel. */
#include "decide/xengage_impl.h"
#include "base/error.h"

#include <math.h>
#include <string.h>

#define XE_LGN_NU 24
#define XE_LGN_SU2_MIN 0.01
/* Rows are floored here, and a customer's product rescaled after every XE_LGN_RESCALE channels, so that it
 * stays a normal float (the weights are >= 1e-5); a node this far below a row's best carries nothing. */
#define XE_LGN_FLOOR 1e-7f
#define XE_LGN_RESCALE 4 /* the product's tree below takes four at a time */

/* Gauss-Hermite nodes and weights for E[f(z)], z ~ N(0, 1) (weights sum to 1): Newton on the orthonormal
 * Hermite polynomials from the usual starting points (Numerical Recipes' gauher), then z = sqrt 2 x. */
void eng__xe_gauss_hermite(int n, double *z, double *w)
{
    const double pim4 = 0.7511255444649425; /* pi^(-1/4) */
    double x = 0, pp = 1;
    for (int i = 0; i < (n + 1) / 2; i++) {
        if (i == 0)
            x = sqrt(2.0 * n + 1) - 1.85575 * pow(2.0 * n + 1, -0.16667);
        else if (i == 1)
            x -= 1.14 * pow((double)n, 0.426) / x;
        else if (i == 2)
            x = 1.86 * x - 0.86 * z[0] / M_SQRT2;
        else if (i == 3)
            x = 1.91 * x - 0.91 * z[1] / M_SQRT2;
        else
            x = 2.0 * x - z[i - 2] / M_SQRT2;
        for (int it = 0; it < 100; it++) {
            double p1 = pim4, p2 = 0;
            for (int j = 1; j <= n; j++) {
                double p3 = p2;
                p2 = p1;
                p1 = x * sqrt(2.0 / j) * p2 - sqrt((j - 1.0) / j) * p3;
            }
            pp = sqrt(2.0 * n) * p2;
            double x1 = x;
            x = x1 - p1 / pp;
            if (fabs(x - x1) <= 1e-14)
                break;
        }
        z[i] = x * M_SQRT2, z[n - 1 - i] = -x * M_SQRT2;
        w[i] = w[n - 1 - i] = 2.0 / (pp * pp) / sqrt(M_PI);
    }
}

static double sigmoid(double x) { return 1 / (1 + exp(-x)); }

typedef struct gh {
    double z[XE_LGN_NU], w[XE_LGN_NU];
    int n;
} gh;

/* Mean (and variance) of sigmoid(eta + s z). */
static double lgn_mean(const gh *h, double eta, double s, double *var, double *slope)
{
    double m = 0, m2 = 0, d = 0;
    for (int j = 0; j < h->n; j++) {
        double q = sigmoid(eta + s * h->z[j]);
        m += h->w[j] * q, m2 += h->w[j] * q * q, d += h->w[j] * q * (1 - q);
    }
    if (var)
        *var = m2 - m * m;
    if (slope)
        *slope = d;
    return m;
}

/* The eta whose logit-normal of spread s has mean m: Newton inside a bracket (the mean rises with eta). */
static double lgn_eta(const gh *h, double m, double s)
{
    m = m < 1e-6 ? 1e-6 : m > 1 - 1e-6 ? 1 - 1e-6 : m;
    double lo = -40, hi = 40, eta = log(m / (1 - m)) * sqrt(1 + M_PI * s * s / 8);
    for (int it = 0; it < 60; it++) {
        double d, f = lgn_mean(h, eta, s, NULL, &d) - m;
        if (f < 0)
            lo = eta;
        else
            hi = eta;
        double nx = d > 0 ? eta - f / d : 0.5 * (lo + hi);
        if (!(nx > lo && nx < hi))
            nx = 0.5 * (lo + hi);
        if (fabs(nx - eta) < 1e-10)
            return nx;
        eta = nx;
    }
    return eta;
}

/* The spread whose logit-normal at mean m has variance v (bisection: the variance rises with the spread). */
static double lgn_spread(const gh *h, double m, double v)
{
    double lo = 1e-3, hi = 8;
    for (int it = 0; it < 40; it++) {
        double s = 0.5 * (lo + hi), var;
        lgn_mean(h, lgn_eta(h, m, s), s, &var, NULL);
        if (var > v)
            hi = s;
        else
            lo = s;
    }
    return 0.5 * (lo + hi);
}

static inline unsigned pair_index(unsigned n, unsigned k)
{
    if (__builtin_expect(n > XE_LGN_NQ, 0)) { /* more sends count as XE_LGN_NQ at the same rate (as the fit does) */
        k = (k * XE_LGN_NQ + n / 2) / n;
        n = XE_LGN_NQ;
    }
    return n * (n + 1) / 2 + (k < n ? k : n);
}

/* One cell's rows at spread sr (shared) and su (the channel's own). @p lscale (the likelihood fit's): each
 * pair's log of the factor its row was scaled by, and the means left out. */
static void build_cell(const gh *h, const double *zr, double eta, double sr, double su, float *out, double *lscale)
{
    enum { NQ = XE_LGN_NQ };
    double L[XE_LGN_PAIRS][XE_LGN_NR], M[XE_LGN_PAIRS][XE_LGN_NR];
    memset(L, 0, sizeof L), memset(M, 0, sizeof M);
    for (int jr = 0; jr < XE_LGN_NR; jr++)
        for (int ju = 0; ju < h->n; ju++) {
            double x = sigmoid(eta + sr * zr[jr] + su * h->z[ju]), px[NQ + 1], p1[NQ + 1];
            px[0] = p1[0] = 1;
            for (int t = 1; t <= NQ; t++)
                px[t] = px[t - 1] * x, p1[t] = p1[t - 1] * (1 - x);
            for (int n = 0, i = 0; n <= NQ; n++)
                for (int k = 0; k <= n; k++, i++) {
                    double v = h->w[ju] * px[k] * p1[n - k]; /* the binomial coefficient cancels */
                    L[i][jr] += v;
                    if (!lscale)
                        M[i][jr] += v * x;
                }
        }
    for (int i = 0; i < XE_LGN_PAIRS; i++) {
        float *row = out + (size_t)i * 2 * XE_LGN_NR;
        double mx = 0;
        for (int jr = 0; jr < XE_LGN_NR; jr++)
            mx = L[i][jr] > mx ? L[i][jr] : mx;
        for (int jr = 0; jr < XE_LGN_NR; jr++) {
            /* only ratios between nodes matter: each row scaled to a maximum of 1 */
            float v = mx > 0 ? (float)(L[i][jr] / mx) : 1.0f;
            row[jr] = v > XE_LGN_FLOOR ? v : XE_LGN_FLOOR;
            if (!lscale)
                row[XE_LGN_NR + jr] = (float)(L[i][jr] > 1e-300 ? M[i][jr] / L[i][jr] : sigmoid(eta + sr * zr[jr]));
        }
        if (lscale)
            lscale[i] = mx > 0 ? log(mx) : 0;
    }
}

size_t eng__xe_lgn_bytes(unsigned g, unsigned k)
{
    size_t cells = (size_t)g * k;
    return cells > XE_LGN_MAX_CELLS ? 0 : cells * XE_LGN_CELL * sizeof(float);
}

/* Each channel's logit-normal spread: the one whose variance at the channel's mean is the fitted Beta's. */
static void channel_spreads(const eng__xe *xe, const gh *h, double *sig)
{
    for (unsigned c = 0; c < xe->cfg.k; c++) {
        double m = xe->chan[c].m, kappa = xe_cell_at(xe, 0, c)->kappa;
        m = m < 1e-6 ? 1e-6 : m > 1 - 1e-6 ? 1 - 1e-6 : m;
        sig[c] = lgn_spread(h, m, m * (1 - m) / (kappa + 1));
    }
}

/* The tables of segments below @p ng at customer spread @p sr (lscale: the fit's, see build_cell). */
static void build_tables(const eng__xe *xe, const gh *h, const double *zr, const double *sig, double sr, unsigned ng,
                         float *out, double *lscale)
{
    const unsigned K = xe->cfg.k;
    for (unsigned c = 0; c < K; c++) {
        double su2 = sig[c] * sig[c] - sr * sr;
        su2 = su2 > XE_LGN_SU2_MIN ? su2 : XE_LGN_SU2_MIN;
        double su = sqrt(su2), st = sqrt(su2 + sr * sr);
        for (unsigned g = 0; g < ng; g++) {
            size_t cell = (size_t)g * K + c;
            double eta = lgn_eta(h, xe_cell_at(xe, g, c)->m, st);
            build_cell(h, zr, eta, sr, su, out + cell * XE_LGN_CELL, lscale ? lscale + cell * XE_LGN_PAIRS : NULL);
        }
    }
}

static void nodes(gh *h, int nu, double *zr, double *wr)
{
    h->n = nu;
    eng__xe_gauss_hermite(nu, h->z, h->w);
    eng__xe_gauss_hermite(XE_LGN_NR, zr, wr);
}

void eng__xe_lgn_build(eng__xe *xe)
{
    if (!xe->lgn)
        return;
    gh h;
    double zr[XE_LGN_NR], wr[XE_LGN_NR], sig[ENG__XE_MAXK];
    nodes(&h, XE_LGN_NU, zr, wr);
    for (int j = 0; j < XE_LGN_NR; j++)
        xe->lgn_w[j] = (float)wr[j];
    double sr = xe->cfg.customer_factor && xe->resp_a > 0 ? sqrt(log1p(1 / xe->resp_a)) : 0;
    channel_spreads(xe, &h, sig);
    build_tables(xe, &h, zr, sig, sr, xe->cfg.g, xe->lgn, NULL);
}

/* The customer factor's fit reads the customers of the first segments up to this many cells (sr is shared by
 * every segment: a part of them estimates it without a table for each), at most XE_LGN_FIT_N of them, and
 * looks for sr in [0, XE_LGN_SR_MAX] to XE_LGN_FIT_IT golden-section steps (0.006). Its cost is the tables
 * (about 1.4 M multiply-adds a step at 48 cells), not the customers. */
#define XE_LGN_FIT_CELLS 48
#define XE_LGN_FIT_N 16384
#define XE_LGN_SR_MAX 2.0
#define XE_LGN_FIT_IT 12
#define XE_LGN_FIT_NU 12 /* u's nodes in the fit's tables (the decisions' 24: a likelihood needs fewer) */

typedef struct fit_ctx {
    const eng__xe *xe;
    eng__mem mem;
    gh h;
    double zr[XE_LGN_NR], wr[XE_LGN_NR], sig[ENG__XE_MAXK];
    unsigned ng;
    float *tab;
    double *lscale;
    uint16_t *pair; /* per sampled customer and channel: the count pair's row (0: no data, a row of ones) */
    uint16_t *seg;
    size_t n;
} fit_ctx;

static void fit_close(fit_ctx *f)
{
    eng__free(&f->mem, f->tab), eng__free(&f->mem, f->lscale), eng__free(&f->mem, f->pair), eng__free(&f->mem, f->seg);
}

/* The sample: every step-th customer of the first segments with data on some channel. */
static int fit_open(const eng__xe *xe, fit_ctx *f)
{
    const unsigned K = xe->cfg.k;
    memset(f, 0, sizeof *f);
    f->xe = xe, f->mem = xe->mem;
    nodes(&f->h, XE_LGN_FIT_NU, f->zr, f->wr);
    channel_spreads(xe, &f->h, f->sig);
    f->ng = XE_LGN_FIT_CELLS / K;
    f->ng = f->ng < 1 ? 1 : f->ng > xe->cfg.g ? xe->cfg.g : f->ng;
    size_t cells = (size_t)f->ng * K, n = xe->cfg.customers, step = n > 4 * XE_LGN_FIT_N ? n / (4 * XE_LGN_FIT_N) : 1;
    f->tab = eng__malloc(&f->mem, cells * XE_LGN_CELL * sizeof *f->tab);
    f->lscale = eng__malloc(&f->mem, cells * XE_LGN_PAIRS * sizeof *f->lscale);
    f->pair = eng__malloc(&f->mem, (size_t)XE_LGN_FIT_N * K * sizeof *f->pair);
    f->seg = eng__malloc(&f->mem, (size_t)XE_LGN_FIT_N * sizeof *f->seg);
    if (!f->tab || !f->lscale || !f->pair || !f->seg) {
        fit_close(f);
        return eng__nomem();
    }
    for (size_t i = 0; i < n && f->n < XE_LGN_FIT_N; i += step) {
        const uint8_t *s = xe_state(xe, (uint32_t)i);
        unsigned g = xe_segment(xe, s), any = 0;
        if (g >= f->ng)
            continue;
        for (unsigned c = 0; c < K; c++) {
            f->pair[f->n * K + c] = (uint16_t)(s[2 * c] ? pair_index(s[2 * c], s[2 * c + 1]) : 0);
            any |= s[2 * c];
        }
        if (any)
            f->seg[f->n++] = (uint16_t)g;
    }
    return ENG_OK;
}

/* The sample's log marginal likelihood at spread sr (up to a constant: the binomial coefficients). */
static double loglik_at(fit_ctx *f, double sr)
{
    const unsigned K = f->xe->cfg.k;
    build_tables(f->xe, &f->h, f->zr, f->sig, sr, f->ng, f->tab, f->lscale);
    double ll = 0;
    for (size_t i = 0; i < f->n; i++) {
        size_t cell0 = (size_t)f->seg[i] * K;
        double p[XE_LGN_NR], ls = 0, sum = 0;
        for (int j = 0; j < XE_LGN_NR; j++)
            p[j] = f->wr[j];
        for (unsigned c = 0; c < K; c++) {
            unsigned pi = f->pair[i * K + c];
            if (!pi)
                continue;
            const float *row = f->tab + (cell0 + c) * XE_LGN_CELL + (size_t)pi * 2 * XE_LGN_NR;
            for (int j = 0; j < XE_LGN_NR; j++)
                p[j] *= row[j];
            ls += f->lscale[(cell0 + c) * XE_LGN_PAIRS + pi];
        }
        for (int j = 0; j < XE_LGN_NR; j++)
            sum += p[j];
        ll += log(sum) + ls;
    }
    return ll;
}

int eng__xe_lgn_loglik(const eng__xe *xe, double sr, double *ll, size_t *n)
{
    fit_ctx f;
    int rc = fit_open(xe, &f);
    if (rc)
        return rc;
    *ll = loglik_at(&f, sr);
    if (n)
        *n = f.n;
    fit_close(&f);
    return ENG_OK;
}

/* Maximum marginal likelihood of the customer factor's spread sr, the rest of the model (the cells' means,
 * the channels' spreads) as fitted. Why not the moments of the engagements' pairs across channels (the
 * Beta's customer factor, refresh_resp): under adaptive sends a customer gets a second channel mostly
 * after missing on the first, so pairs across channels under-count the factor, and more so each wave
 * (the default world: its variance 0.20 in wave 1, 0.09, 0.01, then below 0 in wave 4, where the
 * world's is about 0.4); a likelihood is unbiased by a design that depends only on the data seen. */
int eng__xe_lgn_fit_sr(const eng__xe *xe, double *sr_out)
{
    fit_ctx f;
    int rc = fit_open(xe, &f);
    if (rc)
        return rc;
    double sr = 0;
    if (f.n) {
        const double phi = 0.6180339887498949;
        double a = 0, b = XE_LGN_SR_MAX, x1 = b - phi * (b - a), x2 = a + phi * (b - a);
        double f1 = loglik_at(&f, x1), f2 = loglik_at(&f, x2);
        for (int it = 0; it < XE_LGN_FIT_IT; it++) {
            if (f1 >= f2)
                b = x2, x2 = x1, f2 = f1, x1 = b - phi * (b - a), f1 = loglik_at(&f, x1);
            else
                a = x1, x1 = x2, f1 = f2, x2 = a + phi * (b - a), f2 = loglik_at(&f, x2);
        }
        sr = f1 >= f2 ? x1 : x2;
    }
    fit_close(&f);
    *sr_out = sr;
    return ENG_OK;
}

/* Four nodes a vector (GCC/clang vector extension; plain loops were left scalar by the compiler and doubled
 * a decision's time): a customer's posterior over the nodes is two vectors. */
typedef float v4 __attribute__((vector_size(16)));
_Static_assert(XE_LGN_NR == 8, "the decision's vectors hold 8 nodes");

static inline v4 ld(const float *p)
{
    v4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline float hsum(v4 t) { return (t[0] + t[1]) + (t[2] + t[3]); }

/* Without branches on the counts (which channels hold data is random from one customer to the next, and the
 * mispredictions cost more than the arithmetic): a channel without data multiplies by the pair (0, 0)'s
 * row of ones, the product is a tree (its chain of dependent multiplications is short), and the means of the
 * channels in @p want are computed. */
void eng__xe_lgn_means(const eng__xe *xe, const uint8_t *s, unsigned seg, unsigned want, double *q)
{
    static const uint8_t none[2 * ENG__XE_MAXK];
    const unsigned K = xe->cfg.k;
    const float *cells = xe->lgn + (size_t)seg * K * XE_LGN_CELL;
    const float *row[ENG__XE_MAXK];
    s = s ? s : none;
    for (unsigned c = 0; c < K; c++)
        row[c] = cells + (size_t)c * XE_LGN_CELL + (size_t)pair_index(s[2 * c], s[2 * c + 1]) * 2 * XE_LGN_NR;
    v4 p0 = ld(xe->lgn_w), p1 = ld(xe->lgn_w + 4);
    for (unsigned c = 0; c < K; c += XE_LGN_RESCALE) {
        v4 a0 = ld(row[c]), a1 = ld(row[c] + 4);
        if (c + 1 < K) {
            v4 b0 = ld(row[c + 1]), b1 = ld(row[c + 1] + 4);
            if (c + 2 < K) {
                v4 c0 = ld(row[c + 2]), c1 = ld(row[c + 2] + 4);
                if (c + 3 < K)
                    c0 *= ld(row[c + 3]), c1 *= ld(row[c + 3] + 4);
                b0 *= c0, b1 *= c1;
            }
            a0 *= b0, a1 *= b1;
        }
        p0 *= a0, p1 *= a1;
        if (c + XE_LGN_RESCALE < K) { /* keep the product a normal float */
            float mx = 0;
            for (int j = 0; j < 4; j++)
                mx = fmaxf(mx, fmaxf(p0[j], p1[j]));
            p0 /= mx, p1 /= mx;
        }
    }
    float inv = 1 / hsum(p0 + p1);
    for (unsigned m = want & ((1u << K) - 1); m; m &= m - 1) {
        unsigned c = (unsigned)__builtin_ctz(m);
        q[c] = hsum(p0 * ld(row[c] + XE_LGN_NR) + p1 * ld(row[c] + XE_LGN_NR + 4)) * inv;
    }
}
