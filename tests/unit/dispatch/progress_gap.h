/* The largest stretch of work between two progress reports (engage/engine.h,
 * "Progress": a report at least every ~100 ms of work), measured by a meter the
 * caller picks: units of work in the unit test (test_progress_gap, the
 * engine's work counter eng__work_units), milliseconds in the benchmark
 * (bench_progress). A stretch runs from the call's entry to its first report,
 * between consecutive reports of any operation (nested ones too), and from
 * the last report to the call's return.
 *
 * pg_world() builds one org with @p n customers that went through the whole
 * life: imported, grouped, a message approved and executed (SMS and email),
 * receipts, a transaction per customer; pg_ops lists the long operations run
 * on it. */
#ifndef PROGRESS_GAP_H
#define PROGRESS_GAP_H

#include "dispatch_fixture.h"

typedef uint64_t (*pg_meter_fn)(void);

static struct {
    pg_meter_fn meter, meter2; /* meter2 (may be NULL): a second measure of the same stretches */
    uint64_t last, max, reports, cancel_at;
    uint64_t last2, max2;
    char max_from[64], max_to[64]; /* where the largest stretch began and ended */
    char prev[64];
    uint64_t trace_over; /* > 0: print every stretch longer than this (meter units), with meter2 at its ends */
} pg;

static inline void pg_mark(const char *at)
{
    uint64_t now = pg.meter();
    if (pg.meter2) {
        uint64_t now2 = pg.meter2();
        if (now2 - pg.last2 > pg.max2)
            pg.max2 = now2 - pg.last2;
    }
    if (pg.trace_over && now - pg.last > pg.trace_over)
        printf("  stretch %llu (%s -> %s), meter2 %llu -> %llu\n", (unsigned long long)(now - pg.last), pg.prev, at,
               (unsigned long long)pg.last2, pg.meter2 ? (unsigned long long)pg.meter2() : 0ull);
    if (now - pg.last >= pg.max) {
        pg.max = now - pg.last;
        snprintf(pg.max_from, sizeof pg.max_from, "%s", pg.prev);
        snprintf(pg.max_to, sizeof pg.max_to, "%s", at);
    }
    snprintf(pg.prev, sizeof pg.prev, "%s", at);
    pg.last = pg.meter(); /* the mark's own cost is not the operation's */
    if (pg.meter2)
        pg.last2 = pg.meter2();
}

/* pg.cancel_at > 0: cancel at that report (1 = the first) of any operation. */
static inline int pg_on_progress(const char *op, uint64_t done, uint64_t total, void *user)
{
    (void)user;
    char at[64];
    snprintf(at, sizeof at, "%s %llu/%llu", op, (unsigned long long)done, (unsigned long long)total);
    if (pg.meter) {
        pg.reports++;
        pg_mark(at);
        if (pg.cancel_at && pg.reports == pg.cancel_at)
            return 1;
    }
    return 0;
}

typedef int (*pg_op_fn)(dx *f);

/* Run @p op with the meter on; the largest stretch is left in pg. */
static inline int pg_measure(dx *f, pg_op_fn op, pg_meter_fn meter)
{
    pg.meter = meter;
    pg.max = pg.reports = pg.max2 = 0;
    if (pg.meter2)
        pg.last2 = pg.meter2();
    snprintf(pg.prev, sizeof pg.prev, "entry");
    pg.max_from[0] = pg.max_to[0] = 0;
    pg.last = meter();
    int rc = op(f);
    pg_mark("return");
    pg.meter = NULL;
    return rc;
}

static int pg_report(dx *f)
{
    eng_report *r = NULL;
    int rc = eng_campaign_report(f->e, "root", f->campaign, NULL, &r);
    eng_report_free(r);
    return rc;
}

static int pg_events_compact(dx *f)
{
    return eng_events_compact(f->e);
}

static int pg_export(dx *f)
{
    char *json = NULL, ext[32];
    size_t len = 0;
    snprintf(ext, sizeof ext, "c%zu", f->n / 2);
    int rc = eng_customer_export_json(f->e, "root", ext, &json, &len);
    eng_free(f->e, json);
    return rc;
}

static int pg_resolve(dx *f)
{
    static const char *const inc[] = {"all", "named"};
    eng_audience_query q = ENG_AUDIENCE_QUERY_INIT;
    q.include = inc;
    q.n_include = 2;
    q.control_percent = 10;
    eng_audience *a = NULL;
    int rc = eng_audience_resolve(f->e, "root", &q, &a);
    eng_audience_free(a);
    return rc;
}

static int pg_dry_run(dx *f)
{
    eng_dry_report r = ENG_DRY_REPORT_INIT;
    return eng_dry_run(f->e, "root", f->message, &r);
}

static int pg_erase(dx *f)
{
    char ext[4][32];
    const char *ids[4];
    for (size_t i = 0; i < 4; i++) {
        snprintf(ext[i], sizeof ext[i], "c%zu", f->n - 1 - i * 7);
        ids[i] = ext[i];
    }
    eng_erase_report r = ENG_ERASE_REPORT_INIT;
    return eng_customers_erase(f->e, "root", ids, 4, &r);
}

static int pg_compact(dx *f)
{
    return eng_customers_compact(f->e, "root");
}

/* Before compaction with retention: every event is older than the org's
 * limit, so every segment is rewritten (its events dropped). Runs last. */
static int pg_retention_prep(dx *f)
{
    test_clock_now = f->t0 + 400 * ENG_DAY;
    return eng_events_set_retention(f->e, "root", 30);
}

/* The input (a CSV) of the next operation, built by its prep. */
static struct {
    char *csv;
    size_t len;
    uint32_t group;      /* the uploaded group "half" */
    uint64_t second;     /* the second message ... */
    eng_time second_at;  /* ... and its send time */
} pgi;

static inline char *pg_input(size_t cap)
{
    free(pgi.csv);
    if (!(pgi.csv = malloc(cap)))
        abort();
    return pgi.csv;
}

/* Every customer gets a value in a new column: the import rewrites every row. */
static int pg_import_prep(dx *f)
{
    int rc = eng_customers_add_column(f->e, "root", "tier", ENG_COL_INT64);
    char *p = pg_input(f->n * 24 + 16);
    p += sprintf(p, "id,tier\n");
    for (size_t i = 0; i < f->n; i++)
        p += sprintf(p, "c%zu,%zu\n", i, i % 5);
    pgi.len = (size_t)(p - pgi.csv);
    return rc;
}

static int pg_import(dx *f)
{
    return eng_customers_import_csv_buffer(f->e, "root", pgi.csv, pgi.len, NULL, NULL);
}

/* Every other customer into a new uploaded group. */
static int pg_upload_prep(dx *f)
{
    int rc = eng_group_create_uploaded(f->e, "root", "half", &pgi.group);
    char *p = pg_input(f->n * 16 + 16);
    p += sprintf(p, "id\n");
    for (size_t i = 0; i < f->n; i += 2)
        p += sprintf(p, "c%zu\n", i);
    pgi.len = (size_t)(p - pgi.csv);
    return rc;
}

static int pg_upload(dx *f)
{
    return eng_group_upload_csv(f->e, "root", pgi.group, pgi.csv, pgi.len, ENG_UPLOAD_REPLACE, NULL, NULL);
}

/* One more transaction per customer. */
static int pg_txn_prep(dx *f)
{
    char *p = pg_input(f->n * 64 + 64);
    p += sprintf(p, "id,customer,time,amount\n");
    for (size_t i = 0; i < f->n; i++)
        p += sprintf(p, "x%zu,c%zu,2026-01-06T10:00:00Z,%zu.50\n", i, i, 10 + i % 90);
    pgi.len = (size_t)(p - pgi.csv);
    return ENG_OK;
}

static int pg_txn_import(dx *f)
{
    return eng_txn_import_csv_buffer(f->e, "acme", pgi.csv, pgi.len, NULL, NULL);
}

/* A second message over the whole audience, sent for approval: its approval
 * freezes the audience, then it is executed. The one place these tests build
 * a message spec (dx_message's schedule: three days from now). */
static int pg_second_prep(dx *f)
{
    pgi.second_at = test_clock_now + 3 * ENG_DAY;
    eng_message_spec m = dx_message();
    m.title = "Second blast";
    eng_validation *v = NULL;
    int rc = eng_message_create(f->e, "ann", f->campaign, &m, &pgi.second, &v);
    eng_validation_free(v);
    v = NULL;
    if (!rc)
        rc = eng_message_submit(f->e, "ann", pgi.second, &v);
    eng_validation_free(v);
    return rc;
}

static int pg_approve(dx *f)
{
    return eng_message_approve(f->e, "bob", pgi.second, NULL, "ok");
}

/* The second message's execution run to its end by eng_run_due, every call one stretch at least. */
static int pg_run_due(dx *f)
{
    eng_time now = pgi.second_at;
    for (int round = 0; round < 256; round++) {
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        int rc = eng_run_due(f->e, "root", now, NULL, &rep);
        if (rc || rep.pending == 0)
            return rc;
        now = rep.next_due > now ? rep.next_due : now + 1;
    }
    return ENG_OK;
}

/* keeps: a cancel keeps what was done before it (dispatch.run keeps the
 * batches already sent, engage/engine.h); the others leave the store as it was. */
static const struct {
    const char *name;
    pg_op_fn prep; /* not measured (NULL: none) */
    pg_op_fn run;
    int keeps;
} pg_ops[] = {
    {"eng_campaign_report", NULL, pg_report, 0},
    {"eng_events_compact", NULL, pg_events_compact, 0},
    {"eng_customer_export_json", NULL, pg_export, 0},
    {"eng_audience_resolve (filter group)", NULL, pg_resolve, 0},
    {"eng_dry_run", NULL, pg_dry_run, 0},
    {"eng_customers_import_csv_buffer", pg_import_prep, pg_import, 0},
    {"eng_group_upload_csv", pg_upload_prep, pg_upload, 0},
    {"eng_txn_import_csv_buffer", pg_txn_prep, pg_txn_import, 0},
    {"eng_customers_erase (4 ids)", NULL, pg_erase, 0},
    {"eng_customers_compact", NULL, pg_compact, 0},
    {"eng_message_approve (freeze)", pg_second_prep, pg_approve, 0},
    {"eng_run_due (execution)", NULL, pg_run_due, 1},
    {"eng_events_compact (retention)", pg_retention_prep, pg_events_compact, 0},
};
#define PG_NOPS (sizeof pg_ops / sizeof pg_ops[0])

/* The world: dx_world (n customers, SMS + email, @p batch sends a transport
 * batch and an execution chunk), a filter group "named", the
 * blast approved and executed, receipts, a transaction per customer. */
static inline void pg_world(dx *f, size_t n, unsigned batch)
{
    memset(&pgi, 0, sizeof pgi);
    dx_progress_fn = pg_on_progress;
    dx_world(f, n, batch, 1, 1);
    uint32_t g;
    assert_int_equal(eng_group_create_filter(f->e, "ann", "named", "first_name starts with \"Ann1\"", &g), ENG_OK);
    eng_message_spec m = dx_message();
    dx_approve(f, &m);
    dx_run_all(f, f->t0, NULL);
    test_clock_now = f->t0 + ENG_HOUR;
    dx_receipts(f, f->t0 + 60 * 1000, dx_hist_pick, f);
    uint32_t *ids = malloc(n * sizeof *ids);
    if (!ids)
        abort();
    for (uint32_t i = 0; i < n; i++)
        ids[i] = i;
    dx_txns(f, ids, n, f->t0 + 2 * ENG_HOUR, 100, "h");
    free(ids);
    test_clock_now = f->t0 + 3 * ENG_HOUR;
}

/* Close the world and free the last input. */
static inline void pg_close(dx *f)
{
    free(pgi.csv);
    pgi.csv = NULL;
    dx_close(f);
}

#endif
