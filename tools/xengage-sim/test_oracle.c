/* The budgeted oracle (oracle.c) against a brute force over every assignment of a few customers: the reference
 * the budget target is measured against must be the best a policy that knows the truth can do under the cap.
 * Checked, per world seed and cap: its choices fit the cap; no assignment spending at most what they spend has a
 * higher net value (the Lagrangian solution is optimal for its own spend); the best under the cap is at most
 * their net value + lambda x the credits they leave; a cap that does not bind gives lambda 0 and the oracle.
 * The brute force scores each channel with the world's own expected outcome (xs_expect), not oracle.c's formula;
 * a control customer (batch 200) gets nothing. Exit 1 on the first failure. */
#include "oracle.h"

#include <math.h>
#include <stdio.h>

#define N 8

static double net1[N][XS_MAXK + 1], cost1[N][XS_MAXK + 1];
static int nopt[N];

/* The best net value over customers from @p i on spending at most @p left. */
static double best(int i, double left)
{
    if (i == N)
        return 0;
    double b = -INFINITY;
    for (int o = 0; o < nopt[i]; o++)
        if (cost1[i][o] <= left + 1e-12) {
            double v = net1[i][o] + best(i + 1, left - cost1[i][o]);
            b = v > b ? v : b;
        }
    return b;
}

static int fail(const char *what, uint64_t seed, double share, double a, double b)
{
    fprintf(stderr, "seed %llu, cap %.2f of send_all: %s (%.12g against %.12g)\n", (unsigned long long)seed, share,
            what, a, b);
    return 1;
}

int main(void)
{
    const double shares[] = {0.05, 0.15, 0.3, 0.6, 1.0};
    int checked = 0, bound = 0;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        xs_params p;
        xs_params_default(&p);
        p.customers = N;
        p.g = 3;
        xs_world w;
        if (xs_world_build(&w, &p, seed))
            return fail("world", seed, 0, 0, 0);
        xs_world_wave(&w, 1);
        uint8_t batch[N];
        double sendall = 0;
        for (uint32_t i = 0; i < N; i++) {
            batch[i] = i == 3 ? 200 : (uint8_t)(i % 10); /* customer 3 is in the control group */
            nopt[i] = 1, net1[i][0] = 0, cost1[i][0] = 0; /* nothing */
            for (unsigned c = 0; c < p.k && batch[i] < 200; c++)
                if (w.reach[i] >> c & 1) {
                    xs_outcome o;
                    xs_expect(&w, i, 1u << c, &o);
                    net1[i][nopt[i]] = o.net, cost1[i][nopt[i]] = o.cost, nopt[i]++;
                    sendall += p.ch[c].cost;
                }
        }
        for (size_t s = 0; s < sizeof shares / sizeof *shares; s++) {
            double budget = shares[s] * sendall, lambda = xs_oracle_cap(&w, batch, budget), spend = 0, net = 0;
            for (uint32_t i = 0; i < N; i++) {
                int c = batch[i] < 200 ? xs_oracle_pick(&w, i, lambda, NULL) : -1;
                if (c >= 0) {
                    xs_outcome o;
                    xs_expect(&w, i, 1u << c, &o);
                    spend += o.cost, net += o.net;
                }
            }
            if (fabs(spend - xs_oracle_spend(&w, batch, lambda)) > 1e-9)
                return fail("spend", seed, shares[s], spend, xs_oracle_spend(&w, batch, lambda));
            if (spend > budget + 1e-9)
                return fail("over the cap", seed, shares[s], spend, budget);
            double own = best(0, spend), capped = best(0, budget);
            if (fabs(own - net) > 1e-9 * (1 + fabs(net)))
                return fail("not the best for what it spends", seed, shares[s], net, own);
            if (capped < net - 1e-9 || capped > net + lambda * (budget - spend) + 1e-9)
                return fail("outside the duality bound", seed, shares[s], capped, net);
            if (lambda == 0 && fabs(capped - best(0, INFINITY)) > 1e-9)
                return fail("a cap that does not bind", seed, shares[s], capped, best(0, INFINITY));
            bound += capped > net + 1e-9;
            checked++;
        }
        xs_world_free(&w);
    }
    printf("budgeted oracle: %d caps checked against the brute force, %d where the best under the cap spends what the "
           "oracle leaves (within lambda x it)\n", checked, bound);
    return 0;
}
