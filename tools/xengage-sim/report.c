/* Tables and chart of the decision-quality benchmark (see report.h). */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Two-sided 95 % Student t quantile for n - 1 degrees of freedom. */
static double t95(size_t n)
{
    static const double t[] = {0, 12.71, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                               2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                               2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
    return n < 2 ? 0 : n - 1 <= 30 ? t[n - 1] : 1.96;
}

void xs_summarize(const double *x, size_t n, xs_summary *s)
{
    memset(s, 0, sizeof *s);
    if (!n)
        return;
    double *y = malloc(n * sizeof *y), sum = 0, sum2 = 0;
    if (!y)
        abort();
    memcpy(y, x, n * sizeof *y);
    qsort(y, n, sizeof *y, cmp_d);
    for (size_t i = 0; i < n; i++)
        sum += y[i];
    s->mean = sum / n;
    for (size_t i = 0; i < n; i++)
        sum2 += (y[i] - s->mean) * (y[i] - s->mean);
    double half = n > 1 ? t95(n) * sqrt(sum2 / (n - 1) / n) : 0;
    s->lo = s->mean - half, s->hi = s->mean + half;
    s->median = n % 2 ? y[n / 2] : 0.5 * (y[n / 2 - 1] + y[n / 2]);
    s->min = y[0], s->max = y[n - 1];
    free(y);
}

int xs_reference(const xs_params *p) { return p->budget > 0 ? P_ORACLE_BUDGET : P_ORACLE; }

xs_wm xs_total(const xs_seed_result *r, int policy, unsigned from, unsigned to)
{
    xs_wm t = {0};
    for (unsigned w = from; w <= to; w++) {
        const xs_wm *m = &r->w[policy][w - 1];
        t.incr += m->incr, t.respond += m->respond, t.contacted += m->contacted, t.msgs += m->msgs;
        t.cost += m->cost, t.fatigue += m->fatigue, t.net += m->net;
    }
    return t;
}

double xs_share(const xs_seed_result *r, const xs_params *p, int policy, unsigned from, unsigned to)
{
    double ref = xs_total(r, xs_reference(p), from, to).net;
    return ref != 0 ? xs_total(r, policy, from, to).net / ref : 0;
}

int xs_ratios(double *x, const xs_seed_result *r, size_t seeds, int pol, int ref, unsigned W, int what,
                  double scale)
{
    for (size_t k = 0; k < seeds; k++) {
        xs_wm a = xs_total(&r[k], pol, 1, W), b = xs_total(&r[k], ref, 1, W);
        double num = what == XS_NET ? a.net : what == XS_INCR ? a.incr : what == XS_CREDITS ? a.cost : a.cost + a.fatigue;
        double den = what == XS_NET ? b.net : what == XS_INCR ? b.incr : what == XS_CREDITS ? b.cost : b.cost + b.fatigue;
        if (!(den > 0))
            return 0;
        x[k] = scale * num / den;
    }
    return 1;
}

void xs_wave_header(FILE *f, const char *title, unsigned W)
{
    fprintf(f, "\n%s\n| policy |", title);
    for (unsigned w = 1; w <= W; w++)
        fprintf(f, " wave %u |", w);
    fprintf(f, "\n|---|");
    for (unsigned w = 1; w <= W; w++)
        fprintf(f, "---|");
    fprintf(f, "\n");
}

void xs_report_tables(FILE *f, const xs_params *p, const xs_seed_result *r, size_t seeds, unsigned policies)
{
    unsigned W = p->waves;
    double *x = malloc(seeds * sizeof *x);
    if (!x)
        abort();
    xs_summary s;
    fprintf(f, "\n%zu seeds, %u customers, K = %u, G = %u, %u waves x %u batches%s\n", seeds, p->customers, p->k,
            p->g, W, p->batches, p->budget > 0 ? " (share of the budgeted oracle)" : "");
    fprintf(f, "| policy | share of oracle wave 1 | waves 2-%u | all waves | net value | vs priority median (min) "
               "| vs greedy median (min) | incr vs send_all | cost vs send_all | CPIC | hit rate | messages |\n",
            W);
    fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int pol = 0; pol < P_COUNT; pol++) {
        if (!(policies >> pol & 1))
            continue;
        fprintf(f, "| %s ", xs_policy_name[pol]);
        unsigned spans[3][2] = {{1, 1}, {2, W}, {1, W}};
        for (int sp = 0; sp < 3; sp++) {
            if (spans[sp][0] > spans[sp][1]) {
                fprintf(f, "| - ");
                continue;
            }
            for (size_t k = 0; k < seeds; k++)
                x[k] = 100 * xs_share(&r[k], p, pol, spans[sp][0], spans[sp][1]);
            xs_summarize(x, seeds, &s);
            fprintf(f, "| %.1f %% [%.1f, %.1f] ", s.mean, s.lo, s.hi);
        }
        for (size_t k = 0; k < seeds; k++)
            x[k] = xs_total(&r[k], pol, 1, W).net;
        xs_summarize(x, seeds, &s);
        fprintf(f, "| %.0f [%.0f, %.0f] ", s.mean, s.lo, s.hi);
        int refs[2] = {P_PRIORITY, P_GREEDY};
        for (int j = 0; j < 2; j++) {
            if (!(policies >> refs[j] & 1)) {
                fprintf(f, "| - ");
                continue;
            }
            if (!xs_ratios(x, r, seeds, pol, refs[j], W, XS_NET, 1)) {
                fprintf(f, "| - ");
                continue;
            }
            xs_summarize(x, seeds, &s);
            fprintf(f, "| %.2fx (%.2fx) ", s.median, s.min);
        }
        if (policies >> P_SEND_ALL & 1) {
            for (int what = XS_INCR; what <= XS_CREDITS; what++) {
                if (!xs_ratios(x, r, seeds, pol, P_SEND_ALL, W, what, 100)) {
                    fprintf(f, "| - ");
                    continue;
                }
                xs_summarize(x, seeds, &s);
                fprintf(f, "| %.1f %% ", s.mean);
            }
        } else
            fprintf(f, "| - | - ");
        double cpic = 0, hit = 0, msgs = 0;
        for (size_t k = 0; k < seeds; k++) {
            xs_wm t = xs_total(&r[k], pol, 1, W);
            cpic += t.incr > 0 ? t.cost / t.incr : 0;
            hit += t.contacted > 0 ? t.respond / t.contacted : 0;
            msgs += t.msgs;
        }
        fprintf(f, "| %.2f | %.2f %% | %.0f |\n", cpic / seeds, 100 * hit / seeds, msgs / seeds);
    }
    xs_wave_header(f, "share of oracle per wave, mean [95 % interval]", W);
    for (int pol = 0; pol < P_COUNT; pol++) {
        if (!(policies >> pol & 1))
            continue;
        fprintf(f, "| %s |", xs_policy_name[pol]);
        for (unsigned w = 1; w <= W; w++) {
            for (size_t k = 0; k < seeds; k++)
                x[k] = 100 * xs_share(&r[k], p, pol, w, w);
            xs_summarize(x, seeds, &s);
            fprintf(f, " %.1f [%.1f, %.1f] |", s.mean, s.lo, s.hi);
        }
        fprintf(f, "\n");
    }
    if (policies >> P_XENGAGE & 1 && r[0].ope_rows) {
        static const char *const tn[OPE_COUNT] = {"priority", "greedy_engagement", "random_single"};
        fprintf(f, "\noff-policy estimates from xengage's exploration bucket (incremental net value per customer)\n");
        fprintf(f, "| target | truth (mean) | IPW (mean) | IPW interval covers truth | DR (mean) | DR covers | "
                   "DR mean |rel. error| | rows per seed |\n|---|---|---|---|---|---|---|---|\n");
        for (int t = 0; t < OPE_COUNT; t++) {
            double tr = 0, iv = 0, dv = 0, err = 0, rows = 0;
            size_t ci = 0, cd = 0;
            for (size_t k = 0; k < seeds; k++) {
                const xs_ope *o = &r[k].ope[t];
                tr += o->truth, iv += o->ipw.value, dv += o->dr.value, rows += (double)r[k].ope_rows;
                ci += o->ipw.lo <= o->truth && o->truth <= o->ipw.hi;
                cd += o->dr.lo <= o->truth && o->truth <= o->dr.hi;
                err += fabs(o->dr.value - o->truth) / fabs(o->truth);
            }
            fprintf(f, "| %s | %.3f | %.3f | %zu / %zu | %.3f | %zu / %zu | %.1f %% | %.0f |\n", tn[t], tr / seeds,
                    iv / seeds, ci, seeds, dv / seeds, cd, seeds, 100 * err / seeds, rows / seeds);
        }
    }
    if (r[0].eope[0][0].known) { /* engine driver: the campaign report's own estimates, one per wave */
        static const char *const tn[2] = {"priority", "greedy_engagement"};
        fprintf(f, "\nthe engine's campaign report (eng_report_ope, DR), per wave's campaign: its 95 %% interval "
                   "against the simulator's exact value of the target on that wave\n");
        fprintf(f, "| target | waves x seeds | interval covers truth | truth (mean) | DR (mean) | mean half-width |\n"
                   "|---|---|---|---|---|---|\n");
        for (int t = 0; t < 2; t++) {
            size_t n = 0, cov = 0;
            double tr = 0, dv = 0, hw = 0;
            for (size_t k = 0; k < seeds; k++)
                for (unsigned w = 0; w < W && w < XS_MAXW; w++) {
                    const xs_eope *e = &r[k].eope[w][t];
                    if (!e->known)
                        continue;
                    n++;
                    cov += e->lo <= e->truth && e->truth <= e->hi;
                    tr += e->truth, dv += e->dr, hw += 0.5 * (e->hi - e->lo);
                }
            if (n)
                fprintf(f, "| %s | %zu | %zu / %zu (%.0f %%) | %.3f | %.3f | %.3f |\n", tn[t], n, cov, n,
                        100.0 * cov / n, tr / n, dv / n, hw / n);
        }
    }
    free(x);
}

size_t xs_report_credits(FILE *f, const xs_params *p, const xs_seed_result *r, size_t seeds)
{
    size_t n = 0, within = 0, same = 0;
    double cap = 0, share = 0, lo = 1e300, hi = 0;
    for (size_t k = 0; k < seeds; k++)
        for (unsigned w = 0; w < p->waves && w < XS_MAXW; w++) {
            const double *c = r[k].credits[w];
            if (!r[k].capped[w])
                continue;
            n++;
            /* Credits are whole hundredths: compare them as such. */
            within += llround(c[1] * 100) <= llround(c[0] * 100);
            same += llround(c[1] * 100) == llround(c[2] * 100);
            double sh = c[0] > 0 ? c[1] / c[0] : 0;
            cap += c[0], share += sh;
            lo = sh < lo ? sh : lo, hi = sh > hi ? sh : hi;
        }
    if (!n)
        return 0;
    fprintf(f, "\nthe engine's credit cap (eng_xengage_options.credit_cap = budget x send_all's cost on the wave's test "
               "group), per wave's execution\n| waves x seeds | charged within the cap | charged = what the transport "
               "saw leave | cap (mean, currency) | charged / cap, mean (min, max) |\n|---|---|---|---|---|\n");
    fprintf(f, "| %zu | %zu / %zu | %zu / %zu | %.2f | %.1f %% (%.1f %%, %.1f %%) |\n", n, within, n, same, n, cap / n,
            100 * share / n, 100 * lo, 100 * hi);
    return (n - within) + (n - same);
}

int xs_report_svg(const char *path, const xs_params *p, const xs_seed_result *r, size_t seeds, unsigned policies,
                  const char *title)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    static const char *const color[P_COUNT] = {"#d62728", "#7f7f7f", "#bcbd22", "#ff7f0e", "#1f77b4", "#2ca02c",
                                               "#17becf"};
    const double X0 = 60, Y0 = 30, WD = 560, HT = 300;
    unsigned W = p->waves;
    double lo = 0, hi = 100;
    double *x = malloc(seeds * sizeof *x), *mean = malloc((size_t)P_COUNT * W * sizeof *mean);
    if (!x || !mean)
        abort();
    for (int pol = 0; pol < P_COUNT; pol++)
        for (unsigned w = 1; w <= W; w++) {
            xs_summary s;
            for (size_t k = 0; k < seeds; k++)
                x[k] = 100 * xs_share(&r[k], p, pol, w, w);
            xs_summarize(x, seeds, &s);
            mean[pol * W + w - 1] = s.mean;
            if (policies >> pol & 1) {
                lo = s.mean < lo ? floor(s.mean / 20) * 20 : lo;
                hi = s.mean > hi ? ceil(s.mean / 20) * 20 : hi;
            }
        }
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"380\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n<rect width=\"800\" height=\"380\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%g\" y=\"18\" font-size=\"14\">%s: share of the oracle's net value per wave (mean of %zu "
               "seeds)</text>\n", X0, title, seeds);
    for (double v = lo; v <= hi + 1e-9; v += 20) {
        double y = Y0 + HT - (v - lo) / (hi - lo) * HT;
        fprintf(f, "<line x1=\"%g\" x2=\"%g\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%g\" y=\"%.1f\" "
                   "text-anchor=\"end\">%.0f %%</text>\n", X0, X0 + WD, y, y, X0 - 5, y + 4, v);
    }
    for (unsigned w = 1; w <= W; w++) {
        double xx = X0 + (W > 1 ? (w - 1) * WD / (W - 1) : WD / 2);
        fprintf(f, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">wave %u</text>\n", xx, Y0 + HT + 18, w);
    }
    int row = 0;
    for (int pol = 0; pol < P_COUNT; pol++) {
        if (!(policies >> pol & 1))
            continue;
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color[pol]);
        for (unsigned w = 1; w <= W; w++)
            fprintf(f, "%.1f,%.1f ", X0 + (W > 1 ? (w - 1) * WD / (W - 1) : WD / 2),
                    Y0 + HT - (mean[pol * W + w - 1] - lo) / (hi - lo) * HT);
        fprintf(f, "\"/>\n<rect x=\"%g\" y=\"%d\" width=\"12\" height=\"3\" fill=\"%s\"/><text x=\"%g\" y=\"%d\">%s"
                   "</text>\n", X0 + WD + 20, 40 + 18 * row, color[pol], X0 + WD + 38, 45 + 18 * row,
                xs_policy_name[pol]);
        row++;
    }
    fprintf(f, "</svg>\n");
    free(x), free(mean);
    return fclose(f);
}
