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
} gh;

/* Mean (and variance) of sigmoid(eta + s z). */
static double lgn_mean(const gh *h, double eta, double s, double *var, double *slope)
{
    double m = 0, m2 = 0, d = 0;
    for (int j = 0; j < XE_LGN_NU; j++) {
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

static void build_cell(const gh *h, const double *zr, double eta, double sr, double su, float *out)
{
    enum { NQ = XE_LGN_NQ };
    double L[XE_LGN_PAIRS][XE_LGN_NR], M[XE_LGN_PAIRS][XE_LGN_NR];
    memset(L, 0, sizeof L), memset(M, 0, sizeof M);
    for (int jr = 0; jr < XE_LGN_NR; jr++)
        for (int ju = 0; ju < XE_LGN_NU; ju++) {
            double x = sigmoid(eta + sr * zr[jr] + su * h->z[ju]), px[NQ + 1], p1[NQ + 1];
            px[0] = p1[0] = 1;
            for (int t = 1; t <= NQ; t++)
                px[t] = px[t - 1] * x, p1[t] = p1[t - 1] * (1 - x);
            for (int n = 0, i = 0; n <= NQ; n++)
                for (int k = 0; k <= n; k++, i++) {
                    double v = h->w[ju] * px[k] * p1[n - k]; /* the binomial coefficient cancels */
                    L[i][jr] += v, M[i][jr] += v * x;
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
            row[XE_LGN_NR + jr] = (float)(L[i][jr] > 1e-300 ? M[i][jr] / L[i][jr] : sigmoid(eta + sr * zr[jr]));
        }
    }
}

size_t eng__xe_lgn_bytes(unsigned g, unsigned k)
{
    size_t cells = (size_t)g * k;
    return cells > XE_LGN_MAX_CELLS ? 0 : cells * XE_LGN_CELL * sizeof(float);
}

void eng__xe_lgn_build(eng__xe *xe)
{
    if (!xe->lgn)
        return;
    const unsigned K = xe->cfg.k, G = xe->cfg.g;
    gh h;
    double zr[XE_LGN_NR], wr[XE_LGN_NR];
    eng__xe_gauss_hermite(XE_LGN_NU, h.z, h.w);
    eng__xe_gauss_hermite(XE_LGN_NR, zr, wr);
    for (int j = 0; j < XE_LGN_NR; j++)
        xe->lgn_w[j] = (float)wr[j];
    double sr = xe->cfg.customer_factor && xe->resp_a > 0 ? sqrt(log1p(1 / xe->resp_a)) : 0;
    for (unsigned c = 0; c < K; c++) {
        double m = xe->chan[c].m, kappa = xe_cell_at(xe, 0, c)->kappa;
        m = m < 1e-6 ? 1e-6 : m > 1 - 1e-6 ? 1 - 1e-6 : m;
        double sig = lgn_spread(&h, m, m * (1 - m) / (kappa + 1));
        double su2 = sig * sig - sr * sr;
        su2 = su2 > XE_LGN_SU2_MIN ? su2 : XE_LGN_SU2_MIN;
        double su = sqrt(su2), st = sqrt(su2 + sr * sr);
        for (unsigned g = 0; g < G; g++) {
            double eta = lgn_eta(&h, xe_cell_at(xe, g, c)->m, st);
            build_cell(&h, zr, eta, sr, su, xe->lgn + ((size_t)g * K + c) * XE_LGN_CELL);
        }
    }
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
