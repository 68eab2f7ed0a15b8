/* --calib's tables (calib.c collects them): xengage's own estimates against the world's truth. */
#include "report.h"

static void decile_table(FILE *f, const char *title, const char *col, double s[XS_DECILES][4], size_t seeds,
                         int per_credit)
{
    fprintf(f, "\n%s\n| decile | sends a seed | %s, estimated | true | estimated / true | cost |\n"
               "|---|---|---|---|---|---|\n", title, col);
    for (int d = 0; d < XS_DECILES; d++) {
        const double *x = s[d];
        if (!(x[0] > 0))
            continue;
        double e = x[1] / x[0], t = x[2] / x[0], c = x[3] / x[0];
        if (per_credit && c > 0)
            e /= c, t /= c;
        fprintf(f, "| %d | %.0f | %.3f | %.3f | %.3f | %.3f |\n", d + 1, x[0] / seeds, e, t, t != 0 ? e / t : 0, c);
    }
}

void xs_report_calib(FILE *f, const xs_params *p, const xs_seed_result *r, size_t seeds)
{
    xs_calib t = {0};
    size_t n = 0;
    for (size_t k = 0; k < seeds; k++) {
        if (!r[k].has_calib)
            continue;
        n++;
        const double *a = (const double *)&r[k].cal;
        double *b = (double *)&t;
        for (size_t j = 0; j < sizeof t / sizeof(double); j++)
            b[j] += a[j];
    }
    if (!n)
        return;
    fprintf(f, "\n--calib: xengage's estimates against the world's truth, its scored decisions of waves 2-%u (explored and "
               "guard-rail decisions left out; sums over %zu seeds, deciles each seed's own); net = value x incremental "
               "probability - cost%s\n", p->waves, n,
            t.lam_n > 0 && t.lam_or > 0 ? "; the oracle is the budgeted oracle" : "");
    if (t.lam_n > 0 && (t.lam_xe > 0 || t.lam_or > 0))
        fprintf(f, "credit cap's multiplier, mean over the decisions: xengage %.3f (by its estimates), the budgeted oracle "
                   "%.3f (by the truth)\n", t.lam_xe / t.lam_n, t.lam_or / t.lam_n);
    decile_table(f, "sends by decile of their estimated net value", "net", t.dec[0], n, 0);
    decile_table(f, "sends by decile of their estimated net value per credit (free channels left out)", "net per credit",
                 t.dec[1], n, 1);
    fprintf(f, "\nper channel, sends and the reachable channels not chosen: a seed's count, then estimated / true means of "
               "the value before cost (value x delivery x engagement x incremental conversion given engagement), "
               "engagement, and the value of an engagement\n| channel | chosen | v | q | value of an engagement | not "
               "chosen | v | q | value of an engagement |\n|---|---|---|---|---|---|---|---|---|\n");
    for (unsigned c = 0; c < p->k; c++) {
        fprintf(f, "| %s ", p->ch[c].name);
        for (int j = 1; j >= 0; j--) {
            const double *x = t.chan[c][j];
            if (x[0] > 0)
                fprintf(f, "| %.0f | %.3f / %.3f | %.4f / %.4f | %.3f / %.3f ", x[0] / n, x[1] / x[0], x[2] / x[0],
                        x[3] / x[0], x[4] / x[0], x[5] / x[0], x[6] / x[0]);
            else
                fprintf(f, "| 0 | - | - | - ");
        }
        fprintf(f, "|\n");
    }
    fprintf(f, "\nclose calls: the chosen channel against the runner-up by xengage's estimates (nothing is one, at net 0), "
               "by decile of the estimated margin (net - net); true: the same two channels' true margin; wrong: the "
               "share whose true margin is negative\n| decile | dearer chosen: n a seed | margin, est | true | wrong | "
               "cheaper chosen: n a seed | margin, est | true | wrong |\n|---|---|---|---|---|---|---|---|---|\n");
    for (int d = 0; d < XS_DECILES; d++) {
        fprintf(f, "| %d ", d + 1);
        for (int j = 1; j >= 0; j--) {
            const double *x = t.marg[j][d];
            if (x[0] > 0)
                fprintf(f, "| %.0f | %.3f | %.3f | %.2f ", x[0] / n, x[1] / x[0], x[2] / x[0], x[3] / x[0]);
            else
                fprintf(f, "| 0 | - | - | - ");
        }
        fprintf(f, "|\n");
    }
    /* Where xengage and the oracle part: the pairs of choices by the net value they lose. */
    double all = 0, same = 0, regret = 0, extra = 0;
    for (unsigned a = 0; a <= p->k; a++)
        for (unsigned b = 0; b <= p->k; b++) {
            const double *x = t.cross[a][b];
            all += x[0], same += a == b ? x[0] : 0, regret += x[4] - x[2], extra += x[5];
        }
    fprintf(f, "\nxengage's choice against the oracle's on the same customers: %.1f %% the same; the true net value it "
               "loses, %.0f a seed; credits it spends beyond the oracle's, %.0f a seed; the pairs that lose most (a "
               "seed; est / true net of each one's channel):\n| xengage | oracle | customers | xengage's channel: est "
               "| true | the oracle's: est | true | lost | credits beyond |\n|---|---|---|---|---|---|---|---|---|\n",
            all > 0 ? 100 * same / all : 0, regret / n, extra / n);
    for (int row = 0; row < 15; row++) {
        int ba = -1, bb = -1;
        double best = 0;
        for (unsigned a = 0; a <= p->k; a++)
            for (unsigned b = 0; b <= p->k; b++) {
                const double *x = t.cross[a][b];
                if (a != b && x[0] > 0 && x[4] - x[2] > best)
                    best = x[4] - x[2], ba = (int)a, bb = (int)b;
            }
        if (ba < 0)
            break;
        double *x = t.cross[ba][bb];
        fprintf(f, "| %s | %s | %.0f | %.3f | %.3f | %.3f | %.3f | %.0f | %.0f |\n", ba ? p->ch[ba - 1].name : "none",
                bb ? p->ch[bb - 1].name : "none", x[0] / n, x[1] / x[0], x[2] / x[0], x[3] / x[0], x[4] / x[0],
                (x[4] - x[2]) / n, x[5] / n);
        x[2] = x[4]; /* printed: out of the next rows' search (the table's own copy) */
    }
}
