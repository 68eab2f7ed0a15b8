/* X-Engage: a customer's organic purchase rate from the org's sales before the
 * execution. Customer i of segment g bought x_i times over the span T of the
 * sales the org holds: x_i ~ Poisson(lambda_i T), lambda_i ~ Gamma(a, a / m_g)
 * (mean m_g, the segment's rate; a, how alike the customers are), so the
 * counts are negative binomial. m_g is the segment's orders over its exposure
 * shrunk toward the org's rate by XE_ORG_PRIOR customers' worth of exposure; a
 * is the maximum of the marginal likelihood (golden section on log a):
 *   sum_g [ sum_j C_g(j) log(a + j) + N_g a log(a / (a + mu_g)) + X_g log(mu_g / (a + mu_g)) ]
 * with mu_g = m_g T, N_g customers, X_g orders and C_g(j) the customers with
 * more than j orders. A customer's posterior is Gamma(a + x_i, a / m_g + T), so
 *   P(an organic purchase within W) = 1 - ((b + T) / (b + T + W))^(a + x_i),  b = a / m_g.
 * Why: one or two orders in a year say little about a rate of 2 % a week, and
 * a customer without any is not one who never buys; the incremental
 * conversion of a message is (1 - that) x the lift. */
#include "decide/xengage_impl.h"
#include "decide/xengage_rec.h"
#include "base/error.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define XE_ORG_PRIOR 10.0 /* a segment's rate starts at the org's, worth this many customers */
#define XE_OH 256         /* orders per customer counted one by one (more count as this many) */
#define XE_A_MIN 1e-2
#define XE_A_MAX 1e6      /* customers alike: every customer at the segment's rate */

/* The log marginal likelihood at heterogeneity a (terms in a only). */
static double loglik(double a, const double *c, const double *nn, const double *xx, const double *mu, unsigned g)
{
    double l = 0;
    for (unsigned s = 0; s < g; s++) {
        if (!(nn[s] > 0) || !(mu[s] > 0))
            continue;
        const double *cs = c + (size_t)s * XE_OH;
        for (unsigned j = 0; j < XE_OH && cs[j] > 0; j++)
            l += cs[j] * log(a + j);
        l += nn[s] * a * log(a / (a + mu[s])) + xx[s] * log(mu[s] / (a + mu[s]));
    }
    return l;
}

int eng__xe_organic_fit(const eng__mem *mem, const uint32_t *x, const uint16_t *seg, uint32_t n, unsigned g, double span,
                        double *m, double *a_out)
{
    if (!(span > 0) || g < 1)
        return eng__err(ENG_EINVAL, "xengage.organic", "the sales' span must be > 0 and segments >= 1");
    double *c = eng__calloc(mem, (size_t)g * XE_OH + 3 * (size_t)g, sizeof *c);
    if (!c)
        return eng__nomem();
    double *nn = c + (size_t)g * XE_OH, *xx = nn + g, *mu = xx + g, all_n = 0, all_x = 0;
    for (uint32_t i = 0; i < n; i++) {
        unsigned s = seg && seg[i] < g ? seg[i] : 0;
        uint32_t k = x[i] < XE_OH ? x[i] : XE_OH;
        nn[s] += 1, xx[s] += k;
        for (uint32_t j = 0; j < k; j++) /* C_g(j): more than j orders */
            c[(size_t)s * XE_OH + j] += 1;
        all_n += 1, all_x += k;
    }
    double m_all = all_n > 0 ? all_x / (all_n * span) : 0;
    for (unsigned s = 0; s < g; s++) {
        m[s] = (xx[s] + XE_ORG_PRIOR * m_all * span) / ((nn[s] + XE_ORG_PRIOR) * span);
        mu[s] = m[s] * span;
    }
    /* Golden section on log a; at the bound when the likelihood keeps rising (Poisson: everyone alike). */
    double lo = log(XE_A_MIN), hi = log(XE_A_MAX), gr = 0.5 * (sqrt(5.0) - 1);
    double p = hi - gr * (hi - lo), q = lo + gr * (hi - lo);
    double fp = loglik(exp(p), c, nn, xx, mu, g), fq = loglik(exp(q), c, nn, xx, mu, g);
    for (int it = 0; it < 80 && hi - lo > 1e-7; it++) {
        if (fp < fq) {
            lo = p, p = q, fp = fq;
            q = lo + gr * (hi - lo);
            fq = loglik(exp(q), c, nn, xx, mu, g);
        } else {
            hi = q, q = p, fq = fp;
            p = hi - gr * (hi - lo);
            fp = loglik(exp(p), c, nn, xx, mu, g);
        }
    }
    *a_out = exp(0.5 * (lo + hi));
    eng__free(mem, c);
    return ENG_OK;
}

double eng__xe_organic_p(double a, double m, double span, uint32_t x, double window)
{
    if (!(a > 0) || !(m > 0) || !(window > 0))
        return 0;
    double b = a / m + span;
    return -expm1((a + x) * log1p(-window / (b + window)));
}

/* Orders per customer below this are counted per segment (the same chance for each); more, one by one. */
#define XE_OT_HIST 32

int eng__xe_organic_table(const eng__mem *mem, const uint32_t *x, const uint16_t *seg, uint32_t n, unsigned g,
                          double span, const double *m, double a, double ref, double *out)
{
    uint32_t *h = eng__calloc(mem, (size_t)g * XE_OT_HIST + g, sizeof *h), *nn = h + (size_t)g * XE_OT_HIST;
    if (!h)
        return eng__nomem();
    memset(out, 0, (size_t)g * ENG__XE_OWN * sizeof *out);
    for (uint32_t i = 0; i < n; i++) {
        unsigned s = seg && seg[i] < g ? seg[i] : 0;
        nn[s]++;
        if (x[i] < XE_OT_HIST)
            h[(size_t)s * XE_OT_HIST + x[i]]++;
        else
            for (unsigned k = 0; k < ENG__XE_OWN; k++)
                out[(size_t)s * ENG__XE_OWN + k] += eng__xe_organic_p(a, m[s], span, x[i], ref * ldexp(1, (int)k - ENG__XE_OWREF));
    }
    for (unsigned s = 0; s < g; s++)
        for (unsigned k = 0; k < ENG__XE_OWN; k++) {
            double w = ref * ldexp(1, (int)k - ENG__XE_OWREF), *o = &out[(size_t)s * ENG__XE_OWN + k];
            for (uint32_t j = 0; j < XE_OT_HIST; j++)
                if (h[(size_t)s * XE_OT_HIST + j])
                    *o += h[(size_t)s * XE_OT_HIST + j] * eng__xe_organic_p(a, m[s], span, j, w);
            *o = nn[s] ? *o / nn[s] : eng__xe_organic_p(a, m[s], span, 0, w);
        }
    eng__free(mem, h);
    return ENG_OK;
}

double eng__xe_organic_at(const double *row, double ref, double window)
{
    if (!(window > 0) || !(ref > 0))
        return 0;
    double t = log2(window / ref) + ENG__XE_OWREF;
    if (t <= 0) /* below the grid: in proportion to the window, to nothing at none */
        return row[0] * exp2(t);
    if (t >= ENG__XE_OWN - 1)
        return row[ENG__XE_OWN - 1];
    unsigned k = (unsigned)t;
    return row[k] + (t - k) * (row[k + 1] - row[k]);
}

#define XE_OT_SCHEMA 1

static void table_key(char *buf, size_t cap, uint64_t msg, uint32_t occ)
{
    snprintf(buf, cap, "d/xe/%016llx/%08x/o", (unsigned long long)msg, (unsigned)occ);
}

int eng__xe_organic_put(struct eng_store *s, const eng__mem *mem, uint64_t msg, uint32_t occ, const double *t,
                        unsigned g)
{
    char key[64];
    table_key(key, sizeof key, msg, occ);
    eng__wr w;
    eng__wr_init(&w, mem);
    eng__wr_u32(&w, g);
    eng__wr_u32(&w, ENG__XE_OWN);
    for (size_t i = 0; i < (size_t)g * ENG__XE_OWN; i++)
        eng__xe_wr_f64(&w, t[i]);
    return eng__xe_rec_put(s, key, XE_OT_SCHEMA, &w);
}

int eng__xe_organic_get(struct eng_store *s, const eng__mem *mem, uint64_t msg, uint32_t occ, unsigned g, double **out)
{
    *out = NULL;
    char key[64];
    table_key(key, sizeof key, msg, occ);
    eng__rec rec;
    eng__rd r;
    int rc = eng__xe_rec_open(s, key, XE_OT_SCHEMA, &rec, &r);
    if (rc)
        return rc;
    static const char what[] = "X-Engage organic table does not match its execution";
    unsigned rg = eng__rd_u32(&r), rk = eng__rd_u32(&r);
    double *t = NULL;
    if (!eng__rd_ok(&r) || rg != g || rk != ENG__XE_OWN || eng__rd_left(&r) != (size_t)g * ENG__XE_OWN * 8)
        rc = eng__err(ENG_ECORRUPT, key, what);
    else if (!(t = eng__malloc(mem, (size_t)g * ENG__XE_OWN * sizeof *t)))
        rc = eng__nomem();
    for (size_t i = 0; !rc && i < (size_t)g * ENG__XE_OWN; i++)
        t[i] = eng__xe_rd_f64(&r);
    rc = eng__xe_rec_close(s, &rec, &r, rc, key, what);
    if (rc)
        eng__free(mem, t);
    else
        *out = t;
    return rc;
}
