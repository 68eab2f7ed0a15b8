/* The whole model on the file store: build a full campaign, close the engine,
 * reopen on the same file, read every field back; the audit chain verifies
 * after reopen and fails once one stored entry is forged. */
#include "model_fixture.h"

#include <stdlib.h>

#include "core/engine_impl.h"
#include "base/codec.h"
#include "store/record.h"

static eng_engine *open_file(const char *path)
{
    eng_store *s;
    assert_int_equal(eng_store_file_open(path, ENG_STORE_CREATE | ENG_STORE_NOSYNC, test_alloc_get(), &s), ENG_OK);
    return test_engine_open(s);
}

static int count_cb(const eng_audience_query *q, uint64_t *count, void *user)
{
    (void)q, (void)user;
    *count = 250000;
    return ENG_OK;
}

static const char *const cats[] = {"footwear", "bags"};
static const char *const items[] = {"SKU-100", "SKU-200"};
static const char *const inc[] = {"loyal-2025", "app-users"};
static const char *const exc[] = {"staff"};
static const char *const poc[] = {"poc@acme.test"};
static const eng_creative creatives[] = {
    {ENG_CH_SMS, NULL, "Hi {{first_name}}, use {{coupon_code}}. {{optout}}"},
    {ENG_CH_EMAIL, "Winter launch", "<p>{{first_name}}</p>{{unsubscribe}}"},
    {ENG_CH_PUSH, "New in", "Boots are here"},
    {ENG_CH_FACEBOOK, "Boots", "Winter boots, 20% off"},
};
static const eng_sender senders[] = {{ENG_CH_SMS, "ACME"}, {ENG_CH_EMAIL, "news@acme.test"}};
static const char *const stores[] = {"store-12", "store-40"};
static const char *const zones[] = {"zn_sub_zone_7"};
static const eng_variant variants[] = {
    {ENG_VARIANT_REGION, "region == \"north\"", ENG_CH_SMS, "Namaste {{first_name}} {{optout}}"},
    {ENG_VARIANT_TIME, "hour >= 18", ENG_CH_PUSH, "Evening deal"},
};

/* Every field of every audit entry, to compare before and after reopening. */
typedef struct logrow {
    uint64_t seq;
    eng_time time;
    char text[7][72];
} logrow;

static size_t read_log(eng_engine *e, logrow *rows, size_t max)
{
    eng_audit_iter *it;
    assert_int_equal(eng_audit_open(e, "root", &it), ENG_OK);
    eng_audit_entry x = ENG_AUDIT_ENTRY_INIT;
    size_t n = 0;
    while (eng_audit_next(it, &x) == ENG_OK) {
        assert_true(n < max);
        rows[n].seq = x.seq;
        rows[n].time = x.time;
        const char *t[7] = {x.org, x.actor, x.object, x.action, x.state_hash, x.prev_hash, x.hash};
        for (int i = 0; i < 7; i++)
            snprintf(rows[n].text[i], sizeof rows[n].text[i], "%s", t[i]);
        n++;
    }
    eng_audit_free(it);
    return n;
}

static void full_roundtrip(void **st)
{
    eng_goal_spec os_goal = ENG_GOAL_SPEC_INIT;
    eng_goal_spec c_goal = ENG_GOAL_SPEC_INIT;
    eng_incentive m_inc = ENG_INCENTIVE_INIT;
    eng_schedule sched = ENG_SCHEDULE_INIT;
    eng_delivery dlv = ENG_DELIVERY_INIT;
    eng_incentive x_inc = ENG_INCENTIVE_INIT;
    eng_schedule x_sched = ENG_SCHEDULE_INIT;
    eng_incentive pm_inc = ENG_INCENTIVE_INIT;
    eng_schedule pm_sched = ENG_SCHEDULE_INIT;
    (void)st;
    test_alloc_reset();
    test_clock_now = 1767225600000;
    char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/engage.db", dir);
    eng_engine *e = open_file(path);
    eng_org_settings os;
    eng_org_settings_init(&os, ENG_ORG_SETTINGS_VERSION);
    os.conversion_goals = 1;
    os.xengage = ENG_XENGAGE_UNLOCKED;
    os.allow_self_approval = 1;
    for (int i = 0; i < ENG_MAX_CHANNELS; i++)
        os.channel_cost[i] = 3 + i;
    os.channel_cost[ENG_CH_SMS] = 2;
    os.xengage_cost = 4;
    os.has_default_goal = 1;
    os_goal = (eng_goal_spec){ENG_GOAL_SPEC_VERSION, "transaction",
            "amount > 100", 45, ENG_GOAL_ON_CLICKED, ENG_ATTR_FIRST_TOUCH};
    os.default_goal = &os_goal;
    assert_int_equal(eng_org_create(e, "acme", &os, "root", NULL), ENG_OK);
    assert_int_equal(eng_unit_add(e, "root", "north", NULL), ENG_OK);
    assert_int_equal(eng_unit_add(e, "root", "north1", "north"), ENG_OK);
    assert_int_equal(eng_unit_add(e, "root", "south", NULL), ENG_OK);
    eng_actor_spec a;
    eng_actor_spec_init(&a, ENG_ACTOR_SPEC_VERSION);
    a.id = "ann";
    a.roles = ENG_ROLE_AUTHOR;
    assert_int_equal(eng_actor_put(e, "root", &a), ENG_OK);
    a.id = "bob";
    a.roles = ENG_ROLE_APPROVER;
    assert_int_equal(eng_actor_put(e, "root", &a), ENG_OK);
    const char *const nat_units[] = {"north", "south"};
    a.id = "nat";
    a.roles = ENG_ROLE_AUTHOR | ENG_ROLE_VIEWER;
    a.scope = ENG_SCOPE_UNITS;
    a.units = nat_units;
    a.n_units = 2;
    assert_int_equal(eng_actor_put(e, "root", &a), ENG_OK);
    assert_int_equal(eng_credits_adjust(e, "root", ENG_CREDITS_XENGAGE, 1000000), ENG_OK);
    assert_int_equal(eng_credits_adjust(e, "root", ENG_CREDITS_CAMPAIGN, -42), ENG_OK);
    assert_int_equal(eng_model_set_audience_counter(e, count_cb, NULL), ENG_OK);

    eng_campaign_spec c;
    eng_campaign_spec_init(&c, ENG_CAMPAIGN_SPEC_VERSION);
    c.name = "Winter launch 2026";
    c.start = test_clock_now + ENG_DAY;
    c.end = test_clock_now + 45 * ENG_DAY;
    c.unit = "north";
    c.objective = ENG_OBJ_PROMOTE_PRODUCTS;
    c.product_categories = cats;
    c.n_product_categories = 2;
    c.product_items = items;
    c.n_product_items = 2;
    c.control_percent = 15;
    c.ga_account = "G-XYZ42";
    c.goal_mode = ENG_GOAL_CUSTOM;
    c_goal = (eng_goal_spec){ENG_GOAL_SPEC_VERSION, "transaction",
            "amount >= 3000 and store in (\"S1\", \"S2\")", 20, ENG_GOAL_ON_DELIVERED, ENG_ATTR_LAST_TOUCH};
    c.goal = &c_goal;
    uint64_t cid, mid, xid;
    assert_int_equal(eng_campaign_create(e, "ann", &c, &cid, NULL), ENG_OK);

    eng_message_spec m;
    eng_message_spec_init(&m, ENG_MESSAGE_SPEC_VERSION);
    m.title = "Boots, channel priority";
    m.strategy = ENG_STRATEGY_CHANNEL_PRIORITY;
    int order[] = {ENG_CH_PUSH, ENG_CH_SMS, ENG_CH_EMAIL};
    m.channel_priority = order;
    m.n_channel_priority = 3;
    m.include = inc;
    m.n_include = 2;
    m.exclude = exc;
    m.n_exclude = 1;
    m.creatives = creatives;
    m.n_creatives = 3;
    m_inc.kind = ENG_INCENTIVE_POINTS;
    m_inc.points = 250;
    m_inc.points_expiry_days = 90;
    sched.kind = ENG_SCHEDULE_RECURRING;
    sched.at = test_clock_now + 2 * ENG_DAY;
    sched.every = 3;
    sched.unit = ENG_EVERY_DAYS;
    sched.until = test_clock_now + 30 * ENG_DAY;
    dlv.senders = senders;
    dlv.n_senders = 2;
    dlv.poc = poc;
    dlv.n_poc = 1;
    dlv.tiny_url = 1;
    m.incentive = &m_inc;
    m.schedule = &sched;
    m.delivery = &dlv;
    assert_int_equal(eng_message_create(e, "ann", cid, &m, &mid, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(e, "ann", mid, NULL), ENG_OK);
    assert_int_equal(eng_message_approve(e, "bob", mid, NULL, "Go"), ENG_OK);

    eng_message_spec x;
    eng_message_spec_init(&x, ENG_MESSAGE_SPEC_VERSION);
    x.title = "Boots, X-Engage";
    x.strategy = ENG_STRATEGY_XENGAGE;
    x.include = inc;
    x.n_include = 1;
    x.creatives = creatives + 3;
    x.n_creatives = 1;
    x_inc.kind = ENG_INCENTIVE_COUPON;
    x_inc.offer_id = "boots20"; /* claimed: the terms come from the catalogue */
    x.incentive = &x_inc;
    eng_offer_spec boots;
    assert_int_equal(eng_offer_spec_init(&boots, ENG_OFFER_SPEC_VERSION), ENG_OK);
    boots.id = "boots20";
    boots.name = "Boots 20% off";
    boots.valid_from = c.start;
    boots.valid_until = c.end;
    boots.coupon_source = ENG_COUPON_UPLOADED;
    boots.coupon_pool = "pool-9";
    assert_int_equal(eng_offer_create(e, "ann", &boots), ENG_OK);
    x_sched.kind = ENG_SCHEDULE_ONCE;
    x_sched.at = test_clock_now + 4 * ENG_DAY;
    x.schedule = &x_sched;
    assert_int_equal(eng_message_create(e, "ann", cid, &x, &xid, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(e, "ann", xid, NULL), ENG_OK);
    eng_campaign_spec sv;
    eng_campaign_spec_init(&sv, ENG_CAMPAIGN_SPEC_VERSION);
    sv.name = "Store visits";
    sv.start = test_clock_now + ENG_DAY;
    sv.end = test_clock_now + 20 * ENG_DAY;
    sv.unit = "north1";
    sv.objective = ENG_OBJ_STORE_VISITS;
    sv.stores = stores;
    sv.n_stores = 2;
    sv.zones = zones;
    sv.n_zones = 1;
    sv.control_percent = 0;
    sv.goal_mode = ENG_GOAL_NONE;
    uint64_t sid, pid;
    assert_int_equal(eng_campaign_create(e, "nat", &sv, &sid, NULL), ENG_OK);
    eng_message_spec pm;
    eng_message_spec_init(&pm, ENG_MESSAGE_SPEC_VERSION);
    pm.title = "Regional";
    pm.strategy = ENG_STRATEGY_PERSONALIZATION;
    pm.variants = variants;
    pm.n_variants = 2;
    pm.include = inc;
    pm.n_include = 1;
    pm.creatives = creatives;
    pm.n_creatives = 3;
    pm_inc.kind = ENG_INCENTIVE_COUPON;
    pm_inc.offer_id = "visit10";
    pm.incentive = &pm_inc;
    eng_offer_spec visit;
    assert_int_equal(eng_offer_spec_init(&visit, ENG_OFFER_SPEC_VERSION), ENG_OK);
    visit.id = "visit10";
    visit.name = "10% off in store";
    visit.valid_from = sv.start;
    visit.valid_until = sv.end; /* inside the store-visit campaign's dates */
    visit.coupon_code = "VISIT10";
    assert_int_equal(eng_offer_create(e, "ann", &visit), ENG_OK);
    pm_sched.kind = ENG_SCHEDULE_ONCE;
    pm_sched.at = test_clock_now + 2 * ENG_DAY;
    pm.schedule = &pm_sched;
    assert_int_equal(eng_message_create(e, "nat", sid, &pm, &pid, NULL), ENG_OK);
    test_clock_now += ENG_HOUR;
    pm.title = "Regional v2";
    assert_int_equal(eng_message_update(e, "ann", pid, &pm, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(e, "ann", pid, NULL), ENG_OK);
    test_clock_now += ENG_HOUR;
    assert_int_equal(eng_message_reject(e, "bob", pid, "Wrong zone"), ENG_OK);
    eng_time edited_at = test_clock_now - ENG_HOUR, rejected_at = test_clock_now;

    eng_message *h;
    assert_int_equal(eng_message_get(e, "ann", mid, &h), ENG_OK);
    char hash[65];
    snprintf(hash, sizeof hash, "%s", fx_msg_hash(h));
    eng_message_status s0 = ENG_MESSAGE_STATUS_INIT;
    assert_int_equal(eng_message_status_get(h, &s0), ENG_OK);
    eng_time approved_at = s0.decided_at, m_updated = s0.updated_at;
    eng_message_free(h);
    static logrow before[64], after[64];
    size_t nlog = read_log(e, before, 64);
    assert_int_equal(eng_close(e), ENG_OK);

    /* ---- reopen on the same file and read everything back ---- */
    e = open_file(path);
    assert_int_equal(read_log(e, after, 64), nlog);
    for (size_t i = 0; i < nlog; i++) {
        assert_int_equal(after[i].seq, before[i].seq);
        assert_int_equal(after[i].time, before[i].time);
        for (int k = 0; k < 7; k++)
            assert_string_equal(after[i].text[k], before[i].text[k]);
    }
    /* Each message added to the campaign left an entry on the campaign itself, kept across reopen
     * (test_audit.c:every_change_audited checks their state hashes). */
    char cobj[32];
    snprintf(cobj, sizeof cobj, "campaign/%llu", (unsigned long long)cid);
    size_t adds = 0;
    for (size_t i = 0; i < nlog; i++)
        if (!strcmp(after[i].text[2], cobj) && !strcmp(after[i].text[3], "message-add")) {
            assert_string_equal(after[i].text[1], "ann");
            adds++;
        }
    assert_int_equal(adds, 2);
    /* Units and actors: the tree and each actor's roles and scope. */
    assert_int_equal(eng_access_check(e, "nat", ENG_OP_EDIT, "north1"), ENG_OK); /* sub-unit of north */
    assert_int_equal(eng_access_check(e, "nat", ENG_OP_READ, "south"), ENG_OK);
    assert_int_equal(eng_access_check(e, "nat", ENG_OP_READ, NULL), ENG_EDENIED); /* not the org */
    assert_int_equal(eng_access_check(e, "nat", ENG_OP_APPROVE, "north"), ENG_EDENIED);
    assert_int_equal(eng_access_check(e, "ann", ENG_OP_EDIT, NULL), ENG_OK);
    assert_int_equal(eng_access_check(e, "ann", ENG_OP_APPROVE, NULL), ENG_EDENIED);
    assert_int_equal(eng_access_check(e, "bob", ENG_OP_APPROVE, "north1"), ENG_OK);
    assert_int_equal(eng_access_check(e, "bob", ENG_OP_EDIT, NULL), ENG_EDENIED);
    assert_int_equal(eng_access_check(e, "root", ENG_OP_ADMIN, NULL), ENG_OK);
    eng_campaign *ch;
    assert_int_equal(eng_campaign_get(e, "ann", cid, &ch), ENG_OK);
    const eng_campaign_spec *g = fx_camp_fields(ch);
    assert_string_equal(g->name, c.name);
    assert_int_equal(g->start, c.start);
    assert_int_equal(g->end, c.end);
    assert_string_equal(g->unit, "north");
    assert_int_equal(g->type, ENG_CAMPAIGN_BROADCAST);
    assert_int_equal(g->objective, ENG_OBJ_PROMOTE_PRODUCTS);
    assert_int_equal(g->n_product_categories, 2);
    assert_string_equal(g->product_categories[0], "footwear");
    assert_string_equal(g->product_categories[1], "bags");
    assert_int_equal(g->n_product_items, 2);
    assert_string_equal(g->product_items[1], "SKU-200");
    assert_int_equal(g->n_stores + g->n_zones, 0);
    assert_int_equal(g->control_percent, 15);
    assert_string_equal(g->ga_account, "G-XYZ42");
    assert_int_equal(g->goal_mode, ENG_GOAL_CUSTOM);
    assert_string_equal(g->goal->event, "transaction");
    assert_string_equal(g->goal->condition, c.goal->condition);
    assert_int_equal(g->goal->window_days, 20);
    assert_int_equal(g->goal->start_on, ENG_GOAL_ON_DELIVERED);
    assert_int_equal(g->goal->attribution, ENG_ATTR_LAST_TOUCH);
    eng_campaign_status cst = fx_camp_status(ch);
    assert_string_equal(cst.created_by, "ann");
    assert_int_equal(cst.goal_locked, 1);
    assert_int_equal(cst.n_messages, 2);
    assert_int_equal(cst.messages[0], mid);
    assert_int_equal(cst.messages[1], xid);
    eng_campaign_free(ch);

    assert_int_equal(eng_message_get(e, "bob", mid, &h), ENG_OK);
    const eng_message_spec *r = fx_msg_fields(h);
    assert_string_equal(r->title, m.title);
    assert_int_equal(r->type, ENG_MESSAGE_BROADCAST);
    assert_int_equal(r->strategy, ENG_STRATEGY_CHANNEL_PRIORITY);
    assert_int_equal(r->n_channel_priority, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(r->channel_priority[i], order[i]);
    assert_int_equal(r->n_variants, 0);
    assert_int_equal(r->n_include, 2);
    assert_string_equal(r->include[1], "app-users");
    assert_int_equal(r->n_exclude, 1);
    assert_string_equal(r->exclude[0], "staff");
    assert_int_equal(r->n_creatives, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(r->creatives[i].channel, creatives[i].channel);
        if (creatives[i].subject)
            assert_string_equal(r->creatives[i].subject, creatives[i].subject);
        else
            assert_null(r->creatives[i].subject);
        assert_string_equal(r->creatives[i].body, creatives[i].body);
    }
    assert_int_equal(r->incentive->kind, ENG_INCENTIVE_POINTS);
    assert_int_equal(r->incentive->points, 250);
    assert_int_equal(r->incentive->points_expiry_days, 90);
    assert_int_equal(r->schedule->kind, ENG_SCHEDULE_RECURRING);
    assert_int_equal(r->schedule->at, m.schedule->at);
    assert_int_equal(r->schedule->every, 3);
    assert_int_equal(r->schedule->unit, ENG_EVERY_DAYS);
    assert_int_equal(r->schedule->until, m.schedule->until);
    assert_int_equal(r->delivery->n_senders, 2);
    assert_int_equal(r->delivery->senders[1].channel, ENG_CH_EMAIL);
    assert_string_equal(r->delivery->senders[1].id, "news@acme.test");
    assert_int_equal(r->delivery->n_poc, 1);
    assert_string_equal(r->delivery->poc[0], "poc@acme.test");
    assert_int_equal(r->delivery->tiny_url, 1);
    eng_message_status s = {.version = ENG_MESSAGE_STATUS_VERSION};
    assert_int_equal(eng_message_status_get(h, &s), ENG_OK);
    assert_int_equal(s.state, ENG_STATE_APPROVED);
    assert_string_equal(s.created_by, "ann");
    assert_string_equal(s.decided_by, "bob");
    assert_string_equal(s.comment, "Go");
    assert_string_equal(s.approved_hash, hash);
    assert_string_equal(s.content_hash, hash); /* the hash is stable across processes */
    assert_int_equal(s.id, mid);
    assert_int_equal(s.campaign, cid);
    assert_string_equal(s.edited_by, "ann");
    assert_int_equal(s.updated_at, m_updated);
    assert_int_equal(s.decided_at, approved_at);
    eng_message_free(h);

    assert_int_equal(eng_message_get(e, "bob", xid, &h), ENG_OK);
    r = fx_msg_fields(h);
    assert_int_equal(r->strategy, ENG_STRATEGY_XENGAGE);
    assert_string_equal(r->incentive->coupon_pool, "pool-9");
    assert_int_equal(r->incentive->coupon_source, ENG_COUPON_UPLOADED);
    assert_string_equal(r->incentive->offer_id, "boots20");
    assert_int_equal(r->incentive->kind, ENG_INCENTIVE_COUPON);
    assert_int_equal(eng_message_status_get(h, &s), ENG_OK);
    assert_int_equal(s.state, ENG_STATE_AWAITING);
    eng_message_free(h);

    /* The store-visits campaign and its rejected personalization message. */
    assert_int_equal(eng_campaign_get(e, "nat", sid, &ch), ENG_OK);
    g = fx_camp_fields(ch);
    assert_string_equal(g->name, "Store visits");
    assert_string_equal(g->unit, "north1");
    assert_int_equal(g->objective, ENG_OBJ_STORE_VISITS);
    assert_int_equal(g->n_product_categories + g->n_product_items, 0);
    assert_int_equal(g->n_stores, 2);
    assert_string_equal(g->stores[0], "store-12");
    assert_string_equal(g->stores[1], "store-40");
    assert_int_equal(g->n_zones, 1);
    assert_string_equal(g->zones[0], "zn_sub_zone_7");
    assert_int_equal(g->control_percent, 0);
    assert_string_equal(g->ga_account, ""); /* optional strings given as NULL read back as "" */
    assert_int_equal(g->goal_mode, ENG_GOAL_NONE);
    cst = fx_camp_status(ch);
    assert_string_equal(cst.created_by, "nat");
    assert_int_equal(cst.goal_locked, 0);
    assert_int_equal(cst.n_messages, 1);
    assert_int_equal(cst.messages[0], pid);
    eng_campaign_free(ch);
    assert_int_equal(eng_message_get(e, "nat", pid, &h), ENG_OK);
    r = fx_msg_fields(h);
    assert_string_equal(r->title, "Regional v2");
    assert_int_equal(r->strategy, ENG_STRATEGY_PERSONALIZATION);
    assert_int_equal(r->n_variants, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(r->variants[i].dimension, variants[i].dimension);
        assert_string_equal(r->variants[i].rule, variants[i].rule);
        assert_int_equal(r->variants[i].channel, variants[i].channel);
        assert_string_equal(r->variants[i].body, variants[i].body);
    }
    assert_int_equal(r->n_channel_priority, 0);
    assert_int_equal(r->n_exclude, 0);
    assert_int_equal(r->incentive->kind, ENG_INCENTIVE_COUPON);
    assert_string_equal(r->incentive->offer_id, "visit10");
    assert_int_equal(r->incentive->coupon_source, ENG_COUPON_COMMON);
    assert_string_equal(r->incentive->coupon_code, "VISIT10");
    assert_int_equal(r->schedule->kind, ENG_SCHEDULE_ONCE);
    assert_int_equal(r->schedule->at, pm.schedule->at);
    assert_int_equal(r->delivery->n_senders + r->delivery->n_poc, 0);
    assert_int_equal(r->delivery->tiny_url, 0);
    assert_int_equal(eng_message_status_get(h, &s), ENG_OK);
    assert_int_equal(s.state, ENG_STATE_REJECTED);
    assert_string_equal(s.created_by, "nat");
    assert_string_equal(s.edited_by, "ann");
    assert_int_equal(s.updated_at, edited_at);
    assert_string_equal(s.decided_by, "bob");
    assert_int_equal(s.decided_at, rejected_at);
    assert_string_equal(s.comment, "Wrong zone");
    assert_string_equal(s.approved_hash, "");
    eng_message_free(h);

    eng_org_settings got;
    assert_int_equal(eng_org_settings_get(e, "ann", &got), ENG_OK);
    assert_int_equal(got.version, ENG_ORG_SETTINGS_VERSION);
    assert_int_equal(got.conversion_goals, 1);
    assert_int_equal(got.xengage, ENG_XENGAGE_UNLOCKED);
    assert_int_equal(got.allow_self_approval, 1);
    assert_int_equal(got.forbid_overdraft, 0);
    for (int i = 0; i < ENG_MAX_CHANNELS; i++)
        assert_int_equal(got.channel_cost[i], os.channel_cost[i]);
    assert_int_equal(got.xengage_cost, 4);
    assert_int_equal(got.has_default_goal, 1);
    assert_string_equal(got.default_goal->event, "transaction");
    assert_string_equal(got.default_goal->condition, "amount > 100");
    assert_int_equal(got.default_goal->window_days, 45);
    assert_int_equal(got.default_goal->start_on, ENG_GOAL_ON_CLICKED);
    assert_int_equal(got.default_goal->attribution, ENG_ATTR_FIRST_TOUCH);
    int64_t bal;
    assert_int_equal(eng_credits_balance(e, "ann", ENG_CREDITS_CAMPAIGN, &bal), ENG_OK);
    assert_int_equal(bal, -42);
    assert_int_equal(eng_credits_balance(e, "ann", ENG_CREDITS_XENGAGE, &bal), ENG_OK);
    assert_int_equal(bal, 1000000);
    /* The approved message still executes after reopen: its approval is bound to the same hash. */
    assert_int_equal(fx_start(e, "root", mid), ENG_OK);
    uint64_t bad;
    assert_int_equal(eng_audit_verify(e, "root", &bad), ENG_OK);

    /* ---- forge one entry, the campaign creation by ann (valid record checksum, changed actor) ---- */
    eng__rec rec;
    assert_int_equal(eng__rec_get(e->store, ENG__K("m/l/000000000000000b"), 0x0107, 1, &rec), ENG_OK);
    uint8_t *p = malloc(rec.len);
    memcpy(p, rec.payload, rec.len);
    uint8_t *hit = memmem(p, rec.len, "ann", 3);
    assert_non_null(hit);
    hit[0] = 'e'; /* "ann" -> "enn" */
    assert_int_equal(eng__kv_begin(e->store), ENG_OK);
    assert_int_equal(eng__rec_put(e->store, ENG__K("m/l/000000000000000b"), 0x0107, 1, p, rec.len), ENG_OK);
    assert_int_equal(eng__kv_commit(e->store), ENG_OK);
    free(p);
    eng__rec_free(e->store, &rec);
    assert_int_equal(eng_close(e), ENG_OK);
    e = open_file(path);
    assert_int_equal(eng_audit_verify(e, "root", &bad), ENG_ECORRUPT);
    assert_int_equal(bad, 11);
    assert_int_equal(eng_close(e), ENG_OK);
    test_rmtree(dir);
    free(dir);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
