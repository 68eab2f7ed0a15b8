/* Rule texts in the model are compiled by the rules layer once the host gives
 * a schema: syntax and type errors come back at the rule's field path. */
#include "model_fixture.h"

static const eng_rule_field customer[] = {
    {"region", ENG_RT_STRING, 0}, {"category", ENG_RT_STRING, 0}, {"hour", ENG_RT_INT, 0}};
static const eng_rule_field event[] = {{"amount", ENG_RT_DECIMAL, 2}, {"store", ENG_RT_STRING, 0}};

static void rule_texts(void **st)
{
    eng_goal_spec c_goal = ENG_GOAL_SPEC_INIT;
    eng_goal_spec s_goal = ENG_GOAL_SPEC_INIT;
    (void)st;
    fx f;
    fx_open(&f);
    eng_campaign_spec c = fx_campaign("Rules");
    c.goal_mode = ENG_GOAL_CUSTOM;
    c_goal.event = "transaction";
    c_goal.condition = "amout >= 3000"; /* misspelt field */
    c.goal = &c_goal;
    uint64_t cid;
    /* No host schema: the built-in transaction schema catches the typo (issue 16). */
    eng_validation *v;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, &v), ENG_EVALIDATION);
    assert_report(v, "campaign.goal.condition", ENG_ETYPE);
    eng_validation_free(v);
    assert_int_equal(eng_model_set_rule_schema(f.e, ENG_SCHEMA_EVENT, event, 2), ENG_OK);
    assert_int_equal(eng_model_set_rule_schema(f.e, ENG_SCHEMA_CUSTOMER, customer, 3), ENG_OK);
    c.name = "Rules 2";
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, &v), ENG_EVALIDATION);
    assert_report(v, "campaign.goal.condition", ENG_ETYPE);
    eng_validation_free(v);
    c_goal.condition = "amount >= ";
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, &v), ENG_EVALIDATION);
    assert_report(v, "campaign.goal.condition", ENG_EPARSE);
    const char *msg;
    assert_int_equal(eng_validation_item(v, 0, NULL, NULL, &msg), ENG_OK);
    assert_non_null(strchr(msg, ':')); /* "line:column: ..." */
    eng_validation_free(v);
    c_goal.condition = "amount >= 3000 and store in (\"S1\", \"S2\")";
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, NULL), ENG_OK);
    /* The org's default goal is checked the same way. */
    eng_org_settings s;
    eng_org_settings_get(f.e, "root", &s);
    s_goal = *s.default_goal; /* start from the stored goal */
    s_goal.condition = "amount > \"lots\"";
    s.default_goal = &s_goal;
    eng_validation *ov = NULL;
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, &ov), ENG_EVALIDATION);
    assert_string_equal(eng_error_last()->detail, "org.settings.default_goal.condition");
    assert_int_equal(eng_validation_count(ov), 1);
    assert_report(ov, "org.settings.default_goal.condition", ENG_ETYPE); /* a number compared with a string */
    eng_validation_free(ov);
    s_goal.condition = "amount >";
    assert_int_equal(eng_org_create(f.e, "globex", &s, "gadmin", &ov), ENG_EVALIDATION);
    assert_report(ov, "org.settings.default_goal.condition", ENG_EPARSE);
    eng_validation_free(ov);
    /* Personalization variant rules. */
    eng_message_spec m = fx_message();
    m.strategy = ENG_STRATEGY_PERSONALIZATION;
    eng_variant va[] = {{ENG_VARIANT_REGION, "region == 5", ENG_CH_SMS, "Hi {{optout}}"},
                        {ENG_VARIANT_TIME, "hour >= 18 and", ENG_CH_SMS, "Evening {{optout}}"},
                        {ENG_VARIANT_PRODUCT, "category == \"shoes\"", ENG_CH_SMS, "Shoes {{optout}}"}};
    m.variants = va;
    m.n_variants = 3;
    uint64_t id;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", id, &v), ENG_EVALIDATION);
    assert_report(v, "message.variants[0].rule", ENG_ETYPE);
    assert_report(v, "message.variants[1].rule", ENG_EPARSE);
    assert_report(v, "message.variants[2].rule", ENG_OK);
    eng_validation_free(v);
    va[0].rule = "region == \"north\"";
    va[1].rule = "hour >= 18";
    assert_int_equal(eng_message_update(f.e, "ann", id, &m, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", id, NULL), ENG_OK);
    /* Removing the schema stops the checks; bad arguments are refused. */
    assert_int_equal(eng_model_set_rule_schema(f.e, ENG_SCHEMA_CUSTOMER, NULL, 0), ENG_OK);
    assert_int_equal(eng_model_set_rule_schema(f.e, 7, event, 2), ENG_EINVAL);
    assert_int_equal(eng_model_set_rule_schema(f.e, ENG_SCHEMA_EVENT, NULL, 2), ENG_EINVAL);
    assert_int_equal(eng_model_set_rule_schema(f.e, ENG_SCHEMA_EVENT, event, 4097), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "fields");
    eng_rule_field badf[] = {{"amount", ENG_RT_INT, 0}, {"", ENG_RT_INT, 0}};
    assert_int_equal(eng_model_set_rule_schema(f.e, ENG_SCHEMA_EVENT, badf, 2), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "fields[1].name");
    badf[1].name = "store";
    badf[1].type = ENG_RT_NULL;
    assert_int_equal(eng_model_set_rule_schema(f.e, ENG_SCHEMA_EVENT, badf, 2), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "fields[1].type");
    badf[1].type = (eng_rule_type)8;
    assert_int_equal(eng_model_set_rule_schema(f.e, ENG_SCHEMA_EVENT, badf, 2), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "fields[1].type");
    badf[1].type = ENG_RT_STRING;
    badf[1].scale = 2;
    assert_int_equal(eng_model_set_rule_schema(f.e, ENG_SCHEMA_EVENT, badf, 2), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "fields[1].scale");
    /* The refused calls kept the event schema that was set: a misspelt field is still caught. */
    c.name = "Rules 3";
    c_goal.condition = "amout >= 3000";
    c.goal = &c_goal;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, &v), ENG_EVALIDATION);
    assert_report(v, "campaign.goal.condition", ENG_ETYPE);
    eng_validation_free(v);
    badf[1].type = ENG_RT_DECIMAL;
    badf[1].scale = ENG_RULE_MAX_SCALE + 1;
    assert_int_equal(eng_model_set_rule_schema(f.e, ENG_SCHEMA_EVENT, badf, 2), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "fields[1].scale");
    /* The refused calls kept the event schema that was set: a misspelt field is still caught. */
    c.name = "Rules 3";
    c_goal.condition = "amout >= 3000";
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, &v), ENG_EVALIDATION);
    assert_report(v, "campaign.goal.condition", ENG_ETYPE);
    eng_validation_free(v);
    fx_close(&f);
}

/* Without a host schema, variant rules are checked against the customer
 * columns the engine holds (what filter groups see): a misspelt field is
 * refused at submit with the rule's path, line:column and a did-you-mean. */
static void variant_rules_against_customer_columns(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    assert_int_equal(eng_customers_add_column(f.e, "root", "region", ENG_COL_STRING), ENG_OK);
    assert_int_equal(eng_customers_add_column(f.e, "root", "visits", ENG_COL_INT64), ENG_OK);
    eng_campaign_spec c = fx_campaign("Personal");
    uint64_t cid, id;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, NULL), ENG_OK);
    eng_message_spec m = fx_message();
    m.strategy = ENG_STRATEGY_PERSONALIZATION;
    eng_variant va[] = {{ENG_VARIANT_REGION, "no_such_field == 1", ENG_CH_SMS, "Hi {{optout}}"},
                        {ENG_VARIANT_REGION, "regoin == \"north\"", ENG_CH_SMS, "North {{optout}}"},
                        {ENG_VARIANT_REGION, "visits > \"many\"", ENG_CH_SMS, "Many {{optout}}"},
                        {ENG_VARIANT_REGION, "region == \"north\" and visits >= 3", ENG_CH_SMS, "Ok {{optout}}"}};
    m.variants = va;
    m.n_variants = 4;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, NULL), ENG_OK);
    eng_validation *v;
    assert_int_equal(eng_message_submit(f.e, "ann", id, &v), ENG_EVALIDATION);
    assert_report(v, "message.variants[0].rule", ENG_ETYPE);
    assert_report(v, "message.variants[1].rule", ENG_ETYPE);
    assert_report(v, "message.variants[2].rule", ENG_ETYPE);
    assert_report(v, "message.variants[3].rule", ENG_OK);
    int found = 0;
    for (size_t i = 0; i < eng_validation_count(v); i++) {
        const char *path, *msg;
        assert_int_equal(eng_validation_item(v, i, NULL, &path, &msg), ENG_OK);
        if (strcmp(path, "message.variants[1].rule") == 0) {
            assert_non_null(strstr(msg, "1:1"));
            assert_non_null(strstr(msg, "did you mean 'region'"));
            found = 1;
        }
    }
    assert_true(found);
    eng_validation_free(v);
    va[0].rule = va[1].rule = va[2].rule = "visits >= 1";
    assert_int_equal(eng_message_update(f.e, "ann", id, &m, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", id, NULL), ENG_OK);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rule_texts),
        cmocka_unit_test(variant_rules_against_customer_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
