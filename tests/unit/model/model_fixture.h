/* Shared set-up for the model tests: an org "acme" with units
 *   north (-> north1), south
 * and actors
 *   root  admin, org scope            ann   author, org scope
 *   bob   approver, org scope         vic   viewer, org scope
 *   nat   author, unit north          sam   author+approver, units {north, south}
 * on a host-side test store (so engines can be closed and reopened), plus a
 * valid campaign and a valid message to break one rule at a time. */
#ifndef MODEL_FIXTURE_H
#define MODEL_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "engage.h"
#include "test_alloc.h"
#include "test_store.h"
#include "test_util.h"

typedef struct fx {
    test_store *ts;
    eng_engine *e;
} fx;

static inline void fx_actor(eng_engine *e, const char *id, unsigned roles, int scope, const char *const *units,
                            size_t n)
{
    eng_actor_spec a;
    assert_int_equal(eng_actor_spec_init(&a, ENG_ACTOR_SPEC_VERSION), ENG_OK);
    a.id = id;
    a.roles = roles;
    a.scope = scope;
    a.units = units;
    a.n_units = n;
    assert_int_equal(eng_actor_put(e, "root", &a), ENG_OK);
}

static inline void fx_open(fx *f)
{
    eng_goal_spec goal = ENG_GOAL_SPEC_INIT;
    test_alloc_reset();
    test_clock_now = 1767225600000; /* 2026-01-01T00:00:00Z */
    f->ts = test_store_new();
    f->e = test_engine_open(test_store_handle(f->ts));
    eng_org_settings s;
    assert_int_equal(eng_org_settings_init(&s, ENG_ORG_SETTINGS_VERSION), ENG_OK);
    s.conversion_goals = 1;
    s.has_default_goal = 1;
    goal = (eng_goal_spec){ENG_GOAL_SPEC_VERSION, "transaction",
            "amount > 3000", 20, ENG_GOAL_ON_DELIVERED, ENG_ATTR_LAST_TOUCH};
    s.default_goal = &goal;
    assert_int_equal(eng_org_create(f->e, "acme", &s, "root", NULL), ENG_OK);
    assert_int_equal(eng_unit_add(f->e, "root", "north", NULL), ENG_OK);
    assert_int_equal(eng_unit_add(f->e, "root", "north1", "north"), ENG_OK);
    assert_int_equal(eng_unit_add(f->e, "root", "south", ""), ENG_OK);
    static const char *const north[] = {"north"};
    static const char *const both[] = {"north", "south"};
    fx_actor(f->e, "ann", ENG_ROLE_AUTHOR, ENG_SCOPE_ORG, NULL, 0);
    fx_actor(f->e, "bob", ENG_ROLE_APPROVER, ENG_SCOPE_ORG, NULL, 0);
    fx_actor(f->e, "vic", ENG_ROLE_VIEWER, ENG_SCOPE_ORG, NULL, 0);
    fx_actor(f->e, "nat", ENG_ROLE_AUTHOR, ENG_SCOPE_UNIT, north, 1);
    fx_actor(f->e, "sam", ENG_ROLE_AUTHOR | ENG_ROLE_APPROVER, ENG_SCOPE_UNITS, both, 2);
}

static inline void fx_reopen(fx *f)
{
    assert_int_equal(eng_close(f->e), ENG_OK);
    f->e = test_engine_open(test_store_handle(f->ts));
}

static inline void fx_close(fx *f)
{
    assert_int_equal(eng_close(f->e), ENG_OK);
    test_store_free(f->ts);
    test_alloc_assert_clean();
}

/* Snapshot readers as expressions (each asserts the read succeeds). */
static inline const eng_campaign_spec *fx_camp_fields(const eng_campaign *c)
{
    const eng_campaign_spec *f = NULL;
    assert_int_equal(eng_campaign_fields(c, &f), ENG_OK);
    return f;
}

static inline eng_campaign_status fx_camp_status(const eng_campaign *c)
{
    eng_campaign_status st = ENG_CAMPAIGN_STATUS_INIT;
    assert_int_equal(eng_campaign_status_get(c, &st), ENG_OK);
    return st;
}

static inline const eng_message_spec *fx_msg_fields(const eng_message *m)
{
    const eng_message_spec *f = NULL;
    assert_int_equal(eng_message_fields(m, &f), ENG_OK);
    return f;
}

/* The content hash an approver reviews (lives as long as @p m). */
static inline const char *fx_msg_hash(const eng_message *m)
{
    eng_message_status st = ENG_MESSAGE_STATUS_INIT;
    assert_int_equal(eng_message_status_get(m, &st), ENG_OK);
    return st.content_hash;
}

static inline eng_campaign_spec fx_campaign(const char *name)
{
    eng_campaign_spec c;
    assert_int_equal(eng_campaign_spec_init(&c, ENG_CAMPAIGN_SPEC_VERSION), ENG_OK);
    c.name = name;
    c.start = test_clock_now + ENG_DAY;
    c.end = test_clock_now + 60 * ENG_DAY;
    c.objective = ENG_OBJ_BOOST_SALES;
    return c;
}

static const char *const fx_groups[] = {"loyal-2025"};
static const eng_creative fx_creatives[] = {
    {ENG_CH_SMS, NULL, "Hi {{first_name}}, 20% off today. {{optout}}"},
    {ENG_CH_EMAIL, "Diwali sale", "<p>Hello {{first_name}}</p><a>{{unsubscribe}}</a>"},
};

static inline eng_message_spec fx_message(void)
{
    static eng_schedule sched; /* the spec returned points here: each call starts it afresh */
    sched = (eng_schedule)ENG_SCHEDULE_INIT;
    eng_message_spec m;
    assert_int_equal(eng_message_spec_init(&m, ENG_MESSAGE_SPEC_VERSION), ENG_OK);
    m.title = "Diwali blast";
    m.include = fx_groups;
    m.n_include = 1;
    m.creatives = fx_creatives;
    m.n_creatives = 2;
    sched.kind = ENG_SCHEDULE_ONCE;
    sched.at = test_clock_now + 3 * ENG_DAY;
    m.schedule = &sched;
    return m;
}

/* Start message @p id at time @p at (a message starts no earlier than its
 * schedule): the test clock is moved there for the call and put back. */
static inline int fx_start_at(eng_engine *e, const char *actor, uint64_t id, eng_time at)
{
    eng_time saved = test_clock_now;
    if (at > test_clock_now)
        test_clock_now = at;
    int rc = eng_message_execute(e, actor, id, ENG_ACT_START);
    test_clock_now = saved;
    return rc;
}

/* Start message @p id at its send time (read as root; other orgs' messages
 * start now). */
static inline int fx_start(eng_engine *e, const char *actor, uint64_t id)
{
    eng_message *h = NULL;
    const eng_message_spec *s = NULL;
    eng_time at = 0;
    if (eng_message_get(e, "root", id, &h) == ENG_OK && eng_message_fields(h, &s) == ENG_OK)
        at = s->schedule->at;
    eng_message_free(h);
    return fx_start_at(e, actor, id, at);
}

/* An offer of the catalogue, valid through the fixture campaign's dates
 * (messages claim it by naming it in incentive.offer_id). */
static inline void fx_offer(eng_engine *e, const char *actor, const char *id, int source, const char *code,
                            const char *pool)
{
    eng_offer_spec o;
    assert_int_equal(eng_offer_spec_init(&o, ENG_OFFER_SPEC_VERSION), ENG_OK);
    o.id = id;
    o.name = id;
    o.valid_from = test_clock_now + ENG_DAY;
    o.valid_until = test_clock_now + 60 * ENG_DAY;
    o.coupon_source = source;
    o.coupon_code = code;
    o.coupon_pool = pool;
    assert_int_equal(eng_offer_create(e, actor, &o), ENG_OK);
}

/* The report has a failure with this path and code. */
#define assert_report(v, path, code) assert_int_equal(eng_validation_find((v), (path)), (code))

#endif
