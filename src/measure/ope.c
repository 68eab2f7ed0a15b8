/* The model's side of the engine-level campaign report: the campaign as the
 * actor may read it, and the off-policy estimates of an X-Engage message from
 * its send ledger (kept apart from campaign.c, which reads the events layer:
 * the model's and the audience's internal headers cannot meet in one file).
 *
 * X-Engage's exploration bucket sends a randomly drawn reachable channel to a
 * pseudo-random share of the test group; the ledger keeps, per customer, the
 * channel sent, the channels reachable at the decision, whether it came from
 * the bucket and, if so, its propensity as logged. The reward of a
 * decision is the customer's revenue in the tracking period after it (times
 * the credit value) minus the cost of what was accepted; the estimates are
 * that minus the control group's mean revenue (eng__xe_ope). */
#include "measure/measure_impl.h"
#include "dispatch/dispatch_impl.h"
#include "decide/xengage.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

_Static_assert(ENG__REPORT_MAX_MESSAGES == ENG__MEASURE_MAX_MESSAGES, "the model's approval limit is the report's");

static char *dup_str(eng_engine *e, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = eng__malloc(&e->mem, n);
    if (p)
        memcpy(p, s, n);
    return p;
}

void eng__rep_free(eng_engine *e, eng__rep_ctx *c)
{
    eng__free(&e->mem, c->msg);
    eng__free(&e->mem, c->goal_event);
    eng__free(&e->mem, c->goal_cond);
    memset(c, 0, sizeof *c);
}

static void msg_of(const eng__msg *m, eng__rep_msg *r)
{
    const eng_message_spec *s = &m->spec;
    r->id = m->id;
    r->strategy = s->strategy;
    r->version = m->decided_at;
    for (size_t i = 0; i < s->n_creatives; i++)
        if (s->creatives[i].channel >= 0 && s->creatives[i].channel < ENG_CH_COUNT)
            r->channels |= 1u << s->creatives[i].channel;
    uint32_t seen = 0;
    for (size_t i = 0; i < s->n_channel_priority && r->npriority < ENG_MAX_CHANNELS; i++) {
        int ch = s->channel_priority[i];
        if (ch >= 0 && ch < ENG_CH_COUNT && (r->channels >> ch & 1u) && !(seen >> ch & 1u)) {
            r->priority[r->npriority++] = (uint8_t)ch;
            seen |= 1u << ch;
        }
    }
    for (int ch = 0; ch < ENG_CH_COUNT; ch++)
        if ((r->channels >> ch & 1u) && !(seen >> ch & 1u))
            r->priority[r->npriority++] = (uint8_t)ch;
}

int eng__rep_load(eng_engine *e, const char *actor, uint64_t campaign, eng__rep_ctx *out)
{
    memset(out, 0, sizeof *out);
    eng__actor a;
    eng__org o;
    eng__camp c;
    int rc = eng__who(e, actor, &a, &o);
    if (rc)
        return rc;
    rc = eng__camp_load(e, campaign, &c);
    if (rc == ENG_OK && strcmp(c.org, o.id) != 0) {
        eng__camp_free(&c);
        rc = ENG_ENOTFOUND;
    }
    if (rc == ENG_ENOTFOUND)
        rc = eng__err(ENG_ENOTFOUND, "campaign", "no campaign %llu in org '%s'", (unsigned long long)campaign, o.id);
    if (rc) {
        eng__actor_free(&a);
        eng__org_free(&o);
        return rc;
    }
    rc = eng__access(&a, &o, ENG_OP_READ, c.spec.unit);
    if (!rc) {
        snprintf(out->org, sizeof out->org, "%s", o.id);
        out->start = c.spec.start;
        out->end = c.spec.end;
        out->has_goal = c.spec.goal_mode == ENG_GOAL_CUSTOM && c.spec.goal;
        if (out->has_goal) {
            const eng_goal_spec *g = c.spec.goal;
            out->goal = *g;
            out->goal_event = dup_str(e, g->event);
            out->goal_cond = dup_str(e, g->condition);
            out->goal.event = out->goal_event;
            out->goal.condition = out->goal_cond;
            if ((g->event && !out->goal_event) || (g->condition && !out->goal_cond))
                rc = eng__nomem();
        }
        memcpy(out->cost, o.settings.channel_cost, sizeof out->cost);
        out->msg = eng__calloc(&e->mem, c.n_msgs ? c.n_msgs : 1, sizeof *out->msg);
        if (!out->msg)
            rc = eng__nomem();
    }
    for (size_t i = 0; !rc && i < c.n_msgs; i++) {
        eng__msg m;
        if (eng__absent(rc = eng__msg_load(e, c.msgs[i], &m))) {
            rc = ENG_OK; /* deleted */
            continue;
        }
        if (rc)
            break;
        if (m.approved)
            msg_of(&m, &out->msg[out->nmsg++]);
        eng__msg_free(&m);
    }
    eng__camp_free(&c);
    eng__actor_free(&a);
    eng__org_free(&o);
    if (rc)
        eng__rep_free(e, out);
    return rc;
}

double eng__ope_revenue(const eng__ope_in *in, uint32_t c, eng_time from, eng_time to)
{
    if (c >= in->ncust)
        return 0;
    double s = 0;
    for (uint32_t k = in->rev_off[c]; k < in->rev_off[c + 1]; k++)
        if (in->rev_t[k] >= from && in->rev_t[k] < to)
            s += (double)in->rev_amount[k] / 1e4;
    return s;
}

/* One decision of the X-Engage execution, as the ledger has it. */
typedef struct orow {
    uint32_t cust;
    int8_t logged;   /* channel sent (accepted or not), -1 none */
    uint8_t explored;
    float prop;      /* explored: P(logged) as the ledger has it */
    uint32_t reach;
    double reward;
} orow;

static int first_in(const eng__rep_msg *m, uint32_t reach)
{
    for (int j = 0; j < m->npriority; j++)
        if (reach >> m->priority[j] & 1u)
            return m->priority[j];
    return -1;
}

/* Greedy engagement: the best ratio of responses to sends in earlier campaigns
 * when the customer had 3+ sends on 2+ reachable channels (ties to priority order), else priority. */
static int greedy_of(const eng__rep_msg *m, uint32_t reach, const uint32_t *sends, const uint32_t *resp)
{
    unsigned n = 0, chans = 0;
    for (int ch = 0; ch < ENG_CH_COUNT; ch++)
        if ((reach >> ch & 1u) && sends[ch]) {
            n += sends[ch];
            chans++;
        }
    if (n < 3 || chans < 2)
        return first_in(m, reach);
    int best = -1;
    double br = -1;
    for (int j = 0; j < m->npriority; j++) {
        int ch = m->priority[j];
        if (!(reach >> ch & 1u) || !sends[ch])
            continue;
        double r = (double)resp[ch] / sends[ch];
        if (r > br)
            br = r, best = ch;
    }
    return best;
}

static int read_rows(const eng__ope_in *in, orow **rows, size_t *n)
{
    eng_engine *e = in->e;
    size_t cap = 0;
    *rows = NULL;
    *n = 0;
    int rc = ENG_OK;
    for (uint32_t idx = 0;; idx++) {
        eng__chunk c;
        rc = eng__chunk_load(e, in->msg->id, 0, idx, &c);
        if (eng__absent(rc)) {
            rc = ENG_OK;
            break;
        }
        if (rc)
            break;
        if (eng__grow(&e->mem, (void **)rows, &cap, *n + c.ncust, sizeof **rows)) {
            eng__chunk_free(&c);
            rc = eng__nomem();
            break;
        }
        for (uint32_t i = 0; i < c.ncust; i++) {
            const eng__lcust *k = &c.cust[i];
            orow *o = &(*rows)[*n + i];
            memset(o, 0, sizeof *o);
            o->cust = k->id;
            o->logged = -1;
            o->explored = k->rule == ENG__RULE_XENGAGE && (k->detail & 1u);
            o->prop = o->explored ? k->prop : 0;
            o->reach = k->reach & in->msg->channels;
            for (int ch = 0; ch < ENG_CH_COUNT; ch++)
                if (k->planned >> ch & 1u)
                    o->logged = (int8_t)ch;
        }
        /* Cost of what the provider accepted. */
        for (uint32_t s = 0; s < c.nsend; s++)
            if (c.send[s].state == ENG_LEDGER_ACCEPTED)
                (*rows)[*n + c.send[s].cust].reward -= (double)in->cost[c.send[s].ch];
        *n += c.ncust;
        eng__chunk_free(&c);
    }
    return rc;
}

int eng__ope_run(const eng__ope_in *in, eng__ope_res out[ENG__OPE_N])
{
    eng_engine *e = in->e;
    memset(out, 0, ENG__OPE_N * sizeof *out);
    orow *rows = NULL;
    size_t n = 0;
    int rc = read_rows(in, &rows, &n);
    if (rc) {
        eng__free(&e->mem, rows);
        return rc;
    }
    /* Rewards: revenue after the decision (the send, else the execution's first send). */
    double cpu = in->credits_per_unit;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = rows[i].cust;
        eng_time t = c < in->ncust && in->sent_at[c] >= 0 ? in->sent_at[c] : in->start;
        rows[i].reward += cpu * eng__ope_revenue(in, c, t, t + in->window);
    }
    size_t nc = in->ncontrol;
    double *ctl = eng__calloc(&e->mem, nc ? nc : 1, sizeof *ctl);
    if (!ctl) {
        eng__free(&e->mem, rows);
        return eng__nomem();
    }
    double bs = 0;
    for (size_t i = 0; i < nc; i++) {
        ctl[i] = cpu * eng__ope_revenue(in, in->control[i], in->start, in->start + in->window);
        bs += ctl[i];
    }
    double base = nc ? bs / (double)nc : 0;
    /* X-Engage as it ran: the plain mean of the test group, its interval built as the others'. */
    double *plain = eng__malloc(&e->mem, (n ? n : 1) * sizeof *plain);
    if (!plain) {
        eng__free(&e->mem, ctl);
        eng__free(&e->mem, rows);
        return eng__nomem();
    }
    for (size_t i = 0; i < n; i++)
        plain[i] = rows[i].reward;
    eng__xe_estimate xe;
    eng__xe_mean(plain, n, ctl, nc, &xe);
    eng__free(&e->mem, plain);
    out[ENG_OPE_XENGAGE] = (eng__ope_res){n > 0, n, xe.value, xe.lo, xe.hi, xe.value, xe.lo, xe.hi};
    /* The bucket, with the direct method's per-channel means. */
    size_t nb = 0;
    double dm_s[ENG_CH_COUNT] = {0}, dm_n[ENG_CH_COUNT] = {0};
    uint32_t lo = UINT32_MAX, hi = 0;
    for (size_t i = 0; i < n; i++)
        if (rows[i].explored && rows[i].logged >= 0 && rows[i].prop > 0) {
            rows[nb++] = rows[i];
            dm_s[rows[nb - 1].logged] += rows[nb - 1].reward;
            dm_n[rows[nb - 1].logged]++;
            lo = rows[nb - 1].cust < lo ? rows[nb - 1].cust : lo;
            hi = rows[nb - 1].cust + 1 > hi ? rows[nb - 1].cust + 1 : hi;
        }
    double dm[ENG_CH_COUNT];
    for (int ch = 0; ch < ENG_CH_COUNT; ch++)
        dm[ch] = dm_n[ch] > 0 ? dm_s[ch] / dm_n[ch] : base;
    eng__xe_ope_row *orows = eng__calloc(&e->mem, nb ? nb : 1, sizeof *orows);
    int8_t *greedy = eng__calloc(&e->mem, nb ? nb : 1, 1);
    rc = orows && greedy ? ENG_OK : eng__nomem();
    /* Greedy needs each bucket customer's history, read in blocks of customers. */
    const uint32_t block = 65536;
    uint32_t *hs = NULL, *hr = NULL;
    if (!rc && nb) {
        hs = eng__malloc(&e->mem, (size_t)block * ENG_CH_COUNT * sizeof *hs);
        hr = eng__malloc(&e->mem, (size_t)block * ENG_CH_COUNT * sizeof *hr);
        if (!hs || !hr)
            rc = eng__nomem();
    }
    for (uint32_t b = lo; !rc && nb && b < hi; b += block) {
        uint32_t be = hi - b < block ? hi : b + block;
        memset(hs, 0, (size_t)(be - b) * ENG_CH_COUNT * sizeof *hs);
        memset(hr, 0, (size_t)(be - b) * ENG_CH_COUNT * sizeof *hr);
        if ((rc = in->history(in->user, b, be, hs, hr)))
            break;
        for (size_t i = 0; i < nb; i++)
            if (rows[i].cust >= b && rows[i].cust < be) {
                size_t at = (size_t)(rows[i].cust - b) * ENG_CH_COUNT;
                greedy[i] = (int8_t)greedy_of(in->msg, rows[i].reach, hs + at, hr + at);
            }
    }
    for (int p = ENG_OPE_PRIORITY; !rc && p < ENG__OPE_N; p++) {
        if (p == ENG_OPE_SEND_ALL || !nb)
            continue;
        for (size_t i = 0; i < nb; i++) {
            int target = p == ENG_OPE_PRIORITY ? first_in(in->msg, rows[i].reach) : greedy[i];
            orows[i] = (eng__xe_ope_row){rows[i].logged, (int8_t)target, rows[i].prop, rows[i].reward,
                                         dm[rows[i].logged], target >= 0 ? dm[target] : base};
        }
        eng__xe_estimate ipw, dr;
        eng__xe_ope(orows, nb, ctl, nc, &ipw, &dr);
        out[p] = (eng__ope_res){1, nb, ipw.value, ipw.lo, ipw.hi, dr.value, dr.lo, dr.hi};
    }
    eng__free(&e->mem, hs);
    eng__free(&e->mem, hr);
    eng__free(&e->mem, orows);
    eng__free(&e->mem, greedy);
    eng__free(&e->mem, ctl);
    eng__free(&e->mem, rows);
    return rc;
}
