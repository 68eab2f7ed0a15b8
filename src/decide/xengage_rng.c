/* Counter-based random numbers for X-Engage: the n-th number of a stream is
 * splitmix64(key + n * golden), so a customer's draws depend only on (seed,
 * customer, wave) and never on which batch or thread decides them. Normals by
 * Acklam's inverse-CDF approximation (one uniform, no rejection: the same count
 * of numbers per draw), gammas by Marsaglia-Tsang (ACM TOMS 26(3), 2000). */
#include "decide/xengage.h"
#include "base/hash.h"

#include <math.h>

uint64_t eng__xe_u64(eng__xe_rng *r)
{
    return eng__mix64(r->key + 0x9e3779b97f4a7c15ull * ++r->ctr);
}

double eng__xe_uniform(eng__xe_rng *r)
{
    return ((double)(eng__xe_u64(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Acklam's rational approximation of the normal quantile (relative error < 1.2e-9). */
static double norm_quantile(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                               1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01, -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    if (p < 0.02425) {
        double q = sqrt(-2 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    if (p > 1 - 0.02425) {
        double q = sqrt(-2 * log(1 - p));
        return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

double eng__xe_normal(eng__xe_rng *r)
{
    return norm_quantile(eng__xe_uniform(r));
}

double eng__xe_gamma(eng__xe_rng *r, double shape)
{
    double boost = 1.0;
    if (shape < 1.0) { /* Gamma(a) = Gamma(a + 1) * U^(1/a) */
        boost = pow(eng__xe_uniform(r), 1.0 / shape);
        shape += 1.0;
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = eng__xe_normal(r), v = 1.0 + c * x;
        if (v <= 0)
            continue;
        v = v * v * v;
        double u = eng__xe_uniform(r);
        if (u < 1.0 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
            return d * v * boost;
    }
}

double eng__xe_beta_draw(eng__xe_rng *r, double a, double b)
{
    /* Large posteriors: the normal with the Beta's mean and variance is exact
     * enough and ten times cheaper than two gammas. */
    if (a > 40 && b > 40) {
        double s = a + b, m = a / s, sd = sqrt(m * (1 - m) / (s + 1));
        double x = m + sd * eng__xe_normal(r);
        return x < 0 ? 0 : x > 1 ? 1 : x;
    }
    double x = eng__xe_gamma(r, a), y = eng__xe_gamma(r, b);
    return x + y > 0 ? x / (x + y) : a / (a + b);
}
