/* X-Engage: the value of a conversion per customer. A customer's orders are
 * their mean shrunk toward the org's by empirical Bayes (the normal means
 * model): orders x_ij = mu_i + e_ij, mu_i ~ (mean, tau^2), e_ij ~ (0, s^2);
 * s^2 is the pooled variance within the customers who bought more than once,
 * tau^2 the variance of the customers' means less what s^2 / n explains, and
 * a customer's value is mean + tau^2 / (tau^2 + s^2 / n) x (their mean - mean).
 * Why: under a credit cap the optimizer ranks customers against each other,
 * and a customer known to buy dearly is worth a dearer channel. Without repeat
 * buyers s^2 cannot be told from tau^2, and nothing is personalised.
 *
 * The values are fixed for an execution (the org's sales before it) and kept
 * in their own record, so the trace replays a decision with the value it
 * used whatever sales arrive later. */
#include "decide/xengage_impl.h"
#include "decide/xengage_rec.h"
#include "base/error.h"

#include <string.h>

/* Whether the shrunk means predict each repeat buyer's orders better than the org's mean does,
 * each order left out of the mean that predicts it (summed over the orders from n, sum and sq
 * alone: with y = x - mean, T = sum of y, Q = sum of y^2 and c = b / (n - 1), the errors
 * (1 + c) y_j - c T square to (1 + c)^2 Q - 2 c (1 + c) T^2 + n c^2 T^2). Why: the moment
 * estimates of s^2 and tau^2 are noisy when orders are skewed (a few large orders), and an
 * overestimated tau^2 then trusts single large orders; a value worse than the mean is not kept. */
static int loo_beats_mean(const uint32_t *n, const double *sum, const double *sq, uint32_t customers, double mean,
                          double s2, double tau2)
{
    double sse_fit = 0, sse_mean = 0;
    for (uint32_t i = 0; i < customers; i++)
        if (n[i] >= 2) {
            double k = n[i], t = sum[i] - k * mean, q = sq[i] - 2 * mean * sum[i] + k * mean * mean;
            double c = tau2 / (tau2 + s2 / (k - 1)) / (k - 1);
            sse_fit += (1 + c) * (1 + c) * q - 2 * c * (1 + c) * t * t + k * c * c * t * t;
            sse_mean += q;
        }
    return sse_fit < sse_mean;
}

size_t eng__xe_value_fit(const uint32_t *n, const double *sum, const double *sq, uint32_t customers, double mean,
                         float *out, double *s2_out, double *tau2_out)
{
    double ssw = 0, df = 0;
    for (uint32_t i = 0; i < customers; i++)
        if (n[i] >= 2) {
            double w = sq[i] - sum[i] * sum[i] / n[i];
            ssw += w > 0 ? w : 0; /* rounding of equal orders */
            df += n[i] - 1;
        }
    double between = 0, noise = 0, buyers = 0;
    double s2 = df > 0 ? ssw / df : 0;
    for (uint32_t i = 0; i < customers; i++)
        if (n[i]) {
            double d = sum[i] / n[i] - mean;
            between += d * d, noise += s2 / n[i], buyers++;
        }
    double tau2 = buyers > 0 && between > noise ? (between - noise) / buyers : 0;
    if (tau2 > 0 && !loo_beats_mean(n, sum, sq, customers, mean, s2, tau2))
        tau2 = 0;
    if (s2_out)
        *s2_out = s2;
    if (tau2_out)
        *tau2_out = tau2;
    size_t m = 0;
    for (uint32_t i = 0; i < customers; i++) {
        out[i] = 0;
        if (!n[i] || df <= 0 || tau2 <= 0)
            continue;
        double b = tau2 / (tau2 + s2 / n[i]), v = mean + b * (sum[i] / n[i] - mean);
        out[i] = (float)(v > 1e-6 ? v : 1e-6); /* a customer whose orders are refunded is worth (almost) nothing */
        m++;
    }
    return m;
}

static void value_key(char *buf, size_t cap, uint64_t msg, uint32_t occ)
{
    snprintf(buf, cap, "d/xv/%016llx/%08x", (unsigned long long)msg, (unsigned)occ);
}

int eng__xe_value_put(struct eng_store *s, const eng__mem *mem, uint64_t msg, uint32_t occ, const float *v,
                      uint32_t customers)
{
    char key[64];
    value_key(key, sizeof key, msg, occ);
    uint32_t m = 0;
    for (uint32_t i = 0; i < customers; i++)
        m += v[i] > 0;
    eng__wr w;
    eng__wr_init(&w, mem);
    eng__wr_u32(&w, m);
    for (uint32_t i = 0; i < customers; i++)
        if (v[i] > 0) {
            uint32_t bits;
            memcpy(&bits, &v[i], sizeof bits);
            eng__wr_u32(&w, i);
            eng__wr_u32(&w, bits);
        }
    return eng__xe_rec_put(s, key, ENG__XE_VALUE_SCHEMA, &w);
}

int eng__xe_value_get(struct eng_store *s, const eng__mem *mem, uint64_t msg, uint32_t occ, uint32_t customers,
                      float **out)
{
    *out = NULL;
    char key[64];
    value_key(key, sizeof key, msg, occ);
    eng__rec rec;
    eng__rd r;
    int rc = eng__xe_rec_open(s, key, ENG__XE_VALUE_SCHEMA, &rec, &r);
    if (rc)
        return rc;
    uint32_t m = eng__rd_u32(&r);
    float *v = NULL;
    if (rec.schema != ENG__XE_VALUE_SCHEMA || !eng__rd_ok(&r) || eng__rd_left(&r) != (size_t)m * 8)
        rc = eng__err(ENG_ECORRUPT, key, "X-Engage value record is truncated");
    else if (!(v = eng__calloc(mem, customers ? customers : 1, sizeof *v)))
        rc = eng__nomem();
    for (uint32_t j = 0; j < m && !rc; j++) {
        uint32_t i = eng__rd_u32(&r), bits = eng__rd_u32(&r);
        float f;
        memcpy(&f, &bits, sizeof f);
        if (i >= customers || !(f > 0))
            rc = eng__err(ENG_ECORRUPT, key, "X-Engage value record does not match its execution");
        else
            v[i] = f;
    }
    rc = eng__xe_rec_close(s, &rec, &r, rc, key, "X-Engage value record is truncated");
    if (rc)
        eng__free(mem, v);
    else
        *out = v;
    return rc;
}
