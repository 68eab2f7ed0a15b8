/* Locks the layout of the model's public structs (LP64; fields may only be
 * appended) and checks that each *_init() agrees with its static initialiser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "engage.h"

#define OFF(T, f, v) assert_int_equal(offsetof(T, f), (v))

static void layouts(void **st)
{
    (void)st;
    if (sizeof(void *) != 8)
        skip();
    OFF(eng_goal_spec, event, 0); OFF(eng_goal_spec, condition, 8); OFF(eng_goal_spec, window_days, 16); OFF(eng_goal_spec, start_on, 20); OFF(eng_goal_spec, attribution, 24);
    assert_int_equal(sizeof(eng_goal_spec), 32);
    OFF(eng_org_settings, version, 0); OFF(eng_org_settings, conversion_goals, 4); OFF(eng_org_settings, xengage, 8); OFF(eng_org_settings, allow_self_approval, 12); OFF(eng_org_settings, forbid_overdraft, 16); OFF(eng_org_settings, channel_cost, 24); OFF(eng_org_settings, xengage_cost, 152); OFF(eng_org_settings, has_default_goal, 160); OFF(eng_org_settings, default_goal, 168);
    assert_int_equal(sizeof(eng_org_settings), 200);
    OFF(eng_actor_spec, version, 0); OFF(eng_actor_spec, id, 8); OFF(eng_actor_spec, roles, 16); OFF(eng_actor_spec, scope, 20); OFF(eng_actor_spec, units, 24); OFF(eng_actor_spec, n_units, 32);
    assert_int_equal(sizeof(eng_actor_spec), 40);
    OFF(eng_campaign_spec, version, 0); OFF(eng_campaign_spec, name, 8); OFF(eng_campaign_spec, start, 16); OFF(eng_campaign_spec, end, 24); OFF(eng_campaign_spec, unit, 32); OFF(eng_campaign_spec, type, 40); OFF(eng_campaign_spec, objective, 44); OFF(eng_campaign_spec, product_categories, 48); OFF(eng_campaign_spec, n_product_categories, 56); OFF(eng_campaign_spec, product_items, 64); OFF(eng_campaign_spec, n_product_items, 72); OFF(eng_campaign_spec, stores, 80); OFF(eng_campaign_spec, n_stores, 88); OFF(eng_campaign_spec, zones, 96); OFF(eng_campaign_spec, n_zones, 104); OFF(eng_campaign_spec, control_percent, 112); OFF(eng_campaign_spec, ga_account, 120); OFF(eng_campaign_spec, goal_mode, 128); OFF(eng_campaign_spec, goal, 136);
    assert_int_equal(sizeof(eng_campaign_spec), 168);
    OFF(eng_variant, dimension, 0); OFF(eng_variant, rule, 8); OFF(eng_variant, channel, 16); OFF(eng_variant, body, 24);
    assert_int_equal(sizeof(eng_variant), 32);
    OFF(eng_creative, channel, 0); OFF(eng_creative, subject, 8); OFF(eng_creative, body, 16);
    assert_int_equal(sizeof(eng_creative), 24);
    OFF(eng_incentive, kind, 0); OFF(eng_incentive, offer_id, 8); OFF(eng_incentive, coupon_source, 16); OFF(eng_incentive, coupon_code, 24); OFF(eng_incentive, coupon_pool, 32); OFF(eng_incentive, points, 40); OFF(eng_incentive, points_expiry_days, 48);
    assert_int_equal(sizeof(eng_incentive), 56);
    OFF(eng_schedule, kind, 0); OFF(eng_schedule, at, 8); OFF(eng_schedule, every, 16); OFF(eng_schedule, unit, 20); OFF(eng_schedule, until, 24);
    assert_int_equal(sizeof(eng_schedule), 32);
    OFF(eng_sender, channel, 0); OFF(eng_sender, id, 8);
    assert_int_equal(sizeof(eng_sender), 16);
    OFF(eng_delivery, senders, 0); OFF(eng_delivery, n_senders, 8); OFF(eng_delivery, poc, 16); OFF(eng_delivery, n_poc, 24); OFF(eng_delivery, tiny_url, 32);
    assert_int_equal(sizeof(eng_delivery), 40);
    OFF(eng_message_spec, version, 0); OFF(eng_message_spec, title, 8); OFF(eng_message_spec, type, 16); OFF(eng_message_spec, strategy, 20); OFF(eng_message_spec, variants, 24); OFF(eng_message_spec, n_variants, 32); OFF(eng_message_spec, channel_priority, 40); OFF(eng_message_spec, n_channel_priority, 48); OFF(eng_message_spec, include, 56); OFF(eng_message_spec, n_include, 64); OFF(eng_message_spec, exclude, 72); OFF(eng_message_spec, n_exclude, 80); OFF(eng_message_spec, creatives, 88); OFF(eng_message_spec, n_creatives, 96); OFF(eng_message_spec, incentive, 104); OFF(eng_message_spec, schedule, 160); OFF(eng_message_spec, delivery, 192);
    assert_int_equal(sizeof(eng_message_spec), 232);
    OFF(eng_message_status, version, 0); OFF(eng_message_status, id, 8); OFF(eng_message_status, campaign, 16); OFF(eng_message_status, state, 24); OFF(eng_message_status, created_by, 32); OFF(eng_message_status, edited_by, 40); OFF(eng_message_status, updated_at, 48); OFF(eng_message_status, decided_by, 56); OFF(eng_message_status, decided_at, 64); OFF(eng_message_status, comment, 72); OFF(eng_message_status, approved_hash, 80); OFF(eng_message_status, content_hash, 88);
    assert_int_equal(sizeof(eng_message_status), 96);
    OFF(eng_model_event, version, 0); OFF(eng_model_event, kind, 4); OFF(eng_model_event, org, 8); OFF(eng_model_event, campaign, 16); OFF(eng_model_event, message, 24); OFF(eng_model_event, actor, 32); OFF(eng_model_event, comment, 40);
    assert_int_equal(sizeof(eng_model_event), 48);
    OFF(eng_audit_entry, seq, 0); OFF(eng_audit_entry, time, 8); OFF(eng_audit_entry, org, 16); OFF(eng_audit_entry, actor, 24); OFF(eng_audit_entry, object, 32); OFF(eng_audit_entry, action, 40); OFF(eng_audit_entry, state_hash, 48); OFF(eng_audit_entry, prev_hash, 56); OFF(eng_audit_entry, hash, 64);
    assert_int_equal(sizeof(eng_audit_entry), 72);
}

#define SAME(T, INIT, fn, ver)                                                                                     \
    do {                                                                                                            \
        static const T a = INIT;                                                                                    \
        static T b;                                                                                                 \
        memset(&b, 0xa5, sizeof b);                                                                                 \
        assert_int_equal(fn(&b, ver), ENG_OK);                                                                      \
        assert_memory_equal(&a, &b, sizeof a);                                                                      \
        assert_int_equal(fn(&b, ver + 1), ENG_EVERSION);                                                            \
        assert_int_equal(fn(&b, 0), ENG_EVERSION);                                                                  \
        assert_int_equal(fn(NULL, ver), ENG_EINVAL);                                                                \
    } while (0)

static void initialisers(void **st)
{
    (void)st;
    SAME(eng_org_settings, ENG_ORG_SETTINGS_INIT, eng_org_settings_init, ENG_ORG_SETTINGS_VERSION);
    SAME(eng_actor_spec, ENG_ACTOR_SPEC_INIT, eng_actor_spec_init, ENG_ACTOR_SPEC_VERSION);
    SAME(eng_campaign_spec, ENG_CAMPAIGN_SPEC_INIT, eng_campaign_spec_init, ENG_CAMPAIGN_SPEC_VERSION);
    SAME(eng_message_spec, ENG_MESSAGE_SPEC_INIT, eng_message_spec_init, ENG_MESSAGE_SPEC_VERSION);
    eng_message_status s = ENG_MESSAGE_STATUS_INIT;
    assert_int_equal(s.version, ENG_MESSAGE_STATUS_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layouts),
        cmocka_unit_test(initialisers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
