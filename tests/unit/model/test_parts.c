/* Sub-structs reached by pointer (issue 8): what NULL means, the version each
 * carries, and how long the ones the library hands out live. */
#include "model_fixture.h"

#include "store_digest.h"

/* A message with NULL incentive, schedule and delivery is the message with
 * their INIT defaults: same stored content, same hash, and it reads back with
 * all three set, at the current version. */
static void message_parts_null_is_init(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    eng_campaign_spec c = fx_campaign("Parts");
    uint64_t cid, a, b;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, NULL), ENG_OK);
    eng_message_spec m = fx_message();
    m.schedule = NULL;
    assert_null(m.incentive);
    assert_null(m.delivery);
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &a, NULL), ENG_OK);
    eng_incentive in = ENG_INCENTIVE_INIT;
    eng_schedule sc;
    eng_delivery d;
    assert_int_equal(eng_schedule_init(&sc, ENG_SCHEDULE_VERSION), ENG_OK);
    assert_int_equal(eng_delivery_init(&d, ENG_DELIVERY_VERSION), ENG_OK);
    m.incentive = &in, m.schedule = &sc, m.delivery = &d;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &b, NULL), ENG_OK);
    eng_message *ha = NULL, *hb = NULL;
    assert_int_equal(eng_message_get(f.e, "ann", a, &ha), ENG_OK);
    assert_int_equal(eng_message_get(f.e, "ann", b, &hb), ENG_OK);
    const eng_message_spec *r = fx_msg_fields(ha);
    assert_non_null(r->incentive);
    assert_non_null(r->schedule);
    assert_non_null(r->delivery);
    assert_int_equal(r->incentive->version, ENG_INCENTIVE_VERSION);
    assert_int_equal(r->schedule->version, ENG_SCHEDULE_VERSION);
    assert_int_equal(r->delivery->version, ENG_DELIVERY_VERSION);
    assert_int_equal(r->incentive->kind, ENG_INCENTIVE_NONE);
    assert_int_equal(r->schedule->kind, ENG_SCHEDULE_NONE);
    assert_int_equal(r->delivery->n_senders + r->delivery->n_poc, 0);
    assert_int_equal(r->delivery->tiny_url, 0);
    /* The content hash covers the campaign too, so equal hashes mean equal message content. */
    assert_string_equal(fx_msg_hash(ha), fx_msg_hash(hb));
    /* A NULL schedule is "none yet": submission asks for one, at the same path as before. */
    eng_validation *v = NULL;
    assert_int_equal(eng_message_submit(f.e, "ann", a, &v), ENG_EVALIDATION);
    assert_report(v, "message.schedule", ENG_EINVAL);
    eng_validation_free(v);
    /* A snapshot's parts live as long as the snapshot, whatever else happens meanwhile. */
    uint64_t other;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &other, NULL), ENG_OK);
    assert_int_equal(eng_message_delete(f.e, "ann", a), ENG_OK);
    assert_int_equal(r->schedule->kind, ENG_SCHEDULE_NONE);
    assert_int_equal(r->incentive->kind, ENG_INCENTIVE_NONE);
    eng_message_free(ha);
    eng_message_free(hb);
    fx_close(&f);
}

/* Each part's version is checked before anything else; the detail names the part. */
static void part_versions_checked(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    eng_campaign_spec c = fx_campaign("Versions");
    uint64_t cid, id = 0;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, NULL), ENG_OK);
    uint8_t before[ENG__SHA256_LEN], after[ENG__SHA256_LEN];
    store_digest(f.e, before);
    eng_message_spec m = fx_message();
    eng_schedule sc = *m.schedule;
    sc.version = 0;
    m.schedule = &sc;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, NULL), ENG_EVERSION);
    assert_string_equal(eng_error_last()->detail, "message.schedule.version");
    sc.version = ENG_SCHEDULE_VERSION;
    eng_incentive in = ENG_INCENTIVE_INIT;
    in.version = ENG_INCENTIVE_VERSION + 1;
    m.incentive = &in;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, NULL), ENG_EVERSION);
    assert_string_equal(eng_error_last()->detail, "message.incentive.version");
    m.incentive = NULL;
    eng_delivery d = ENG_DELIVERY_INIT;
    d.version = 7;
    m.delivery = &d;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, NULL), ENG_EVERSION);
    assert_string_equal(eng_error_last()->detail, "message.delivery.version");
    eng_goal_spec g = ENG_GOAL_SPEC_INIT;
    g.event = "transaction";
    g.version = 0;
    c.goal_mode = ENG_GOAL_CUSTOM;
    c.goal = &g;
    c.name = "Versions 2";
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &id, NULL), ENG_EVERSION);
    assert_string_equal(eng_error_last()->detail, "campaign.goal.version");
    eng_org_settings s;
    assert_int_equal(eng_org_settings_get(f.e, "root", &s), ENG_OK);
    s.default_goal = &g;
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, NULL), ENG_EVERSION);
    assert_string_equal(eng_error_last()->detail, "org.settings.default_goal.version");
    assert_int_equal(id, 0);
    store_digest(f.e, after);
    assert_memory_equal(before, after, sizeof before);
    /* The inits refuse what every init refuses. */
    assert_int_equal(eng_goal_spec_init(NULL, ENG_GOAL_SPEC_VERSION), ENG_EINVAL);
    assert_int_equal(eng_goal_spec_init(&g, ENG_GOAL_SPEC_VERSION + 1), ENG_EVERSION);
    assert_int_equal(eng_incentive_init(&in, 0), ENG_EVERSION);
    assert_int_equal(eng_schedule_init(NULL, ENG_SCHEDULE_VERSION), ENG_EINVAL);
    assert_int_equal(eng_delivery_init(&d, 0), ENG_EVERSION);
    fx_close(&f);
}

/* Goals: NULL where a goal is required is a validation failure at the goal's
 * path; NULL where none is used is fine and reads back NULL. */
static void goal_pointers(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    eng_campaign_spec c = fx_campaign("Goals");
    c.goal_mode = ENG_GOAL_CUSTOM;
    c.goal = NULL;
    uint64_t id = 0, none, dflt;
    eng_validation *v = NULL;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &id, &v), ENG_EVALIDATION);
    assert_report(v, "campaign.goal", ENG_EINVAL);
    eng_validation_free(v);
    c.goal_mode = ENG_GOAL_NONE;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &none, NULL), ENG_OK);
    c.name = "Goals by default";
    c.goal_mode = ENG_GOAL_DEFAULT;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &dflt, NULL), ENG_OK);
    eng_campaign *h = NULL;
    assert_int_equal(eng_campaign_get(f.e, "ann", none, &h), ENG_OK);
    assert_int_equal(fx_camp_fields(h)->goal_mode, ENG_GOAL_NONE);
    assert_null(fx_camp_fields(h)->goal);
    eng_campaign_free(h);
    /* The org default read back while the settings are replaced: the campaign's copy is its own. */
    eng_org_settings s;
    assert_int_equal(eng_org_settings_get(f.e, "root", &s), ENG_OK);
    assert_non_null(s.default_goal);
    assert_int_equal(s.default_goal->version, ENG_GOAL_SPEC_VERSION);
    s.has_default_goal = 0;
    s.default_goal = NULL; /* ignored without has_default_goal */
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, NULL), ENG_OK);
    assert_int_equal(eng_campaign_get(f.e, "ann", dflt, &h), ENG_OK);
    const eng_campaign_spec *r = fx_camp_fields(h);
    assert_int_equal(r->goal_mode, ENG_GOAL_CUSTOM);
    assert_int_equal(r->goal->version, ENG_GOAL_SPEC_VERSION);
    assert_string_equal(r->goal->event, "transaction");
    assert_string_equal(r->goal->condition, "amount > 3000");
    /* The settings read back: no default goal, a NULL pointer; the snapshot's goal is untouched. */
    assert_int_equal(eng_org_settings_get(f.e, "root", &s), ENG_OK);
    assert_int_equal(s.has_default_goal, 0);
    assert_null(s.default_goal);
    assert_int_equal(r->goal->window_days, 20);
    eng_campaign_free(h);
    /* has_default_goal with no goal: refused at the goal's path. */
    s.has_default_goal = 1;
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, &v), ENG_EVALIDATION);
    assert_string_equal(eng_error_last()->detail, "org.settings.default_goal");
    assert_report(v, "org.settings.default_goal", ENG_EINVAL);
    eng_validation_free(v);
    /* The engine-owned goal of eng_org_settings_get() lives until the next such call. */
    eng_goal_spec g = ENG_GOAL_SPEC_INIT;
    g.event = "transaction";
    g.window_days = 45;
    s.default_goal = &g;
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, NULL), ENG_OK);
    assert_int_equal(eng_org_settings_get(f.e, "root", &s), ENG_OK);
    uint64_t later;
    c.name = "Later";
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &later, NULL), ENG_OK);
    assert_int_equal(s.default_goal->window_days, 45);
    assert_string_equal(s.default_goal->condition, "");
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(message_parts_null_is_init),
        cmocka_unit_test(part_versions_checked),
        cmocka_unit_test(goal_pointers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
