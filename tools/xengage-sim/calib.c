/* --calib: xengage's estimates against the world's truth, decision by decision (direct driver). Where its
 * spend and its ranking under a cap go wrong: are the sends it values most worth that much (deciles of the
 * estimated net value, and per credit), which channels' parts are off (engagement, the value of an
 * engagement), whether a close call between a dearer and a cheaper channel leans the wrong way (deciles of the
 * estimated margin over the runner-up), and where it parts from the oracle (the crosstab, with the regret).
 * The deciles are each seed's own; the report sums them over the seeds. */
#include "sim.h"

#include <stdlib.h>

typedef struct row {
    double key, est, tru, cost;
} row;

typedef struct rows {
    row *r;
    size_t n, cap;
} rows;

struct xs_calib_acc {
    xs_calib *out;
    rows sends[2]; /* keyed by the estimated net; per credit */
    rows marg[2];  /* the cheaper chosen, the dearer chosen; keyed by the estimated margin */
};

static void push(rows *s, double key, double est, double tru, double cost)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 4096;
        if (!(s->r = realloc(s->r, s->cap * sizeof *s->r)))
            abort();
    }
    s->r[s->n++] = (row){key, est, tru, cost};
}

xs_calib_acc *xs_calib_open(xs_calib *out)
{
    xs_calib_acc *a = calloc(1, sizeof *a);
    if (!a)
        abort();
    a->out = out;
    return a;
}

void xs_calib_add(xs_calib_acc *a, unsigned k, int xc, int oc, const xs_est *e, const double *tv, const double *tq,
                  const double *tvpe, const double *cost)
{
    xs_calib *o = a->out;
    for (unsigned c = 0; c < k; c++) {
        if (!e->reach[c])
            continue;
        double *s = o->chan[c][(int)c == xc];
        s[0] += 1, s[1] += e->v[c], s[2] += tv[c], s[3] += e->q[c], s[4] += tq[c], s[5] += e->vpe[c], s[6] += tvpe[c];
    }
    double *x = o->cross[xc + 1][oc + 1];
    x[0] += 1;
    if (xc >= 0)
        x[1] += e->v[xc] - cost[xc], x[2] += tv[xc] - cost[xc], x[5] += cost[xc];
    if (oc >= 0)
        x[3] += e->v[oc] - cost[oc], x[4] += tv[oc] - cost[oc], x[5] -= cost[oc];
    if (xc < 0)
        return;
    double en = e->v[xc] - cost[xc], tn = tv[xc] - cost[xc];
    push(&a->sends[0], en, en, tn, cost[xc]);
    if (cost[xc] > 0)
        push(&a->sends[1], en / cost[xc], en, tn, cost[xc]);
    int r2 = -1; /* the runner-up by its own estimates (nothing is one: net 0) */
    double best = 0;
    for (unsigned c = 0; c < k; c++)
        if (e->reach[c] && (int)c != xc && e->v[c] - cost[c] > best)
            best = e->v[c] - cost[c], r2 = (int)c;
    double rc = r2 >= 0 ? cost[r2] : 0, rt = r2 >= 0 ? tv[r2] - cost[r2] : 0;
    if (cost[xc] != rc)
        push(&a->marg[cost[xc] > rc], en - best, en - best, tn - rt, cost[xc] - rc);
}

static int by_key(const void *x, const void *y)
{
    double a = ((const row *)x)->key, b = ((const row *)y)->key;
    return a < b ? -1 : a > b;
}

/* Sorted by key (ties keep no order: the sums of a decile do not depend on it but at its edges, where equal keys
 * are split; qsort is deterministic for the same input). */
static void deciles(rows *s, double out[XS_DECILES][4], int wrong)
{
    qsort(s->r, s->n, sizeof *s->r, by_key);
    for (size_t j = 0; j < s->n; j++) {
        double *d = out[j * XS_DECILES / s->n];
        d[0] += 1, d[1] += s->r[j].est, d[2] += s->r[j].tru;
        d[3] += wrong ? s->r[j].tru < 0 : s->r[j].cost;
    }
    free(s->r);
    s->r = NULL;
}

void xs_calib_close(xs_calib_acc *a)
{
    for (int j = 0; j < 2; j++) {
        deciles(&a->sends[j], a->out->dec[j], 0);
        deciles(&a->marg[j], a->out->marg[j], 1);
    }
    free(a);
}
