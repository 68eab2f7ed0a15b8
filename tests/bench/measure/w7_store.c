/* W7 through the engine's own store (docs/attribution.md, "W7 figures"): the
 * bench's generated log written as the engine gets it — customers imported,
 * the control group uploaded as the org's global control, a campaign with the
 * W7 goal and its five messages approved, each message's `sent` rows written as
 * the dispatcher writes them (its keys, inside its storage batches of 65,536)
 * and the receipts appended through eng_touch_append() in batches of 65,536,
 * the transactions through eng_txn_append() — then eng_campaign_report() timed
 * (the calling thread's CPU, best of the repetitions) after eng_events_compact().
 * Sealed segments are stored as the engine does by default (kind 2, ordered by
 * the compaction), or ordered at seal (ENG_BENCH_STORE_ORDERED=1), or never
 * (=0: kind 2 throughout). ENG_BENCH_STORE_THREADS=n (2 or more) opens the engine
 * with n - 1 worker threads (eng_config.threads: its ingest uses them too) and
 * times the report again asked for n parts (eng_campaign_report_options.threads):
 * its wall, the process's CPU and the calling thread's, its answers held to the one-thread
 * report's. */
#include "w7_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_org.h"
#include "bench_util.h"
#include "events/events_impl.h" /* eng__touch_sent: the dispatcher's write of `sent` */

extern uint8_t eng__tseg_ordered, eng__tseg_order_compact;

#define BATCH 65536
#define KEYLEN 64

static eng_time clock_at;
static eng_time fixed_clock(void *u)
{
    (void)u;
    return clock_at;
}

/* milliseconds: this thread's CPU, and wall */
static double cpu_now(void) { return bench_thread_cpu_s() * 1e3; }
static double wall_now(void) { return bench_wall_s() * 1e3; }

static void check(const char *what, int rc) { bench_check("w7 store", what, rc); }

static void *xalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "w7 store: out of memory\n");
        exit(1);
    }
    return p;
}

/* Customers c0 .. c<n-1> (dense ids in that order), reachable by SMS. */
static void customers(eng_engine *e, uint32_t n)
{
    char *csv = xalloc((size_t)n * 40 + 64), *p = csv;
    p += sprintf(p, "id,contact.sms,consent.sms\n");
    for (uint32_t i = 0; i < n; i++)
        p += sprintf(p, "c%u,+1555%08u,yes\n", i, i);
    check("import", eng_customers_import_csv_buffer(e, "root", csv, (size_t)(p - csv), NULL, NULL));
    free(csv);
}

/* The uploaded group of the control customers, as the org's global control. */
static void global_control(eng_engine *e, const w7_log *d)
{
    uint32_t g;
    check("control group", eng_group_create_uploaded(e, "root", "control", &g));
    char (*ids)[16] = xalloc((d->nctl ? d->nctl : 1) * sizeof *ids);
    const char **pi = xalloc((d->nctl ? d->nctl : 1) * sizeof *pi);
    for (size_t i = 0; i < d->nctl; i++) {
        snprintf(ids[i], sizeof ids[i], "c%u", d->ctl[i]);
        pi[i] = ids[i];
    }
    check("control ids", eng_group_upload_ids(e, "root", g, pi, d->nctl, ENG_UPLOAD_REPLACE, NULL, NULL));
    free(ids);
    free(pi);
    eng_global_control gc;
    eng_global_control_init(&gc, ENG_GLOBAL_CONTROL_VERSION);
    gc.mode = ENG_GLOBAL_CONTROL_UPLOADED;
    gc.group = g;
    check("global control", eng_global_control_set(e, "root", &gc));
}

/* The campaign with the W7 goal and its messages (ids in msg[], approved in order). */
static uint64_t campaign(eng_engine *e, const w7_log *d, uint64_t *msg)
{
    eng_org_settings s;
    eng_org_settings_init(&s, ENG_ORG_SETTINGS_VERSION);
    check("settings", eng_org_settings_get(e, "root", &s));
    s.conversion_goals = 1;
    check("settings", eng_org_settings_set(e, "root", &s, NULL));
    uint32_t all;
    check("group", eng_group_create_filter(e, "root", "all", "true", &all));
    eng_goal_spec g = {ENG_GOAL_SPEC_VERSION, "transaction", d->goal->condition, d->goal->window_days,
                       d->goal->start_on, d->goal->attribution};
    eng_campaign_spec c;
    eng_campaign_spec_init(&c, ENG_CAMPAIGN_SPEC_VERSION);
    c.name = "W7";
    c.start = d->start;
    c.end = d->end;
    c.goal_mode = ENG_GOAL_CUSTOM;
    c.goal = &g;
    uint64_t cid;
    check("campaign", eng_campaign_create(e, "ann", &c, &cid, NULL));
    static const char *const groups[] = {"all"};
    static const eng_creative cr[] = {{ENG_CH_SMS, NULL, "Hi, 20% off today. {{optout}}"}};
    for (size_t m = 0; m < d->nmsg; m++) {
        eng_schedule sched = ENG_SCHEDULE_INIT;
        eng_message_spec ms;
        eng_message_spec_init(&ms, ENG_MESSAGE_SPEC_VERSION);
        ms.title = "W7";
        ms.include = groups;
        ms.n_include = 1;
        ms.creatives = cr;
        ms.n_creatives = 1;
        sched.kind = ENG_SCHEDULE_ONCE;
        sched.at = d->start + (eng_time)m * 7 * ENG_DAY;
        ms.schedule = &sched;
        check("message", eng_message_create(e, "ann", cid, &ms, &msg[m], NULL));
        check("submit", eng_message_submit(e, "ann", msg[m], NULL));
        check("approve", eng_message_approve(e, "bob", msg[m], NULL, "ok"));
    }
    return cid;
}

static void key_of(char *buf, uint64_t cid, uint64_t mid, uint32_t customer, int ch)
{
    snprintf(buf, KEYLEN, "acme/c%llu/m%llu.1000/o0/u%u/%s", (unsigned long long)cid, (unsigned long long)mid,
             customer, eng_channel_name(ch));
}

typedef struct writer {
    eng_engine *e;
    uint64_t cid, mid;
    size_t ns, nr;
    eng__sent_row *sent;
    char (*keys)[KEYLEN];
    const char **kp;
    int *st;
    eng_time *t;
} writer;

static void flush_sent(writer *w)
{
    if (!w->ns)
        return;
    eng__send_ctx ctx = {"acme", w->cid, w->mid, 1, 0};
    int rc = eng__enter(w->e);
    if (!rc && !(rc = eng__kv_begin(w->e->store))) {
        rc = eng__touch_sent(w->e, &ctx, w->sent, w->ns, NULL);
        rc = rc ? eng__events_fail(w->e, rc) : eng__kv_commit(w->e->store);
    }
    eng__leave(w->e);
    check("sent", rc);
    w->ns = 0;
}

static void flush_receipts(writer *w)
{
    if (!w->nr)
        return;
    eng_receipts r = ENG_RECEIPTS_INIT;
    r.count = w->nr;
    r.keys = w->kp;
    r.statuses = w->st;
    r.times = w->t;
    eng_event_report rep = ENG_EVENT_REPORT_INIT;
    check("receipts", eng_touch_append(w->e, &r, &rep));
    if (rep.accepted != w->nr) {
        fprintf(stderr, "w7 store: %llu of %zu receipts accepted\n", (unsigned long long)rep.accepted, w->nr);
        exit(1);
    }
    w->nr = 0;
}

/* The log in its order: a message's sends, then its receipts, wave by wave. */
static void touches(eng_engine *e, const w7_log *d, uint64_t cid, const uint64_t *msg)
{
    writer w = {e, cid, 0, 0, 0, xalloc(BATCH * sizeof(eng__sent_row)), xalloc(BATCH * KEYLEN),
                xalloc(BATCH * sizeof(char *)), xalloc(BATCH * sizeof(int)), xalloc(BATCH * sizeof(eng_time))};
    for (size_t i = 0; i < d->nt; i++) {
        uint64_t mid = msg[d->msg[i] - 1];
        if (mid != w.mid) {
            flush_sent(&w);
            flush_receipts(&w);
            w.mid = mid;
        }
        if (d->st[i] == ENG_TOUCH_SENT) {
            flush_receipts(&w);
            key_of(w.keys[w.ns], cid, mid, d->cust[i], d->ch[i]);
            w.sent[w.ns] = (eng__sent_row){w.keys[w.ns], strlen(w.keys[w.ns]), d->cust[i], d->ch[i], d->t[i]};
            if (++w.ns == BATCH)
                flush_sent(&w);
        } else {
            flush_sent(&w);
            key_of(w.keys[w.nr], cid, mid, d->cust[i], d->ch[i]);
            w.kp[w.nr] = w.keys[w.nr];
            w.st[w.nr] = d->st[i];
            w.t[w.nr] = d->t[i];
            if (++w.nr == BATCH)
                flush_receipts(&w);
        }
    }
    flush_sent(&w);
    flush_receipts(&w);
    free(w.sent), free(w.keys), free(w.kp), free(w.st), free(w.t);
}

static void transactions(eng_engine *e, const w7_log *d)
{
    char (*id)[16] = xalloc(BATCH * sizeof *id), (*cu)[16] = xalloc(BATCH * sizeof *cu);
    const char **pi = xalloc(BATCH * sizeof *pi), **pc = xalloc(BATCH * sizeof *pc), **ps = xalloc(BATCH * sizeof *ps);
    int64_t *am = xalloc(BATCH * sizeof *am);
    static char names[100][16];
    for (int s = 0; s < 100; s++)
        snprintf(names[s], sizeof names[s], "S%d", s);
    for (size_t at = 0; at < d->nx; at += BATCH) {
        size_t n = d->nx - at < BATCH ? d->nx - at : BATCH;
        for (size_t i = 0; i < n; i++) {
            snprintf(id[i], sizeof id[i], "t%zu", at + i);
            snprintf(cu[i], sizeof cu[i], "c%u", d->xcust[at + i]);
            pi[i] = id[i], pc[i] = cu[i], ps[i] = names[d->xstore[at + i] % 100];
            am[i] = d->xamt[at + i] * 100; /* cents -> 10^-4 */
        }
        eng_txn_batch b = ENG_TXN_BATCH_INIT;
        b.count = n, b.ids = pi, b.customers = pc, b.times = d->xt + at, b.amounts = am, b.stores = ps;
        check("transactions", eng_txn_append(e, "acme", &b, NULL, NULL));
    }
    free(id), free(cu), free(pi), free(pc), free(ps), free(am);
}

eng_report *w7_store(const w7_log *d, int reps, double *best_cpu, double *best_wall)
{
    const char *ord = getenv("ENG_BENCH_STORE_ORDERED");
    if (ord) /* 1: ordered at seal; 0: never (kind 2); unset: the engine's default (ordered by the compaction) */
        eng__tseg_ordered = eng__tseg_order_compact = (uint8_t)(atoi(ord) != 0);
    clock_at = d->start - 2 * ENG_DAY;
    eng_config cfg;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.clock_fn = fixed_clock;
    const int parts = getenv("ENG_BENCH_STORE_THREADS") ? atoi(getenv("ENG_BENCH_STORE_THREADS")) : 0;
    if (parts >= 2)
        cfg.threads = (unsigned)parts - 1;
    eng_engine *e;
    check("open", eng_open(&cfg, &e));
    bench_org_with_actors(e, "w7 store");
    double w0 = wall_now(), c0 = cpu_now();
    customers(e, d->nc);
    global_control(e, d);
    uint64_t msg[16];
    uint64_t cid = campaign(e, d, msg);
    double c1 = cpu_now();
    touches(e, d, cid, msg);
    double c2 = cpu_now();
    transactions(e, d);
    check("compact", eng_events_compact(e)); /* the tails sealed, as a store at rest */
    eng_info info = ENG_INFO_INIT;
    check("info", eng_info_get(e, &info));
    printf("W7 store: setup cpu %.0f ms (customers, control, campaign), touches cpu %.0f ms, transactions and "
           "compaction cpu %.0f ms, wall %.0f ms; %llu sealed segments, ordered at seal %u, by the compaction %u\n",
           c1 - c0, c2 - c1, cpu_now() - c2, wall_now() - w0, (unsigned long long)info.events_segments,
           (unsigned)eng__tseg_ordered, (unsigned)eng__tseg_order_compact);
    eng_report *best = NULL;
    *best_cpu = *best_wall = 1e30;
    for (int rep = 0; rep < reps; rep++) {
        eng_report *r = NULL;
        double t0 = wall_now(), k0 = cpu_now();
        check("report", eng_campaign_report(e, "root", cid, NULL, &r));
        double t = wall_now() - t0, k = cpu_now() - k0;
        *best_wall = t < *best_wall ? t : *best_wall;
        *best_cpu = k < *best_cpu ? k : *best_cpu;
        eng_report_free(best);
        best = r;
    }
    if (parts >= 2) {
        eng_campaign_report_options o;
        check("options", eng_campaign_report_options_init(&o, ENG_CAMPAIGN_REPORT_OPTIONS_VERSION));
        o.threads = (unsigned)parts;
        double bw = 1e30, bc = 1e30, bt = 1e30;
        char *one = NULL;
        size_t one_len = 0;
        check("export", eng_report_export(best, ENG_REPORT_JSON, &one, &one_len));
        for (int rep = 0; rep < reps; rep++) {
            eng_report *r = NULL;
            double t0 = wall_now(), k0 = bench_cpu_s() * 1e3, h0 = cpu_now();
            check("report on threads", eng_campaign_report(e, "root", cid, &o, &r));
            double t = wall_now() - t0, k = bench_cpu_s() * 1e3 - k0, h = cpu_now() - h0;
            bw = t < bw ? t : bw;
            bc = k < bc ? k : bc;
            bt = h < bt ? h : bt;
            char *many = NULL;
            size_t many_len = 0;
            check("export", eng_report_export(r, ENG_REPORT_JSON, &many, &many_len));
            if (many_len != one_len || memcmp(one, many, one_len)) {
                fprintf(stderr, "w7 store: the report on %d parts differs from one thread's\n", parts);
                exit(1);
            }
            eng_free(e, many);
            eng_report_free(r);
        }
        eng_free(e, one);
        /* The calling thread's CPU: on idle cores the wall comes near it (the threads' ranges
         * are cut to equal rows), whatever the load does to the wall here. */
        printf("W7 store: report on %d parts (%d worker threads): wall %.1f ms, process cpu %.1f ms, calling thread "
               "cpu %.1f ms (best of %d; the same JSON export as one thread's)\n",
               parts, parts - 1, bw, bc, bt, reps);
    }
    /* The report outlives the engine's last use here: the engine is closed when it is freed. */
    check("close", eng_close(e));
    return best;
}
