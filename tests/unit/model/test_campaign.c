/* Orgs, units, settings, actors, campaign rules and campaign persistence. */
#include "model_fixture.h"
#include "store_digest.h"

#include <stdlib.h>

static void org_units_settings(void **st)
{
    eng_goal_spec goal = ENG_GOAL_SPEC_INIT;
    (void)st;
    fx f;
    fx_open(&f);
    /* Bad ids, duplicates. */
    assert_int_equal(eng_org_create(f.e, "bad id", NULL, "x", NULL), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "org.id");
    assert_int_equal(eng_org_create(f.e, "acme", NULL, "x", NULL), ENG_EEXISTS);
    assert_string_equal(eng_error_last()->detail, "org.id");
    assert_int_equal(eng_org_create(f.e, "globex", NULL, "ann", NULL), ENG_EEXISTS);
    assert_string_equal(eng_error_last()->detail, "actor.id");
    /* Units: parent must exist, ids unique, admin only. */
    assert_int_equal(eng_unit_add(f.e, "root", "east", "nowhere"), ENG_ENOTFOUND);
    assert_string_equal(eng_error_last()->detail, "unit.parent");
    assert_int_equal(eng_unit_add(f.e, "root", "north", NULL), ENG_EEXISTS);
    assert_int_equal(eng_unit_add(f.e, "ann", "east", NULL), ENG_EDENIED);
    assert_int_equal(eng_unit_add(f.e, "nobody", "east", NULL), ENG_EDENIED);
    assert_int_equal(eng_unit_add(f.e, NULL, "east", NULL), ENG_EDENIED);
    /* Settings: read by anyone of the org with org-level access (the seed's "Campaign
     * Attribution" section), written by admins, checked. */
    eng_org_settings s;
    memset(&s, 0x5a, sizeof s);
    assert_int_equal(eng_org_settings_get(f.e, "nat", &s), ENG_EDENIED); /* one unit */
    assert_string_equal(eng_error_last()->detail, "actor");
    assert_int_equal(eng_org_settings_get(f.e, "sam", &s), ENG_EDENIED); /* several units, not the org */
    assert_int_equal(s.version, 0x5a5a5a5a); /* nothing written */
    assert_int_equal(eng_org_settings_get(f.e, "vic", &s), ENG_OK);
    assert_int_equal(s.conversion_goals, 1);
    assert_int_equal(s.xengage, ENG_XENGAGE_TRIAL);
    assert_string_equal(s.default_goal->event, "transaction");
    assert_string_equal(s.default_goal->condition, "amount > 3000");
    assert_int_equal(s.default_goal->window_days, 20);
    assert_int_equal(s.default_goal->start_on, ENG_GOAL_ON_DELIVERED);
    s.channel_cost[ENG_CH_EMAIL] = -1;
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, NULL), ENG_EVALIDATION);
    assert_string_equal(eng_error_last()->detail, "org.settings.channel_cost[1]");
    s.channel_cost[ENG_CH_EMAIL] = 3;
    goal = *s.default_goal; /* start from the stored goal */
    goal.window_days = 0;
    s.default_goal = &goal;
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, NULL), ENG_EVALIDATION);
    assert_string_equal(eng_error_last()->detail, "org.settings.default_goal.window_days");
    goal.window_days = 45;
    assert_int_equal(eng_org_settings_set(f.e, "ann", &s, NULL), ENG_EDENIED);
    assert_int_equal(eng_org_settings_set(f.e, "sam", &s, NULL), ENG_EDENIED);
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, NULL), ENG_OK);
    s.version = 99;
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, NULL), ENG_EVERSION);
    fx_reopen(&f);
    assert_int_equal(eng_org_settings_get(f.e, "vic", &s), ENG_OK);
    assert_int_equal(s.channel_cost[ENG_CH_EMAIL], 3);
    assert_int_equal(s.default_goal->window_days, 45);
    assert_int_equal(eng_org_settings_get(f.e, "vic", NULL), ENG_EINVAL);
    fx_close(&f);
}

/* Every org setting out of range is refused with its field path, nothing stored. */
static void settings_rules(void **st)
{
    eng_goal_spec s_goal = ENG_GOAL_SPEC_INIT;
    (void)st;
    fx f;
    fx_open(&f);
    struct {
        const char *path;
        int code;
    } cases[] = {{"org.settings.xengage", ENG_EINVAL},
                 {"org.settings.xengage", ENG_EINVAL},
                 {"org.settings.channel_cost[0]", ENG_ERANGE},
                 {"org.settings.channel_cost[15]", ENG_ERANGE},
                 {"org.settings.xengage_cost", ENG_ERANGE},
                 {"org.settings.xengage_cost", ENG_ERANGE},
                 {"org.settings.default_goal.event", ENG_EINVAL},
                 {"org.settings.default_goal.start_on", ENG_EINVAL},
                 {"org.settings.default_goal.attribution", ENG_EINVAL},
                 {"org.settings.default_goal.window_days", ENG_ERANGE}};
    size_t keys = test_store_count(f.ts);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        eng_org_settings s;
        assert_int_equal(eng_org_settings_get(f.e, "root", &s), ENG_OK);
        eng_goal_spec goal = *s.default_goal; /* engine-owned: change a copy */
        switch (i) {
        case 0: s.xengage = -1; break;
        case 1: s.xengage = 3; break;
        case 2: s.channel_cost[0] = -1; break;
        case 3: s.channel_cost[15] = 1000000001; break;
        case 4: s.xengage_cost = -1; break;
        case 5: s.xengage_cost = 1000000001; break;
        case 6: goal.event = ""; break;
        case 7: goal.start_on = 9; break;
        case 8: goal.attribution = -1; break;
        case 9: goal.window_days = 91; break;
        }
        s.default_goal = &goal;
        eng_validation *v = NULL;
        assert_int_equal(eng_org_settings_set(f.e, "root", &s, &v), ENG_EVALIDATION);
        assert_string_equal(eng_error_last()->detail, cases[i].path);
        assert_int_equal(eng_validation_count(v), 1);
        assert_report(v, cases[i].path, cases[i].code);
        eng_validation_free(v);
        /* A new org is checked the same way. */
        assert_int_equal(eng_org_create(f.e, "globex", &s, "gadmin", &v), ENG_EVALIDATION);
        assert_string_equal(eng_error_last()->detail, cases[i].path);
        assert_int_equal(eng_validation_count(v), 1);
        assert_report(v, cases[i].path, cases[i].code);
        eng_validation_free(v);
    }
    assert_int_equal(test_store_count(f.ts), keys);
    /* Without a default goal its fields are not checked; the bounds themselves pass. */
    eng_org_settings s;
    assert_int_equal(eng_org_settings_get(f.e, "root", &s), ENG_OK);
    s.has_default_goal = 0;
    s_goal.window_days = 0;
    s.default_goal = &s_goal;
    s.channel_cost[3] = 0;
    s.channel_cost[4] = 1000000000;
    s.xengage_cost = 0;
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, NULL), ENG_OK);
    fx_close(&f);
}

/* The report holds every failing setting, in check order, each with its code and path. */
typedef struct want_item {
    const char *path;
    int code;
} want_item;

static void assert_items(const eng_validation *v, const want_item *want, size_t n)
{
    assert_non_null(v);
    assert_int_equal(eng_validation_count(v), n);
    for (size_t i = 0; i < n; i++) {
        int code = 0;
        const char *path = NULL, *msg = NULL;
        assert_int_equal(eng_validation_item(v, i, &code, &path, &msg), ENG_OK);
        if (strcmp(path, want[i].path) != 0)
            fprintf(stderr, "item %zu: %s, want %s\n", i, path, want[i].path);
        assert_string_equal(path, want[i].path);
        assert_int_equal(code, want[i].code);
        assert_true(msg && *msg);
    }
    assert_int_equal(eng_validation_item(v, n, NULL, NULL, NULL), ENG_ERANGE);
}

/* Both eng_org_settings_set and eng_org_create report every failing setting in one call
 * (not just the first), leave the store as it was, and give a report only for ENG_EVALIDATION. */
static void settings_report(void **st)
{
    eng_goal_spec goal = ENG_GOAL_SPEC_INIT;
    eng_goal_spec s_goal = ENG_GOAL_SPEC_INIT;
    (void)st;
    fx f;
    fx_open(&f);
    eng_org_settings s, good;
    assert_int_equal(eng_org_settings_get(f.e, "root", &s), ENG_OK);
    good = s;
    /* The strings eng_org_settings_get() gave live only until its next call: own copies. */
    goal = *s.default_goal;
    goal.event = "transaction";
    goal.condition = "amount > 3000";
    good.default_goal = &goal;
    char *huge = malloc(65538);
    assert_non_null(huge);
    memset(huge, 'a', 65537);
    huge[65537] = 0;
    s.xengage = 7;
    s.channel_cost[ENG_CH_SMS] = -3;
    s.channel_cost[ENG_CH_PUSH] = 1000000001;
    s.channel_cost[15] = -1;
    s.xengage_cost = 1000000001;
    s_goal = (eng_goal_spec){ENG_GOAL_SPEC_VERSION, "", huge, 91, -1, 5};
    s.default_goal = &s_goal;
    const want_item want[] = {
        {"org.settings.xengage", ENG_EINVAL},
        {"org.settings.channel_cost[0]", ENG_ERANGE},
        {"org.settings.channel_cost[2]", ENG_ERANGE},
        {"org.settings.channel_cost[15]", ENG_ERANGE},
        {"org.settings.xengage_cost", ENG_ERANGE},
        {"org.settings.default_goal.event", ENG_EINVAL},
        {"org.settings.default_goal.condition", ENG_ETOOBIG},
        {"org.settings.default_goal.window_days", ENG_ERANGE},
        {"org.settings.default_goal.start_on", ENG_EINVAL},
        {"org.settings.default_goal.attribution", ENG_EINVAL},
    };
    const size_t nwant = sizeof want / sizeof want[0];
    eng_validation *v = NULL;
    REFUSED_ON(f.e, eng_org_settings_set(f.e, "root", &s, &v), ENG_EVALIDATION);
    assert_items(v, want, nwant);
    eng_validation_free(v);
    v = NULL;
    REFUSED_ON(f.e, eng_org_create(f.e, "globex", &s, "gadmin", &v), ENG_EVALIDATION);
    assert_items(v, want, nwant);
    eng_validation_free(v);
    /* Without a report the call fails the same way; the last error names the first failure. */
    REFUSED_ON(f.e, eng_org_settings_set(f.e, "root", &s, NULL), ENG_EVALIDATION);
    REFUSED_ON(f.e, eng_org_create(f.e, "globex", &s, "gadmin", NULL), ENG_EVALIDATION);
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, NULL), ENG_EVALIDATION);
    assert_string_equal(eng_error_last()->detail, "org.settings.xengage");
    assert_int_equal(eng_org_create(f.e, "globex", &s, "gadmin", NULL), ENG_EVALIDATION);
    assert_string_equal(eng_error_last()->detail, "org.settings.xengage");
    /* The settings are still those stored before. */
    eng_org_settings now;
    assert_int_equal(eng_org_settings_get(f.e, "root", &now), ENG_OK);
    assert_int_equal(now.xengage, good.xengage);
    assert_int_equal(now.channel_cost[ENG_CH_SMS], good.channel_cost[ENG_CH_SMS]);
    assert_int_equal(now.default_goal->window_days, good.default_goal->window_days);
    assert_string_equal(now.default_goal->event, "transaction");
    /* No report for other failures (a dangling pointer is overwritten with NULL), nor for success. */
    eng_validation *dummy = (eng_validation *)&s;
    v = dummy;
    REFUSED_ON(f.e, eng_org_settings_set(f.e, "ann", &s, &v), ENG_EDENIED); /* deny by default: no report */
    assert_null(v);
    v = dummy;
    REFUSED_ON(f.e, eng_org_settings_set(f.e, "root", NULL, &v), ENG_EINVAL);
    assert_null(v);
    v = dummy;
    REFUSED_ON(f.e, eng_org_settings_set(NULL, "root", &s, &v), ENG_EMISUSE);
    assert_null(v);
    v = dummy;
    s.version = 99;
    REFUSED_ON(f.e, eng_org_settings_set(f.e, "root", &s, &v), ENG_EVERSION);
    assert_null(v);
    v = dummy;
    REFUSED_ON(f.e, eng_org_create(f.e, "globex", &s, "gadmin", &v), ENG_EVERSION);
    assert_null(v);
    s.version = ENG_ORG_SETTINGS_VERSION;
    v = dummy;
    REFUSED_ON(f.e, eng_org_create(f.e, "bad id", &s, "gadmin", &v), ENG_EINVAL);
    assert_null(v);
    v = dummy;
    REFUSED_ON(f.e, eng_org_create(f.e, "acme", NULL, "gadmin", &v), ENG_EEXISTS);
    assert_null(v);
    v = dummy;
    assert_int_equal(eng_org_settings_set(f.e, "root", &good, &v), ENG_OK);
    assert_null(v);
    v = dummy;
    assert_int_equal(eng_org_create(f.e, "globex", NULL, "gadmin", &v), ENG_OK);
    assert_null(v);
    free(huge);
    fx_close(&f);
}

static void actors(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    eng_actor_spec a;
    eng_actor_spec_init(&a, ENG_ACTOR_SPEC_VERSION);
    a.id = "zed";
    assert_int_equal(eng_actor_put(f.e, "root", &a), ENG_EINVAL); /* no roles */
    assert_string_equal(eng_error_last()->detail, "actor.roles");
    a.roles = 0x100;
    assert_int_equal(eng_actor_put(f.e, "root", &a), ENG_EINVAL);
    a.roles = ENG_ROLE_VIEWER;
    a.scope = ENG_SCOPE_UNIT; /* needs exactly one unit */
    assert_int_equal(eng_actor_put(f.e, "root", &a), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "actor.units");
    const char *const ghost[] = {"ghost"};
    a.units = ghost;
    a.n_units = 1;
    assert_int_equal(eng_actor_put(f.e, "root", &a), ENG_ENOTFOUND);
    a.scope = 7;
    assert_int_equal(eng_actor_put(f.e, "root", &a), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "actor.scope");
    a.scope = ENG_SCOPE_ORG;
    a.n_units = 0;
    assert_int_equal(eng_actor_put(f.e, "ann", &a), ENG_EDENIED); /* only admins */
    assert_int_equal(eng_actor_put(f.e, "root", &a), ENG_OK);
    /* Another org cannot take over an actor id. */
    assert_int_equal(eng_org_create(f.e, "globex", NULL, "gadmin", NULL), ENG_OK);
    assert_int_equal(eng_actor_put(f.e, "gadmin", &a), ENG_EEXISTS);
    assert_int_equal(eng_access_check(f.e, "zed", ENG_OP_READ, NULL), ENG_OK);
    assert_int_equal(eng_access_check(f.e, "zed", ENG_OP_EDIT, NULL), ENG_EDENIED);
    assert_int_equal(eng_access_check(f.e, "zed", 42, NULL), ENG_EINVAL);
    fx_close(&f);
}

static void campaign_rules(void **st)
{
    eng_goal_spec c_goal = ENG_GOAL_SPEC_INIT;
    (void)st;
    fx f;
    fx_open(&f);
    uint64_t id = 0;
    eng_validation *v = NULL;
    eng_campaign_spec c = fx_campaign("Diwali");
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &id, &v), ENG_OK);
    assert_null(v);
    assert_true(id > 0);
    size_t keys = test_store_count(f.ts);

    struct {
        const char *path;
        int code;
    } cases[] = {
        {"campaign.name", ENG_EINVAL},          {"campaign.name", ENG_ETOOBIG},
        {"campaign.name", ENG_EEXISTS},         {"campaign.end", ENG_ERANGE},
        {"campaign.unit", ENG_ENOTFOUND},       {"campaign.type", ENG_EINVAL},
        {"campaign.objective", ENG_EINVAL},     {"campaign.products", ENG_EINVAL},
        {"campaign.products", ENG_EINVAL},      {"campaign.stores", ENG_EINVAL},
        {"campaign.stores", ENG_EINVAL},        {"campaign.control_percent", ENG_ERANGE},
        {"campaign.ga_account", ENG_EINVAL},    {"campaign.goal.window_days", ENG_ERANGE},
        {"campaign.goal.event", ENG_EINVAL},    {"campaign.goal_mode", ENG_EINVAL},
        {"campaign.product_items[0]", ENG_EINVAL}, {"campaign.start", ENG_ERANGE},
        {"campaign.end", ENG_ERANGE},           {"campaign.goal.start_on", ENG_EINVAL},
        {"campaign.goal.attribution", ENG_EINVAL}, {"campaign.goal.condition", ENG_ETOOBIG},
        {"campaign.goal.window_days", ENG_ERANGE}, {"campaign.zones[0]", ENG_EINVAL},
    };
    static char hugecond[65600];
    memset(hugecond, 'a', sizeof hugecond - 1);
    char longname[200];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    const char *const items[] = {"SKU-1"};
    const char *const empty_item[] = {""};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        c = fx_campaign("Other");
        eng_goal_spec cgoal = ENG_GOAL_SPEC_INIT;
        switch (i) {
        case 0: c.name = ""; break;
        case 1: c.name = longname; break;
        case 2: c.name = "Diwali"; break;
        case 3: c.end = c.start; break;
        case 4: c.unit = "atlantis"; break;
        case 5: c.type = 3; break;
        case 6: c.objective = 10; break;
        case 7: c.objective = ENG_OBJ_PROMOTE_PRODUCTS; break;
        case 8: c.product_items = items; c.n_product_items = 1; break;
        case 9: c.objective = ENG_OBJ_STORE_VISITS; break;
        case 10: c.stores = items; c.n_stores = 1; break;
        case 11: c.control_percent = 51; break;
        case 12: c.ga_account = "analytics please"; break;
        case 13: c.goal_mode = ENG_GOAL_CUSTOM; cgoal.event = "transaction"; cgoal.window_days = 0; c.goal = &cgoal; break;
        case 14: c.goal_mode = ENG_GOAL_CUSTOM; cgoal.event = ""; c.goal = &cgoal; break;
        case 15: c.goal_mode = 9; break;
        case 16: c.objective = ENG_OBJ_PROMOTE_PRODUCTS; c.product_items = empty_item; c.n_product_items = 1; break;
        case 17: c.start = -5; break;
        case 18: c.end = INT64_MAX; break;
        case 19: c.goal_mode = ENG_GOAL_CUSTOM; cgoal.event = "transaction"; cgoal.start_on = 4; c.goal = &cgoal; break;
        case 20: c.goal_mode = ENG_GOAL_CUSTOM; cgoal.event = "transaction"; cgoal.attribution = 5; c.goal = &cgoal; break;
        case 21: c.goal_mode = ENG_GOAL_CUSTOM; cgoal.event = "transaction"; cgoal.condition = hugecond; c.goal = &cgoal; break;
        case 22: c.goal_mode = ENG_GOAL_CUSTOM; cgoal.event = "transaction"; cgoal.window_days = 91; c.goal = &cgoal; break;
        case 23: c.objective = ENG_OBJ_STORE_VISITS; c.zones = empty_item; c.n_zones = 1; break;
        }
        v = NULL;
        assert_int_equal(eng_campaign_create(f.e, "ann", &c, &id, &v), ENG_EVALIDATION);
        assert_non_null(v);
        assert_report(v, cases[i].path, cases[i].code);
        assert_string_equal(eng_error_last()->detail, cases[i].path);
        eng_validation_free(v);
    }
    /* Several failures come back at once. */
    c = fx_campaign("");
    c.end = c.start - 1;
    c.control_percent = 90;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &id, &v), ENG_EVALIDATION);
    assert_int_equal(eng_validation_count(v), 3);
    int code;
    const char *path, *msg;
    assert_int_equal(eng_validation_item(v, 1, &code, &path, &msg), ENG_OK);
    assert_string_equal(path, "campaign.end");
    assert_int_equal(code, ENG_ERANGE);
    assert_true(strlen(msg) > 0);
    assert_int_equal(eng_validation_item(v, 3, &code, &path, &msg), ENG_ERANGE);
    eng_validation_free(v);
    /* The valid objectives with their lists pass. */
    c = fx_campaign("Shoes");
    c.objective = ENG_OBJ_PROMOTE_PRODUCTS;
    c.product_items = items;
    c.n_product_items = 1;
    c.ga_account = "G-ABC123";
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &id, NULL), ENG_OK);
    /* Nothing was written by the refused calls. */
    assert_int_equal(test_store_count(f.ts), keys + 3); /* campaign, name index, audit entry */
    /* Conversion goals disabled for the org: a custom goal is refused. */
    eng_org_settings s;
    eng_org_settings_get(f.e, "root", &s);
    s.conversion_goals = 0;
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, NULL), ENG_OK);
    c = fx_campaign("Goal");
    c.goal_mode = ENG_GOAL_CUSTOM;
    c_goal.event = "transaction";
    c.goal = &c_goal;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &id, &v), ENG_EVALIDATION);
    assert_report(v, "campaign.goal", ENG_EUNSUPPORTED);
    eng_validation_free(v);
    /* ... and the default is not copied. */
    c.goal_mode = ENG_GOAL_DEFAULT;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &id, NULL), ENG_OK);
    eng_campaign *h;
    assert_int_equal(eng_campaign_get(f.e, "vic", id, &h), ENG_OK);
    assert_int_equal(fx_camp_fields(h)->goal_mode, ENG_GOAL_NONE);
    eng_campaign_free(h);
    /* Argument errors. */
    assert_int_equal(eng_campaign_create(f.e, "ann", NULL, &id, NULL), ENG_EINVAL);
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, NULL, NULL), ENG_EINVAL);
    c.version = 0;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &id, NULL), ENG_EVERSION);
    assert_int_equal(eng_campaign_create(NULL, "ann", &c, &id, NULL), ENG_EMISUSE);
    assert_int_equal(eng_campaign_get(f.e, "vic", 999, &h), ENG_ENOTFOUND);
    fx_close(&f);
}

static void campaign_goal_and_update(void **st)
{
    eng_goal_spec c_goal = ENG_GOAL_SPEC_INIT;
    eng_goal_spec os_goal = ENG_GOAL_SPEC_INIT;
    (void)st;
    fx f;
    fx_open(&f);
    uint64_t id;
    eng_campaign_spec c = fx_campaign("Goal");
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &id, NULL), ENG_OK);
    eng_campaign *h;
    assert_int_equal(eng_campaign_get(f.e, "ann", id, &h), ENG_OK);
    const eng_campaign_spec *g = fx_camp_fields(h);
    assert_int_equal(g->goal_mode, ENG_GOAL_CUSTOM); /* copied from the org default */
    assert_string_equal(g->goal->event, "transaction");
    assert_string_equal(g->goal->condition, "amount > 3000");
    assert_int_equal(g->goal->window_days, 20);
    eng_campaign_free(h);
    /* Editable and removable before any approval. */
    c.goal_mode = ENG_GOAL_CUSTOM;
    c_goal.event = "transaction";
    c_goal.window_days = 15;
    c_goal.attribution = ENG_ATTR_FIRST_TOUCH;
    c.goal = &c_goal;
    assert_int_equal(eng_campaign_update(f.e, "ann", id, &c, NULL), ENG_OK);
    c.goal_mode = ENG_GOAL_NONE;
    c.name = "Goal renamed";
    assert_int_equal(eng_campaign_update(f.e, "ann", id, &c, NULL), ENG_OK);
    assert_int_equal(eng_campaign_get(f.e, "ann", id, &h), ENG_OK);
    assert_int_equal(fx_camp_fields(h)->goal_mode, ENG_GOAL_NONE);
    assert_string_equal(fx_camp_fields(h)->name, "Goal renamed");
    eng_campaign_free(h);
    /* The old name is free again, the new one taken. */
    eng_campaign_spec d = fx_campaign("Goal");
    uint64_t id2;
    assert_int_equal(eng_campaign_create(f.e, "ann", &d, &id2, NULL), ENG_OK);
    d.name = "Goal renamed";
    eng_validation *v;
    assert_int_equal(eng_campaign_update(f.e, "ann", id2, &d, &v), ENG_EVALIDATION);
    assert_report(v, "campaign.name", ENG_EEXISTS);
    eng_validation_free(v);
    /* A campaign's goal is its own: the org default and other campaigns keep theirs. */
    eng_org_settings os;
    assert_int_equal(eng_org_settings_get(f.e, "root", &os), ENG_OK);
    assert_int_equal(os.default_goal->window_days, 20);
    assert_int_equal(os.default_goal->attribution, ENG_ATTR_LAST_TOUCH);
    assert_int_equal(eng_campaign_get(f.e, "ann", id2, &h), ENG_OK);
    assert_int_equal(fx_camp_fields(h)->goal->window_days, 20);
    eng_campaign_free(h);
    /* "Reset to default" brings the org's goal back. */
    c.goal_mode = ENG_GOAL_DEFAULT;
    assert_int_equal(eng_campaign_update(f.e, "ann", id, &c, NULL), ENG_OK);
    assert_int_equal(eng_campaign_get(f.e, "ann", id, &h), ENG_OK);
    assert_int_equal(fx_camp_fields(h)->goal_mode, ENG_GOAL_CUSTOM);
    assert_int_equal(fx_camp_fields(h)->goal->window_days, 20);
    assert_string_equal(fx_camp_fields(h)->goal->condition, "amount > 3000");
    eng_campaign_free(h);
    /* Editing the org default changes campaigns created afterwards only. */
    os_goal = *os.default_goal; /* start from the stored goal */
    os_goal.window_days = 45;
    os_goal.condition = "amount > 5000";
    os.default_goal = &os_goal;
    assert_int_equal(eng_org_settings_set(f.e, "root", &os, NULL), ENG_OK);
    eng_campaign_spec e3 = fx_campaign("After edit");
    uint64_t id3;
    assert_int_equal(eng_campaign_create(f.e, "ann", &e3, &id3, NULL), ENG_OK);
    assert_int_equal(eng_campaign_get(f.e, "ann", id3, &h), ENG_OK);
    assert_int_equal(fx_camp_fields(h)->goal->window_days, 45);
    assert_string_equal(fx_camp_fields(h)->goal->condition, "amount > 5000");
    eng_campaign_free(h);
    assert_int_equal(eng_campaign_get(f.e, "ann", id2, &h), ENG_OK);
    assert_int_equal(fx_camp_fields(h)->goal->window_days, 20);
    eng_campaign_free(h);
    /* Removing the org default: later campaigns have no goal by default. */
    os.has_default_goal = 0;
    assert_int_equal(eng_org_settings_set(f.e, "root", &os, NULL), ENG_OK);
    e3.name = "After removal";
    assert_int_equal(eng_campaign_create(f.e, "ann", &e3, &id3, NULL), ENG_OK);
    assert_int_equal(eng_campaign_get(f.e, "ann", id3, &h), ENG_OK);
    assert_int_equal(fx_camp_fields(h)->goal_mode, ENG_GOAL_NONE);
    eng_campaign_free(h);
    assert_int_equal(eng_campaign_get(f.e, "ann", id2, &h), ENG_OK);
    assert_int_equal(fx_camp_fields(h)->goal_mode, ENG_GOAL_CUSTOM);
    eng_campaign_free(h);
    /* The owning unit is fixed. */
    c.unit = "north";
    assert_int_equal(eng_campaign_update(f.e, "ann", id, &c, NULL), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "campaign.unit");
    c.unit = NULL;
    assert_int_equal(eng_campaign_update(f.e, "vic", id, &c, NULL), ENG_EDENIED);
    assert_int_equal(eng_campaign_update(f.e, "ann", 777, &c, NULL), ENG_ENOTFOUND);
    fx_close(&f);
}

static void campaign_scope(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    uint64_t id;
    eng_campaign_spec c = fx_campaign("Org-wide");
    assert_int_equal(eng_campaign_create(f.e, "nat", &c, &id, NULL), ENG_EDENIED); /* unit actor, org campaign */
    assert_int_equal(eng_campaign_create(f.e, "sam", &c, &id, NULL), ENG_EDENIED); /* units actor, org campaign */
    assert_int_equal(eng_campaign_create(f.e, "vic", &c, &id, NULL), ENG_EDENIED); /* viewer */
    assert_int_equal(eng_campaign_create(f.e, "bob", &c, &id, NULL), ENG_EDENIED); /* approver */
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &id, NULL), ENG_OK);
    eng_campaign *h;
    assert_int_equal(eng_campaign_get(f.e, "nat", id, &h), ENG_EDENIED);
    assert_null(h);
    c.name = "North1";
    c.unit = "north1";
    uint64_t nid;
    assert_int_equal(eng_campaign_create(f.e, "nat", &c, &nid, NULL), ENG_OK); /* sub-unit of north */
    c.name = "South";
    c.unit = "south";
    assert_int_equal(eng_campaign_create(f.e, "nat", &c, &id, NULL), ENG_EDENIED);
    assert_int_equal(eng_campaign_create(f.e, "sam", &c, &id, NULL), ENG_OK);
    assert_int_equal(eng_campaign_get(f.e, "nat", nid, &h), ENG_OK);
    assert_string_equal(fx_camp_fields(h)->unit, "north1");
    eng_campaign_free(h);
    /* Another org's actor sees nothing; names are unique per org only. */
    assert_int_equal(eng_org_create(f.e, "globex", NULL, "gadmin", NULL), ENG_OK);
    assert_int_equal(eng_campaign_get(f.e, "gadmin", nid, &h), ENG_EDENIED);
    c = fx_campaign("North1");
    assert_int_equal(eng_campaign_create(f.e, "gadmin", &c, &id, NULL), ENG_OK);
    fx_close(&f);
}

static void campaign_persists(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    const char *const cats[] = {"shoes", "bags"};
    const char *const items[] = {"SKU-1", "SKU-2", "SKU-3"};
    eng_campaign_spec c = fx_campaign("Winter launch");
    c.unit = "north";
    c.objective = ENG_OBJ_PROMOTE_PRODUCTS;
    c.product_categories = cats;
    c.n_product_categories = 2;
    c.product_items = items;
    c.n_product_items = 3;
    c.control_percent = 20;
    c.ga_account = "UA-12345-6";
    uint64_t id;
    assert_int_equal(eng_campaign_create(f.e, "nat", &c, &id, NULL), ENG_OK);
    fx_reopen(&f);
    eng_campaign *h;
    assert_int_equal(eng_campaign_get(f.e, "root", id, &h), ENG_OK);
    /* Keep the snapshot across close: the engine lives until it is freed. */
    assert_int_equal(eng_close(f.e), ENG_OK);
    const eng_campaign_spec *g = fx_camp_fields(h);
    assert_string_equal(g->name, "Winter launch");
    assert_int_equal(g->start, c.start);
    assert_int_equal(g->end, c.end);
    assert_string_equal(g->unit, "north");
    assert_int_equal(g->type, ENG_CAMPAIGN_BROADCAST);
    assert_int_equal(g->objective, ENG_OBJ_PROMOTE_PRODUCTS);
    assert_int_equal(g->n_product_categories, 2);
    assert_string_equal(g->product_categories[1], "bags");
    assert_int_equal(g->n_product_items, 3);
    assert_string_equal(g->product_items[2], "SKU-3");
    assert_int_equal(g->n_stores, 0);
    assert_int_equal(g->control_percent, 20);
    assert_string_equal(g->ga_account, "UA-12345-6");
    assert_int_equal(g->goal_mode, ENG_GOAL_CUSTOM);
    assert_int_equal(g->goal->start_on, ENG_GOAL_ON_DELIVERED);
    eng_campaign_status cst = fx_camp_status(h);
    assert_int_equal(cst.id, id);
    assert_string_equal(cst.created_by, "nat");
    assert_int_equal(cst.goal_locked, 0);
    assert_int_equal(cst.n_messages, 0);
    assert_null(cst.messages);
    eng_campaign_free(h);
    test_store_free(f.ts);
    test_alloc_assert_clean();
}

static int oom_create(void *arg)
{
    (void)arg;
    eng_config cfg;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.allocator = test_alloc_get();
    eng_engine *e;
    int rc = eng_open(&cfg, &e);
    if (rc)
        return rc;
    if ((rc = eng_org_create(e, "acme", NULL, "root", NULL)) == ENG_OK) {
        eng_campaign_spec c = fx_campaign("OOM");
        uint64_t id;
        eng_validation *v = NULL;
        rc = eng_campaign_create(e, "root", &c, &id, &v);
        eng_validation_free(v);
        if (rc == ENG_OK) {
            eng_campaign *h;
            rc = eng_campaign_get(e, "root", id, &h);
            eng_campaign_free(h);
        }
    }
    eng_close(e);
    return rc;
}

static void campaign_oom(void **st)
{
    (void)st;
    test_alloc_reset();
    assert_true(test_oom_loop(oom_create, NULL) > 10);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(org_units_settings), cmocka_unit_test(settings_rules), cmocka_unit_test(settings_report), cmocka_unit_test(actors),          cmocka_unit_test(campaign_rules),
        cmocka_unit_test(campaign_goal_and_update), cmocka_unit_test(campaign_scope), cmocka_unit_test(campaign_persists),
        cmocka_unit_test(campaign_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
