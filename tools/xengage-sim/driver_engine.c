/* The engine driver: the simulator plays customers and transport against the
 * real engine through its public API. One engine (memory store) per seed: an
 * org with the world's channel costs, every customer with a contact and
 * consent on each channel they are reachable on, their earlier purchases (the
 * value of a conversion), group "all". Per wave a campaign (the engine's own
 * 10 % control split) with one X-Engage message, submitted and approved four
 * days ahead; each batch is one eng_run_due with max_batches = 1 at the batch
 * time, the transport callback recording what was sent; outcomes come back as
 * receipts (eng_touch_append) and purchases as transactions (eng_txn_append)
 * before the next batch; after each wave the campaign report
 * (eng_campaign_report) gives the engine's own off-policy estimates.
 *
 * Units: the org's channel costs and the cap are whole credits, so a credit is
 * a hundredth of the currency (costs 0.03 -> 3 credits) when that prices every
 * channel exactly, and a finer power of ten when it does not (world_cpu); each
 * X-Engage message says so (eng_xengage_options.credits_per_unit). */
#include "driver.h"
#include "engage.h"
#include "dispatch/dispatch_impl.h"
#include "decide/xengage.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENGD_MAXW 64 /* waves a world file may have */
#define EPOCH ((eng_time)1767225600000) /* 2026-01-01: sim hour 0 is EPOCH + 10 days + the warm-up history */

typedef struct engd {
    xs_driver base;
    const xs_world *w;
    eng_engine *e;
    eng_store *store;
    eng_time now;
    int ech[XS_MAXK];     /* world channel -> engine channel */
    int wch[ENG_CH_COUNT];/* engine channel -> world channel, -1 */
    unsigned wave;
    uint64_t campaign, message;
    eng_time version;
    uint32_t *test, *pos;  /* the frozen test group (ascending) and each customer's position, or UINT32_MAX */
    size_t ntest;
    uint32_t chunk;        /* the engine's chunk (transport batch, at most 4096) */
    uint32_t per_batch;    /* test-group positions per simulated batch (whole chunks) */
    int8_t *sent;          /* per customer: engine channel sent this wave, -1 */
    int checking;          /* a wave's message is out: every send is checked (check_send) */
    /* receipts and purchases waiting for the next batch */
    size_t nr, cr;
    char **keys;
    int *st;
    eng_time *rt;
    size_t nx, cx;
    uint32_t *xc;
    double *xv;
    eng_time *xt;          /* the purchase's time, 0: stamped when handed over */
    uint64_t txn_seq;
    char org_key[ENG_SEND_KEY_MAX + 1];
    size_t key_len;
    /* A receipt names its send's own message: outcomes that resolve in a later wave (an ad's response
     * window is longer than the gap before the next wave's approval) take the key prefix of the wave the
     * send went out in, not the current one (else they match no send and stay pending for ever). */
    char (*wkey)[ENG_SEND_KEY_MAX + 1]; /* per wave: its sends' key prefix */
    size_t *wkey_len;
    uint8_t *swave;                      /* per customer x world channel: the wave of its latest send */
    int verbose;
    struct adid { char h[65]; uint32_t c; } *adids; /* ad identifier (hash) -> customer, sorted */
    size_t nadids;
    /* The simulator's warm-up history (earlier campaigns, engagement only), replayed through the
     * engine before the first wave: per earlier message m and customer i, the channel and flags. */
    unsigned hist;         /* earlier messages per customer */
    int8_t *hch;           /* [m * n + i]: world channel, -1 */
    uint8_t *hfl, *hcount; /* flags; per customer, entries recorded so far */
    double origin_h;       /* hours from EPOCH + 10 days to sim hour 0 */
    /* The message includes one group per world segment ("seg-<g>"): X-Engage's segments are the
     * message's include groups. Without segments, the one group "all". */
    unsigned nseg;
    char (*segname)[16];
    const char **segp;
    int ope_known[2];
    double ope[2][3]; /* the last wave's report: priority, greedy (currency per test customer) */
    /* The world's budget as the message's credit cap (eng_xengage_options.credit_cap): what the wave's
     * campaign account was charged, and what the transport saw leave at the org's channel costs. */
    int64_t cap, bal0, tcost, charged;
    int64_t ccost[ENG_CH_COUNT]; /* the org's cost per message (a part, for SMS), credits */
    double cpu;                  /* credits a unit of the currency is worth (world_cpu) */
} engd;

static eng_time clock_fn(void *u) { return ((engd *)u)->now; }
static eng_time at_hours_d(const engd *d, double h)
{
    return EPOCH + 10 * ENG_DAY + (eng_time)llround((h + d->origin_h) * 3600000.0);
}
#define at_hours(h) at_hours_d(d, (h))

/* What X-Engage promises a host, checked on every send of a wave: one message per customer (never the
 * same message on two channels), only to the frozen test group, only on a channel the customer is
 * reachable on (the only channels with a contact and consent). A breach ends the run (exit 1). */
static void check_send(const engd *d, uint32_t i, int ch)
{
    if (!d->checking)
        return;
    const char *why = NULL;
    if (i >= d->w->n || d->pos[i] == UINT32_MAX)
        why = "a customer outside the test group";
    else if (d->sent[i] >= 0)
        why = "a second send to one customer (two channels or twice)";
    else if (ch < 0 || ch >= ENG_CH_COUNT || d->wch[ch] < 0 || !(d->w->reach[i] >> d->wch[ch] & 1u))
        why = "a channel the customer is not reachable on (no contact, no consent)";
    if (why) {
        fprintf(stderr, "xengage-sim: wave %u: the engine sent %s: customer %u, channel %s\n", d->wave, why, i,
                ch >= 0 && ch < ENG_CH_COUNT ? eng_channel_name(ch) : "?");
        exit(1);
    }
}

static int transport(const eng_envelope *env, size_t n, int *status, void *user)
{
    engd *d = user;
    for (size_t i = 0; i < n; i++) {
        check_send(d, env[i].customer, env[i].channel);
        d->tcost += d->ccost[env[i].channel] * (env[i].segments ? env[i].segments : 1);
        d->sent[env[i].customer] = (int8_t)env[i].channel;
        d->swave[(size_t)env[i].customer * d->w->p->k + (unsigned)d->wch[env[i].channel]] = (uint8_t)d->wave;
        status[i] = ENG_SEND_ACCEPTED;
    }
    return ENG_OK;
}

static int adid_cmp(const void *a, const void *b)
{
    return strcmp(((const struct adid *)a)->h, ((const struct adid *)b)->h);
}

/* Ad audiences come as hashed identifiers: map each back to its customer. */
static int ad_export(const eng_ad_manifest *m, const char *const *hashes, int *status, void *user)
{
    engd *d = user;
    for (uint64_t i = 0; i < m->count; i++) {
        struct adid key;
        snprintf(key.h, sizeof key.h, "%s", hashes[i]);
        const struct adid *a = bsearch(&key, d->adids, d->nadids, sizeof *d->adids, adid_cmp);
        if (a) {
            check_send(d, a->c, m->channel);
            d->tcost += d->ccost[m->channel];
            d->sent[a->c] = (int8_t)m->channel;
            d->swave[(size_t)a->c * d->w->p->k + (unsigned)d->wch[m->channel]] = (uint8_t)d->wave;
        } else if (d->checking) {
            fprintf(stderr, "xengage-sim: wave %u: the ad export has an identifier of no customer\n", d->wave);
            exit(1);
        }
    }
    *status = ENG_SEND_ACCEPTED;
    return ENG_OK;
}

static void die(const char *what)
{
    const eng_error *e = eng_error_last();
    fprintf(stderr, "xengage-sim (engine driver): %s: %s (%s)\n", what, e->message, e->detail);
    exit(1);
}

static void must(int rc, const char *what)
{
    if (rc)
        die(what);
}

static void push_receipt(engd *d, const char *key, size_t kl, int st)
{
    if (d->nr == d->cr) {
        d->cr = d->cr ? 2 * d->cr : 4096;
        d->keys = realloc(d->keys, d->cr * sizeof *d->keys);
        d->st = realloc(d->st, d->cr * sizeof *d->st);
        d->rt = realloc(d->rt, d->cr * sizeof *d->rt);
        if (!d->keys || !d->st || !d->rt)
            abort();
    }
    d->keys[d->nr] = strndup(key, kl);
    d->st[d->nr] = st;
    d->rt[d->nr++] = d->now;
}

static void push_txn_at(engd *d, uint32_t i, double value, eng_time t)
{
    if (d->nx == d->cx) {
        d->cx = d->cx ? 2 * d->cx : 4096;
        d->xc = realloc(d->xc, d->cx * sizeof *d->xc);
        d->xv = realloc(d->xv, d->cx * sizeof *d->xv);
        d->xt = realloc(d->xt, d->cx * sizeof *d->xt);
        if (!d->xc || !d->xv || !d->xt)
            abort();
    }
    d->xc[d->nx] = i;
    d->xt[d->nx] = t;
    d->xv[d->nx++] = value;
}

/* A purchase now: one of the customer's orders (world key order_sd), drawn per wave. */
static void push_txn(engd *d, uint32_t i)
{
    push_txn_at(d, i, xs_order_value(d->w, i, d->wave, XS_U_ORDER), 0);
}

/* Hand the buffered receipts and purchases to the engine, stamped now. */
static void flush(engd *d)
{
    if (d->nr) {
        for (size_t i = 0; i < d->nr; i++)
            d->rt[i] = d->now;
        eng_receipts r = ENG_RECEIPTS_INIT;
        r.count = d->nr;
        r.keys = (const char *const *)d->keys;
        r.statuses = d->st;
        r.times = d->rt;
        eng_event_report rep = ENG_EVENT_REPORT_INIT;
        must(eng_touch_append(d->e, &r, &rep), "eng_touch_append");
        for (size_t i = 0; i < d->nr; i++)
            free(d->keys[i]);
        d->nr = 0;
    }
    if (d->nx) {
        char (*id)[32] = malloc(d->nx * sizeof *id), (*cu)[16] = malloc(d->nx * sizeof *cu);
        const char **pi = malloc(d->nx * sizeof *pi), **pc = malloc(d->nx * sizeof *pc);
        eng_time *t = malloc(d->nx * sizeof *t);
        int64_t *am = malloc(d->nx * sizeof *am);
        if (!id || !cu || !pi || !pc || !t || !am)
            abort();
        for (size_t i = 0; i < d->nx; i++) {
            snprintf(id[i], sizeof id[i], "t%llu", (unsigned long long)++d->txn_seq);
            snprintf(cu[i], sizeof cu[i], "c%u", d->xc[i]);
            pi[i] = id[i], pc[i] = cu[i], t[i] = d->xt[i] ? d->xt[i] : d->now, am[i] = llround(d->xv[i] * 1e4);
        }
        eng_txn_batch b = ENG_TXN_BATCH_INIT;
        b.count = d->nx, b.ids = pi, b.customers = pc, b.times = t, b.amounts = am;
        must(eng_txn_append(d->e, "sim", &b, NULL, NULL), "eng_txn_append");
        free(id), free(cu), free(pi), free(pc), free(t), free(am);
        d->nx = 0;
    }
}

static eng_creative creative(int ch)
{
    const char *subj = ch == ENG_CH_EMAIL ? "An offer" : ch == ENG_CH_PUSH ? "Offer" : NULL;
    const char *body = ch == ENG_CH_SMS ? "20% off this week. {{optout}}"
                       : ch == ENG_CH_EMAIL ? "<p>20% off this week.</p>{{unsubscribe}}"
                                            : "20% off this week.";
    return (eng_creative){ch, subj, body};
}

static void submit_approve(engd *d, const eng_message_spec *m, uint64_t campaign, uint64_t *out)
{
    eng_validation *v = NULL;
    int rc = eng_message_create(d->e, "ann", campaign, m, out, &v);
    if (!rc)
        rc = eng_message_submit(d->e, "ann", *out, &v);
    for (size_t i = 0; i < eng_validation_count(v); i++) {
        const char *path, *msg;
        eng_validation_item(v, i, NULL, &path, &msg);
        fprintf(stderr, "validation: %s: %s\n", path, msg);
    }
    eng_validation_free(v);
    must(rc, "eng_message_submit");
    must(eng_message_approve(d->e, "bob", *out, NULL, "ok"), "eng_message_approve");
}

/* The key prefix of a message's sends (the dispatcher's deterministic key). */
static size_t key_prefix(engd *d, uint64_t campaign, uint64_t message, char *buf, size_t cap)
{
    eng_message *m;
    must(eng_message_get(d->e, "root", message, &m), "eng_message_get");
    eng_message_status st = ENG_MESSAGE_STATUS_INIT;
    eng_message_status_get(m, &st);
    size_t len = eng__send_key_prefix(buf, cap, "sim", campaign, message, st.decided_at, 0);
    eng_message_free(m);
    return len;
}

/* The warm-up history as the org's earlier campaigns, played through the engine like any host's:
 * per earlier message a campaign without control, one plain message per channel to the customers
 * the simulator gave that channel (an uploaded group), run-due, then delivery and open receipts.
 * X-Engage's prior comes from these stored touches (eng__touch_history), as it would in production. */
static void replay_history(engd *d)
{
    eng_schedule sched = ENG_SCHEDULE_INIT;
    const xs_params *p = d->w->p;
    uint32_t n = d->w->n;
    char **ids = malloc((size_t)n * sizeof *ids), *names = malloc((size_t)n * 16);
    if (!ids || !names)
        abort();
    for (uint32_t i = 0; i < n; i++)
        snprintf(names + (size_t)i * 16, 16, "c%u", i);
    for (unsigned m = 0; m < d->hist; m++) {
        eng_time t = at_hours(-p->wave_gap_h * (d->hist - m));
        d->now = t - 4 * ENG_DAY; /* X-Engage (ad channels) is approved at least 50 h ahead */
        char name[32];
        snprintf(name, sizeof name, "Earlier %u", m);
        eng_campaign_spec c;
        eng_campaign_spec_init(&c, ENG_CAMPAIGN_SPEC_VERSION);
        c.name = name;
        c.start = t - ENG_DAY;
        c.end = t + 15 * ENG_DAY;
        c.objective = ENG_OBJ_BOOST_SALES;
        c.control_percent = 0;
        uint64_t camp, msg[XS_MAXK] = {0};
        must(eng_campaign_create(d->e, "ann", &c, &camp, NULL), "eng_campaign_create (history)");
        for (unsigned k = 0; k < p->k; k++) {
            size_t cnt = 0;
            for (uint32_t i = 0; i < n; i++)
                if (d->hch[(size_t)m * n + i] == (int8_t)k)
                    ids[cnt++] = names + (size_t)i * 16;
            if (!cnt)
                continue;
            char gname[48]; /* "earlier-", a u32, "-" and a channel name: no truncation (gcc -O0 checks) */
            snprintf(gname, sizeof gname, "earlier-%u-%s", m, p->ch[k].name);
            uint32_t g;
            must(eng_group_create_uploaded(d->e, "root", gname, &g), "eng_group_create_uploaded (history)");
            must(eng_group_upload_ids(d->e, "root", g, (const char *const *)ids, cnt, ENG_UPLOAD_REPLACE, NULL, NULL),
                 "upload (history)");
            const char *groups[] = {gname};
            eng_creative cr = creative(d->ech[k]);
            eng_message_spec ms;
            eng_message_spec_init(&ms, ENG_MESSAGE_SPEC_VERSION);
            ms.title = gname;
            /* A plain message on every channel, ad channels included (their sends leave through the ad
             * export since 8d3168e): the history is what the simulator gave, not what an X-Engage message of
             * one channel would choose to send of it (its skipping held back most of a cheap ad's history). */
            ms.strategy = ENG_STRATEGY_NONE;
            ms.include = groups;
            ms.n_include = 1;
            ms.creatives = &cr;
            ms.n_creatives = 1;
            sched.kind = ENG_SCHEDULE_ONCE;
            sched.at = t;
            ms.schedule = &sched;
            submit_approve(d, &ms, camp, &msg[k]);
        }
        d->now = t;
        eng_run_options ro = ENG_RUN_OPTIONS_INIT;
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        must(eng_run_due(d->e, "root", d->now, &ro, &rep), "eng_run_due (history)");
        if (d->verbose)
            printf("earlier campaign %u: %llu executions, %llu accepted\n", m, (unsigned long long)rep.executions,
                   (unsigned long long)rep.accepted);
        for (unsigned k = 0; k < p->k; k++) {
            if (!msg[k])
                continue;
            char pre[ENG_SEND_KEY_MAX + 1], key[ENG_SEND_KEY_MAX + 1];
            size_t pl = key_prefix(d, camp, msg[k], pre, sizeof pre);
            for (uint32_t i = 0; i < n; i++) {
                if (d->hch[(size_t)m * n + i] != (int8_t)k)
                    continue;
                unsigned f = d->hfl[(size_t)m * n + i];
                size_t kl = eng__send_key_tail(key, sizeof key, pre, pl, i, d->ech[k]);
                push_receipt(d, key, kl, f & ENG__XE_DELIVERED ? ENG_TOUCH_DELIVERED : ENG_TOUCH_FAILED);
                if (f & ENG__XE_ENGAGED)
                    push_receipt(d, key, kl, ENG_TOUCH_OPENED);
            }
        }
        d->now = t + ENG_HOUR;
        flush(d);
    }
    free(ids), free(names);
    d->hist = 0;
}

/* The world's budget (a share of send_all's cost on the wave's test group) as a credit cap. The host
 * knows the test group before it creates the message: the audience the message will freeze at approval,
 * resolved with the campaign's split seed (e_plan checks that the approved one is the same). */
static int64_t wave_cap(engd *d, const eng_message_spec *m)
{
    eng_audience_query q = ENG_AUDIENCE_QUERY_INIT;
    q.include = m->include;
    q.n_include = m->n_include;
    for (size_t i = 0; i < m->n_creatives; i++)
        q.channels |= 1u << m->creatives[i].channel;
    q.control_percent = (uint32_t)llround(d->w->p->control * 100);
    q.split_seed = eng_campaign_split_seed("sim", d->campaign);
    eng_audience *a;
    must(eng_audience_resolve(d->e, "root", &q, &a), "eng_audience_resolve");
    uint64_t nt = 0;
    eng_audience_count(a, ENG_PART_TEST, &nt);
    uint32_t *ids = malloc((nt ? nt : 1) * sizeof *ids);
    size_t got = 0;
    if (!ids)
        abort();
    must(eng_audience_ids(a, ENG_PART_TEST, 0, ids, nt, &got), "eng_audience_ids");
    eng_audience_free(a);
    int64_t all = 0; /* send_all's cost in credits */
    for (size_t j = 0; j < got; j++)
        for (unsigned k = 0; k < d->w->p->k; k++)
            if (d->w->reach[ids[j]] >> k & 1u)
                all += d->ccost[d->ech[k]];
    free(d->test);
    d->test = ids, d->ntest = got;
    return (int64_t)floor(d->w->p->budget * (double)all);
}

/* A new campaign and X-Engage message for the wave; the engine's frozen split
 * defines the wave's control group and batches (positions in the test group). */
static void e_plan(xs_driver *b, unsigned wave, double t0_h, uint8_t *batch)
{
    eng_goal_spec c_goal = ENG_GOAL_SPEC_INIT;
    eng_schedule sched = ENG_SCHEDULE_INIT;
    engd *d = (engd *)b;
    const xs_params *p = d->w->p;
    flush(d);
    d->checking = 0;
    if (d->hist)
        replay_history(d);
    d->wave = wave;
    eng_time t0 = at_hours(t0_h);
    d->now = t0 - 4 * ENG_DAY;
    char name[32];
    snprintf(name, sizeof name, "Wave %u", wave);
    eng_campaign_spec c;
    eng_campaign_spec_init(&c, ENG_CAMPAIGN_SPEC_VERSION);
    c.name = name;
    c.start = t0 - ENG_DAY;
    c.end = t0 + 30 * ENG_DAY;
    c.objective = ENG_OBJ_BOOST_SALES;
    c.control_percent = (uint32_t)llround(p->control * 100);
    /* The report's revenue window ends before the next wave's sends, so its estimates are of this wave. */
    c.goal_mode = ENG_GOAL_CUSTOM;
    c_goal.event = "transaction";
    c_goal.window_days = p->wave_gap_h >= 48 ? (uint32_t)(p->wave_gap_h / 24) - 1 : 1;
    c_goal.start_on = ENG_GOAL_ON_SENT;
    c_goal.attribution = ENG_ATTR_LAST_TOUCH;
    c.goal = &c_goal;
    must(eng_campaign_create(d->e, "ann", &c, &d->campaign, NULL), "eng_campaign_create");
    eng_creative cr[XS_MAXK];
    int prio[XS_MAXK];
    for (unsigned k = 0; k < p->k; k++) {
        cr[k] = creative(d->ech[k]);
        prio[k] = d->ech[p->priority[k]];
    }
    eng_message_spec m;
    eng_message_spec_init(&m, ENG_MESSAGE_SPEC_VERSION);
    m.title = name;
    m.strategy = ENG_STRATEGY_XENGAGE;
    m.include = d->segp;
    m.n_include = d->nseg;
    m.creatives = cr;
    m.n_creatives = p->k;
    m.channel_priority = prio;
    m.n_channel_priority = p->k;
    sched.kind = ENG_SCHEDULE_ONCE;
    sched.at = t0;
    m.schedule = &sched;
    eng_xengage_options xo = ENG_XENGAGE_OPTIONS_INIT;
    xo.credits_per_unit = d->cpu; /* the value of a conversion, in the costs' credits */
    d->cap = p->budget > 0 ? wave_cap(d, &m) : 0;
    xo.credit_cap = d->cap;
    m.xengage = &xo;
    must(eng_credits_balance(d->e, "root", ENG_CREDITS_CAMPAIGN, &d->bal0), "eng_credits_balance");
    d->tcost = 0;
    submit_approve(d, &m, d->campaign, &d->message);
    eng_audience *aud;
    must(eng_message_audience(d->e, "root", d->message, &aud), "eng_message_audience");
    uint64_t nt = 0;
    eng_audience_count(aud, ENG_PART_TEST, &nt);
    uint32_t *predicted = d->cap ? d->test : NULL;
    size_t npredicted = d->ntest;
    if (!predicted)
        free(d->test);
    d->test = malloc((nt ? nt : 1) * sizeof *d->test);
    if (!d->test)
        abort();
    must(eng_audience_ids(aud, ENG_PART_TEST, 0, d->test, nt, &d->ntest), "eng_audience_ids");
    eng_audience_free(aud);
    if (predicted && (npredicted != d->ntest || memcmp(predicted, d->test, d->ntest * sizeof *d->test))) {
        fprintf(stderr, "xengage-sim: the approved test group is not the one the credit cap was computed on\n");
        exit(1);
    }
    free(predicted);
    uint32_t n = d->w->n;
    for (uint32_t i = 0; i < n; i++)
        d->pos[i] = UINT32_MAX, d->sent[i] = -1;
    for (size_t j = 0; j < d->ntest; j++)
        d->pos[d->test[j]] = (uint32_t)j;
    d->checking = 1;
    for (uint32_t i = 0; i < n; i++) {
        if (d->pos[i] == UINT32_MAX) {
            batch[i] = (uint8_t)(200 + (uint64_t)i * p->batches / n);
        } else {
            uint32_t bb = d->pos[i] / d->per_batch;
            batch[i] = (uint8_t)(bb < p->batches ? bb : p->batches - 1);
        }
    }
    d->now = t0;
}

/* The engine's decisions for the batch: run-due at the batch time until every customer of it is planned. */
static void e_decide(xs_driver *b, unsigned wave, const uint32_t *ids, size_t n, double budget, xs_choice *out)
{
    engd *d = (engd *)b;
    (void)wave;
    (void)budget;
    d->now = at_hours(b->now_h);
    flush(d);
    if (!n)
        return;
    uint32_t last = 0;
    for (size_t x = 0; x < n; x++)
        if (d->pos[ids[x]] != UINT32_MAX && d->pos[ids[x]] / d->chunk > last)
            last = d->pos[ids[x]] / d->chunk;
    for (;;) {
        eng__chunk c;
        int rc = eng__chunk_load(d->e, d->message, 0, last, &c);
        if (rc == ENG_OK) {
            eng__chunk_free(&c);
            break;
        }
        if (rc != ENG_ENOTFOUND)
            die("ledger");
        eng_run_options o = ENG_RUN_OPTIONS_INIT;
        o.message = d->message;
        o.max_batches = 1;
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        must(eng_run_due(d->e, "root", d->now, &o, &rep), "eng_run_due");
        if (!rep.batches && !rep.finished && rep.executions && rep.pending == 0)
            break;
    }
    /* Exploration and propensity from the ledger: one chunk at a time. */
    eng__chunk c;
    uint32_t have = UINT32_MAX;
    memset(&c, 0, sizeof c);
    for (size_t x = 0; x < n; x++) {
        uint32_t i = ids[x], ps = d->pos[i];
        int ch = d->sent[i];
        out[x] = (xs_choice){(int8_t)(ch >= 0 ? d->wch[ch] : -1), 0, 0, 0, 0};
        if (ps == UINT32_MAX)
            continue;
        if (ps / d->chunk != have) {
            if (have != UINT32_MAX)
                eng__chunk_free(&c);
            must(eng__chunk_load(d->e, d->message, 0, ps / d->chunk, &c), "ledger chunk");
            have = ps / d->chunk;
        }
        const eng__lcust *k = &c.cust[ps % d->chunk];
        if (k->rule == ENG__RULE_XENGAGE && (k->detail & 1u) && k->prop > 0) {
            out[x].explored = 1;
            out[x].propensity = k->prop; /* as logged (ledger chunk schema 2) */
        }
    }
    if (have != UINT32_MAX)
        eng__chunk_free(&c);
}

static void e_outcome(xs_driver *b, uint32_t i, unsigned ch, unsigned flags)
{
    engd *d = (engd *)b;
    if (flags & XS_WARM) { /* the warm-up history: replayed as earlier campaigns before wave 1 (its conversions are
                              in the sales history, when there is one) */
        flags &= ~XS_WARM;
        uint32_t n = d->w->n;
        if (d->hist && d->hcount[i] < d->hist) {
            size_t at = (size_t)d->hcount[i]++ * n + i;
            d->hch[at] = (int8_t)ch;
            d->hfl[at] = (uint8_t)flags;
        }
        return;
    }
    char key[ENG_SEND_KEY_MAX + 1];
    unsigned sw = d->swave[(size_t)i * d->w->p->k + ch];
    size_t kl = eng__send_key_tail(key, sizeof key, d->wkey[sw], d->wkey_len[sw], i, d->ech[ch]);
    push_receipt(d, key, kl, flags & ENG__XE_DELIVERED ? ENG_TOUCH_DELIVERED : ENG_TOUCH_FAILED);
    if (flags & ENG__XE_ENGAGED)
        push_receipt(d, key, kl, ENG_TOUCH_OPENED);
    if (flags & ENG__XE_CONVERTED)
        push_txn(d, i);
}

static void e_control(xs_driver *b, uint32_t i, int converted)
{
    if (converted)
        push_txn((engd *)b, i);
}

static void e_organic(xs_driver *b, uint32_t i) { push_txn((engd *)b, i); }

/* The org's sales history before the campaign, at its own times (handed over with the first wave's plan). */
static void e_order(xs_driver *b, uint32_t i, double t_h, double amount)
{
    engd *d = (engd *)b;
    push_txn_at(d, i, amount, at_hours(t_h));
}

static void e_nop(xs_driver *b) { (void)b; }

static double e_dm(xs_driver *b, uint32_t i, int ch)
{
    (void)b, (void)i, (void)ch;
    return 0; /* the engine's own estimates are in its report (printed per wave) */
}

/* Called after the wave's last batch: the campaign report's estimates. */
static void e_wave_done(xs_driver *b, unsigned wave)
{
    engd *d = (engd *)b;
    eng_time end = at_hours(b->now_h); /* the simulator delivered what resolved by then */
    d->now = end > d->now ? end : d->now + 12 * ENG_HOUR;
    flush(d);
    /* Let the execution finish (its model becomes the org's prior for the next wave). */
    eng_run_options ro = ENG_RUN_OPTIONS_INIT;
    ro.message = d->message;
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    must(eng_run_due(d->e, "root", d->now, &ro, &rep), "eng_run_due");
    int64_t bal;
    must(eng_credits_balance(d->e, "root", ENG_CREDITS_CAMPAIGN, &bal), "eng_credits_balance");
    d->charged = d->bal0 - bal;
    eng_campaign_report_options o = ENG_CAMPAIGN_REPORT_OPTIONS_INIT;
    o.credits_per_unit = d->cpu;
    eng_report *r = NULL;
    must(eng_campaign_report(d->e, "root", d->campaign, &o, &r), "eng_campaign_report");
    eng_report_figures f = ENG_REPORT_FIGURES_INIT;
    eng_report_total(r, &f);
    static const int targets[2] = {ENG_OPE_PRIORITY, ENG_OPE_GREEDY};
    for (int t = 0; t < 2; t++) {
        eng_ope_estimate e = ENG_OPE_ESTIMATE_INIT;
        d->ope_known[t] = eng_report_ope(r, targets[t], &e) == ENG_OK && e.known;
        d->ope[t][0] = e.dr / d->cpu, d->ope[t][1] = e.dr_low / d->cpu;
        d->ope[t][2] = e.dr_high / d->cpu;
    }
    if (!d->verbose) {
        eng_report_free(r);
        return;
    }
    printf("engine report wave %u: contacted %llu, sent %llu, opened %llu, responders %llu (hit rate %.2f %%, control "
           "%.2f %%)", wave, (unsigned long long)f.contacted, (unsigned long long)f.sent,
           (unsigned long long)f.opened, (unsigned long long)f.responders, f.hit_rate, f.control_hit_rate);
    static const char *const names[] = {"xengage", "priority", "send_all", "greedy"};
    for (int p = 0; p < 4; p++) {
        eng_ope_estimate e = ENG_OPE_ESTIMATE_INIT;
        eng_report_ope(r, p, &e);
        if (e.known)
            printf("; %s DR %.4f [%.4f, %.4f]", names[p], e.dr / d->cpu, e.dr_low / d->cpu,
                   e.dr_high / d->cpu);
    }
    printf(" (per test customer, currency)\n");
    eng_report_free(r);
    /* Why X-Engage sent the wave's first few contacted customers: the public trace of each. */
    for (size_t j = 0, shown = 0; j < d->ntest && shown < 3; j++) {
        uint32_t i = d->test[j];
        eng_trace t = ENG_TRACE_INIT;
        if (d->sent[i] < 0 || eng_trace_get(d->e, "root", d->message, 0, i, &t) || !t.xe_known)
            continue;
        shown++;
        printf("  trace c%u: %s%s value %.1f, segment %u:", i, eng_channel_name(t.xe_channel),
               t.xe_explored ? " (explored)" : "", t.xe_value, t.xe_segment);
        for (int c = 0; c < ENG_CH_COUNT; c++)
            if (t.xe_reachable >> c & 1u)
                printf(" %s q %.4f/%.4f r %.4f/%.4f d %.2f cost %.0f score %.1f (%u/%u);", eng_channel_name(c),
                       t.xe_engagement[c], t.xe_engagement_used[c], t.xe_conversion[c], t.xe_conversion_used[c],
                       t.xe_delivery[c], t.xe_cost[c], t.xe_score[c], t.xe_engaged[c], t.xe_sent[c]);
        printf("\n");
    }
}

static int e_report_ope(xs_driver *b, unsigned wave, int target, double out[3])
{
    engd *d = (engd *)b;
    (void)wave;
    memcpy(out, d->ope[target], sizeof d->ope[target]);
    return d->ope_known[target];
}

static int e_credits(xs_driver *b, unsigned wave, double out[3])
{
    engd *d = (engd *)b;
    (void)wave;
    out[0] = (double)d->cap / d->cpu;
    out[1] = (double)d->charged / d->cpu;
    out[2] = (double)d->tcost / d->cpu;
    return d->cap > 0;
}

static void e_close(xs_driver *b)
{
    engd *d = (engd *)b;
    eng_close(d->e);
    for (size_t i = 0; i < d->nr; i++)
        free(d->keys[i]);
    free(d->keys), free(d->st), free(d->rt), free(d->xc), free(d->xv), free(d->xt);
    free(d->test), free(d->pos), free(d->sent), free(d->adids);
    free(d->hch), free(d->hfl), free(d->hcount), free(d->segname), free(d->segp);
    free(d->wkey), free(d->wkey_len), free(d->swave);
    free(d);
}

/* The key prefix of the wave's sends. */
static void e_keys(engd *d)
{
    d->key_len = key_prefix(d, d->campaign, d->message, d->org_key, sizeof d->org_key);
    if (d->wave <= ENGD_MAXW) {
        memcpy(d->wkey[d->wave], d->org_key, sizeof d->org_key);
        d->wkey_len[d->wave] = d->key_len;
    }
}

static void e_plan_keys(xs_driver *b, unsigned wave, double t0_h, uint8_t *batch)
{
    e_plan(b, wave, t0_h, batch);
    e_keys((engd *)b);
}

/* Credits a unit of the world's currency is worth. The engine prices sends and caps in whole credits: a
 * cost that rounds badly (or to 0, which as a cap means none) would hand the engine another world, so a
 * credit is a hundredth of the currency when that prices every channel exactly, else the first power of
 * ten at which the cheapest paid channel costs >= 1,000 credits (rounding within 0.05 %), no finer than
 * keeps the dearest message within 10^6 credits (the org's 10^15 credits last every world). */
static double world_cpu(const xs_params *p)
{
    double lo = 0, hi = 0;
    for (unsigned k = 0; k < p->k; k++) {
        double c = p->ch[k].cost;
        if (c > 0 && (lo == 0 || c < lo))
            lo = c;
        if (c > hi)
            hi = c;
    }
    double cpu = 100;
    for (;;) {
        int exact = 1;
        for (unsigned k = 0; k < p->k; k++) {
            double x = p->ch[k].cost * cpu;
            exact &= fabs(x - nearbyint(x)) <= 1e-9 * fmax(1.0, x);
        }
        if (exact || lo * cpu >= 1000 || hi * cpu * 10 > 1e6)
            return cpu;
        cpu *= 10;
    }
}

xs_driver *xs_engine_open(const xs_world *w, uint64_t seed, const xs_driver_opts *o)
{
    const xs_params *p = w->p;
    engd *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    (void)seed;
    d->w = w;
    d->verbose = o->verbose;
    for (int c = 0; c < ENG_CH_COUNT; c++)
        d->wch[c] = -1;
    for (unsigned k = 0; k < p->k; k++) {
        d->ech[k] = -1;
        for (int c = 0; c < ENG_CH_COUNT; c++)
            if (strcmp(eng_channel_name(c), p->ch[k].name) == 0)
                d->ech[k] = c;
        if (d->ech[k] < 0) {
            fprintf(stderr, "xengage-sim: channel '%s' is not an engine channel; the engine's are:", p->ch[k].name);
            for (int c = 0; c < ENG_CH_COUNT; c++)
                fprintf(stderr, " %s", eng_channel_name(c));
            fprintf(stderr, " (or run it with --driver direct)\n");
            exit(2);
        }
        d->wch[d->ech[k]] = (int)k;
    }
    uint32_t n = w->n;
    d->hist = o->no_history ? 0 : p->history;
    d->origin_h = d->hist * p->wave_gap_h;
    if (d->hist) {
        d->hch = malloc((size_t)d->hist * n);
        d->hfl = calloc((size_t)d->hist * n, 1);
        d->hcount = calloc(n, 1);
        if (!d->hch || !d->hfl || !d->hcount)
            abort();
        memset(d->hch, -1, (size_t)d->hist * n);
    }
    d->pos = malloc((size_t)n * sizeof *d->pos);
    d->sent = malloc(n);
    d->wkey = calloc(ENGD_MAXW + 1, sizeof *d->wkey);
    d->wkey_len = calloc(ENGD_MAXW + 1, sizeof *d->wkey_len);
    d->swave = calloc((size_t)n * p->k, 1);
    if (!d->pos || !d->sent || !d->wkey || !d->wkey_len || !d->swave)
        abort();
    /* A simulated batch is a tenth of the expected test group, in whole engine chunks. */
    uint32_t per = (uint32_t)ceil(n * (1 - p->control) / p->batches);
    uint32_t nchunks = per > 4096 ? (per + 4095) / 4096 : 1;
    d->chunk = (per + nchunks - 1) / nchunks;
    if (d->chunk < 1)
        d->chunk = 1;
    d->per_batch = d->chunk * nchunks;
    static eng_transport_methods tm;
    tm = (eng_transport_methods){ENG_TRANSPORT_METHODS_VERSION, NULL, NULL, transport, 1, d->chunk};
    eng_config cfg = ENG_CONFIG_INIT;
    must(eng_store_memory_new(NULL, &d->store), "eng_store_memory_new");
    cfg.store = d->store;
    cfg.transport = &tm;
    cfg.transport_user = d;
    cfg.clock_fn = clock_fn;
    cfg.clock_user = d;
    d->now = EPOCH;
    must(eng_open(&cfg, &d->e), "eng_open");
    eng_org_settings s;
    eng_org_settings_init(&s, ENG_ORG_SETTINGS_VERSION);
    d->cpu = world_cpu(p);
    for (unsigned k = 0; k < p->k; k++)
        s.channel_cost[d->ech[k]] = d->ccost[d->ech[k]] = llround(p->ch[k].cost * d->cpu);
    s.conversion_goals = 1; /* each wave's campaign tracks revenue only until the next wave */
    must(eng_org_create(d->e, "sim", &s, "root", NULL), "eng_org_create");
    extern uint32_t eng__xengage_min_audience;
    eng__xengage_min_audience = 1; /* the S-size worlds are smaller than the seed's 100,000 */
    eng_actor_spec a;
    eng_actor_spec_init(&a, ENG_ACTOR_SPEC_VERSION);
    a.id = "ann", a.roles = ENG_ROLE_AUTHOR;
    must(eng_actor_put(d->e, "root", &a), "eng_actor_put");
    a.id = "bob", a.roles = ENG_ROLE_APPROVER;
    must(eng_actor_put(d->e, "root", &a), "eng_actor_put");
    must(eng_credits_adjust(d->e, "root", ENG_CREDITS_CAMPAIGN, INT64_C(1000000000000000)), "credits");
    must(eng_credits_adjust(d->e, "root", ENG_CREDITS_XENGAGE, INT64_C(1000000000000000)), "credits");
    must(eng_unsubscribe_setup(d->e, "root", "https://sim.example/u", "simulated-secret-0123456789", 27),
         "eng_unsubscribe_setup");
    /* Customers: a contact and consent on every reachable channel. */
    size_t cap = (size_t)n * (16 + p->k * 40) + 4096, len = 0;
    char *csv = malloc(cap);
    if (!csv)
        abort();
    len += (size_t)snprintf(csv + len, cap - len, "id");
    for (unsigned k = 0; k < p->k; k++)
        len += (size_t)snprintf(csv + len, cap - len, ",contact.%s,consent.%s", p->ch[k].name, p->ch[k].name);
    csv[len++] = '\n';
    for (uint32_t i = 0; i < n; i++) {
        len += (size_t)snprintf(csv + len, cap - len, "c%u", i);
        for (unsigned k = 0; k < p->k; k++) {
            if (!(w->reach[i] >> k & 1u))
                len += (size_t)snprintf(csv + len, cap - len, ",,");
            else if (d->ech[k] == ENG_CH_EMAIL)
                len += (size_t)snprintf(csv + len, cap - len, ",c%u@example.com,yes", i);
            else if (d->ech[k] == ENG_CH_SMS || d->ech[k] == ENG_CH_WHATSAPP || d->ech[k] == ENG_CH_VIBER ||
                     d->ech[k] == ENG_CH_RCS || d->ech[k] == ENG_CH_CALLTASK) /* phone channels */
                len += (size_t)snprintf(csv + len, cap - len, ",+1%010u,yes", i);
            else if (d->ech[k] == ENG_CH_FACEBOOK || d->ech[k] == ENG_CH_INSTAGRAM || d->ech[k] == ENG_CH_GOOGLE ||
                     d->ech[k] == ENG_CH_YOUTUBE) /* ad audiences match on an email */
                len += (size_t)snprintf(csv + len, cap - len, ",c%u@ads.example,yes", i);
            else
                len += (size_t)snprintf(csv + len, cap - len, ",x%u,yes", i);
            if (0)
                len += (size_t)snprintf(csv + len, cap - len, ",,");
        }
        csv[len++] = '\n';
    }
    must(eng_customers_import_csv_buffer(d->e, "root", csv, len, NULL, NULL), "eng_customers_import_csv_buffer");
    free(csv);
    d->adids = malloc((size_t)n * sizeof *d->adids);
    if (!d->adids)
        abort();
    for (uint32_t i = 0; i < n; i++) {
        char contact[48];
        snprintf(contact, sizeof contact, "c%u@ads.example", i);
        must(eng_ad_identifier_hash(ENG_CH_GOOGLE, contact, d->adids[i].h, sizeof d->adids[i].h), "ad id");
        d->adids[i].c = i;
    }
    d->nadids = n;
    qsort(d->adids, n, sizeof *d->adids, adid_cmp);
    eng_dispatch_hooks hk = ENG_DISPATCH_HOOKS_INIT;
    hk.ad_export = ad_export;
    must(eng_dispatch_hooks_set(d->e, &hk, d), "eng_dispatch_hooks_set");
    char ext[32];
    /* The driver speaks dense ids: customer i of the world is dense id i (import order). */
    must(eng_customer_external_id(d->e, "root", n - 1, ext, sizeof ext), "eng_customer_external_id");
    if (strtoul(ext + 1, NULL, 10) != n - 1) {
        fprintf(stderr, "xengage-sim: dense ids do not follow the import order\n");
        exit(1);
    }
    uint32_t g;
    must(eng_group_create_uploaded(d->e, "root", "all", &g), "eng_group_create_uploaded");
    char **ids = malloc((size_t)n * sizeof *ids);
    if (!ids)
        abort();
    for (uint32_t i = 0; i < n; i++) {
        ids[i] = malloc(16);
        snprintf(ids[i], 16, "c%u", i);
    }
    must(eng_group_upload_ids(d->e, "root", g, (const char *const *)ids, n, ENG_UPLOAD_REPLACE, NULL, NULL), "upload");
    d->nseg = o->no_segments || p->g < 2 ? 1 : p->g;
    d->segname = malloc(d->nseg * sizeof *d->segname);
    d->segp = malloc(d->nseg * sizeof *d->segp);
    if (!d->segname || !d->segp)
        abort();
    if (d->nseg == 1)
        snprintf(d->segname[0], sizeof d->segname[0], "all");
    for (unsigned sg = 0; sg < d->nseg; sg++) {
        d->segp[sg] = d->segname[sg];
        if (d->nseg == 1)
            break;
        size_t cnt = 0;
        for (uint32_t i = 0; i < n; i++)
            if (w->seg[i] == sg)
                snprintf(ids[cnt++], 16, "c%u", i);
        snprintf(d->segname[sg], sizeof d->segname[sg], "seg-%u", sg);
        must(eng_group_create_uploaded(d->e, "root", d->segname[sg], &g), "eng_group_create_uploaded");
        must(eng_group_upload_ids(d->e, "root", g, (const char *const *)ids, cnt, ENG_UPLOAD_REPLACE, NULL, NULL),
             "upload");
    }
    for (uint32_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    /* Earlier purchases: the host's sales history gives the value of a conversion. Without the world's sales
     * history (sales_history_weeks), one order of every tenth customer. */
    d->now = EPOCH + ENG_DAY;
    for (uint32_t i = 0; i < n && !p->sales_weeks; i += 10)
        push_txn_at(d, i, xs_order_value(w, i, 0, XS_U_ORDER), 0);
    flush(d);
    d->base = (xs_driver){e_decide, e_outcome, e_control, e_nop, e_nop, e_dm, NULL, e_close, "engine", 0, e_plan_keys,
                          e_wave_done, e_report_ope, e_organic, e_credits, NULL, NULL, e_order, NULL};
    return &d->base;
}
