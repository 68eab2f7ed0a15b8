/* The gamma distribution's function and quantile, for the off-policy intervals' bounds of weighted
 * Poisson sums (Fay and Feuer 1997). libm has no incomplete gamma. The regularized P(a, x) is the
 * series below a + 1 and the continued fraction of Q = 1 - P above it (Numerical Recipes 6.2): both
 * converge in O(sqrt(a)) terms, and each is used where its result is the smaller of P and Q, so
 * neither loses digits to a subtraction from 1. */
#include "decide/xengage_impl.h"

#include <float.h>
#include <math.h>

#define EPS 1e-15
#define TINY 1e-300

/* e^-x x^a / Gamma(a), the factor both expansions share (0 when it underflows). For a large shape
 * a log x, x and log Gamma(a) are each far larger than their sum, so it is written as
 * sqrt(a / 2 pi) exp(a (log1p(t) - t) - s(a)), t = x / a - 1, with Stirling's series s(a) =
 * log Gamma(a) - (a - 1/2) log a + a - log(2 pi) / 2 (four terms: below 1e-12 from a = 10). */
static double front(double a, double x)
{
    if (a < 10)
        return exp(a * log(x) - x - eng__xe_log_gamma(a));
    double t = (x - a) / a, z = 1 / (a * a);
    double s = (1.0 / 12 - z * (1.0 / 360 - z * (1.0 / 1260 - z / 1680))) / a;
    return sqrt(a / 6.283185307179586) * exp(a * (log1p(t) - t) - s);
}

/* P(a, x) by its series: sum over n of x^n / (a (a + 1) ... (a + n)), times e^-x x^a / Gamma(a).
 * The terms fall once a + n > x, so for x < a + 1 from the first. */
static double p_series(double a, double x)
{
    double term = 1 / a, sum = term;
    for (double ap = a; term > sum * EPS; ) {
        ap += 1;
        term *= x / ap;
        sum += term;
    }
    return sum * front(a, x);
}

/* Q(a, x) by its continued fraction (modified Lentz), for x >= a + 1. */
static double q_fraction(double a, double x)
{
    double b = x + 1 - a, c = 1 / TINY, d = 1 / b, h = d;
    for (double i = 1; i < 1e9; i++) {
        double an = -i * (i - a);
        b += 2;
        d = an * d + b;
        if (fabs(d) < TINY)
            d = TINY;
        c = b + an / c;
        if (fabs(c) < TINY)
            c = TINY;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < EPS)
            break;
    }
    return h * front(a, x);
}

double eng__xe_gamma_p(double a, double x)
{
    if (!(a > 0) || isnan(x))
        return NAN;
    if (x <= 0)
        return 0;
    if (isinf(x))
        return 1;
    return x < a + 1 ? p_series(a, x) : 1 - q_fraction(a, x);
}

double eng__xe_gamma_quantile(double a, double p)
{
    if (!(a > 0) || !(p >= 0 && p <= 1))
        return NAN;
    if (p == 0)
        return 0;
    if (p == 1)
        return INFINITY;
    /* Bracket, then bisect: P is increasing in x, and the mean plus 10 standard deviations (and a
     * doubling past it for p within 1e-22 of 1) holds every quantile asked for here. */
    double lo = 0, hi = a + 10 * sqrt(a) + 10;
    while (eng__xe_gamma_p(a, hi) < p && hi < DBL_MAX / 4)
        lo = hi, hi *= 2;
    for (int i = 0; i < 200 && hi - lo > 1e-14 * hi; i++) {
        double mid = lo + (hi - lo) / 2;
        if (eng__xe_gamma_p(a, mid) < p)
            lo = mid;
        else
            hi = mid;
    }
    return lo + (hi - lo) / 2;
}
