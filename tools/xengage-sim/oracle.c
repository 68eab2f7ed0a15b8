/* The oracle and the budgeted oracle (see oracle.h). */
#include "oracle.h"

int xs_oracle_pick(const xs_world *w, uint32_t i, double lambda, double *gain)
{
    const xs_params *p = w->p;
    int best = -1;
    double bs = 0;
    for (unsigned c = 0; c < p->k; c++) {
        if (!(w->reach[i] >> c & 1))
            continue;
        double s = w->value[i] * xs_tau(w, i, c) - (1 + lambda) * p->ch[c].cost;
        if (s > bs)
            bs = s, best = (int)c;
    }
    if (gain)
        *gain = bs;
    return best;
}

double xs_oracle_spend(const xs_world *w, const uint8_t *batch, double lambda)
{
    double spend = 0;
    for (uint32_t i = 0; i < w->n; i++) {
        int c = batch[i] < 200 ? xs_oracle_pick(w, i, lambda, NULL) : -1;
        if (c >= 0)
            spend += w->p->ch[c].cost;
    }
    return spend;
}

/* Bisection: spend falls as lambda grows, so the smallest feasible multiplier is found to 2^-40 of the bracket. */
double xs_oracle_cap(const xs_world *w, const uint8_t *batch, double budget)
{
    double lo = 0, hi = 0;
    while (xs_oracle_spend(w, batch, hi) > budget && hi < 1e9)
        lo = hi, hi = hi ? hi * 4 : 0.25;
    for (int it = 0; hi > 0 && it < 40; it++) {
        double mid = 0.5 * (lo + hi);
        if (xs_oracle_spend(w, batch, mid) > budget)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}
