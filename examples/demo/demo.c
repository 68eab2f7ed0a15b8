/* The libengage demo (the README's first command): a whole campaign on the
 * embedded file store, or on the SQLite adapter with --store sqlite.
 *
 * It generates an org, 120,000 customers and two months of purchases; creates
 * a campaign with an X-Engage message (one learned channel per customer) and a
 * broadcast email to the gold tier; approves both; executes them against a
 * simulated provider that answers with receipts (delivered, opened, clicked)
 * while customers buy; ingests the rest of the campaign's purchases;
 * attributes and prints the campaign report; reopens the store to show the
 * report comes from what is stored; and writes report.html (inline SVG).
 *
 * The simulated clock starts at 2026-01-01; everything is deterministic.
 *
 * usage: engage-demo [--store file|sqlite] [--dir DIR] [--customers N]
 *        (default: file store in ./demo-data, 120000 customers; the X-Engage
 *        message needs a test group of 100,000, so N is at least 112000) */
#define _POSIX_C_SOURCE 200809L /* strdup, isatty, fileno */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "demo.h"
#ifdef DEMO_HAVE_SQLITE
#include "store_sqlite.h"
#endif

#define T0 ((eng_time)1767225600000) /* 2026-01-01 00:00 UTC */
#define MINUTE ((eng_time)60000)
#define NCH 3
static const int chans[NCH] = {ENG_CH_EMAIL, ENG_CH_SMS, ENG_CH_WHATSAPP};
/* The simulated world: chance of delivery and of an open per delivered message,
 * per channel; each customer opens their favourite channel twice as often. */
static const double p_deliver[NCH] = {0.96, 0.93, 0.90};
static const double p_open[NCH] = {0.08, 0.18, 0.30};
#define P_CLICK 0.35   /* of opens */
#define P_BUY 0.12     /* of engaged customers, within hours */
#define P_ORGANIC 0.04 /* of every customer, within ten days of the send */

typedef struct demo {
    eng_engine *e;
    eng_time now;
    uint32_t n;
    uint64_t rng, txn_seq;
    uint64_t xe_msg;
    eng_time *organic;     /* per customer: time of their organic purchase in the campaign, or 0 */
    eng_time organic_upto; /* organic purchases up to this time are ingested */
    /* what the provider got in the current batch */
    size_t ncap, capcap;
    char **key;
    uint32_t *cust, *msg;
    int *ch;
    demo_result r;
    int tty;
    const char *last_op; /* progress: the operation and quarter last printed (not a terminal) */
    unsigned last_quarter;
} demo;

static int fail(const char *what)
{
    const eng_error *e = eng_error_last();
    fprintf(stderr, "engage-demo: %s: %s (%s%s%s)\n", what, e->message, eng_errstr(e->code),
            e->detail[0] ? ", at " : "", e->detail);
    return 1;
}
#define CHECK(call, what) do { if ((call) != ENG_OK) return fail(what); } while (0)

static double rnd(demo *d) /* splitmix64 -> [0,1) */
{
    uint64_t z = (d->rng += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

static int favourite(uint32_t i) { return (int)((i * 2654435761u) >> 16) % NCH; }

static int progress(const char *op, uint64_t done, uint64_t total, void *user)
{
    demo *d = user;
    if (!total) { /* the engine's own long steps may not know their total (the CSV import counts bytes) */
        fprintf(stderr, d->tty ? "\r  [%s: %llu so far]" : "  [%s: %llu so far]\n", op, (unsigned long long)done);
        return 0;
    }
    unsigned pct = (unsigned)(100 * done / total);
    if (d->tty) {
        fprintf(stderr, "\r  [%s %3u%%]%s", op, pct, done >= total ? "\n" : "");
    } else if (op != d->last_op || pct / 25 > d->last_quarter) {
        fprintf(stderr, "  [%s %3u%%]\n", op, pct);
        d->last_op = op, d->last_quarter = pct / 25;
    }
    return 0;
}

static eng_time clock_fn(void *user) { return ((demo *)user)->now; }

/* The simulated provider: accepts every envelope and remembers it for the receipts. */
static int send_batch(const eng_envelope *env, size_t n, int *status, void *user)
{
    demo *d = user;
    if (d->ncap + n > d->capcap) {
        size_t cap = (d->ncap + n) * 2;
        char **k = realloc(d->key, cap * sizeof *k);
        if (k)
            d->key = k;
        uint32_t *c = realloc(d->cust, cap * sizeof *c), *m = c ? realloc(d->msg, cap * sizeof *m) : NULL;
        if (c)
            d->cust = c;
        if (m)
            d->msg = m;
        int *h = m ? realloc(d->ch, cap * sizeof *h) : NULL;
        if (!k || !c || !m || !h)
            return ENG_ENOMEM; /* every envelope counts as unknown and is retried with its key */
        d->ch = h;
        d->capcap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(d->key[d->ncap] = strdup(env[i].idempotency_key)))
            return ENG_ENOMEM;
        d->cust[d->ncap] = env[i].customer;
        d->msg[d->ncap] = (uint32_t)env[i].message;
        d->ch[d->ncap++] = env[i].channel;
        status[i] = ENG_SEND_ACCEPTED;
    }
    return ENG_OK;
}

static void ext_id(uint32_t i, char *buf, size_t n) { snprintf(buf, n, "C%06u", i); }

/* Append transactions: customers (dense ids), times and amounts in currency units. */
static int buy(demo *d, const uint32_t *who, const eng_time *when, const double *amount, size_t n)
{
    if (!n)
        return 0;
    char (*id)[24] = malloc(n * sizeof *id), (*cu)[16] = malloc(n * sizeof *cu);
    const char **pi = malloc(n * sizeof *pi), **pc = malloc(n * sizeof *pc);
    int64_t *am = malloc(n * sizeof *am);
    int rc = ENG_ENOMEM;
    if (id && cu && pi && pc && am) {
        for (size_t i = 0; i < n; i++) {
            snprintf(id[i], sizeof id[i], "T%08llu", (unsigned long long)++d->txn_seq);
            ext_id(who[i], cu[i], sizeof cu[i]);
            pi[i] = id[i], pc[i] = cu[i], am[i] = (int64_t)(amount[i] * 100) * 100;
        }
        eng_txn_batch b = ENG_TXN_BATCH_INIT;
        b.count = n, b.ids = pi, b.customers = pc, b.times = when, b.amounts = am;
        rc = eng_txn_append(d->e, "acme", &b, NULL, NULL);
    }
    free(id), free(cu), free(pi), free(pc), free(am);
    return rc ? fail("transactions") : 0;
}

static double basket(demo *d) { return 400 + (double)(int)(rnd(d) * 2600); }

/* Two months of purchases before the campaign: about one per customer. */
static int history(demo *d)
{
    const size_t chunk = 20000;
    uint32_t *who = malloc(chunk * sizeof *who);
    eng_time *when = malloc(chunk * sizeof *when);
    double *amt = malloc(chunk * sizeof *amt);
    int rc = !who || !when || !amt;
    size_t k = 0;
    for (uint32_t i = 0; i < d->n && !rc; i++) {
        unsigned times = (unsigned)(rnd(d) * 2.2);
        for (unsigned t = 0; t < times && !rc; t++) {
            who[k] = i, when[k] = T0 - (eng_time)(rnd(d) * 60 * ENG_DAY), amt[k++] = basket(d);
            if (k == chunk) {
                rc = buy(d, who, when, amt, k);
                d->r.history_txns += k, k = 0;
                progress("history", i, d->n, d);
            }
        }
    }
    if (!rc)
        rc = buy(d, who, when, amt, k);
    d->r.history_txns += k;
    progress("history", d->n, d->n, d);
    free(who), free(when), free(amt);
    return rc;
}

/* Organic purchases (of test and control alike) up to now. */
static int organic_upto(demo *d, eng_time upto)
{
    size_t k = 0;
    uint32_t *who = malloc(d->n * sizeof *who);
    eng_time *when = malloc(d->n * sizeof *when);
    double *amt = malloc(d->n * sizeof *amt);
    int rc = !who || !when || !amt;
    for (uint32_t i = 0; i < d->n && !rc; i++)
        if (d->organic[i] > d->organic_upto && d->organic[i] <= upto)
            who[k] = i, when[k] = d->organic[i], amt[k++] = basket(d);
    if (!rc)
        rc = buy(d, who, when, amt, k);
    d->r.campaign_txns += k;
    d->organic_upto = upto;
    free(who), free(when), free(amt);
    return rc;
}

static int chan_index(int ch)
{
    for (int k = 0; k < NCH; k++)
        if (chans[k] == ch)
            return k;
    return 0;
}

/* The provider's receipts for what it was given, and the purchases of engaged customers. */
static int answer(demo *d)
{
    size_t cap = d->ncap * 3 + 1;
    const char **keys = malloc(cap * sizeof *keys);
    int *st = malloc(cap * sizeof *st);
    eng_time *t = malloc(cap * sizeof *t);
    uint32_t *who = malloc((d->ncap + 1) * sizeof *who);
    eng_time *when = malloc((d->ncap + 1) * sizeof *when);
    double *amt = malloc((d->ncap + 1) * sizeof *amt);
    int rc = !keys || !st || !t || !who || !when || !amt;
    size_t nr = 0, nb = 0;
    demo_batch *b = d->r.nbatches < DEMO_MAX_BATCHES ? &d->r.batch[d->r.nbatches] : NULL;
    int counted = 0;
    for (size_t i = 0; i < d->ncap && !rc; i++) {
        int k = chan_index(d->ch[i]);
        eng_time at = d->now + (eng_time)(1 + rnd(d) * 5) * MINUTE;
        int delivered = rnd(d) < p_deliver[k];
        keys[nr] = d->key[i], st[nr] = delivered ? ENG_TOUCH_DELIVERED : ENG_TOUCH_FAILED, t[nr++] = at;
        double po = p_open[k] * (favourite(d->cust[i]) == k ? 2 : 1);
        int opened = delivered && rnd(d) < po;
        if (opened) {
            at += (eng_time)(1 + rnd(d) * 60) * MINUTE;
            keys[nr] = d->key[i], st[nr] = ENG_TOUCH_OPENED, t[nr++] = at;
            if (rnd(d) < P_CLICK)
                keys[nr] = d->key[i], st[nr] = ENG_TOUCH_CLICKED, t[nr++] = at + MINUTE;
            if (rnd(d) < P_BUY)
                who[nb] = d->cust[i], when[nb] = at + 30 * MINUTE, amt[nb++] = basket(d);
        }
        if (b && d->msg[i] == d->xe_msg) {
            b->sent[d->ch[i]]++;
            b->opened[d->ch[i]] += (uint64_t)opened;
            counted = 1;
        }
    }
    if (!rc && nr) {
        eng_receipts r = ENG_RECEIPTS_INIT;
        r.count = nr, r.keys = keys, r.statuses = st, r.times = t;
        if (eng_touch_append(d->e, &r, NULL))
            rc = fail("receipts");
    }
    if (!rc)
        rc = buy(d, who, when, amt, nb);
    d->r.campaign_txns += nb;
    if (counted)
        d->r.nbatches++;
    for (size_t i = 0; i < d->ncap; i++)
        free(d->key[i]);
    d->ncap = 0;
    free(keys), free(st), free(t), free(who), free(when), free(amt);
    return rc;
}

static int setup(demo *d)
{
    printf("\n1. Org, people, %u customers and two months of purchases\n", d->n);
    eng_org_settings s = ENG_ORG_SETTINGS_INIT;
    s.xengage = ENG_XENGAGE_UNLOCKED;
    s.channel_cost[ENG_CH_EMAIL] = 1, s.channel_cost[ENG_CH_SMS] = 3, s.channel_cost[ENG_CH_WHATSAPP] = 2;
    CHECK(eng_org_create(d->e, "acme", &s, "admin", NULL), "org");
    eng_actor_spec a = ENG_ACTOR_SPEC_INIT;
    a.id = "asha", a.roles = ENG_ROLE_AUTHOR;
    CHECK(eng_actor_put(d->e, "admin", &a), "author");
    a.id = "ravi", a.roles = ENG_ROLE_APPROVER;
    CHECK(eng_actor_put(d->e, "admin", &a), "approver");
    CHECK(eng_credits_adjust(d->e, "admin", ENG_CREDITS_CAMPAIGN, 10000000), "credits");
    CHECK(eng_credits_adjust(d->e, "admin", ENG_CREDITS_XENGAGE, 10000000), "credits");
    CHECK(eng_unsubscribe_setup(d->e, "admin", "https://shop.example/unsubscribe", "demo-secret-0123456789", 22),
          "unsubscribe");
    CHECK(eng_customers_add_column(d->e, "admin", "first_name", ENG_COL_STRING), "column");
    CHECK(eng_customers_add_column(d->e, "admin", "tier", ENG_COL_STRING), "column");
    static const char *const names[] = {"Asha", "Ravi", "Meera", "Arjun", "Priya", "Kabir", "Isha", "Dev"};
    static const char *const tiers[] = {"gold", "silver", "bronze"};
    size_t cap = (size_t)d->n * 112 + 256, len = 0;
    char *csv = malloc(cap);
    if (!csv)
        return 1;
    len += (size_t)snprintf(csv, cap, "id,first_name,tier,contact.email,consent.email,contact.sms,consent.sms,"
                                      "contact.whatsapp,consent.whatsapp\n");
    for (uint32_t i = 0; i < d->n; i++) {
        char sms[24] = "", wa[24] = ""; /* every tenth customer has no phone, two in five no WhatsApp */
        if (i % 10)
            snprintf(sms, sizeof sms, "+91%010u,yes", i);
        else
            strcpy(sms, ",");
        if (i % 5 < 3)
            snprintf(wa, sizeof wa, "+91%010u,yes", i);
        else
            strcpy(wa, ",");
        len += (size_t)snprintf(csv + len, cap - len, "C%06u,%s,%s,c%u@example.in,yes,%s,%s\n", i, names[i % 8],
                                tiers[i % 3], i, sms, wa);
    }
    eng_import_report rep = ENG_IMPORT_REPORT_INIT;
    int rc = eng_customers_import_csv_buffer(d->e, "admin", csv, len, NULL, &rep);
    free(csv);
    CHECK(rc, "import");
    d->r.customers = rep.inserted;
    printf("  imported %llu customers (%llu bytes of CSV)\n", (unsigned long long)rep.inserted,
           (unsigned long long)rep.bytes);
    if (history(d))
        return 1;
    printf("  %llu purchases over the last 60 days\n", (unsigned long long)d->r.history_txns);
    uint32_t all, gold;
    CHECK(eng_group_create_filter(d->e, "admin", "everyone", "tier != ''", &all), "group");
    CHECK(eng_group_create_filter(d->e, "admin", "gold", "tier == 'gold'", &gold), "group");
    return 0;
}

static int submit(demo *d, uint64_t mid)
{
    eng_validation *v = NULL;
    int rc = eng_message_submit(d->e, "asha", mid, &v);
    for (size_t i = 0; i < eng_validation_count(v); i++) {
        const char *path, *msg;
        eng_validation_item(v, i, NULL, &path, &msg);
        printf("  %-32s %s\n", path, msg);
    }
    eng_validation_free(v);
    return rc ? fail("send for approval") : 0;
}

static int approve(demo *d, uint64_t mid)
{
    eng_message *h;
    CHECK(eng_message_get(d->e, "ravi", mid, &h), "message");
    eng_message_status st = ENG_MESSAGE_STATUS_INIT;
    int rc = eng_message_status_get(h, &st);
    if (rc == ENG_OK) /* the approval names the content the approver reviewed */
        rc = eng_message_approve(d->e, "ravi", mid, st.content_hash, "Looks good");
    eng_message_free(h);
    CHECK(rc, "approve");
    eng_audience *a;
    CHECK(eng_message_audience(d->e, "ravi", mid, &a), "frozen audience");
    uint64_t test = 0, ctl = 0;
    eng_audience_count(a, ENG_PART_TEST, &test);
    eng_audience_count(a, ENG_PART_CONTROL, &ctl);
    eng_audience_free(a);
    printf("  approved message %llu: audience frozen, %llu to contact, %llu held out as control\n",
           (unsigned long long)mid, (unsigned long long)test, (unsigned long long)ctl);
    return 0;
}

/* A campaign with an X-Engage message to everyone and a broadcast email to the gold tier. */
static int campaign(demo *d, uint64_t *cid, uint64_t *xe, uint64_t *bc)
{
    eng_schedule sched = ENG_SCHEDULE_INIT;
    eng_schedule b_sched = ENG_SCHEDULE_INIT;
    printf("\n2. Campaign \"New year sale\": an X-Engage message and a broadcast message\n");
    eng_campaign_spec c = ENG_CAMPAIGN_SPEC_INIT;
    c.name = "New year sale";
    c.start = T0 + ENG_DAY;
    c.end = T0 + 30 * ENG_DAY;
    c.objective = ENG_OBJ_BOOST_SALES;
    c.control_percent = 10;
    CHECK(eng_campaign_create(d->e, "asha", &c, cid, NULL), "campaign");
    static const char *const everyone[] = {"everyone"}, *const gold[] = {"gold"};
    static const int prio[] = {ENG_CH_EMAIL, ENG_CH_SMS, ENG_CH_WHATSAPP};
    eng_creative cr[] = {{ENG_CH_EMAIL, "20% off this week", "<p>Dear {{first_name}}, 20% off all week.</p>{{unsubscribe}}"},
                         {ENG_CH_SMS, NULL, "Hi {{first_name}}, 20% off all week! {{optout}}"},
                         {ENG_CH_WHATSAPP, NULL, "Hi {{first_name}}, 20% off all week!"}};
    eng_message_spec m = ENG_MESSAGE_SPEC_INIT;
    m.title = "Launch (X-Engage)";
    m.strategy = ENG_STRATEGY_XENGAGE;
    m.include = everyone, m.n_include = 1;
    m.creatives = cr, m.n_creatives = 3;
    m.channel_priority = prio, m.n_channel_priority = 3;
    sched.kind = ENG_SCHEDULE_ONCE;
    sched.at = T0 + 3 * ENG_DAY;
    m.schedule = &sched;
    CHECK(eng_message_create(d->e, "asha", *cid, &m, xe, NULL), "X-Engage message");
    eng_message_spec b = ENG_MESSAGE_SPEC_INIT;
    b.title = "Gold preview (broadcast)";
    b.include = gold, b.n_include = 1;
    b.creatives = cr, b.n_creatives = 1;
    b_sched.kind = ENG_SCHEDULE_ONCE;
    b_sched.at = T0 + 5 * ENG_DAY;
    b.schedule = &b_sched;
    CHECK(eng_message_create(d->e, "asha", *cid, &b, bc, NULL), "broadcast message");
    if (submit(d, *xe) || submit(d, *bc))
        return 1;
    printf("  sent for approval by asha\n");
    if (approve(d, *xe) || approve(d, *bc))
        return 1;
    d->xe_msg = *xe;
    return 0;
}

/* Run one message batch by batch, two hours apart, answering each batch with receipts. */
static int execute(demo *d, uint64_t mid, eng_time at, const char *what)
{
    d->now = at;
    for (unsigned round = 0; round < 400; round++) {
        if (organic_upto(d, d->now))
            return 1;
        eng_run_options o = ENG_RUN_OPTIONS_INIT;
        o.message = mid;
        o.max_batches = 1;
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        CHECK(eng_run_due(d->e, "admin", d->now, &o, &rep), "execute");
        if (answer(d))
            return 1;
        eng_execution_info x = ENG_EXECUTION_INFO_INIT;
        CHECK(eng_execution_get(d->e, "admin", mid, 0, &x), "execution");
        progress(what, x.planned, x.audience ? x.audience : 1, d);
        if (x.state == ENG_EXEC_FINISHED || x.state == ENG_EXEC_REFUSED) {
            if (x.state == ENG_EXEC_REFUSED) {
                fprintf(stderr, "engage-demo: execution refused: %s\n", x.reason);
                return 1;
            }
            printf("  %s: %llu customers, %llu sends accepted, %llu credits\n", what,
                   (unsigned long long)x.audience, (unsigned long long)x.accepted, (long long)x.credits);
            return 0;
        }
        d->now += 2 * ENG_HOUR;
    }
    fprintf(stderr, "engage-demo: %s did not finish\n", what);
    return 1;
}

static void money(char *buf, size_t n, int64_t minor) /* 2 places */
{
    snprintf(buf, n, "%s%lld.%02lld", minor < 0 ? "-" : "", (long long)llabs(minor) / 100, (long long)llabs(minor) % 100);
}

static void print_figures(const char *scope, const eng_report_figures *f)
{
    char sales[32];
    money(sales, sizeof sales, f->responder_sales);
    printf("  %-28s %8llu %8llu %8llu %8llu %8llu %9llu %7.2f%% %14s\n", scope, (unsigned long long)f->contacted,
           (unsigned long long)f->sent, (unsigned long long)f->delivered, (unsigned long long)f->opened,
           (unsigned long long)f->clicked, (unsigned long long)f->responders, f->hit_rate, sales);
}

static int report(demo *d, uint64_t cid, int quiet)
{
    eng_campaign_report_options o = ENG_CAMPAIGN_REPORT_OPTIONS_INIT;
    eng_report *r;
    CHECK(eng_campaign_report(d->e, "admin", cid, &o, &r), "campaign report");
    demo_result *x = &d->r;
    x->total.version = ENG_REPORT_FIGURES_VERSION;
    int rc = eng_report_total(r, &x->total);
    for (int k = 0; k < NCH && !rc; k++) {
        eng_report_figures *f = &x->channel[chans[k]];
        f->version = ENG_REPORT_FIGURES_VERSION;
        rc = eng_report_channel(r, chans[k], f);
        x->has_channel[chans[k]] = f->sent > 0;
    }
    x->nmsg = eng_report_message_count(r);
    if (x->nmsg > DEMO_MAX_MESSAGES)
        x->nmsg = DEMO_MAX_MESSAGES;
    for (size_t i = 0; i < x->nmsg && !rc; i++) {
        x->msg[i].version = ENG_REPORT_FIGURES_VERSION;
        rc = eng_report_message(r, i, &x->msg_id[i], &x->msg[i]);
        x->msg_title[i] = x->msg_id[i] == d->xe_msg ? "Launch (X-Engage)" : "Gold preview (broadcast)";
    }
    for (int p = 0; p < 4 && !rc; p++) {
        x->ope[p].version = ENG_OPE_ESTIMATE_VERSION;
        rc = eng_report_ope(r, p, &x->ope[p]);
    }
    eng_report_free(r);
    CHECK(rc, "report figures");
    if (quiet)
        return 0;
    printf("  %-28s %8s %8s %8s %8s %8s %9s %8s %14s\n", "", "contacted", "sent", "delivered", "opened", "clicked",
           "responders", "hit rate", "sales (INR)");
    print_figures("campaign", &x->total);
    for (int k = 0; k < NCH; k++)
        if (x->has_channel[chans[k]]) {
            char scope[40];
            snprintf(scope, sizeof scope, "  channel %s", eng_channel_name(chans[k]));
            print_figures(scope, &x->channel[chans[k]]);
        }
    for (size_t i = 0; i < x->nmsg; i++) {
        char scope[64];
        snprintf(scope, sizeof scope, "  %s", x->msg_title[i]);
        print_figures(scope, &x->msg[i]);
    }
    const eng_report_figures *t = &x->total;
    printf("  control group: %llu customers, %llu responders, hit rate %.2f%%\n",
           (unsigned long long)t->control_contacted, (unsigned long long)t->control_responders, t->control_hit_rate);
    if (t->lift_known)
        printf("  lift: %+.2f points (95%% interval %+.2f to %+.2f, p = %.2g)\n", t->lift, t->lift_ci_low,
               t->lift_ci_high, t->p_value);
    if (t->incremental_known) {
        char inc[32];
        money(inc, sizeof inc, t->incremental_sales);
        printf("  incremental sales: INR %s; credits spent: %lld\n", inc, (long long)t->credits_spent);
    }
    static const char *const pol[] = {"X-Engage (as run)", "channel priority", "send on all", "greedy"};
    for (int p = 0; p < 4; p++)
        if (x->ope[p].known)
            printf("  off-policy estimate, %-18s %8.2f net credits per customer (95%% interval %.2f to %.2f)\n",
                   pol[p], x->ope[p].dr, x->ope[p].dr_low, x->ope[p].dr_high);
    return 0;
}

typedef struct opts {
    const char *store, *dir;
    uint32_t customers;
} opts;

static int open_engine(demo *d, const opts *o, const char *path, int create)
{
    eng_config cfg = ENG_CONFIG_INIT;
    static eng_transport_methods tm = {ENG_TRANSPORT_METHODS_VERSION, NULL, NULL, send_batch, 1, 4096};
    if (strcmp(o->store, "sqlite") == 0) {
#ifdef DEMO_HAVE_SQLITE
        CHECK(store_sqlite_open(path, NULL, create ? STORE_SQLITE_CREATE | STORE_SQLITE_NOSYNC : 0, NULL, &cfg.store),
              "opening the SQLite store");
#else
        fprintf(stderr, "engage-demo: built without SQLite (install libsqlite3-dev and rebuild)\n");
        return 1;
#endif
    } else {
        CHECK(eng_store_file_open(path, create ? ENG_STORE_CREATE : 0, NULL, &cfg.store), "opening the file store");
    }
    cfg.transport = &tm, cfg.transport_user = d;
    cfg.clock_fn = clock_fn, cfg.clock_user = d;
    cfg.progress_fn = progress, cfg.progress_user = d;
    CHECK(eng_open(&cfg, &d->e), "opening the engine"); /* the engine owns the store now */
    return 0;
}

static int parse(int argc, char **argv, opts *o)
{
    o->store = "file", o->dir = "demo-data", o->customers = 120000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
            o->store = argv[++i];
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            o->dir = argv[++i];
        else if (strcmp(argv[i], "--customers") == 0 && i + 1 < argc)
            o->customers = (uint32_t)strtoul(argv[++i], NULL, 10);
        else
            return -1;
    }
    return strcmp(o->store, "file") && strcmp(o->store, "sqlite") ? -1 : 0;
}

int main(int argc, char **argv)
{
    opts o;
    if (parse(argc, argv, &o)) {
        fprintf(stderr, "usage: engage-demo [--store file|sqlite] [--dir DIR] [--customers N]\n");
        return 2;
    }
    char path[4096], html[4096];
    int sqlite = strcmp(o.store, "sqlite") == 0;
    snprintf(path, sizeof path, "%s/%s", o.dir, sqlite ? "engage.sqlite" : "engage.db");
    snprintf(html, sizeof html, "%s/report.html", o.dir);
    if (mkdir(o.dir, 0777) && errno != EEXIST) {
        perror(o.dir);
        return 1;
    }
    /* The demo starts from nothing every time. */
    char extra[4200];
    remove(path);
    snprintf(extra, sizeof extra, "%s-wal", path), remove(extra);
    snprintf(extra, sizeof extra, "%s-shm", path), remove(extra);
    static demo d;
    d.now = T0, d.n = o.customers, d.rng = 2026, d.tty = isatty(fileno(stderr));
    d.r.store_kind = sqlite ? "SQLite adapter (examples/store-sqlite)" : "embedded file store";
    d.organic = calloc(d.n ? d.n : 1, sizeof *d.organic);
    if (!d.organic)
        return 1;
    printf("libengage %s: the campaign demo on the %s, %s\n", eng_version_string(), d.r.store_kind, path);
    if (open_engine(&d, &o, path, 1) || setup(&d))
        return 1;
    uint64_t cid, xe, bc;
    if (campaign(&d, &cid, &xe, &bc))
        return 1;
    /* Who buys during the campaign anyway (test and control alike). */
    for (uint32_t i = 0; i < d.n; i++)
        if (rnd(&d) < P_ORGANIC)
            d.organic[i] = T0 + 3 * ENG_DAY + (eng_time)(rnd(&d) * 10 * ENG_DAY);
    d.organic_upto = T0;
    printf("\n3. Execution against a simulated provider (receipts after every batch)\n");
    if (execute(&d, xe, T0 + 3 * ENG_DAY, "X-Engage message") || execute(&d, bc, T0 + 5 * ENG_DAY, "broadcast message"))
        return 1;
    printf("  X-Engage learned over %zu batches; channel mix of its sends, first batch -> last batch:\n",
           d.r.nbatches);
    for (int k = 0; k < NCH && d.r.nbatches; k++) {
        const demo_batch *f = &d.r.batch[0], *l = &d.r.batch[d.r.nbatches - 1];
        uint64_t tf = 0, tl = 0;
        for (int j = 0; j < NCH; j++)
            tf += f->sent[chans[j]], tl += l->sent[chans[j]];
        printf("    %-9s %5.1f%% -> %5.1f%%\n", eng_channel_name(chans[k]),
               tf ? 100.0 * (double)f->sent[chans[k]] / (double)tf : 0, tl ? 100.0 * (double)l->sent[chans[k]] / (double)tl : 0);
    }
    printf("\n4. The rest of the campaign's purchases\n");
    d.now = T0 + 20 * ENG_DAY;
    if (organic_upto(&d, d.now))
        return 1;
    printf("  %llu purchases during the campaign ingested\n", (unsigned long long)d.r.campaign_txns);
    printf("\n5. Campaign report (attribution: responders bought between first touch and campaign end)\n");
    if (report(&d, cid, 0))
        return 1;
    uint64_t bad = 0;
    CHECK(eng_audit_verify(d.e, "admin", &bad), "audit");
    printf("  audit chain: verified\n");
    eng_report_figures before = d.r.total;
    CHECK(eng_close(d.e), "close");
    d.e = NULL;
    printf("\n6. Reopen the store: the report is rebuilt from what is stored\n");
    if (open_engine(&d, &o, path, 0) || report(&d, cid, 1))
        return 1;
    int same = before.contacted == d.r.total.contacted && before.responders == d.r.total.responders &&
               before.responder_sales == d.r.total.responder_sales &&
               before.control_responders == d.r.total.control_responders;
    printf("  reopened: %s\n", same ? "the same report" : "A DIFFERENT REPORT");
    CHECK(eng_close(d.e), "close");
    if (demo_write_html(html, &d.r)) {
        perror(html);
        return 1;
    }
    printf("\nHTML report: %s (self-contained; open it in a browser)\n", html);
    free(d.organic), free(d.key), free(d.cust), free(d.msg), free(d.ch);
    return same ? 0 : 1;
}
