/* Progress and cancel (engage/engine.h, "Progress"; issue 16): every long
 * operation reports done = 0 first, then as it goes, and done = total last;
 * done never goes down and total stays put. A host that cancels at any one of
 * those reports gets ENG_ECANCELLED and the store byte for byte as before;
 * run again without cancelling, the operation completes. The reports here come
 * at every step (eng__prog_every_ns = 0) so every cancellation point is tried. */
#include "dispatch_fixture.h"
#include "../model/store_digest.h"

extern uint64_t eng__prog_every_ns;

static struct {
    const char *op;     /* the operation watched */
    unsigned cancel_at; /* cancel at this report of it (1 = the first), 0 = never */
    unsigned reports;   /* reports of it in this call */
    uint64_t done, total;
} pw;

static int on_progress(const char *op, uint64_t done, uint64_t total, void *user)
{
    (void)user;
    if (!pw.op || strcmp(op, pw.op) != 0)
        return 0;
    if (pw.reports == 0) {
        assert_int_equal(done, 0); /* the first report */
        pw.total = total;
    } else {
        assert_true(done >= pw.done); /* monotone */
        assert_int_equal(total, pw.total);
    }
    if (total)
        assert_true(done <= total);
    pw.done = done;
    pw.reports++;
    return pw.cancel_at && pw.reports == pw.cancel_at;
}

typedef int (*op_fn)(dx *f, void *arg);

/* Cancel @p run at each of its reports in turn: refused, store unchanged; then let it finish. */
static unsigned cancel_everywhere(dx *f, const char *op, op_fn run, void *arg)
{
    uint8_t before[ENG__SHA256_LEN], after[ENG__SHA256_LEN];
    unsigned n = 0;
    for (unsigned at = 1;; at++) {
        store_digest(f->e, before);
        pw.op = op;
        pw.cancel_at = at;
        pw.reports = 0;
        pw.done = 0;
        int rc = run(f, arg);
        if (pw.reports < at) { /* finished before the at-th report: it completed */
            if (rc)
                fail_msg("%s: %s", op, eng_error_last()->message);
            assert_int_equal(pw.reports, at - 1);
            assert_int_equal(pw.done, pw.total ? pw.total : pw.done);
            n = pw.reports;
            break;
        }
        if (rc != ENG_ECANCELLED)
            fail_msg("%s cancelled at report %u gave %d (%s)", op, at, rc, eng_error_last()->message);
        assert_string_equal(eng_error_last()->detail, op);
        store_digest(f->e, after);
        if (memcmp(before, after, sizeof before) != 0)
            fail_msg("%s cancelled at report %u changed the store", op, at);
    }
    pw.op = NULL;
    if (n < 2)
        fail_msg("%s reported %u times: a first and a last report at least", op, n);
    return n;
}

static char *customers_csv(size_t n, const char *name)
{
    char *csv = malloc(n * 32 + 32), *p = csv;
    p += sprintf(p, "id,first_name\n");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "c%zu,%s%zu\n", i, name, i);
    return csv;
}

static int op_import(dx *f, void *arg)
{
    const char *csv = arg;
    return eng_customers_import_csv_buffer(f->e, "root", csv, strlen(csv), NULL, NULL);
}

static int op_upload(dx *f, void *arg)
{
    const char *csv = arg;
    uint32_t g = 0;
    int rc = eng_group_find(f->e, "root", "uploaded", &g);
    return rc ? rc : eng_group_upload_csv(f->e, "root", g, csv, strlen(csv), ENG_UPLOAD_REPLACE, NULL, NULL);
}

static int op_upsert(dx *f, void *arg)
{
    (void)arg;
    static const char *const names[] = {"id", "first_name"};
    char v[40][16];
    const char *vals[40];
    for (int i = 0; i < 20; i++) {
        snprintf(v[2 * i], sizeof v[2 * i], "c%d", i);
        snprintf(v[2 * i + 1], sizeof v[2 * i + 1], "Dee%d", i);
        vals[2 * i] = v[2 * i], vals[2 * i + 1] = v[2 * i + 1];
    }
    return eng_customers_upsert(f->e, "root", names, 2, vals, 20, NULL, NULL);
}

static int op_upload_ids(dx *f, void *arg)
{
    (void)arg;
    static const char *const ids[] = {"c1", "c3", "c5", "c7", "c9", "c11"};
    uint32_t g = 0;
    int rc = eng_group_find(f->e, "root", "uploaded", &g);
    return rc ? rc : eng_group_upload_ids(f->e, "root", g, ids, 6, ENG_UPLOAD_APPEND, NULL, NULL);
}

static int op_txns(dx *f, void *arg)
{
    const char *csv = arg;
    return eng_txn_import_csv_buffer(f->e, "acme", csv, strlen(csv), NULL, NULL);
}

static int op_resolve(dx *f, void *arg)
{
    (void)arg;
    static const char *const inc[] = {"all", "uploaded"};
    eng_audience_query q = ENG_AUDIENCE_QUERY_INIT;
    q.include = inc;
    q.n_include = 2;
    q.control_percent = 10;
    eng_audience *a = (eng_audience *)&q; /* must come back NULL on failure */
    int rc = eng_audience_resolve(f->e, "root", &q, &a);
    if (rc)
        assert_null(a);
    eng_audience_free(a);
    return rc;
}

static int op_compact(dx *f, void *arg)
{
    (void)arg;
    return eng_customers_compact(f->e, "root");
}

static int op_events_compact(dx *f, void *arg)
{
    (void)arg;
    return eng_events_compact(f->e);
}

static int op_approve(dx *f, void *arg)
{
    return eng_message_approve(f->e, "bob", *(uint64_t *)arg, NULL, "ok");
}

static int op_dry(dx *f, void *arg)
{
    eng_dry_report r = ENG_DRY_REPORT_INIT;
    int rc = eng_dry_run(f->e, "root", *(uint64_t *)arg, &r);
    if (rc)
        assert_int_equal(r.audience, 0); /* a failed dry run reports nothing */
    return rc;
}

static int op_group_count(dx *f, void *arg)
{
    uint64_t n = 7;
    int rc = eng_group_count(f->e, "root", *(uint32_t *)arg, &n);
    if (rc)
        assert_int_equal(n, 0);
    return rc;
}

static int op_export(dx *f, void *arg)
{
    char *json = (char *)arg;
    size_t len = 1;
    int rc = eng_customer_export_json(f->e, "root", arg, &json, &len);
    if (rc)
        assert_null(json);
    eng_free(f->e, json);
    return rc;
}

static int op_erase(dx *f, void *arg)
{
    (void)arg;
    static const char *const ids[] = {"c1", "nobody", "c2", "c1"};
    eng_erase_report r = ENG_ERASE_REPORT_INIT;
    return eng_customers_erase(f->e, "root", ids, 4, &r);
}

static int op_erase_csv(dx *f, void *arg)
{
    const char *csv = arg;
    return eng_customers_erase_csv(f->e, "root", csv, strlen(csv), NULL);
}

static int op_report(dx *f, void *arg)
{
    (void)arg;
    eng_report *r = (eng_report *)f; /* must come back NULL on failure */
    int rc = eng_campaign_report(f->e, "root", f->campaign, NULL, &r);
    if (rc)
        assert_null(r);
    eng_report_free(r);
    return rc;
}

/* eng_measure_campaign and eng_measure_org on columns the test gives. */
static struct {
    uint32_t tcust[8], tmsg[8], xcust[4], msgs[1];
    uint8_t tch[8], tst[8];
    eng_time tt[8], xt[4];
    int64_t xamt[4];
    eng_touch_columns tc;
    eng_txn_columns xc;
    eng_measure_spec sp;
} mc;

static void measure_columns(void)
{
    for (uint32_t i = 0; i < 8; i++) {
        mc.tcust[i] = i / 2, mc.tmsg[i] = 5, mc.tch[i] = ENG_CH_SMS;
        mc.tst[i] = i % 2 ? ENG_TOUCH_DELIVERED : ENG_TOUCH_SENT, mc.tt[i] = 1000 + i;
    }
    for (uint32_t i = 0; i < 4; i++)
        mc.xcust[i] = i, mc.xt[i] = 5000 + i, mc.xamt[i] = 100 * (i + 1);
    mc.msgs[0] = 5;
    mc.tc = (eng_touch_columns)ENG_TOUCH_COLUMNS_INIT;
    mc.tc.n = 8, mc.tc.customer = mc.tcust, mc.tc.message = mc.tmsg, mc.tc.channel = mc.tch;
    mc.tc.status = mc.tst, mc.tc.time = mc.tt;
    mc.xc = (eng_txn_columns)ENG_TXN_COLUMNS_INIT;
    mc.xc.n = 4, mc.xc.customer = mc.xcust, mc.xc.time = mc.xt, mc.xc.amount = mc.xamt, mc.xc.amount_scale = 2;
    assert_int_equal(eng_measure_spec_init(&mc.sp, ENG_MEASURE_SPEC_VERSION), ENG_OK);
    mc.sp.n_customers = 4, mc.sp.messages = mc.msgs, mc.sp.n_messages = 1, mc.sp.start = 0, mc.sp.end = 100000;
}

static int op_measure(dx *f, void *arg)
{
    (void)arg;
    eng_report *r = (eng_report *)f;
    int rc = eng_measure_campaign(f->e, &mc.tc, &mc.xc, &mc.sp, &r);
    if (rc)
        assert_null(r);
    eng_report_free(r);
    return rc;
}

static int op_measure_org(dx *f, void *arg)
{
    (void)arg;
    eng_measure_spec two[2] = {mc.sp, mc.sp};
    eng_org_figures o = ENG_ORG_FIGURES_INIT;
    return eng_measure_org(f->e, &mc.tc, &mc.xc, two, 2, 100000, ENG_PERIOD_7_DAYS, 0, &o);
}

static void every_operation(void **state)
{
    (void)state;
    eng__prog_every_ns = 0;
    dx_progress_fn = on_progress;
    dx f;
    dx_world(&f, 60, 16, 1, 1);
    uint32_t g;
    assert_int_equal(eng_group_create_uploaded(f.e, "ann", "uploaded", &g), ENG_OK);

    char *csv = customers_csv(60, "Bea");
    printf("audience.import: %u reports\n", cancel_everywhere(&f, "audience.import", op_import, csv));
    printf("audience.apply: %u reports\n", cancel_everywhere(&f, "audience.apply", op_import, csv));
    free(csv);
    char up[512], *p = up;
    p += sprintf(p, "id\n");
    for (int i = 0; i < 30; i += 2)
        p += sprintf(p, "c%d\n", i);
    printf("audience.upload: %u reports\n", cancel_everywhere(&f, "audience.upload", op_upload, up));
    printf("audience.import (upsert): %u reports\n", cancel_everywhere(&f, "audience.import", op_upsert, NULL));
    printf("audience.apply (upsert): %u reports\n", cancel_everywhere(&f, "audience.apply", op_upsert, NULL));
    printf("audience.upload (ids): %u reports\n", cancel_everywhere(&f, "audience.upload", op_upload_ids, NULL));
    char tx[2048];
    p = tx;
    p += sprintf(p, "id,customer,time,amount\n");
    for (int i = 0; i < 20; i++)
        p += sprintf(p, "t%d,c%d,2026-01-0%dT10:00:00Z,%d.50\n", i, i, 1 + i % 9, 10 + i);
    printf("events.txn_import: %u reports\n", cancel_everywhere(&f, "events.txn_import", op_txns, tx));
    printf("audience.resolve: %u reports\n", cancel_everywhere(&f, "audience.resolve", op_resolve, NULL));
    printf("audience.compact: %u reports\n", cancel_everywhere(&f, "audience.compact", op_compact, NULL));
    printf("events.compact: %u reports\n", cancel_everywhere(&f, "events.compact", op_events_compact, NULL));
    /* Approval freezes the audience (a resolve): cancelled, the message stays pending. */
    eng_message_spec m = dx_message();
    eng_validation *v = NULL;
    assert_int_equal(eng_message_create(f.e, "ann", f.campaign, &m, &f.message, &v), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", f.message, &v), ENG_OK);
    printf("approval (audience.resolve): %u reports\n",
           cancel_everywhere(&f, "audience.resolve", op_approve, &f.message));
    printf("dispatch.dry_run: %u reports\n", cancel_everywhere(&f, "dispatch.dry_run", op_dry, &f.message));
    /* Per row inside a filter group, whatever evaluates it (a count, a resolve). */
    uint32_t fg;
    assert_int_equal(eng_group_create_filter(f.e, "ann", "named", "first_name starts with \"Bea\"", &fg), ENG_OK);
    printf("audience.filter: %u reports\n", cancel_everywhere(&f, "audience.filter", op_group_count, &fg));
    printf("privacy.export: %u reports\n", cancel_everywhere(&f, "privacy.export", op_export, "c3"));
    printf("privacy.erase: %u reports\n", cancel_everywhere(&f, "privacy.erase", op_erase, NULL));
    printf("privacy.erase (CSV): %u reports\n", cancel_everywhere(&f, "privacy.erase", op_erase_csv, "id\nc4\nc5\n"));
    measure_columns();
    printf("measure.attribute: %u reports\n", cancel_everywhere(&f, "measure.attribute", op_measure, NULL));
    printf("measure.org: %u reports\n", cancel_everywhere(&f, "measure.org", op_measure_org, NULL));
    dx_close(&f);
    dx_progress_fn = NULL;
    eng__prog_every_ns = 50000000ull;
}

/* dispatch.run keeps the sends made before a cancel and resumes on the next
 * eng_run_due(): cancelled at its first report it changes nothing; cancelled
 * at its k-th report again and again, every (customer, channel) still reaches
 * the provider exactly once, the same pairs as a run never cancelled. Then
 * the report over those sends ("measure.report") cancels like the others. */
static void run_cancel_resumes(void **state)
{
    (void)state;
    eng__prog_every_ns = 0;
    dx ref;
    dx_world(&ref, 60, 8, 1, 1);
    eng_message_spec m = dx_message();
    dx_approve(&ref, &m);
    dx_run_all(&ref, ref.t0, NULL);
    unsigned *want = malloc(60 * DX_CH * sizeof *want);
    assert_non_null(want);
    memcpy(want, ref.prov.delivered, 60 * DX_CH * sizeof *want);
    dx_close(&ref);

    dx_progress_fn = on_progress;
    dx f;
    dx_world(&f, 60, 8, 1, 1);
    dx_approve(&f, &m);
    uint8_t before[ENG__SHA256_LEN], after[ENG__SHA256_LEN];
    unsigned cancels = 0, most = 0;
    for (unsigned at = 1;; at++) {
        store_digest(f.e, before);
        pw.op = "dispatch.run";
        pw.cancel_at = at;
        pw.reports = 0;
        pw.done = 0;
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        int rc = eng_run_due(f.e, "root", f.t0, NULL, &rep);
        if (pw.reports < at) {
            assert_int_equal(rc, ENG_OK);
            break;
        }
        assert_int_equal(rc, ENG_ECANCELLED);
        assert_string_equal(eng_error_last()->detail, "dispatch.run");
        store_digest(f.e, after);
        if (at == 1 && memcmp(before, after, sizeof before) != 0)
            fail_msg("dispatch.run cancelled at its first report changed the store");
        cancels++;
        if (pw.reports > most)
            most = pw.reports;
    }
    pw.op = NULL;
    dx_run_all(&f, f.t0, NULL);
    assert_true(cancels >= 3);
    for (size_t i = 0; i < 60 * DX_CH; i++) {
        assert_true(f.prov.calls[i] <= 1);
        assert_int_equal(f.prov.delivered[i], want[i]);
    }
    free(want);
    printf("dispatch.run: cancelled %u times, up to %u reports a call\n", cancels, most);

    uint32_t ids[20];
    for (uint32_t i = 0; i < 20; i++)
        ids[i] = i;
    dx_txns(&f, ids, 20, f.t0 + ENG_DAY, 100, "buy");
    printf("measure.report: %u reports\n", cancel_everywhere(&f, "measure.report", op_report, NULL));
    printf("measure.attribute (report): %u reports\n", cancel_everywhere(&f, "measure.attribute", op_report, NULL));
    dx_close(&f);
    dx_progress_fn = NULL;
    eng__prog_every_ns = 50000000ull;
}

/* Without the test knob, a short operation still reports its first and last step. */
static void first_and_last(void **state)
{
    (void)state;
    dx_progress_fn = on_progress;
    dx f;
    dx_world(&f, 20, 16, 1, 1);
    char *csv = customers_csv(20, "Cy");
    pw.op = "audience.import";
    pw.cancel_at = 0;
    pw.reports = 0;
    assert_int_equal(op_import(&f, csv), ENG_OK);
    assert_int_equal(pw.reports, 2);
    assert_int_equal(pw.done, strlen(csv));
    assert_int_equal(pw.total, strlen(csv));
    free(csv);
    pw.op = NULL;
    dx_close(&f);
    dx_progress_fn = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_operation),
        cmocka_unit_test(run_cancel_resumes),
        cmocka_unit_test(first_and_last),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
