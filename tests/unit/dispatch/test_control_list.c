/* A campaign's own control list (#eng_campaign_spec.control_group, version 2): a host that
 * randomised its customers itself names the control customers per campaign, and no org-wide
 * setting changes. Checked: the field and its errors (a missing group, one that is not uploaded,
 * a version 1 caller's shorter struct never read or written past its end); approval freezes the
 * list's members among the targeted customers as the control part (control_percent not applied),
 * the executor sends only to the others, the report's control figures are the list's; the field
 * survives a reopen; with the org's global control group on too, the control part is the union;
 * eng_audience_resolve takes the same list (query version 2), a version 1 query ignores it. */
#include <stddef.h>

#include "dispatch_fixture.h"

/* A second campaign of dx_world's kind with @p control_group; its create's result. */
static int campaign_with(dx *f, const char *name, uint32_t control_group, uint64_t *id, const char **path)
{
    eng_campaign_spec c = dx_campaign_spec();
    c.name = name;
    c.control_group = control_group;
    eng_validation *v = NULL;
    int rc = eng_campaign_create(f->e, "ann", &c, id, &v);
    static char p[64];
    p[0] = 0;
    if (eng_validation_count(v)) {
        const char *vp = NULL;
        eng_validation_item(v, 0, NULL, &vp, NULL);
        snprintf(p, sizeof p, "%s", vp);
    }
    eng_validation_free(v);
    if (path)
        *path = p;
    return rc;
}

static void field_and_errors(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 20, 16, 1, 1);
    uint64_t id = 0;
    const char *path = NULL;
    assert_int_equal(campaign_with(&f, "missing", 999999, &id, &path), ENG_EVALIDATION);
    assert_string_equal(path, "campaign.control_group");
    uint32_t filt = 0;
    assert_int_equal(eng_group_create_filter(f.e, "root", "named", "true", &filt), ENG_OK);
    assert_int_equal(campaign_with(&f, "filter", filt, &id, &path), ENG_EVALIDATION);
    assert_string_equal(path, "campaign.control_group");
    /* A version 1 caller: init writes no byte past the version 1 struct, and a create reads none. */
    unsigned char buf[sizeof(eng_campaign_spec) + 8];
    memset(buf, 0xAB, sizeof buf);
    assert_int_equal(eng_campaign_spec_init((eng_campaign_spec *)(void *)buf, 1), ENG_OK);
    for (size_t i = offsetof(eng_campaign_spec, control_group); i < sizeof buf; i++)
        assert_int_equal(buf[i], 0xAB);
    eng_campaign_spec *v1 = (eng_campaign_spec *)(void *)buf;
    v1->name = "version one";
    v1->start = test_clock_now + ENG_DAY;
    v1->end = test_clock_now + 9 * ENG_DAY;
    assert_int_equal(eng_campaign_create(f.e, "ann", v1, &id, NULL), ENG_OK); /* 0xABABABAB never read */
    eng_campaign *h = NULL;
    const eng_campaign_spec *got = NULL;
    assert_int_equal(eng_campaign_get(f.e, "root", id, &h), ENG_OK);
    assert_int_equal(eng_campaign_fields(h, &got), ENG_OK);
    assert_int_equal(got->version, ENG_CAMPAIGN_SPEC_VERSION);
    assert_int_equal(got->control_group, 0);
    eng_campaign_free(h);
    assert_int_equal(eng_campaign_spec_init(NULL, 2), ENG_EINVAL);
    eng_campaign_spec c;
    assert_int_equal(eng_campaign_spec_init(&c, 3), ENG_EVERSION);
    assert_int_equal(eng_campaign_spec_init(&c, 2), ENG_OK);
    assert_int_equal(c.control_group, 0);
    assert_int_equal(c.control_percent, 10);
    dx_close(&f);
}

static void approval_sends_and_report(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 100, 16, 1, 1);
    uint32_t hold = dx_holdout(&f);
    const char *path = NULL;
    assert_int_equal(campaign_with(&f, "Host experiment", hold, &f.campaign, &path), ENG_OK);
    eng_message_spec m = dx_message();
    dx_approve(&f, &m);
    dx_holdout_frozen(&f); /* the list's 20 the control, the other 80 the test: the 10 % split not applied */
    dx_run_all(&f, f.t0, NULL);
    for (uint32_t c = 0; c < 100; c++) {
        unsigned calls = f.prov.calls[dx_pair(c, ENG_CH_SMS)] + f.prov.calls[dx_pair(c, ENG_CH_EMAIL)];
        assert_int_equal(calls > 0, dx_ext(&f, c) % 5 != 0);
    }
    eng_report *r = NULL;
    eng_report_figures a = ENG_REPORT_FIGURES_INIT, b = ENG_REPORT_FIGURES_INIT;
    dx_thirds_buy(&f, &a);
    /* contacted: the 80 others; control: c0, c5, ..., c95, of whom 0, 15, ..., 90 bought (7);
     * responders: the buyers among the others (34 multiples of 3 below 100, 7 of them in the list) */
    assert_int_equal(a.contacted, 80);
    assert_int_equal(a.control_contacted, 20);
    assert_int_equal(a.control_responders, 7);
    assert_int_equal(a.responders, 34 - 7);
    /* After a reopen: the field read back from its record, the same report. */
    dx_reopen(&f);
    eng_campaign *h = NULL;
    const eng_campaign_spec *cs = NULL;
    assert_int_equal(eng_campaign_get(f.e, "root", f.campaign, &h), ENG_OK);
    assert_int_equal(eng_campaign_fields(h, &cs), ENG_OK);
    assert_int_equal(cs->control_group, hold);
    eng_campaign_free(h);
    assert_int_equal(eng_campaign_report(f.e, "root", f.campaign, NULL, &r), ENG_OK);
    assert_int_equal(eng_report_total(r, &b), ENG_OK);
    eng_report_free(r);
    assert_memory_equal(&a, &b, sizeof a);
    /* The list deleted: the approved message's audience stays frozen, a later approval is refused. */
    assert_int_equal(eng_group_delete(f.e, "root", hold), ENG_OK);
    eng_message_spec m2 = dx_message();
    eng_schedule later = *m2.schedule;
    later.at = test_clock_now + ENG_DAY;
    m2.schedule = &later;
    uint64_t m2id = 0;
    assert_int_equal(eng_message_create(f.e, "ann", f.campaign, &m2, &m2id, NULL), ENG_OK);
    eng_validation *v = NULL;
    assert_int_equal(eng_message_submit(f.e, "ann", m2id, &v), ENG_EVALIDATION);
    const char *vp = NULL;
    int code = 0;
    assert_int_equal(eng_validation_count(v), 1);
    eng_validation_item(v, 0, &code, &vp, NULL);
    assert_string_equal(vp, "campaign.control_group");
    assert_int_equal(code, ENG_ENOTFOUND);
    eng_validation_free(v);
    dx_holdout_frozen(&f);
    dx_close(&f);
}

/* The query's own field, and the union with the org's global control group. */
static void query_and_global_control(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 100, 16, 1, 1);
    uint32_t hold = dx_holdout(&f);
    static const char *const all[] = {"all"};
    eng_audience_query q;
    assert_int_equal(eng_audience_query_init(&q, ENG_AUDIENCE_QUERY_VERSION), ENG_OK);
    assert_int_equal(q.control_group, 0);
    q.include = all, q.n_include = 1, q.control_percent = 50, q.split_seed = 3, q.control_group = hold;
    eng_audience *a = NULL;
    uint64_t nt = 0, nc = 0;
    assert_int_equal(eng_audience_resolve(f.e, "root", &q, &a), ENG_OK);
    assert_int_equal(eng_audience_count(a, ENG_PART_CONTROL, &nc), ENG_OK);
    assert_int_equal(nc, 20);
    eng_audience_free(a);
    q.control_group = 999999;
    assert_int_equal(eng_audience_resolve(f.e, "root", &q, &a), ENG_ENOTFOUND);
    assert_string_equal(eng_error_last()->detail, "query.control_group");
    q.version = 1; /* a version 1 query has no such field: the 50 % split */
    assert_int_equal(eng_audience_resolve(f.e, "root", &q, &a), ENG_OK);
    assert_int_equal(eng_audience_count(a, ENG_PART_CONTROL, &nc), ENG_OK);
    assert_true(nc > 30 && nc < 70);
    eng_audience_free(a);
    /* The org's random global control (30 %) as well: control = its members and the list's. */
    eng_global_control g;
    assert_int_equal(eng_global_control_init(&g, ENG_GLOBAL_CONTROL_VERSION), ENG_OK);
    g.mode = ENG_GLOBAL_CONTROL_RANDOM, g.percent = 30, g.seed = 11;
    assert_int_equal(eng_global_control_set(f.e, "root", &g), ENG_OK);
    q.version = ENG_AUDIENCE_QUERY_VERSION, q.control_group = hold;
    assert_int_equal(eng_audience_resolve(f.e, "root", &q, &a), ENG_OK);
    uint64_t want_c = 0;
    for (uint32_t c = 0; c < 100; c++) {
        int in = 0;
        assert_int_equal(eng_global_control_contains(f.e, "root", c, &in), ENG_OK);
        want_c += in || dx_ext(&f, c) % 5 == 0;
    }
    assert_int_equal(eng_audience_count(a, ENG_PART_CONTROL, &nc), ENG_OK);
    assert_int_equal(eng_audience_count(a, ENG_PART_TEST, &nt), ENG_OK);
    assert_int_equal(nc, want_c);
    assert_int_equal(nt, 100 - want_c);
    assert_true(want_c > 20 && want_c < 100);
    eng_audience_free(a);
    dx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(field_and_errors),
        cmocka_unit_test(approval_sends_and_report),
        cmocka_unit_test(query_and_global_control),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
