/* Deny by default, and a denial changes nothing: every changing call made by
 * an actor without the role, outside the scope, of another org or approving
 * their own message gets ENG_EDENIED with a detail, the store stays byte for
 * byte as it was and the host hears no event. */
#include "model_fixture.h"

#include "store_digest.h"

static int events;
static void on_event(const eng_model_event *ev, void *user)
{
    (void)ev;
    (void)user;
    events++;
}

#define DENIED(call)                                  \
    do {                                              \
        int ev_ = events;                             \
        REFUSED_ON(f.e, call, ENG_EDENIED);           \
        assert_int_equal(events, ev_);                \
    } while (0)

static void denials_change_nothing(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    assert_int_equal(eng_model_set_event_callback(f.e, on_event, NULL), ENG_OK);
    static const char *const north[] = {"north"};
    fx_actor(f.e, "uadm", ENG_ROLE_ADMIN, ENG_SCOPE_UNIT, north, 1); /* an admin of one unit only */
    assert_int_equal(eng_org_create(f.e, "globex", NULL, "gadmin", NULL), ENG_OK);
    assert_int_equal(eng_credits_adjust(f.e, "root", ENG_CREDITS_XENGAGE, 10), ENG_OK);

    /* An org campaign (root created it) with messages in each state that matters. */
    eng_campaign_spec c = fx_campaign("Diwali");
    uint64_t cid, draft, awaiting, approved, executing;
    assert_int_equal(eng_campaign_create(f.e, "root", &c, &cid, NULL), ENG_OK);
    eng_message_spec m = fx_message();
    assert_int_equal(eng_message_create(f.e, "root", cid, &m, &draft, NULL), ENG_OK);
    assert_int_equal(eng_message_create(f.e, "root", cid, &m, &awaiting, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "root", awaiting, NULL), ENG_OK);
    assert_int_equal(eng_message_create(f.e, "root", cid, &m, &approved, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "root", approved, NULL), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", approved, NULL, NULL), ENG_OK);
    assert_int_equal(eng_message_create(f.e, "root", cid, &m, &executing, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "root", executing, NULL), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", executing, NULL, NULL), ENG_OK);
    assert_int_equal(fx_start(f.e, "root", executing), ENG_OK);
    events = 0;

    /* Editing (author or admin, scope covering the org): viewer, approver, unit-scoped actors, another org. */
    const char *const no_edit[] = {"vic", "bob", "nat", "sam", "uadm", "gadmin"};
    for (size_t i = 0; i < sizeof no_edit / sizeof no_edit[0]; i++) {
        const char *who = no_edit[i];
        uint64_t id = 0;
        eng_validation *v = NULL;
        c = fx_campaign("Other");
        if (strcmp(who, "gadmin") != 0) /* gadmin may create in its own org */
            DENIED(eng_campaign_create(f.e, who, &c, &id, &v));
        c = fx_campaign("Diwali renamed");
        DENIED(eng_campaign_update(f.e, who, cid, &c, &v));
        DENIED(eng_campaign_delete(f.e, who, cid));
        DENIED(eng_message_create(f.e, who, cid, &m, &id, &v));
        DENIED(eng_message_update(f.e, who, draft, &m, &v));
        DENIED(eng_message_update(f.e, who, approved, &m, &v)); /* would void the approval */
        DENIED(eng_message_delete(f.e, who, draft));
        DENIED(eng_message_submit(f.e, who, draft, &v));
        assert_null(v);
    }
    /* Another org's admin (org scope there) cannot touch a campaign here, even one with nothing executing. */
    c = fx_campaign("Quiet");
    uint64_t quiet;
    assert_int_equal(eng_campaign_create(f.e, "root", &c, &quiet, NULL), ENG_OK);
    c.name = "Taken over";
    DENIED(eng_campaign_update(f.e, "gadmin", quiet, &c, NULL));
    DENIED(eng_campaign_delete(f.e, "gadmin", quiet));
    DENIED(eng_message_create(f.e, "gadmin", quiet, &m, &quiet, NULL));
    /* A unit campaign is out of reach of an actor scoped to another unit. */
    c = fx_campaign("South only");
    c.unit = "south";
    uint64_t id;
    DENIED(eng_campaign_create(f.e, "nat", &c, &id, NULL));
    /* An unknown unit: no report at all for an actor who may not edit; an author learns the field is wrong. */
    c.unit = "atlantis";
    DENIED(eng_campaign_create(f.e, "vic", &c, &id, NULL));
    DENIED(eng_campaign_create(f.e, "bob", &c, &id, NULL));
    eng_validation *rv = NULL;
    REFUSED_ON(f.e, eng_campaign_create(f.e, "nat", &c, &id, &rv), ENG_EVALIDATION);
    assert_report(rv, "campaign.unit", ENG_ENOTFOUND);
    eng_validation_free(rv);

    /* Approving and rejecting (approver or admin, in scope, not one's own message). */
    const char *const no_approve[] = {"vic", "ann", "nat", "sam", "uadm", "gadmin"};
    for (size_t i = 0; i < sizeof no_approve / sizeof no_approve[0]; i++) {
        DENIED(eng_message_approve(f.e, no_approve[i], awaiting, NULL, "ok"));
        DENIED(eng_message_reject(f.e, no_approve[i], awaiting, "no"));
        DENIED(eng_campaign_approve(f.e, no_approve[i], cid, "ok"));
        DENIED(eng_campaign_reject(f.e, no_approve[i], cid, "no"));
    }
    DENIED(eng_message_approve(f.e, "root", awaiting, NULL, "mine")); /* root created it */
    DENIED(eng_campaign_approve(f.e, "root", cid, "mine"));

    /* Execution (admin in scope). */
    const char *const no_exec[] = {"vic", "ann", "bob", "nat", "sam", "uadm", "gadmin"};
    for (size_t i = 0; i < sizeof no_exec / sizeof no_exec[0]; i++) {
        DENIED(eng_message_execute(f.e, no_exec[i], approved, ENG_ACT_START));
        DENIED(eng_message_execute(f.e, no_exec[i], approved, ENG_ACT_STOP));
        DENIED(eng_message_execute(f.e, no_exec[i], executing, ENG_ACT_FINISH));
    }

    /* Org administration (admin with org scope, own org). */
    eng_org_settings s;
    assert_int_equal(eng_org_settings_get(f.e, "root", &s), ENG_OK);
    s.allow_self_approval = 1;
    eng_actor_spec a;
    eng_actor_spec_init(&a, ENG_ACTOR_SPEC_VERSION);
    a.id = "mallory";
    a.roles = ENG_ROLE_ADMIN;
    const char *const no_admin[] = {"vic", "ann", "bob", "nat", "sam", "uadm"};
    for (size_t i = 0; i < sizeof no_admin / sizeof no_admin[0]; i++) {
        const char *who = no_admin[i];
        DENIED(eng_org_settings_set(f.e, who, &s, NULL));
        DENIED(eng_unit_add(f.e, who, "east", NULL));
        DENIED(eng_actor_put(f.e, who, &a));
        a.id = who; /* raising one's own roles */
        DENIED(eng_actor_put(f.e, who, &a));
        a.id = "mallory";
        DENIED(eng_credits_adjust(f.e, who, ENG_CREDITS_CAMPAIGN, 1000));
        DENIED(eng_credits_adjust(f.e, who, ENG_CREDITS_XENGAGE, -10));
        eng_audit_iter *it = NULL;
        DENIED(eng_audit_open(f.e, who, &it));
        assert_null(it);
    }
    /* Another org's admin cannot take over an actor of this org. */
    a.id = "ann";
    REFUSED_ON(f.e, eng_actor_put(f.e, "gadmin", &a), ENG_EEXISTS);
    /* Reads out of scope are denied too. */
    eng_campaign *ch = NULL;
    eng_message *mh = NULL;
    eng_validation *v = NULL;
    DENIED(eng_campaign_get(f.e, "nat", cid, &ch));
    DENIED(eng_campaign_get(f.e, "gadmin", cid, &ch));
    DENIED(eng_message_get(f.e, "sam", draft, &mh));
    DENIED(eng_message_get(f.e, "gadmin", draft, &mh));
    DENIED(eng_message_validate(f.e, "uadm", draft, &v));
    assert_null(ch);
    assert_null(mh);
    assert_null(v);
    assert_int_equal(events, 0);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(denials_change_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
