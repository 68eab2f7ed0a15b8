/* World building, world files and expected outcomes (see world.h). */
#include "world.h"
#include "decide/xengage.h"
#include "base/hash.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const xs_channel default_ch[6] = {
    /* name      reach cost  qbar  conv   deliv delay window */
    {"email", 0.85, 0.03, 0.20, 0.02, 0.97, 12, 36},
    {"sms", 0.95, 0.17, 0.06, 0.13, 0.92, 1, 3},
    {"push", 0.40, 0.01, 0.06, 0.10, 0.85, 0.5, 1.5},
    {"whatsapp", 0.60, 0.86, 0.30, 0.067, 0.95, 1, 3},
    {"facebook", 0.50, 0.25, 0.01, 0.30, 1.0, 48, 144},
    {"google", 0.45, 0.30, 0.01, 0.30, 1.0, 48, 144},
};

void xs_params_default(xs_params *p)
{
    memset(p, 0, sizeof *p);
    p->k = 6, p->g = 16, p->waves = 4, p->batches = 10, p->customers = 100000;
    p->control = 0.10, p->batch_gap_h = 1, p->wave_gap_h = 168, p->history = 4;
    p->seg_sd = 0.7, p->cust_sd = 0.9, p->resp_sd = 0.6, p->conv_sd = 0.4;
    p->organic = 0.02, p->organic_resp = 0.5, p->value_mean = 150, p->value_sd = 0.5;
    p->overlap = 0.25, p->fatigue = 0.5;
    memcpy(p->ch, default_ch, sizeof default_ch);
    /* priority: reachability order (sms, email, whatsapp, facebook, google, push) */
    static const uint8_t prio[6] = {1, 0, 3, 4, 5, 2};
    memcpy(p->priority, prio, sizeof prio);
}

static int find_ch(const xs_params *p, const char *name)
{
    for (unsigned c = 0; c < p->k; c++)
        if (strcmp(p->ch[c].name, name) == 0)
            return (int)c;
    return -1;
}

/* What is wrong with a channel line ("name reach cost qbar conv delivery delay_h window_h"),
 * or NULL when it is right. */
static const char *channel_fault(const char *rest, xs_channel *c, unsigned nch)
{
    if (nch >= XS_MAXK)
        return "more than 16 channels";
    if (sscanf(rest, "%23s %lf %lf %lf %lf %lf %lf %lf", c->name, &c->reach, &c->cost, &c->qbar, &c->conv,
               &c->delivery, &c->delay_h, &c->window_h) != 8)
        return "needs name reach cost qbar conv delivery delay_h window_h (7 numbers after the name)";
    if (!(c->reach >= 0 && c->reach <= 1))
        return "reach must be in [0, 1]";
    if (!(c->cost >= 0))
        return "cost must be >= 0";
    if (!(c->qbar > 0 && c->qbar < 1))
        return "qbar (base engagement) must be in (0, 1)";
    if (!(c->conv >= 0 && c->conv <= 1))
        return "conv must be in [0, 1]";
    if (!(c->delivery >= 0 && c->delivery <= 1))
        return "delivery must be in [0, 1]";
    if (!(c->delay_h >= 0))
        return "delay_h must be >= 0";
    if (!(c->window_h > 0))
        return "window_h must be > 0";
    return NULL;
}

int xs_params_load(xs_params *p, const char *path, char *err, size_t errcap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "%s: cannot open", path);
        return -1;
    }
    char line[512];
    unsigned ln = 0, nch = 0;
    int prio_seen = 0, hist_seen = 0;
    char ev_nm[XS_MAXEV][32];
    unsigned ev_ln[XS_MAXEV], ev0 = p->n_ev;
    char prio_line[512] = "", hist_line[512] = "";
    while (fgets(line, sizeof line, f)) {
        ln++;
        char *h = strchr(line, '#');
        if (h)
            *h = 0;
        char key[64];
        int off = 0;
        if (sscanf(line, "%63s%n", key, &off) != 1)
            continue;
        const char *rest = line + off;
        double x;
        int bad = 0;
        if (strcmp(key, "channel") == 0) {
            xs_channel c;
            memset(&c, 0, sizeof c);
            const char *why = channel_fault(rest, &c, nch);
            for (unsigned k = 0; !why && k < nch; k++)
                if (strcmp(p->ch[k].name, c.name) == 0)
                    why = "a channel name given twice";
            if (why) {
                snprintf(err, errcap, "%s:%u: channel: %s", path, ln, why);
                fclose(f);
                return -1;
            }
            p->ch[nch++] = c;
        } else if (strcmp(key, "priority") == 0) {
            prio_seen = 1;
            snprintf(prio_line, sizeof prio_line, "%s", rest);
        } else if (strcmp(key, "history_channels") == 0) {
            hist_seen = 1;
            snprintf(hist_line, sizeof hist_line, "%s", rest);
        } else if (strcmp(key, "outage") == 0 || strcmp(key, "drift") == 0) {
            xs_event e = {strcmp(key, "drift") == 0, 0, -1, 0, 1};
            char nm[32];
            if (p->n_ev >= XS_MAXEV)
                bad = 1;
            else if (e.kind == 0 && sscanf(rest, "%31s %d %lf %d", nm, &e.wave, &e.x, &e.waves) >= 3) {
                /* the channel is found once the file's channels are known (it may name any of them) */
                memcpy(ev_nm[p->n_ev], nm, sizeof nm);
                ev_ln[p->n_ev] = ln;
            } else if (e.kind == 1 && sscanf(rest, "%d %lf", &e.wave, &e.x) == 2) {
                bad = e.x < 0 || e.x > 1;
            } else
                bad = 1;
            if (!bad)
                p->ev[p->n_ev++] = e;
        } else if (sscanf(rest, "%lf", &x) == 1) {
            struct { const char *k; double *d; unsigned *u; uint32_t *u32; } keys[] = {
                {"segments", NULL, &p->g, NULL}, {"waves", NULL, &p->waves, NULL},
                {"batches", NULL, &p->batches, NULL}, {"customers", NULL, NULL, &p->customers},
                {"history", NULL, &p->history, NULL}, {"pref_rank", NULL, &p->pref_rank, NULL},
                {"control", &p->control, NULL, NULL}, {"batch_gap_h", &p->batch_gap_h, NULL, NULL},
                {"wave_gap_h", &p->wave_gap_h, NULL, NULL}, {"seg_sd", &p->seg_sd, NULL, NULL},
                {"cust_sd", &p->cust_sd, NULL, NULL}, {"resp_sd", &p->resp_sd, NULL, NULL},
                {"conv_sd", &p->conv_sd, NULL, NULL}, {"organic", &p->organic, NULL, NULL},
                {"organic_resp", &p->organic_resp, NULL, NULL}, {"value_mean", &p->value_mean, NULL, NULL},
                {"value_sd", &p->value_sd, NULL, NULL}, {"overlap", &p->overlap, NULL, NULL},
                {"fatigue", &p->fatigue, NULL, NULL}, {"pref_sd", &p->pref_sd, NULL, NULL},
                {"reach_corr", &p->reach_corr, NULL, NULL}, {"budget", &p->budget, NULL, NULL},
                {"sales_history_weeks", NULL, &p->sales_weeks, NULL}, {"order_sd", &p->order_sd, NULL, NULL},
            };
            bad = 1;
            for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
                if (strcmp(key, keys[i].k) == 0) {
                    bad = x < 0;
                    if (keys[i].d)
                        *keys[i].d = x;
                    else if (keys[i].u)
                        *keys[i].u = (unsigned)x;
                    else
                        *keys[i].u32 = (uint32_t)x;
                }
        } else
            bad = 1;
        if (bad) {
            snprintf(err, errcap, "%s:%u: bad line '%s' (an unknown key, a negative number, or for outage/drift "
                                  "a wrong form: 'outage <channel> <wave> <delivery> [waves]', 'drift <wave> <kept 0..1>')",
                     path, ln, key);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    if (nch) {
        p->k = nch;
        for (unsigned c = 0; c < nch; c++)
            p->priority[c] = (uint8_t)c;
    }
    for (unsigned v = ev0; v < p->n_ev; v++)
        if (p->ev[v].kind == 0 && (p->ev[v].ch = find_ch(p, ev_nm[v])) < 0) {
            snprintf(err, errcap, "%s:%u: outage names '%s', not a channel", path, ev_ln[v], ev_nm[v]);
            return -1;
        }
    if (prio_seen) {
        unsigned n = 0, used = 0;
        char *save = NULL;
        for (char *t = strtok_r(prio_line, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
            int c = find_ch(p, t);
            if (c < 0 || n >= p->k || (used >> c & 1)) {
                snprintf(err, errcap, "%s: priority names '%s' twice or not a channel", path, t);
                return -1;
            }
            used |= 1u << c;
            p->priority[n++] = (uint8_t)c;
        }
        if (n != p->k) {
            snprintf(err, errcap, "%s: priority must list every channel once", path);
            return -1;
        }
    }
    if (hist_seen) { /* a partial history: a host that could replay only some channels' sends */
        uint32_t mask = 0;
        char *save = NULL;
        for (char *t = strtok_r(hist_line, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
            int c = find_ch(p, t);
            if (c < 0) {
                snprintf(err, errcap, "%s: history_channels names '%s', not a channel", path, t);
                return -1;
            }
            mask |= 1u << c;
        }
        if (!mask) {
            snprintf(err, errcap, "%s: history_channels must name at least one channel", path);
            return -1;
        }
        p->history_mask = mask;
    }
    if (p->g < 1 || p->g > 4096 || p->waves < 1 || p->waves > 64 || p->batches < 1 || p->batches > 50 || p->control >= 1) {
        snprintf(err, errcap, "%s: segments 1..4096, waves 1..64, batches 1..50, control < 1", path);
        return -1;
    }
    return 0;
}

int xs_params_scenario(xs_params *p, const char *name)
{
    if (strcmp(name, "default") == 0)
        return 0;
    if (strcmp(name, "outage") == 0 || strcmp(name, "drift") == 0) {
        if (p->waves < 6)
            p->waves = 6; /* two waves before the shock, three after it */
        if (p->n_ev >= XS_MAXEV)
            return -1;
        xs_event e = {name[0] == 'd', 3, -1, name[0] == 'd' ? 0.3 : 0.2, 1};
        if (e.kind == 0) { /* the channel carrying most of the oracle's sends is the painful one: the first in priority */
            e.ch = p->priority[0];
        }
        p->ev[p->n_ev++] = e;
        return 0;
    }
    if (strcmp(name, "budget") == 0) {
        p->budget = 0.30;
        return 0;
    }
    if (strcmp(name, "cheap") == 0 || strcmp(name, "dear") == 0) {
        for (unsigned c = 0; c < p->k; c++)
            p->ch[c].cost *= name[0] == 'c' ? 0.5 : 2.0;
        return 0;
    }
    if (strcmp(name, "lowvalue") == 0) {
        p->value_mean = 60;
        return 0;
    }
    return -1;
}

double xs_u(uint64_t seed, uint32_t i, uint32_t wave, uint32_t what)
{
    uint64_t x = eng__mix64(seed * 0x9e3779b97f4a7c15ull ^ ((uint64_t)i << 20 ^ (uint64_t)wave << 8 ^ what) *
                                                              0xd1b54a32d192ed03ull);
    x = eng__mix64(x ^ what);
    return ((double)(x >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double xs_normal(uint64_t seed, uint32_t i, uint32_t wave, uint32_t what)
{
    eng__xe_rng r = {eng__mix64(seed ^ (uint64_t)what << 40) ^ ((uint64_t)i << 16 | wave), 0};
    return eng__xe_normal(&r);
}

static double logit(double p) { return log(p / (1 - p)); }
static double sigmoid(double x) { return 1 / (1 + exp(-x)); }

/* Stream ids of world draws. */
enum { W_SEG = 1, W_RESP, W_VAL, W_COPULA, W_REACH = 16, W_PREF = 48, W_U = 80, W_S = 120, W_PI, W_B, W_DRIFT };

int xs_world_build(xs_world *w, const xs_params *p, uint64_t seed)
{
    memset(w, 0, sizeof *w);
    w->p = p;
    w->seed = seed;
    w->n = p->customers;
    unsigned K = p->k, G = p->g;
    size_t n = w->n;
    w->seg = malloc(n * sizeof *w->seg);
    w->reach = malloc(n * sizeof *w->reach);
    w->base = malloc(n * K * sizeof *w->base);
    w->q = malloc(n * K * sizeof *w->q);
    w->value = malloc(n * sizeof *w->value);
    w->p0 = malloc(n * sizeof *w->p0);
    w->s = malloc((size_t)G * K * sizeof *w->s);
    w->pi = malloc((size_t)G * K * sizeof *w->pi);
    double *b = calloc((size_t)(p->pref_rank ? p->pref_rank : 1) * K, sizeof *b);
    if (!w->seg || !w->reach || !w->base || !w->q || !w->value || !w->p0 || !w->s || !w->pi || !b) {
        free(b);
        xs_world_free(w);
        return -1;
    }
    for (unsigned g = 0; g < G; g++)
        for (unsigned c = 0; c < K; c++) {
            w->s[g * K + c] = p->seg_sd * xs_normal(seed, g, c, W_S);
            double pi = p->ch[c].conv * exp(p->conv_sd * xs_normal(seed, g, c, W_PI));
            w->pi[g * K + c] = pi > 1 ? 1 : pi;
        }
    for (unsigned f = 0; f < p->pref_rank; f++)
        for (unsigned c = 0; c < K; c++)
            b[f * K + c] = xs_normal(seed, f, c, W_B);
    double vmu = log(p->value_mean) - 0.5 * p->value_sd * p->value_sd;
    double rc = p->reach_corr;
    for (uint32_t i = 0; i < w->n; i++) {
        w->seg[i] = (uint16_t)(xs_u(seed, i, 0, W_SEG) * G);
        double r = xs_resp(w, i);
        w->value[i] = (float)exp(vmu + p->value_sd * xs_normal(seed, i, 0, W_VAL));
        w->p0[i] = (float)sigmoid(logit(p->organic) + p->organic_resp * r);
        double common = xs_normal(seed, i, 0, W_COPULA);
        unsigned reach = 0;
        for (unsigned c = 0; c < K; c++) {
            double z = sqrt(rc) * common + sqrt(1 - rc) * xs_normal(seed, i, c, W_REACH);
            if (0.5 * erfc(-z / sqrt(2)) < p->ch[c].reach)
                reach |= 1u << c;
            double u = p->cust_sd * xs_normal(seed, i, c, W_U);
            for (unsigned f = 0; f < p->pref_rank; f++)
                u += p->pref_sd * xs_normal(seed, i, f, W_PREF) * b[f * K + c] / sqrt((double)p->pref_rank);
            w->base[(size_t)i * K + c] = (float)(u + r);
        }
        w->reach[i] = (uint16_t)reach;
    }
    free(b);
    xs_world_wave(w, 0);
    return 0;
}

double xs_resp(const xs_world *w, uint32_t i) { return w->p->resp_sd * xs_normal(w->seed, i, 0, W_RESP); }

void xs_world_free(xs_world *w)
{
    free(w->seg), free(w->reach), free(w->base), free(w->q), free(w->value), free(w->p0), free(w->s), free(w->pi);
    memset(w, 0, sizeof *w);
}

void xs_world_wave(xs_world *w, unsigned wave)
{
    const xs_params *p = w->p;
    unsigned K = p->k, G = p->g;
    for (unsigned c = 0; c < K; c++)
        w->d[c] = p->ch[c].delivery;
    for (unsigned e = 0; e < p->n_ev; e++) {
        const xs_event *ev = &p->ev[e];
        if (ev->kind == 0 && wave >= (unsigned)ev->wave && wave < (unsigned)(ev->wave + ev->waves))
            w->d[ev->ch] = ev->x;
        if (ev->kind == 1 && wave == (unsigned)ev->wave)
            for (unsigned i = 0; i < G * K; i++)
                w->s[i] = ev->x * w->s[i] + sqrt(1 - ev->x * ev->x) * p->seg_sd * xs_normal(w->seed, i, wave, W_DRIFT);
    }
    double lq[XS_MAXK];
    for (unsigned c = 0; c < K; c++)
        lq[c] = logit(p->ch[c].qbar);
    for (uint32_t i = 0; i < w->n; i++) {
        const double *s = &w->s[(size_t)w->seg[i] * K];
        for (unsigned c = 0; c < K; c++)
            w->q[(size_t)i * K + c] = (float)sigmoid(lq[c] + s[c] + w->base[(size_t)i * K + c]);
    }
}

double xs_order_value(const xs_world *w, uint32_t i, uint32_t wave, uint32_t what)
{
    double s = w->p->order_sd;
    if (!(s > 0))
        return w->value[i];
    return w->value[i] * exp(s * xs_normal(w->seed, i, wave, what) - 0.5 * s * s);
}

void xs_expect(const xs_world *w, uint32_t i, unsigned set, xs_outcome *o)
{
    const xs_params *p = w->p;
    unsigned K = p->k;
    double best = 0, sum = 0, cost = 0;
    unsigned m = 0;
    for (unsigned c = 0; c < K; c++) {
        if (!(set >> c & 1))
            continue;
        double t = w->d[c] * w->q[(size_t)i * K + c] * w->pi[(size_t)w->seg[i] * K + c];
        sum += t;
        if (t > best)
            best = t;
        cost += p->ch[c].cost;
        m++;
    }
    double pr = best + p->overlap * (sum - best);
    if (pr > 1)
        pr = 1;
    o->incr = (1.0 - w->p0[i]) * pr;
    o->respond = m ? w->p0[i] + o->incr : 0;
    o->msgs = m;
    o->cost = cost;
    o->fatigue = m > 1 ? p->fatigue * (m - 1) : 0;
    o->net = w->value[i] * o->incr - cost - o->fatigue;
}
