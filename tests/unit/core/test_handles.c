/* Freed, double-freed and foreign handles (issue 16). For every public handle
 * type: a call on the handle after its free gives ENG_EMISUSE, a second free
 * is harmless, a handle of another kind is refused, and a new handle of the
 * same kind never lands at a freed one's address (so a stale pointer cannot
 * name a newer handle). No call may read freed memory: the ASan build turns
 * any such read into a failure, and the valgrind stage reports it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "engage.h"
#include "test_alloc.h"
#include "test_util.h"

/* Several live handles the fixture keeps while one kind is tested. */
typedef struct env {
    eng_engine *e;
    uint64_t campaign, message;
} env;

typedef struct kind {
    const char *name;
    void *(*make)(env *x);
    int (*use)(env *x, void *h); /* a call that reads the handle */
    void (*release)(void *h);
    int live_rc; /* what use() gives on a live handle */
} kind;

/* ---- makers, users, releasers ---- */

static void *mk_engine(env *x)
{
    (void)x;
    return test_engine_open_org(NULL);
}
static int use_engine(env *x, void *h)
{
    (void)x;
    eng_info info = ENG_INFO_INIT;
    return eng_info_get(h, &info);
}
static void rel_engine(void *h) { eng_close(h); }

static void *mk_rule(env *x)
{
    eng_rule *r = NULL;
    eng_rule_options o;
    assert_int_equal(eng_rule_options_init(&o, ENG_RULE_OPTIONS_VERSION), ENG_OK);
    assert_int_equal(eng_rule_compile(x->e, "1 == 1", &o, &r), ENG_OK);
    return r;
}
static int use_rule(env *x, void *h)
{
    (void)x;
    char buf[64];
    size_t need = 0;
    return eng_rule_text(h, buf, sizeof buf, &need);
}
static void rel_rule(void *h) { eng_rule_free(h); }

static void *mk_builder(env *x)
{
    eng_rule_builder *b = NULL;
    assert_int_equal(eng_rule_builder_new(x->e, &b), ENG_OK);
    return b;
}
static int use_builder(env *x, void *h)
{
    (void)x;
    return eng_rule_builder_group(h);
}
static void rel_builder(void *h) { eng_rule_builder_free(h); }

static void *mk_audience(env *x)
{
    static const char *const inc[] = {"g"};
    eng_audience_query q = ENG_AUDIENCE_QUERY_INIT;
    q.include = inc;
    q.n_include = 1;
    eng_audience *a = NULL;
    assert_int_equal(eng_audience_resolve(x->e, TA, &q, &a), ENG_OK);
    return a;
}
static int use_audience(env *x, void *h)
{
    (void)x;
    uint64_t n;
    return eng_audience_count(h, ENG_PART_ALL, &n);
}
static void rel_audience(void *h) { eng_audience_free(h); }

static void *mk_campaign(env *x)
{
    eng_campaign *c = NULL;
    assert_int_equal(eng_campaign_get(x->e, TA, x->campaign, &c), ENG_OK);
    return c;
}
static int use_campaign(env *x, void *h)
{
    (void)x;
    const eng_campaign_spec *s;
    return eng_campaign_fields(h, &s);
}
static void rel_campaign(void *h) { eng_campaign_free(h); }

static void *mk_message(env *x)
{
    eng_message *m = NULL;
    assert_int_equal(eng_message_get(x->e, TA, x->message, &m), ENG_OK);
    return m;
}
static int use_message(env *x, void *h)
{
    (void)x;
    const eng_message_spec *s;
    return eng_message_fields(h, &s);
}
static void rel_message(void *h) { eng_message_free(h); }

static void *mk_validation(env *x)
{
    eng_campaign_spec c;
    assert_int_equal(eng_campaign_spec_init(&c, ENG_CAMPAIGN_SPEC_VERSION), ENG_OK);
    c.name = ""; /* refused: a report with at least one item */
    eng_validation *v = NULL;
    uint64_t id;
    assert_int_not_equal(eng_campaign_create(x->e, TA, &c, &id, &v), ENG_OK);
    assert_non_null(v);
    return v;
}
static int use_validation(env *x, void *h)
{
    (void)x;
    int code;
    return eng_validation_item(h, 0, &code, NULL, NULL);
}
static void rel_validation(void *h) { eng_validation_free(h); }

static void *mk_audit(env *x)
{
    eng_audit_iter *it = NULL;
    assert_int_equal(eng_audit_open(x->e, TA, &it), ENG_OK);
    return it;
}
static int use_audit(env *x, void *h)
{
    (void)x;
    eng_audit_entry a = ENG_AUDIT_ENTRY_INIT;
    return eng_audit_next(h, &a);
}
static void rel_audit(void *h) { eng_audit_free(h); }

static void *mk_actors(env *x)
{
    eng_actor_iter *it = NULL;
    assert_int_equal(eng_actor_list(x->e, TA, &it), ENG_OK);
    return it;
}
static int use_actors(env *x, void *h)
{
    (void)x;
    eng_actor_spec a = ENG_ACTOR_SPEC_INIT;
    return eng_actor_next(h, &a);
}
static void rel_actors(void *h) { eng_actor_iter_free(h); }

static void *mk_report(env *x)
{
    eng_report *r = NULL;
    assert_int_equal(eng_campaign_report(x->e, TA, x->campaign, NULL, &r), ENG_OK);
    return r;
}
static int use_report(env *x, void *h)
{
    (void)x;
    eng_report_figures f = ENG_REPORT_FIGURES_INIT;
    return eng_report_total(h, &f);
}
static void rel_report(void *h) { eng_report_free(h); }

static void *mk_consent(env *x)
{
    eng_consent_iter *it = NULL;
    assert_int_equal(eng_consent_history(x->e, TA, 0, &it), ENG_OK);
    return it;
}
static int use_consent(env *x, void *h)
{
    (void)x;
    eng_consent_change c = ENG_CONSENT_CHANGE_INIT;
    int rc = eng_consent_next(h, &c);
    return rc == ENG_ITEROVER ? ENG_OK : rc;
}
static void rel_consent(void *h) { eng_consent_iter_free(h); }

static const kind kinds[] = {
    {"engine", mk_engine, use_engine, rel_engine, ENG_OK},
    {"rule", mk_rule, use_rule, rel_rule, ENG_OK},
    {"rule builder", mk_builder, use_builder, rel_builder, ENG_OK},
    {"audience", mk_audience, use_audience, rel_audience, ENG_OK},
    {"campaign", mk_campaign, use_campaign, rel_campaign, ENG_OK},
    {"message", mk_message, use_message, rel_message, ENG_OK},
    {"validation", mk_validation, use_validation, rel_validation, ENG_OK},
    {"audit iterator", mk_audit, use_audit, rel_audit, ENG_OK},
    {"actor iterator", mk_actors, use_actors, rel_actors, ENG_OK},
    {"report", mk_report, use_report, rel_report, ENG_OK},
    {"consent iterator", mk_consent, use_consent, rel_consent, ENG_OK},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

static void env_open(env *x)
{
    eng_schedule sched = ENG_SCHEDULE_INIT;
    test_alloc_reset();
    x->e = test_engine_open_org(NULL);
    uint32_t g;
    assert_int_equal(eng_group_create_uploaded(x->e, TA, "g", &g), ENG_OK);
    static const char csv[] = "id,contact.email,consent.email\nk1,k1@example.org,yes\n"; /* customer 0 */
    assert_int_equal(eng_customers_import_csv_buffer(x->e, TA, csv, sizeof csv - 1, NULL, NULL), ENG_OK);
    eng_campaign_spec c;
    assert_int_equal(eng_campaign_spec_init(&c, ENG_CAMPAIGN_SPEC_VERSION), ENG_OK);
    c.name = "C";
    c.start = test_clock_now + ENG_DAY;
    c.end = test_clock_now + 30 * ENG_DAY;
    assert_int_equal(eng_campaign_create(x->e, TA, &c, &x->campaign, NULL), ENG_OK);
    static const char *const inc[] = {"g"};
    static const eng_creative cr[] = {{ENG_CH_SMS, NULL, "Hi"}};
    eng_message_spec m;
    assert_int_equal(eng_message_spec_init(&m, ENG_MESSAGE_SPEC_VERSION), ENG_OK);
    m.title = "M";
    m.include = inc;
    m.n_include = 1;
    m.creatives = cr;
    m.n_creatives = 1;
    sched.kind = ENG_SCHEDULE_ONCE;
    sched.at = test_clock_now + 2 * ENG_DAY;
    m.schedule = &sched;
    assert_int_equal(eng_message_create(x->e, TA, x->campaign, &m, &x->message, NULL), ENG_OK);
}

static void env_close(env *x)
{
    assert_int_equal(eng_close(x->e), ENG_OK);
    test_alloc_assert_clean();
}

static void use_after_free(void **state)
{
    (void)state;
    env x;
    env_open(&x);
    for (size_t k = 0; k < NKINDS; k++) {
        const kind *t = &kinds[k];
        void *h = t->make(&x);
        assert_int_equal(t->use(&x, h), t->live_rc);
        t->release(h);
        int rc = t->use(&x, h);
        if (rc != ENG_EMISUSE)
            fail_msg("%s: a call on the freed handle gave %d, not ENG_EMISUSE", t->name, rc);
        assert_int_equal(eng_error_last()->code, ENG_EMISUSE);
        t->release(h); /* double free: no effect */
        /* New handles of the kind do not take the freed address, so the stale one stays refused:
         * engines never among the last 4096 released handles; children avoid them for a while. */
        int cycles = t->make == mk_engine ? 64 : 1;
        for (int i = 0; i < cycles; i++) {
            void *n = t->make(&x);
            if (n == h)
                fail_msg("%s: a new handle took a freed handle's address (cycle %d)", t->name, i);
            assert_int_equal(t->use(&x, h), ENG_EMISUSE);
            assert_int_equal(t->use(&x, n), t->live_rc);
            t->release(n);
        }
    }
    env_close(&x);
}

/* A handle passed where another kind is expected, a pointer to something that
 * is no handle at all, and NULL. */
static void foreign_handles(void **state)
{
    (void)state;
    env x;
    env_open(&x);
    void *live[NKINDS];
    for (size_t k = 0; k < NKINDS; k++)
        live[k] = kinds[k].make(&x);
    uint64_t junk[64] = {0};
    for (size_t k = 0; k < NKINDS; k++) {
        for (size_t j = 0; j < NKINDS; j++)
            if (j != k && kinds[k].use(&x, live[j]) != ENG_EMISUSE)
                fail_msg("%s: a live %s was taken for one", kinds[k].name, kinds[j].name);
        assert_int_equal(kinds[k].use(&x, junk), ENG_EMISUSE);
        assert_int_equal(kinds[k].use(&x, NULL), ENG_EMISUSE);
        kinds[k].release(junk); /* freeing a foreign pointer does nothing */
    }
    for (size_t k = 0; k < NKINDS; k++)
        kinds[k].release(live[k]);
    env_close(&x);
}

/* The example: a closed engine's pointer must not act on an engine
 * opened after it (malloc tends to hand the same block back). */
static void closed_engine_stays_closed(void **state)
{
    (void)state;
    test_alloc_reset();
    for (int i = 0; i < 32; i++) {
        eng_engine *old = test_engine_open_org(NULL);
        assert_int_equal(eng_close(old), ENG_OK);
        eng_engine *e = test_engine_open_org(NULL);
        assert_ptr_not_equal(e, old);
        assert_int_equal(eng_org_create(old, "other", NULL, "adm", NULL), ENG_EMISUSE);
        assert_int_equal(eng_close(old), ENG_EMISUSE);
        eng_free(old, NULL);
        assert_int_equal(eng_org_create(e, "other", NULL, "adm", NULL), ENG_OK);
        assert_int_equal(eng_close(e), ENG_OK);
    }
    /* A closed store: refused by eng_open, freeing it again does nothing. */
    eng_store *s = NULL;
    assert_int_equal(eng_store_memory_new(test_alloc_get(), &s), ENG_OK);
    eng_store_free(s);
    eng_store_free(s);
    eng_config cfg = ENG_CONFIG_INIT;
    cfg.store = s;
    eng_engine *e = NULL;
    assert_int_equal(eng_open(&cfg, &e), ENG_EMISUSE);
    assert_null(e);
    test_alloc_assert_clean();
}

/* A closed engine with a live child of each kind: calls on the engine are
 * refused, the child still works until it is freed, which releases the
 * engine (and leaves the error record alone). */
static void child_outlives_close(void **state)
{
    (void)state;
    for (size_t k = 1; k < NKINDS; k++) {
        env x;
        env_open(&x);
        void *h = kinds[k].make(&x);
        assert_int_equal(eng_close(x.e), ENG_OK);
        assert_int_equal(use_engine(&x, x.e), ENG_EMISUSE);
        assert_int_equal(kinds[k].use(&x, h), kinds[k].live_rc);
        eng_error_set(ENG_EUSER, "kept");
        kinds[k].release(h);
        assert_int_equal(eng_error_last()->code, ENG_EUSER);
        assert_int_equal(kinds[k].use(&x, h), ENG_EMISUSE);
        test_alloc_assert_clean();
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(use_after_free),
        cmocka_unit_test(foreign_handles),
        cmocka_unit_test(closed_engine_stays_closed),
        cmocka_unit_test(child_outlives_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
