/* Cost on both readings (see report.h): BENCHMARKS.md counts a policy's cost in credits ("cost per
 * message") and charges "0.5 in fatigue" for each extra message to one customer in a wave, and its net
 * value subtracts both. The cost target ">= 65 % of send_all's incremental conversions at <= 15 % of its
 * cost" reads either way, so both are printed and evaluated, side by side. */
#include "report.h"

#include <math.h>
#include <stdlib.h>

#define TARGET_INCR 65.0
#define TARGET_COST 15.0

static void interval(FILE *f, const double *x, size_t seeds)
{
    xs_summary s;
    xs_summarize(x, seeds, &s);
    fprintf(f, "| %.1f %% [%.1f, %.1f] ", s.mean, s.lo, s.hi);
}

/* xengage's sends by its own score per unit of cost against the world's truth: whether the sends that
 * barely pay by its estimates pay (the direct driver's scores; nothing without them). */
static void calibration(FILE *f, const xs_params *p, const xs_seed_result *r, size_t seeds)
{
    double t[2][XS_CALIB_BINS][3] = {{{0}}}, n = 0;
    for (size_t k = 0; k < seeds; k++)
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < XS_CALIB_BINS; b++)
                for (int j = 0; j < 3; j++)
                    t[a][b][j] += r[k].calib[a][b][j], n += j == 0 ? r[k].calib[a][b][0] : 0;
    if (!n)
        return;
    fprintf(f, "\nxengage's sends by its score per unit of cost (score: the send's expected value less its cost%s, by "
               "its estimates; explored sends left out) against the world's truth (value x incremental probability - "
               "cost): sends a seed, mean score, mean truth\n| score / cost | wave 1: sends | score | truth | later "
               "waves: sends | score | truth |\n|---|---|---|---|---|---|---|\n",
            p->budget > 0 ? " x (1 + the cap's multiplier)" : "");
    for (int b = 0; b < XS_CALIB_BINS; b++) {
        if (b == 0)
            fprintf(f, "| < %g ", xs_calib_edge[0]);
        else if (b == XS_CALIB_BINS - 1)
            fprintf(f, "| >= %g ", xs_calib_edge[b - 1]);
        else
            fprintf(f, "| %g - %g ", xs_calib_edge[b - 1], xs_calib_edge[b]);
        for (int a = 0; a < 2; a++) {
            const double *c = t[a][b];
            if (c[0] > 0)
                fprintf(f, "| %.1f | %.3f | %.3f ", c[0] / seeds, c[1] / c[0], c[2] / c[0]);
            else
                fprintf(f, "| 0 | - | - ");
        }
        fprintf(f, "|\n");
    }
}

/* Each wave's credits + fatigue against send_all's in the same wave (reading 2): whether a policy's excess cost
 * is its cold start (wave 1) or stays (issue 12: the cost target's 1.3 points). */
static void by_wave(FILE *f, const xs_seed_result *r, size_t seeds, unsigned policies, unsigned W)
{
    if (!(policies >> P_SEND_ALL & 1) || seeds == 0)
        return;
    double *x = malloc(seeds * sizeof *x);
    if (!x)
        abort();
    xs_wave_header(f, "credits + fatigue vs send_all's in the same wave (reading 2), mean [95 % interval] over the seeds", W);
    for (int pol = 0; pol < P_COUNT; pol++) {
        if (!(policies >> pol & 1) || pol == P_SEND_ALL)
            continue;
        fprintf(f, "| %s ", xs_policy_name[pol]);
        for (unsigned w = 1; w <= W; w++) {
            int ok = 1;
            for (size_t k = 0; k < seeds && ok; k++) {
                xs_wm a = xs_total(&r[k], pol, w, w), b = xs_total(&r[k], P_SEND_ALL, w, w);
                ok = b.cost + b.fatigue > 0;
                x[k] = ok ? 100 * (a.cost + a.fatigue) / (b.cost + b.fatigue) : 0;
            }
            if (ok)
                interval(f, x, seeds);
            else
                fprintf(f, "| - ");
        }
        fprintf(f, "|\n");
    }
    free(x);
}

/* Under a cap (--budget): how xengage paces it through each wave, against the budgeted oracle, which spends the
 * wave's cap at one multiplier over the whole wave (the exact optimum for what it spends: sim.c, xs_oracle_cap). */
static void pacing(FILE *f, const xs_params *p, const xs_seed_result *r, size_t seeds)
{
    if (!(p->budget > 0) || seeds == 0)
        return;
    fprintf(f, "\nthe cap's pacing, per wave, means over the seeds: xengage's spend and its explored sends' part of it, "
               "as shares of the wave's cap (test customers x %.2f of send_all's credits); the multiplier of the cost in "
               "its batches' choices (direct driver: mean, lowest and highest batch) and the budgeted oracle's\n"
               "| wave | cap | xengage spent | of it explored | unspent | multiplier: xengage, mean | lowest | highest | "
               "budgeted oracle: spent | unspent | multiplier |\n|---|---|---|---|---|---|---|---|---|---|---|\n", p->budget);
    for (unsigned w = 0; w < p->waves && w < XS_MAXW; w++) {
        double cap = 0, spent = 0, expl = 0, lam = 0, lo = INFINITY, hi = -INFINITY, n = 0, lor = 0, ors = 0;
        for (size_t k = 0; k < seeds; k++) {
            const double *x = r[k].pace[w];
            cap += x[0], spent += x[1], expl += x[2], lam += x[3], n += x[6], lor += x[7];
            ors += r[k].w[P_ORACLE_BUDGET][w].cost;
            lo = x[6] > 0 && x[4] < lo ? x[4] : lo, hi = x[6] > 0 && x[5] > hi ? x[5] : hi;
        }
        if (!(cap > 0))
            continue;
        fprintf(f, "| %u | %.0f | %.2f %% | %.2f %% | %.3f %% ", w + 1, cap / seeds, 100 * spent / cap, 100 * expl / cap,
                100 * (cap - spent) / cap);
        if (n > 0)
            fprintf(f, "| %.3f | %.3f | %.3f ", lam / n, lo, hi);
        else
            fprintf(f, "| - | - | - ");
        fprintf(f, "| %.2f %% | %.3f %% | %.3f |\n", 100 * ors / cap, 100 * (cap - ors) / cap, lor / seeds);
    }
}

void xs_report_cost(FILE *f, const xs_params *p, const xs_seed_result *r, size_t seeds, unsigned policies)
{
    unsigned W = p->waves;
    int sa = policies >> P_SEND_ALL & 1;
    double *x = malloc(3 * seeds * sizeof *x), *incr = x + seeds, *cost = x + 2 * seeds;
    if (!x)
        abort();
    fprintf(f, "\ncost on two readings, all waves, mean over the seeds: credits (the \"cost\" above: what the "
               "channels charge) and credits + fatigue (what net value = value x incr - credits - fatigue subtracts; "
               "fatigue %.2f per message beyond the first to one customer in a wave)\n", p->fatigue);
    fprintf(f, "| policy | contacted | messages | incr | credits | fatigue | credits + fatigue | credits vs send_all "
               "| credits + fatigue vs send_all | credits per incr | credits + fatigue per incr |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int pol = 0; pol < P_COUNT; pol++) {
        if (!(policies >> pol & 1))
            continue;
        xs_wm m = {0};
        double cpi[2] = {0, 0};
        for (size_t k = 0; k < seeds; k++) {
            xs_wm t = xs_total(&r[k], pol, 1, W);
            m.contacted += t.contacted, m.msgs += t.msgs, m.incr += t.incr, m.cost += t.cost, m.fatigue += t.fatigue;
            cpi[0] += t.incr > 0 ? t.cost / t.incr : 0;
            cpi[1] += t.incr > 0 ? (t.cost + t.fatigue) / t.incr : 0;
        }
        fprintf(f, "| %s | %.0f | %.0f | %.1f | %.2f | %.2f | %.2f ", xs_policy_name[pol], m.contacted / seeds,
                m.msgs / seeds, m.incr / seeds, m.cost / seeds, m.fatigue / seeds, (m.cost + m.fatigue) / seeds);
        for (int what = XS_CREDITS; what <= XS_COST; what++) {
            if (sa && xs_ratios(x, r, seeds, pol, P_SEND_ALL, W, what, 100))
                interval(f, x, seeds);
            else
                fprintf(f, "| - ");
        }
        fprintf(f, "| %.2f | %.2f |\n", cpi[0] / seeds, cpi[1] / seeds);
    }
    by_wave(f, r, seeds, policies, W);
    pacing(f, p, r, seeds);
    calibration(f, p, r, seeds);
    if (!sa) {
        free(x);
        return;
    }
    fprintf(f, "\nthe cost target (>= %.0f %% of send_all's incremental conversions at <= %.0f %% of its cost) on each "
               "reading: met when the means over the seeds meet both halves; seeds: how many meet both on their own\n",
            TARGET_INCR, TARGET_COST);
    fprintf(f, "| policy | incr vs send_all | reading 1, cost = credits: vs send_all | met | seeds | reading 2, cost = "
               "credits + fatigue: vs send_all | met | seeds |\n|---|---|---|---|---|---|---|---|\n");
    for (int pol = 0; pol < P_COUNT; pol++) {
        if (!(policies >> pol & 1))
            continue;
        fprintf(f, "| %s ", xs_policy_name[pol]);
        if (!xs_ratios(incr, r, seeds, pol, P_SEND_ALL, W, XS_INCR, 100)) {
            fprintf(f, "| - | - | - | - | - | - | - |\n");
            continue;
        }
        xs_summary si;
        xs_summarize(incr, seeds, &si);
        interval(f, incr, seeds);
        for (int what = XS_CREDITS; what <= XS_COST; what++) {
            if (!xs_ratios(cost, r, seeds, pol, P_SEND_ALL, W, what, 100)) {
                fprintf(f, "| - | - | - ");
                continue;
            }
            xs_summary sc;
            xs_summarize(cost, seeds, &sc);
            size_t both = 0;
            for (size_t k = 0; k < seeds; k++)
                both += incr[k] >= TARGET_INCR && cost[k] <= TARGET_COST;
            interval(f, cost, seeds);
            fprintf(f, "| %s | %zu / %zu ", si.mean >= TARGET_INCR && sc.mean <= TARGET_COST ? "yes" : "no", both,
                    seeds);
        }
        fprintf(f, "|\n");
    }
    free(x);
}
