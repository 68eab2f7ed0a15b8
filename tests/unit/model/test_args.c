/* Argument checks: every public model function given a NULL engine or handle,
 * a NULL, malformed or unknown actor, an unknown id, NULL out pointers or an
 * unknown enum fails with its documented code and a detail naming what is
 * wrong, and leaves the store byte for byte as it was (a SHA-256 over every
 * key and value is compared around each call); so do refusals for failed
 * validation, wrong states, workflow rules and limits. */
#include "model_fixture.h"

#include "store_digest.h"

#define REFUSED(call, want) REFUSED_ON(f.e, call, want)

static void null_and_bad_arguments(void **st)
{
    eng_goal_spec goal = ENG_GOAL_SPEC_INIT;
    (void)st;
    fx f;
    fx_open(&f);
    eng_campaign_spec c = fx_campaign("Diwali");
    uint64_t cid, mid;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, NULL), ENG_OK);
    eng_message_spec m = fx_message();
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &mid, NULL), ENG_OK);
    eng_org_settings s;
    assert_int_equal(eng_org_settings_get(f.e, "root", &s), ENG_OK);
    eng_actor_spec a;
    assert_int_equal(eng_actor_spec_init(&a, ENG_ACTOR_SPEC_VERSION), ENG_OK);
    a.id = "zed";
    a.roles = ENG_ROLE_VIEWER;
    eng_validation *v = NULL;
    eng_campaign *ch = NULL;
    eng_message *mh = NULL;
    eng_audit_iter *it = NULL;
    uint64_t *ids = NULL, id = 0, bad = 0;
    size_t n = 0;
    int64_t bal = 0;

    /* Struct initialisers. */
    assert_int_equal(eng_org_settings_init(NULL, ENG_ORG_SETTINGS_VERSION), ENG_EINVAL);
    assert_int_equal(eng_org_settings_init(&s, 0), ENG_EVERSION);
    assert_int_equal(eng_actor_spec_init(NULL, ENG_ACTOR_SPEC_VERSION), ENG_EINVAL);
    assert_int_equal(eng_actor_spec_init(&a, 2), ENG_EVERSION);
    assert_int_equal(eng_campaign_spec_init(NULL, ENG_CAMPAIGN_SPEC_VERSION), ENG_EINVAL);
    assert_int_equal(eng_campaign_spec_init(&c, 0), ENG_EVERSION);
    assert_int_equal(eng_message_spec_init(NULL, ENG_MESSAGE_SPEC_VERSION), ENG_EINVAL);
    assert_int_equal(eng_message_spec_init(&m, 0), ENG_EVERSION);
    c = fx_campaign("Diwali");
    m = fx_message();
    assert_int_equal(eng_actor_spec_init(&a, ENG_ACTOR_SPEC_VERSION), ENG_OK);
    a.id = "zed";
    a.roles = ENG_ROLE_VIEWER;
    assert_int_equal(eng_org_settings_get(f.e, "root", &s), ENG_OK);

    /* NULL engine: ENG_EMISUSE everywhere, nothing touched. */
    REFUSED(eng_org_create(NULL, "globex", NULL, "g", NULL), ENG_EMISUSE);
    REFUSED(eng_org_settings_get(NULL, "root", &s), ENG_EMISUSE);
    REFUSED(eng_org_settings_set(NULL, "root", &s, NULL), ENG_EMISUSE);
    REFUSED(eng_unit_add(NULL, "root", "east", NULL), ENG_EMISUSE);
    REFUSED(eng_actor_put(NULL, "root", &a), ENG_EMISUSE);
    REFUSED(eng_access_check(NULL, "root", ENG_OP_READ, NULL), ENG_EMISUSE);
    REFUSED(eng_credits_balance(NULL, "root", ENG_CREDITS_CAMPAIGN, &bal), ENG_EMISUSE);
    REFUSED(eng_credits_adjust(NULL, "root", ENG_CREDITS_CAMPAIGN, 1), ENG_EMISUSE);
    REFUSED(eng_campaign_create(NULL, "ann", &c, &id, &v), ENG_EMISUSE);
    REFUSED(eng_campaign_update(NULL, "ann", cid, &c, &v), ENG_EMISUSE);
    REFUSED(eng_campaign_delete(NULL, "ann", cid), ENG_EMISUSE);
    REFUSED(eng_campaign_list(NULL, "ann", &ids, &n), ENG_EMISUSE);
    REFUSED(eng_campaign_get(NULL, "ann", cid, &ch), ENG_EMISUSE);
    REFUSED(eng_message_create(NULL, "ann", cid, &m, &id, &v), ENG_EMISUSE);
    REFUSED(eng_message_update(NULL, "ann", mid, &m, &v), ENG_EMISUSE);
    REFUSED(eng_message_delete(NULL, "ann", mid), ENG_EMISUSE);
    REFUSED(eng_message_validate(NULL, "ann", mid, &v), ENG_EMISUSE);
    REFUSED(eng_message_submit(NULL, "ann", mid, &v), ENG_EMISUSE);
    REFUSED(eng_message_approve(NULL, "bob", mid, NULL, NULL), ENG_EMISUSE);
    REFUSED(eng_message_reject(NULL, "bob", mid, NULL), ENG_EMISUSE);
    REFUSED(eng_campaign_approve(NULL, "bob", cid, NULL), ENG_EMISUSE);
    REFUSED(eng_campaign_reject(NULL, "bob", cid, NULL), ENG_EMISUSE);
    REFUSED(eng_message_execute(NULL, "root", mid, ENG_ACT_START), ENG_EMISUSE);
    REFUSED(eng_message_get(NULL, "ann", mid, &mh), ENG_EMISUSE);
    REFUSED(eng_model_set_event_callback(NULL, NULL, NULL), ENG_EMISUSE);
    REFUSED(eng_model_set_audience_counter(NULL, NULL, NULL), ENG_EMISUSE);
    REFUSED(eng_model_set_rule_schema(NULL, ENG_SCHEMA_CUSTOMER, NULL, 0), ENG_EMISUSE);
    REFUSED(eng_audit_open(NULL, "root", &it), ENG_EMISUSE);
    REFUSED(eng_audit_verify(NULL, "root", &bad), ENG_EMISUSE);
    assert_null(ch);
    assert_null(mh);
    assert_null(it);
    assert_null(v);

    /* NULL, malformed and unknown actors: denied by default. */
    const char *actors[] = {NULL, "", "bad actor", "ghost"};
    for (size_t i = 0; i < sizeof actors / sizeof actors[0]; i++) {
        const char *who = actors[i];
        REFUSED(eng_org_settings_get(f.e, who, &s), ENG_EDENIED);
        REFUSED(eng_org_settings_set(f.e, who, &s, NULL), ENG_EDENIED);
        REFUSED(eng_unit_add(f.e, who, "east", NULL), ENG_EDENIED);
        REFUSED(eng_actor_put(f.e, who, &a), ENG_EDENIED);
        REFUSED(eng_access_check(f.e, who, ENG_OP_READ, NULL), ENG_EDENIED);
        REFUSED(eng_credits_balance(f.e, who, ENG_CREDITS_CAMPAIGN, &bal), ENG_EDENIED);
        REFUSED(eng_credits_adjust(f.e, who, ENG_CREDITS_CAMPAIGN, 1), ENG_EDENIED);
        REFUSED(eng_campaign_create(f.e, who, &c, &id, &v), ENG_EDENIED);
        REFUSED(eng_campaign_update(f.e, who, cid, &c, &v), ENG_EDENIED);
        REFUSED(eng_campaign_delete(f.e, who, cid), ENG_EDENIED);
        REFUSED(eng_campaign_list(f.e, who, &ids, &n), ENG_EDENIED);
        REFUSED(eng_campaign_get(f.e, who, cid, &ch), ENG_EDENIED);
        REFUSED(eng_message_create(f.e, who, cid, &m, &id, &v), ENG_EDENIED);
        REFUSED(eng_message_update(f.e, who, mid, &m, &v), ENG_EDENIED);
        REFUSED(eng_message_delete(f.e, who, mid), ENG_EDENIED);
        REFUSED(eng_message_validate(f.e, who, mid, &v), ENG_EDENIED);
        REFUSED(eng_message_submit(f.e, who, mid, &v), ENG_EDENIED);
        REFUSED(eng_message_approve(f.e, who, mid, NULL, NULL), ENG_EDENIED);
        REFUSED(eng_message_reject(f.e, who, mid, NULL), ENG_EDENIED);
        REFUSED(eng_campaign_approve(f.e, who, cid, NULL), ENG_EDENIED);
        REFUSED(eng_campaign_reject(f.e, who, cid, NULL), ENG_EDENIED);
        REFUSED(eng_message_execute(f.e, who, mid, ENG_ACT_START), ENG_EDENIED);
        REFUSED(eng_message_get(f.e, who, mid, &mh), ENG_EDENIED);
        REFUSED(eng_audit_open(f.e, who, &it), ENG_EDENIED);
        REFUSED(eng_audit_verify(f.e, who, &bad), ENG_EDENIED);
        assert_null(ch);
        assert_null(mh);
        assert_null(it);
        assert_null(v);
    }

    /* Unknown ids (0 is never issued). */
    const uint64_t unknown[] = {0, 999999, UINT64_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        uint64_t x = unknown[i];
        REFUSED(eng_campaign_update(f.e, "ann", x, &c, &v), ENG_ENOTFOUND);
        REFUSED(eng_campaign_delete(f.e, "ann", x), ENG_ENOTFOUND);
        REFUSED(eng_campaign_get(f.e, "ann", x, &ch), ENG_ENOTFOUND);
        REFUSED(eng_message_create(f.e, "ann", x, &m, &id, &v), ENG_ENOTFOUND);
        REFUSED(eng_message_update(f.e, "ann", x, &m, &v), ENG_ENOTFOUND);
        REFUSED(eng_message_delete(f.e, "ann", x), ENG_ENOTFOUND);
        REFUSED(eng_message_validate(f.e, "ann", x, &v), ENG_ENOTFOUND);
        REFUSED(eng_message_submit(f.e, "ann", x, &v), ENG_ENOTFOUND);
        REFUSED(eng_message_approve(f.e, "bob", x, NULL, NULL), ENG_ENOTFOUND);
        REFUSED(eng_message_reject(f.e, "bob", x, NULL), ENG_ENOTFOUND);
        REFUSED(eng_campaign_approve(f.e, "bob", x, NULL), ENG_ENOTFOUND);
        REFUSED(eng_campaign_reject(f.e, "bob", x, NULL), ENG_ENOTFOUND);
        REFUSED(eng_message_execute(f.e, "root", x, ENG_ACT_START), ENG_ENOTFOUND);
        REFUSED(eng_message_get(f.e, "ann", x, &mh), ENG_ENOTFOUND);
        assert_null(ch);
        assert_null(mh);
        assert_null(v);
    }
    /* A campaign id is not a message id and the other way round. */
    REFUSED(eng_message_get(f.e, "ann", cid, &mh), ENG_ENOTFOUND);
    REFUSED(eng_campaign_get(f.e, "ann", mid, &ch), ENG_ENOTFOUND);

    /* NULL inputs and out pointers. */
    REFUSED(eng_org_create(f.e, NULL, NULL, "g", NULL), ENG_EINVAL);
    REFUSED(eng_org_create(f.e, "globex", NULL, NULL, NULL), ENG_EINVAL);
    REFUSED(eng_org_settings_get(f.e, "root", NULL), ENG_EINVAL);
    REFUSED(eng_org_settings_set(f.e, "root", NULL, NULL), ENG_EINVAL);
    REFUSED(eng_unit_add(f.e, "root", NULL, NULL), ENG_EINVAL);
    REFUSED(eng_unit_add(f.e, "root", "bad unit", NULL), ENG_EINVAL);
    REFUSED(eng_actor_put(f.e, "root", NULL), ENG_EINVAL);
    REFUSED(eng_credits_balance(f.e, "root", ENG_CREDITS_CAMPAIGN, NULL), ENG_EINVAL);
    REFUSED(eng_campaign_create(f.e, "ann", NULL, &id, &v), ENG_EINVAL);
    REFUSED(eng_campaign_create(f.e, "ann", &c, NULL, &v), ENG_EINVAL);
    REFUSED(eng_campaign_update(f.e, "ann", cid, NULL, &v), ENG_EINVAL);
    REFUSED(eng_campaign_list(f.e, "ann", NULL, &n), ENG_EINVAL);
    REFUSED(eng_campaign_list(f.e, "ann", &ids, NULL), ENG_EINVAL);
    REFUSED(eng_campaign_get(f.e, "ann", cid, NULL), ENG_EINVAL);
    REFUSED(eng_message_create(f.e, "ann", cid, NULL, &id, &v), ENG_EINVAL);
    REFUSED(eng_message_create(f.e, "ann", cid, &m, NULL, &v), ENG_EINVAL);
    REFUSED(eng_message_update(f.e, "ann", mid, NULL, &v), ENG_EINVAL);
    REFUSED(eng_message_validate(f.e, "ann", mid, NULL), ENG_EINVAL);
    REFUSED(eng_message_get(f.e, "ann", mid, NULL), ENG_EINVAL);
    REFUSED(eng_audit_open(f.e, "root", NULL), ENG_EINVAL);
    REFUSED(eng_model_set_rule_schema(f.e, ENG_SCHEMA_CUSTOMER, NULL, 3), ENG_EINVAL);

    /* Bad versions of input structs. */
    s.version = 0;
    REFUSED(eng_org_settings_set(f.e, "root", &s, NULL), ENG_EVERSION);
    REFUSED(eng_org_create(f.e, "globex", &s, "g", NULL), ENG_EVERSION);
    s.version = ENG_ORG_SETTINGS_VERSION;
    a.version = 0;
    REFUSED(eng_actor_put(f.e, "root", &a), ENG_EVERSION);
    a.version = ENG_ACTOR_SPEC_VERSION;
    c.version = 7;
    REFUSED(eng_campaign_create(f.e, "ann", &c, &id, &v), ENG_EVERSION);
    REFUSED(eng_campaign_update(f.e, "ann", cid, &c, &v), ENG_EVERSION);
    c.version = ENG_CAMPAIGN_SPEC_VERSION;
    m.version = 7;
    REFUSED(eng_message_create(f.e, "ann", cid, &m, &id, &v), ENG_EVERSION);
    REFUSED(eng_message_update(f.e, "ann", mid, &m, &v), ENG_EVERSION);
    m.version = ENG_MESSAGE_SPEC_VERSION;

    /* Unknown enums. */
    REFUSED(eng_access_check(f.e, "root", -1, NULL), ENG_EINVAL);
    REFUSED(eng_access_check(f.e, "root", ENG_OP_ADMIN + 1, NULL), ENG_EINVAL);
    REFUSED(eng_credits_balance(f.e, "root", -1, &bal), ENG_EINVAL);
    REFUSED(eng_credits_balance(f.e, "root", ENG_CREDITS_XENGAGE + 1, &bal), ENG_EINVAL);
    REFUSED(eng_credits_adjust(f.e, "root", 2, 1), ENG_EINVAL);
    REFUSED(eng_message_execute(f.e, "root", mid, -1), ENG_EINVAL);
    REFUSED(eng_message_execute(f.e, "root", mid, ENG_ACT_SUBMIT), ENG_EINVAL);
    REFUSED(eng_message_execute(f.e, "root", mid, ENG_ACT_STOP + 1), ENG_EINVAL);
    REFUSED(eng_model_set_rule_schema(f.e, 2, NULL, 0), ENG_EINVAL);
    REFUSED(eng_model_set_rule_schema(f.e, -1, NULL, 0), ENG_EINVAL);
    assert_int_equal(eng_message_transition(-1, ENG_ACT_EDIT), ENG_EINVAL);
    assert_int_equal(eng_message_transition(ENG_STATE_STOPPED + 1, ENG_ACT_EDIT), ENG_EINVAL);
    assert_int_equal(eng_message_transition(ENG_STATE_DRAFT, -1), ENG_EINVAL);
    assert_int_equal(eng_message_transition(ENG_STATE_DRAFT, ENG_ACT_STOP + 1), ENG_EINVAL);
    /* The refused gets above zeroed s (an out-parameter on failure): the stored settings again. */
    assert_int_equal(eng_org_settings_get(f.e, "root", &s), ENG_OK);
    s.xengage = 3;
    REFUSED(eng_org_settings_set(f.e, "root", &s, NULL), ENG_EVALIDATION);
    s.xengage = ENG_XENGAGE_TRIAL;
    goal = *s.default_goal; /* start from the stored goal */
    goal.start_on = 4;
    s.default_goal = &goal;
    REFUSED(eng_org_settings_set(f.e, "root", &s, NULL), ENG_EVALIDATION);
    goal.start_on = ENG_GOAL_ON_SENT;
    goal.attribution = 5;
    REFUSED(eng_org_settings_set(f.e, "root", &s, NULL), ENG_EVALIDATION);
    goal.attribution = ENG_ATTR_LAST_TOUCH;
    a.scope = -1;
    REFUSED(eng_actor_put(f.e, "root", &a), ENG_EINVAL);
    a.scope = ENG_SCOPE_ORG;
    a.roles = ENG_ROLE_ADMIN << 1;
    REFUSED(eng_actor_put(f.e, "root", &a), ENG_EINVAL);
    a.roles = ENG_ROLE_VIEWER;

    /* Snapshot accessors take NULL cleanly. */
    const eng_campaign_spec *cf = (const eng_campaign_spec *)&id;
    assert_int_equal(eng_campaign_fields(NULL, &cf), ENG_EMISUSE);
    assert_null(cf); /* *out = NULL on every failure */
    eng_campaign_status cs = ENG_CAMPAIGN_STATUS_INIT;
    assert_int_equal(eng_campaign_status_get(NULL, &cs), ENG_EMISUSE);
    assert_int_equal(eng_campaign_status_init(NULL, ENG_CAMPAIGN_STATUS_VERSION), ENG_EINVAL);
    assert_int_equal(eng_campaign_status_init(&cs, 0), ENG_EVERSION);
    eng_campaign_free(NULL);
    const eng_message_spec *mf = (const eng_message_spec *)&id;
    assert_int_equal(eng_message_fields(NULL, &mf), ENG_EMISUSE);
    assert_null(mf);
    eng_message_status ms = ENG_MESSAGE_STATUS_INIT;
    assert_int_equal(eng_message_status_get(NULL, &ms), ENG_EMISUSE);
    eng_message_free(NULL);
    assert_int_equal(eng_audit_next(NULL, NULL), ENG_EMISUSE);
    eng_audit_free(NULL);
    assert_int_equal(eng_validation_count(NULL), 0);
    assert_int_equal(eng_validation_item(NULL, 0, NULL, NULL, NULL), ENG_EMISUSE);
    assert_int_equal(eng_validation_find(NULL, "message.title"), ENG_OK);
    eng_validation_free(NULL);
    /* ... and a real snapshot refuses NULL outs and a wrong version. */
    assert_int_equal(eng_message_get(f.e, "ann", mid, &mh), ENG_OK);
    assert_int_equal(eng_message_status_get(mh, NULL), ENG_EINVAL);
    ms.version = 99;
    assert_int_equal(eng_message_status_get(mh, &ms), ENG_EVERSION);
    eng_message_free(mh);
    assert_int_equal(eng_campaign_get(f.e, "ann", cid, &ch), ENG_OK);
    assert_int_equal(eng_campaign_fields(ch, NULL), ENG_EINVAL);
    assert_int_equal(eng_campaign_status_get(ch, NULL), ENG_EINVAL);
    cs.version = 99;
    assert_int_equal(eng_campaign_status_get(ch, &cs), ENG_EVERSION);
    assert_non_null(fx_camp_status(ch).messages);
    eng_campaign_free(ch);
    assert_int_equal(eng_audit_open(f.e, "root", &it), ENG_OK);
    assert_int_equal(eng_audit_next(it, NULL), ENG_EINVAL);
    eng_audit_free(it);
    /* The digest does see a change. */
    uint8_t d0[ENG__SHA256_LEN], d1[ENG__SHA256_LEN];
    store_digest(f.e, d0);
    assert_int_equal(eng_credits_adjust(f.e, "root", ENG_CREDITS_CAMPAIGN, 1), ENG_OK);
    store_digest(f.e, d1);
    assert_true(memcmp(d0, d1, sizeof d0) != 0);
    uint64_t bad2;
    assert_int_equal(eng_audit_verify(f.e, "root", &bad2), ENG_OK);
    assert_int_equal(eng_audit_verify(f.e, "root", NULL), ENG_OK);
    fx_close(&f);
}

/* Refusals other than argument errors change nothing either: failed
 * validation, wrong state, rules of the workflow, limits. */
static void refused_calls_change_nothing(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    eng_campaign_spec c = fx_campaign("Diwali");
    uint64_t cid, draft, awaiting, approved, id;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, NULL), ENG_OK);
    eng_message_spec m = fx_message();
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &draft, NULL), ENG_OK);
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &awaiting, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", awaiting, NULL), ENG_OK);
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &approved, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", approved, NULL), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", approved, NULL, NULL), ENG_OK);
    eng_validation *v = NULL;

    /* Validation failures. */
    eng_campaign_spec bad = fx_campaign("");
    REFUSED(eng_campaign_create(f.e, "ann", &bad, &id, NULL), ENG_EVALIDATION);
    REFUSED(eng_campaign_update(f.e, "ann", cid, &bad, NULL), ENG_EVALIDATION);
    eng_message_spec bm = fx_message();
    bm.title = "";
    REFUSED(eng_message_create(f.e, "ann", cid, &bm, &id, NULL), ENG_EVALIDATION);
    REFUSED(eng_message_update(f.e, "ann", draft, &bm, NULL), ENG_EVALIDATION);
    REFUSED(eng_message_update(f.e, "ann", approved, &bm, NULL), ENG_EVALIDATION); /* approval not voided */
    int order[] = {99};
    bm = fx_message();
    bm.strategy = ENG_STRATEGY_CHANNEL_PRIORITY;
    bm.channel_priority = order;
    bm.n_channel_priority = 1;
    assert_int_equal(eng_message_update(f.e, "ann", draft, &bm, NULL), ENG_OK);
    REFUSED(eng_message_submit(f.e, "ann", draft, &v), ENG_EVALIDATION);
    assert_report(v, "message.channel_priority[0]", ENG_EINVAL);
    eng_validation_free(v);
    REFUSED(eng_message_validate(f.e, "ann", draft, &v), ENG_EVALIDATION);
    eng_validation_free(v);
    /* Wrong states. */
    REFUSED(eng_message_submit(f.e, "ann", awaiting, NULL), ENG_ESTATE);
    REFUSED(eng_message_approve(f.e, "bob", draft, NULL, NULL), ENG_ESTATE);
    REFUSED(eng_message_reject(f.e, "bob", approved, NULL), ENG_ESTATE);
    REFUSED(eng_message_execute(f.e, "root", awaiting, ENG_ACT_START), ENG_ESTATE);
    REFUSED(eng_message_execute(f.e, "root", draft, ENG_ACT_FINISH), ENG_ESTATE);
    REFUSED(eng_message_approve(f.e, "bob", awaiting, "0000000000000000000000000000000000000000000000000000000000000000",
                                NULL),
            ENG_ESTATE);
    c.goal_mode = ENG_GOAL_NONE; /* the goal is locked by the approval */
    REFUSED(eng_campaign_update(f.e, "ann", cid, &c, NULL), ENG_ESTATE);
    c.goal_mode = ENG_GOAL_DEFAULT;
    c.unit = "north";
    REFUSED(eng_campaign_update(f.e, "ann", cid, &c, NULL), ENG_EINVAL);
    /* Org administration. */
    REFUSED(eng_unit_add(f.e, "root", "north", NULL), ENG_EEXISTS);
    REFUSED(eng_unit_add(f.e, "root", "east", "atlantis"), ENG_ENOTFOUND);
    eng_actor_spec a;
    eng_actor_spec_init(&a, ENG_ACTOR_SPEC_VERSION);
    a.id = "zed";
    REFUSED(eng_actor_put(f.e, "root", &a), ENG_EINVAL); /* no roles */
    eng_org_settings s;
    assert_int_equal(eng_org_settings_get(f.e, "root", &s), ENG_OK);
    s.forbid_overdraft = 1;
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, NULL), ENG_OK);
    REFUSED(eng_credits_adjust(f.e, "root", ENG_CREDITS_CAMPAIGN, -1), ENG_ECREDITS);
    REFUSED(eng_credits_adjust(f.e, "root", ENG_CREDITS_CAMPAIGN, INT64_MIN), ENG_ERANGE);
    s.xengage_cost = -5;
    REFUSED(eng_org_settings_set(f.e, "root", &s, NULL), ENG_EVALIDATION);
    REFUSED(eng_org_create(f.e, "acme", NULL, "newadmin", NULL), ENG_EEXISTS);
    REFUSED(eng_org_create(f.e, "globex", NULL, "ann", NULL), ENG_EEXISTS);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(null_and_bad_arguments),
        cmocka_unit_test(refused_calls_change_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
