/* Shared set-up for the dispatch tests.
 *
 * A provider that de-duplicates by idempotency key (as Stripe-style providers
 * do) and keeps its own log: calls per (customer, channel), deliveries (first
 * acceptance of a key), the key each pair was sent with (it must never change),
 * and programmable faults (reject, retry, unknown, transport error, unanswered
 * batch) per (customer, channel). `final_before` marks pairs whose outcome was
 * stored as final before the current engine was opened: sending one of them is
 * a violation, counted in `after_final`.
 *
 * The world: org "acme" (root admin, ann author, bob approver), N customers
 * c0..c{N-1} with first_name (empty for every 7th), an SMS contact, and an email
 * contact for all but every 5th, both consented; group "all"; a campaign with
 * 10 % control and one message (SMS + email creatives) due at T0. */
#ifndef DISPATCH_FIXTURE_H
#define DISPATCH_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engage.h"
#include "test_alloc.h"
#include "test_feed.h"
#include "test_store.h"
#include "test_util.h"

#define DX_CH 16

enum dx_fault { DX_OK = 0, DX_REJECT, DX_RETRY, DX_UNKNOWN, DX_ERROR, DX_UNANSWERED };

typedef struct dx_provider {
    size_t n;               /* customers */
    unsigned *calls;        /* per pair */
    unsigned *delivered;    /* per pair: first acceptances of its key (must end at 1 or 0) */
    char **key;             /* per pair: the key first seen */
    char **body, **subject; /* per pair: the last rendering sent */
    uint32_t *segments;     /* per pair: billing units of the last send */
    unsigned char *final_before;
    unsigned char *fault;   /* per pair: enum dx_fault */
    unsigned *fault_times;  /* per pair: how many calls the fault lasts (0: for ever) */
    unsigned after_final, key_changed, batches, max_batch, envelopes;
    char last_body[512], last_subject[256];
    int last_channel;
    uint32_t last_segments;
} dx_provider;

static inline size_t dx_pair(uint32_t customer, int ch) { return (size_t)customer * DX_CH + (size_t)ch; }

static inline void dx_provider_init(dx_provider *p, size_t n)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    p->calls = calloc(n * DX_CH, sizeof *p->calls);
    p->delivered = calloc(n * DX_CH, sizeof *p->delivered);
    p->key = calloc(n * DX_CH, sizeof *p->key);
    p->body = calloc(n * DX_CH, sizeof *p->body);
    p->subject = calloc(n * DX_CH, sizeof *p->subject);
    p->segments = calloc(n * DX_CH, sizeof *p->segments);
    p->final_before = calloc(n * DX_CH, 1);
    p->fault = calloc(n * DX_CH, 1);
    p->fault_times = calloc(n * DX_CH, sizeof *p->fault_times);
}

static inline void dx_provider_free(dx_provider *p)
{
    for (size_t i = 0; i < p->n * DX_CH; i++) {
        free(p->key[i]);
        free(p->body[i]);
        free(p->subject[i]);
    }
    free(p->body);
    free(p->subject);
    free(p->segments);
    free(p->calls);
    free(p->delivered);
    free(p->key);
    free(p->final_before);
    free(p->fault);
    free(p->fault_times);
}

/* One envelope; returns the status, or -1 for "no answer". */
static inline int dx_one(dx_provider *p, const eng_envelope *env, int *broken)
{
    size_t i = dx_pair(env->customer, env->channel);
    assert_true(env->customer < p->n);
    p->calls[i]++;
    p->envelopes++;
    if (p->final_before[i])
        p->after_final++;
    if (!p->key[i])
        p->key[i] = strdup(env->idempotency_key);
    else if (strcmp(p->key[i], env->idempotency_key) != 0)
        p->key_changed++;
    snprintf(p->last_body, sizeof p->last_body, "%.*s", (int)env->body_len, env->body);
    free(p->body[i]);
    free(p->subject[i]);
    p->body[i] = strndup(env->body, env->body_len);
    p->subject[i] = strdup(env->subject);
    p->segments[i] = env->segments;
    snprintf(p->last_subject, sizeof p->last_subject, "%s", env->subject);
    p->last_channel = env->channel;
    p->last_segments = env->segments;
    int f = p->fault[i];
    if (f && p->fault_times[i] && p->calls[i] > p->fault_times[i])
        f = DX_OK;
    switch (f) {
    case DX_REJECT: return ENG_SEND_REJECTED;
    case DX_RETRY: return ENG_SEND_RETRY;
    case DX_UNKNOWN:
        p->delivered[i] += p->delivered[i] == 0; /* it did arrive; the answer was lost */
        return ENG_SEND_UNKNOWN;
    case DX_ERROR: *broken = 1; return -1;
    case DX_UNANSWERED: return -1;
    default:
        p->delivered[i] += p->delivered[i] == 0; /* de-duplicated by key */
        return ENG_SEND_ACCEPTED;
    }
}

static inline int dx_send(const eng_envelope *env, int *status, void *user)
{
    int broken = 0;
    int st = dx_one(user, env, &broken);
    if (broken)
        return ENG_ETRANSPORT;
    if (st >= 0)
        *status = st;
    return ENG_OK;
}

static inline int dx_send_batch(const eng_envelope *env, size_t n, int *status, void *user)
{
    dx_provider *p = user;
    int broken = 0;
    p->batches++;
    if (n > p->max_batch)
        p->max_batch = (unsigned)n;
    for (size_t i = 0; i < n; i++) {
        int st = dx_one(p, &env[i], &broken);
        if (st >= 0)
            status[i] = st;
    }
    return broken ? ENG_ETRANSPORT : ENG_OK;
}

/* Set by a test that wants an org without unsubscribe links. */
static int dx_no_unsubscribe_setup;
/* Set by a test that wants the world on the built-in file store at this path (else the test store). */
static const char *dx_file_path;
/* Set by a test that wants the world on a store of its own (a database several
 * engines share): opens a new handle on it each time an engine is opened. */
static int (*dx_store_open)(eng_store **out);

typedef struct dx {
    test_store *ts;   /* NULL on the file store */
    const char *path; /* the file store's file, or NULL */
    eng_engine *e;
    dx_provider prov;
    eng_transport_methods tm;
    size_t n;
    uint64_t campaign, message;
    eng_time t0; /* the message's send time */
    uint64_t history_message; /* dx_xengage: the earlier blast ... */
    eng_time history_t0;      /* ... and its send time */
} dx;

static inline eng_time dx_clock(void *u)
{
    (void)u;
    return test_clock_now;
}

/* Set by a test that wants the engine's log lines. */
static eng_log_fn dx_log_fn;
static void *dx_log_user;
static int dx_log_level = ENG_LOG_WARN;
/* Set by a test that wants progress reports. */
static eng_progress_fn dx_progress_fn;
static void *dx_progress_user;
/* eng_config.threads of the engines opened after it is set (1: the library's default). */
static unsigned dx_threads = 1;
/* eng_config.events_segments of the engines opened after it is set (0: the library's default). */
static unsigned dx_events_segments;

/* An engine with f's transport and clock on @p store (NULL: f's file, dx_store_open's or test store). */
static inline eng_engine *dx_engine_on(dx *f, eng_store *store)
{
    eng_config cfg;
    assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
    cfg.log_fn = dx_log_fn;
    cfg.log_user = dx_log_user;
    cfg.log_level = dx_log_level;
    cfg.progress_fn = dx_progress_fn;
    cfg.progress_user = dx_progress_user;
    cfg.threads = dx_threads;
    if (dx_events_segments)
        cfg.events_segments = dx_events_segments;
    cfg.allocator = test_alloc_get();
    eng_store *fs = NULL;
    if (!store && f->path)
        assert_int_equal(eng_store_file_open(f->path, ENG_STORE_CREATE | ENG_STORE_NOSYNC, test_alloc_get(), &fs), ENG_OK);
    else if (!store && dx_store_open)
        assert_int_equal(dx_store_open(&fs), ENG_OK);
    cfg.store = store ? store : fs ? fs : test_store_handle(f->ts);
    cfg.transport = &f->tm;
    cfg.transport_user = &f->prov;
    cfg.clock_fn = dx_clock;
    eng_engine *e = NULL;
    int rc = eng_open(&cfg, &e);
    if (rc)
        fprintf(stderr, "eng_open: %s\n", eng_error_last()->message);
    assert_int_equal(rc, ENG_OK);
    return e;
}

static inline eng_engine *dx_engine(dx *f)
{
    return dx_engine_on(f, NULL);
}

static const eng_creative dx_creatives[] = {
    {ENG_CH_SMS, NULL, "Hi {{first_name | \"there\"}}, 20% off. {{optout}}"},
    {ENG_CH_EMAIL, "Offer for {{first_name | \"you\"}}", "<p>Hello {{first_name}}</p>{{unsubscribe}}"},
};

static inline eng_message_spec dx_message(void)
{
    static eng_schedule sched; /* the spec returned points here: each call starts it afresh */
    sched = (eng_schedule)ENG_SCHEDULE_INIT;
    static const char *const groups[] = {"all"};
    eng_message_spec m;
    assert_int_equal(eng_message_spec_init(&m, ENG_MESSAGE_SPEC_VERSION), ENG_OK);
    m.title = "Blast";
    m.include = groups;
    m.n_include = 1;
    m.creatives = dx_creatives;
    m.n_creatives = 2;
    sched.kind = ENG_SCHEDULE_ONCE;
    sched.at = test_clock_now + 3 * ENG_DAY;
    m.schedule = &sched;
    return m;
}

/* dx_world's campaign: "Diwali", from a day after the clock's start for 59 days, no goal. */
static inline eng_campaign_spec dx_campaign_spec(void)
{
    eng_campaign_spec c;
    assert_int_equal(eng_campaign_spec_init(&c, ENG_CAMPAIGN_SPEC_VERSION), ENG_OK);
    c.name = "Diwali";
    c.start = 1767225600000 + ENG_DAY;
    c.end = 1767225600000 + 60 * ENG_DAY;
    c.objective = ENG_OBJ_BOOST_SALES;
    return c;
}

/* Customers, group and campaign; the message is left to the test. */
static inline void dx_world(dx *f, size_t n, unsigned batch_size, unsigned in_flight, int v2)
{
    test_alloc_reset();
    test_clock_now = 1767225600000; /* 2026-01-01T00:00:00Z */
    memset(f, 0, sizeof *f);
    f->n = n;
    f->path = dx_file_path;
    f->ts = f->path || dx_store_open ? NULL : test_store_new();
    dx_provider_init(&f->prov, n);
    f->tm = (eng_transport_methods){ENG_TRANSPORT_METHODS_VERSION, dx_send, NULL, v2 ? dx_send_batch : NULL,
                                    in_flight, batch_size};
    f->e = dx_engine(f);
    eng_org_settings s;
    assert_int_equal(eng_org_settings_init(&s, ENG_ORG_SETTINGS_VERSION), ENG_OK);
    s.channel_cost[ENG_CH_SMS] = 3;
    s.channel_cost[ENG_CH_EMAIL] = 1;
    assert_int_equal(eng_org_create(f->e, "acme", &s, "root", NULL), ENG_OK);
    eng_actor_spec a;
    assert_int_equal(eng_actor_spec_init(&a, ENG_ACTOR_SPEC_VERSION), ENG_OK);
    a.id = "ann";
    a.roles = ENG_ROLE_AUTHOR;
    assert_int_equal(eng_actor_put(f->e, "root", &a), ENG_OK);
    a.id = "bob";
    a.roles = ENG_ROLE_APPROVER;
    assert_int_equal(eng_actor_put(f->e, "root", &a), ENG_OK);
    assert_int_equal(eng_credits_adjust(f->e, "root", ENG_CREDITS_CAMPAIGN, 1000000), ENG_OK);
    if (!dx_no_unsubscribe_setup)
        assert_int_equal(eng_unsubscribe_setup(f->e, "root", "https://acme.example/unsub", "0123456789abcdef-acme",
                                               21), ENG_OK);
    assert_int_equal(eng_customers_add_column(f->e, "root", "first_name", ENG_COL_STRING), ENG_OK);
    size_t cap = n * 96 + 128;
    char *csv = malloc(cap), *p = csv;
    if (!csv)
        abort();
    p += sprintf(p, "id,first_name,contact.sms,consent.sms,contact.email,consent.email\n");
    for (size_t i = 0; i < n; i++) {
        char name[32] = "";
        if (i % 7) /* every 7th has no first name */
            snprintf(name, sizeof name, "Ann%zu", i);
        if (i % 5)
            p += sprintf(p, "c%zu,%s,+1555%07zu,yes,c%zu@example.com,yes\n", i, name, i, i);
        else
            p += sprintf(p, "c%zu,%s,+1555%07zu,yes,,\n", i, name, i);
    }
    assert_int_equal(eng_customers_import_csv_buffer(f->e, "root", csv, (size_t)(p - csv), NULL, NULL), ENG_OK);
    free(csv);
    uint32_t g;
    assert_int_equal(eng_group_create_uploaded(f->e, "root", "all", &g), ENG_OK);
    char **ids = malloc(n * sizeof *ids);
    if (!ids)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (!(ids[i] = malloc(24)))
            abort();
        snprintf(ids[i], 24, "c%zu", i);
    }
    assert_int_equal(eng_group_upload_ids(f->e, "root", g, (const char *const *)ids, n, ENG_UPLOAD_REPLACE, NULL, NULL),
                     ENG_OK);
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    eng_campaign_spec c = dx_campaign_spec();
    assert_int_equal(eng_campaign_create(f->e, "ann", &c, &f->campaign, NULL), ENG_OK);
}

/* Put an offer in the catalogue (or find it there), valid through the
 * campaign's dates; a message claims it by naming @p id in incentive.offer_id. */
static inline void dx_offer(dx *f, const char *id, int source, const char *code, const char *pool)
{
    assert_int_equal(test_offer(f->e, "ann", f->campaign, id, source, code, pool), ENG_OK);
}

/* Create, submit and approve @p m; it becomes f->message. */
static inline void dx_approve(dx *f, const eng_message_spec *m)
{
    eng_validation *v = NULL;
    int rc = eng_message_create(f->e, "ann", f->campaign, m, &f->message, &v);
    if (rc == ENG_OK)
        rc = eng_message_submit(f->e, "ann", f->message, &v);
    for (size_t i = 0; i < eng_validation_count(v); i++) {
        const char *path, *msg;
        eng_validation_item(v, i, NULL, &path, &msg);
        fprintf(stderr, "validation: %s: %s\n", path, msg);
    }
    eng_validation_free(v);
    assert_int_equal(rc, ENG_OK);
    assert_int_equal(eng_message_approve(f->e, "bob", f->message, NULL, "ok"), ENG_OK);
    f->t0 = m->schedule->at;
}

static inline void dx_reopen(dx *f)
{
    assert_int_equal(eng_close(f->e), ENG_OK);
    f->e = dx_engine(f);
}

static inline void dx_close(dx *f)
{
    assert_int_equal(eng_close(f->e), ENG_OK);
    if (f->ts)
        test_store_free(f->ts);
    dx_provider_free(&f->prov);
    test_alloc_assert_clean();
}

/* The frozen test group (ascending dense ids); free() the result. */
static inline uint32_t *dx_test_group(dx *f, size_t *n)
{
    eng_audience *aud;
    assert_int_equal(eng_message_audience(f->e, "root", f->message, &aud), ENG_OK);
    uint64_t cnt;
    assert_int_equal(eng_audience_count(aud, ENG_PART_TEST, &cnt), ENG_OK);
    uint32_t *ids = malloc((cnt ? cnt : 1) * sizeof *ids);
    if (!ids)
        abort();
    assert_int_equal(eng_audience_ids(aud, ENG_PART_TEST, 0, ids, cnt, n), ENG_OK);
    eng_audience_free(aud);
    return ids;
}

/* Run until the execution is finished, moving the clock over retry backoffs. */
static inline eng_time dx_run_all(dx *f, eng_time now, eng_run_report *total)
{
    for (int round = 0; round < 64; round++) {
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        int rc = eng_run_due(f->e, "root", now, NULL, &rep);
        if (rc)
            fprintf(stderr, "run_due: %s\n", eng_error_last()->message);
        assert_int_equal(rc, ENG_OK);
        if (total) {
            total->sent += rep.sent;
            total->accepted += rep.accepted;
            total->rejected += rep.rejected;
            total->expired += rep.expired;
            total->skipped += rep.skipped;
            total->finished += rep.finished;
            total->batches += rep.batches;
        }
        eng_execution_info x = {.version = ENG_EXECUTION_INFO_VERSION};
        assert_int_equal(eng_execution_get(f->e, "root", f->message, 0, &x), ENG_OK);
        if (x.state == ENG_EXEC_FINISHED || x.state == ENG_EXEC_REFUSED)
            return now;
        assert_true(rep.pending > 0);
        now = rep.next_due > now ? rep.next_due : now + 1;
    }
    fail_msg("the execution did not finish");
    return now;
}

/* Run occurrence @p occ of f->message, due at @p due, until it is finished. */
static inline void dx_run_occurrence(dx *f, uint32_t occ, eng_time due)
{
    eng_execution_info x = ENG_EXECUTION_INFO_INIT;
    eng_time now = due;
    for (int i = 0; i < 8 && x.state != ENG_EXEC_FINISHED; i++) {
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        assert_int_equal(eng_run_due(f->e, "root", now, NULL, &rep), ENG_OK);
        assert_int_equal(eng_execution_get(f->e, "root", f->message, occ, &x), ENG_OK);
        now = rep.next_due > now ? rep.next_due : now + 1;
    }
    assert_int_equal(x.state, ENG_EXEC_FINISHED);
}

/* ---- X-Engage ---- */

/* Receipts for the pairs of @p f's provider log chosen by @p pick (status per
 * pair, 0 = none): delivered at @p at, then the status at @p at + 1 h. */
typedef int (*dx_pick_fn)(uint32_t customer, int channel, void *user);
static inline void dx_receipts(dx *f, eng_time at, dx_pick_fn pick, void *user)
{
    size_t cap = f->n * DX_CH * 2, n = 0;
    const char **keys = malloc(cap * sizeof *keys);
    int *st = malloc(cap * sizeof *st);
    eng_time *t = malloc(cap * sizeof *t);
    if (!keys || !st || !t)
        abort();
    for (size_t i = 0; i < f->n * DX_CH; i++) {
        if (!f->prov.key[i] || !f->prov.delivered[i])
            continue;
        int s = pick((uint32_t)(i / DX_CH), (int)(i % DX_CH), user);
        keys[n] = f->prov.key[i], st[n] = ENG_TOUCH_DELIVERED, t[n++] = at;
        if (s > ENG_TOUCH_DELIVERED)
            keys[n] = f->prov.key[i], st[n] = s, t[n++] = at + ENG_HOUR;
    }
    eng_receipts r = ENG_RECEIPTS_INIT;
    r.count = n, r.keys = keys, r.statuses = st, r.times = t;
    eng_event_report rep = ENG_EVENT_REPORT_INIT;
    assert_int_equal(eng_touch_append(f->e, &r, &rep), ENG_OK);
    assert_int_equal(rep.unmatched, 0);
    free(keys), free(st), free(t);
}

/* One transaction of @p amount currency units per customer id in @p ids (external "c<i>"), at @p at. */
static inline void dx_txns(dx *f, const uint32_t *ids, size_t n, eng_time at, int64_t amount, const char *tag)
{
    char (*id)[48] = malloc((n ? n : 1) * sizeof *id), (*cu)[24] = malloc((n ? n : 1) * sizeof *cu);
    const char **pi = malloc((n ? n : 1) * sizeof *pi), **pc = malloc((n ? n : 1) * sizeof *pc);
    eng_time *t = malloc((n ? n : 1) * sizeof *t);
    int64_t *am = malloc((n ? n : 1) * sizeof *am);
    if (!id || !cu || !pi || !pc || !t || !am)
        abort();
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(eng_customer_external_id(f->e, "root", ids[i], cu[i], sizeof cu[i]), ENG_OK);
        snprintf(id[i], sizeof id[i], "%s-%s", tag, cu[i]);
        pi[i] = id[i], pc[i] = cu[i], t[i] = at, am[i] = amount * 10000;
    }
    eng_txn_batch b = ENG_TXN_BATCH_INIT;
    b.count = n, b.ids = pi, b.customers = pc, b.times = t, b.amounts = am;
    assert_int_equal(eng_txn_append(f->e, "acme", &b, NULL, NULL), ENG_OK);
    free(id), free(cu), free(pi), free(pc), free(t), free(am);
}

/* The number i of customer "c<i>". */
static inline size_t dx_ext(dx *f, uint32_t customer)
{
    char ext[32];
    assert_int_equal(eng_customer_external_id(f->e, "root", customer, ext, sizeof ext), ENG_OK);
    return (size_t)strtoul(ext + 1, NULL, 10);
}

/* An uploaded group from CSV text. */
static inline uint32_t dx_group_csv(dx *f, const char *name, const char *csv)
{
    uint32_t g = 0;
    assert_int_equal(eng_group_create_uploaded(f->e, "root", name, &g), ENG_OK);
    assert_int_equal(eng_group_upload_csv(f->e, "root", g, csv, strlen(csv), ENG_UPLOAD_REPLACE, NULL, NULL), ENG_OK);
    return g;
}

/* "holdout": every 5th customer of a 100-customer world (c0, c5, ..., c95). */
static inline uint32_t dx_holdout(dx *f)
{
    char csv[512], *p = csv;
    p += sprintf(p, "id\n");
    for (int i = 0; i < 20; i++)
        p += sprintf(p, "c%d\n", i * 5);
    return dx_group_csv(f, "holdout", csv);
}

/* The approved message's frozen audience: the holdout's 20 members the control, the other 80 the test. */
static inline void dx_holdout_frozen(dx *f)
{
    eng_audience *aud;
    uint64_t nt = 0, nc = 0;
    assert_int_equal(eng_message_audience(f->e, "root", f->message, &aud), ENG_OK);
    assert_int_equal(eng_audience_count(aud, ENG_PART_TEST, &nt), ENG_OK);
    assert_int_equal(eng_audience_count(aud, ENG_PART_CONTROL, &nc), ENG_OK);
    assert_int_equal(nt, 80);
    assert_int_equal(nc, 20);
    uint32_t ctl[20];
    size_t got = 0;
    assert_int_equal(eng_audience_ids(aud, ENG_PART_CONTROL, 0, ctl, 20, &got), ENG_OK);
    assert_int_equal(got, 20);
    for (size_t i = 0; i < got; i++)
        assert_int_equal(dx_ext(f, ctl[i]) % 5, 0);
    eng_audience_free(aud);
}

/* Purchases of every third customer of a 100-customer world, 50 units a day after the send;
 * the campaign report's totals into @p a. */
static inline void dx_thirds_buy(dx *f, eng_report_figures *a)
{
    uint32_t buyers[100];
    size_t nb = 0;
    for (uint32_t c = 0; c < 100; c++)
        if (dx_ext(f, c) % 3 == 0)
            buyers[nb++] = c;
    dx_txns(f, buyers, nb, f->t0 + ENG_DAY, 50, "b");
    eng_report *r = NULL;
    assert_int_equal(eng_campaign_report(f->e, "root", f->campaign, NULL, &r), ENG_OK);
    assert_int_equal(eng_report_total(r, a), ENG_OK);
    eng_report_free(r);
}

static inline int dx_hist_pick(uint32_t customer, int channel, void *user)
{
    size_t c = dx_ext(user, customer);
    if (c % 3 == 0 && channel == ENG_CH_EMAIL)
        return ENG_TOUCH_OPENED;
    if (c % 3 == 1 && channel == ENG_CH_SMS)
        return ENG_TOUCH_CLICKED;
    return ENG_TOUCH_DELIVERED;
}

/* History and an approved X-Engage message: a blast to everyone (SMS and
 * email) at T0 whose receipts say customers 3k opened the email and 3k+1
 * clicked the SMS; a purchase of 100 by every 4th customer; then an X-Engage
 * message (same creatives) approved now and due 3 days later: f->message, f->t0. */
static const eng_xengage_options *dx_xe_options; /* dx_xengage's message settings (NULL: defaults) */
/* X-Engage messages on the fixture's small audiences: the seed's 100,000-customer
 * minimum is not what these tests are about. */
static inline void dx_xengage_any_size(void)
{
    extern uint32_t eng__xengage_min_audience;
    eng__xengage_min_audience = 1;
}

static inline void dx_xengage(dx *f)
{
    dx_xengage_any_size();
    eng_message_spec m = dx_message();
    dx_approve(f, &m);
    dx_run_all(f, f->t0, NULL);
    f->history_message = f->message;
    f->history_t0 = f->t0;
    test_clock_now = f->t0 + ENG_HOUR;
    dx_receipts(f, f->t0 + 60 * 1000, dx_hist_pick, f);
    uint32_t *ids = malloc(f->n * sizeof *ids);
    size_t nb = 0;
    if (!ids)
        abort();
    for (uint32_t i = 0; i < f->n; i++)
        if (dx_ext(f, i) % 4 == 0)
            ids[nb++] = i;
    dx_txns(f, ids, nb, f->t0 + 2 * ENG_HOUR, 100, "h");
    free(ids);
    test_clock_now = f->t0 + 3 * ENG_HOUR;
    assert_int_equal(eng_credits_adjust(f->e, "root", ENG_CREDITS_XENGAGE, 10000000), ENG_OK);
    memset(f->prov.delivered, 0, f->n * DX_CH * sizeof *f->prov.delivered);
    memset(f->prov.calls, 0, f->n * DX_CH * sizeof *f->prov.calls);
    for (size_t i = 0; i < f->n * DX_CH; i++) {
        free(f->prov.key[i]);
        f->prov.key[i] = NULL;
    }
    m = dx_message();
    m.title = "X";
    m.strategy = ENG_STRATEGY_XENGAGE;
    m.xengage = dx_xe_options;
    dx_approve(f, &m);
}

/* ---- crash points: abandon the engine at the Nth storage write, reopen, resume ---- */

/* One scenario of the crash loops. @p setup builds the world with its message approved;
 * @p resume runs on the reopened engine of a trial (after the fault, or after a clean run
 * for the allocation loop): it reads what the stored ledger says is final, runs to the end
 * and checks what reached the provider; @p after (NULL: nothing) resets a test's own state
 * once the trial's world is closed. */
typedef struct dx_crash {
    void (*setup)(dx *f);
    void (*resume)(dx *f);
    void (*after)(void);
    unsigned step; /* try every step-th write or allocation (0 or 1: every one) */
    void (*opened)(dx *f); /* dx_conflict_loop: after its engine is opened (hooks), or NULL */
} dx_crash;

/* What the two loops covered: the writes (put, delete, begin, commit) and commits of a
 * clean run, and the trials whose fault fired in each loop. */
typedef struct dx_crash_counts {
    uint64_t writes, commits, tried, abandoned, applied;
} dx_crash_counts;

#define DX_WRITES (TV_PUT | TV_DEL | TV_BEGIN | TV_COMMIT)

/* How many storage calls of @p mask a clean run of the scenario makes. */
static inline uint64_t dx_crash_clean(const dx_crash *c, unsigned mask)
{
    dx f;
    c->setup(&f);
    uint64_t before = test_store_calls(f.ts, mask);
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    assert_int_equal(eng_run_due(f.e, "root", f.t0, NULL, &rep), ENG_OK);
    assert_int_equal(rep.finished, 1);
    uint64_t n = test_store_calls(f.ts, mask) - before;
    dx_close(&f);
    if (c->after)
        c->after();
    return n;
}

/* Fail the @p nth storage call of @p mask (from then on when @p mode is TF_ERROR: the
 * process died there; once when TF_COMMITTED_ERROR: the commit applied, then reported
 * failure), abandon the engine, reopen, resume. 1 when the fault fired. */
static inline int dx_crash_trial(const dx_crash *c, uint64_t nth, int mode, unsigned mask)
{
    dx f;
    c->setup(&f);
    test_store_fail(f.ts, mask, nth, mode == TF_ERROR, mode);
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    int rc = eng_run_due(f.e, "root", f.t0, NULL, &rep);
    int fired = test_store_failures(f.ts) > 0;
    assert_int_equal(rc != ENG_OK, fired);
    test_store_crash(f.ts);
    test_store_nofail(f.ts);
    eng_close(f.e);
    f.e = dx_engine(&f);
    c->resume(&f);
    dx_close(&f);
    if (c->after)
        c->after();
    return fired;
}

/* Both loops: abandoned at every write of a clean run (every step-th), and every commit
 * applied-then-failed (every third when step > 1: there are few commits, so with a long
 * step this loop was most of the trials); each trial's fault must fire. */
static inline dx_crash_counts dx_crash_loops(const dx_crash *c)
{
    dx_crash_counts k = {dx_crash_clean(c, DX_WRITES), dx_crash_clean(c, TV_COMMIT), 0, 0, 0};
    uint64_t step = c->step > 1 ? c->step : 1, cstep = step > 1 ? 3 : 1, ctried = 0;
    for (uint64_t i = 1; i <= k.writes; i += step, k.tried++)
        k.abandoned += (uint64_t)dx_crash_trial(c, i, TF_ERROR, DX_WRITES);
    for (uint64_t i = 1; i <= k.commits; i += cstep, ctried++)
        k.applied += (uint64_t)dx_crash_trial(c, i, TF_COMMITTED_ERROR, TV_COMMIT);
    assert_int_equal(k.abandoned, k.tried);
    assert_int_equal(k.applied, ctried);
    return k;
}

/* Fail the Nth allocation of a run (once) for N = 1, 1 + step, ... (@p c's step) until a
 * run completes: each ends in ENG_OK or ENG_ENOMEM, and the run resumed on the same engine
 * ends as @p c's resume checks. Returns the first N that no allocation reached. */
static inline uint64_t dx_alloc_loop(const dx_crash *c)
{
    uint64_t n, step = c->step > 1 ? c->step : 1;
    for (n = 1;; n += step) {
        dx f;
        c->setup(&f);
        test_alloc_fail_at(n, 0);
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        int rc = eng_run_due(f.e, "root", f.t0, NULL, &rep);
        int fired = test_alloc_failures() > 0;
        test_alloc_fail_at(0, 0);
        if (rc != ENG_OK && rc != ENG_ENOMEM)
            fail_msg("allocation %llu: %d %s", (unsigned long long)n, rc, eng_error_last()->message);
        c->resume(&f);
        dx_close(&f);
        if (c->after)
            c->after();
        if (!fired)
            return n;
    }
}

/* Several engines on one store (test_feed.h): the k-th commit of the execution fails with
 * ENG_EBUSY, as when another engine's commit came first, for k = 1, 2, ... until a run meets
 * none. The engine is called again while it answers ENG_EBUSY and must finish without being
 * refused; then c->resume checks what must hold. Returns the commits tried. */
static inline unsigned dx_conflict_loop(const dx_crash *c)
{
    unsigned step = c->step > 1 ? c->step : 1;
    for (unsigned k = 0;; k += step) {
        dx f;
        c->setup(&f);
        assert_int_equal(eng_close(f.e), ENG_OK);
        test_feed feed;
        test_feed_init(&feed);
        f.e = dx_engine_on(&f, test_feed_store(f.ts, &feed, 1));
        if (c->opened)
            c->opened(&f);
        feed.busy_writer = 1;
        feed.busy_skip = k;
        feed.busy_commits = 1;
        eng_time now = f.t0;
        for (int round = 0;; round++) {
            if (round == 1000)
                fail_msg("conflict at commit %u: the execution did not finish", k + 1);
            eng_run_report rep = ENG_RUN_REPORT_INIT;
            int rc = eng_run_due(f.e, "root", now, NULL, &rep);
            if (rc == ENG_EBUSY)
                continue;
            if (rc)
                fail_msg("conflict at commit %u: %s", k + 1, eng_error_last()->message);
            eng_execution_info x = ENG_EXECUTION_INFO_INIT;
            assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
            if (x.state == ENG_EXEC_REFUSED)
                fail_msg("conflict at commit %u: refused: %s", k + 1, x.reason);
            if (x.state == ENG_EXEC_FINISHED)
                break;
            now = rep.next_due > now ? rep.next_due : now + 1;
        }
        int met = feed.busy_commits == 0;
        c->resume(&f);
        dx_close(&f);
        test_feed_free(&feed);
        if (c->after)
            c->after();
        if (!met)
            return k;
    }
}

#endif
