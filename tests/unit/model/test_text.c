/* Every string that enters through the API is checked by one routine:
 * invalid UTF-8 is refused with ENG_EINVAL and the field's path, control
 * characters (line breaks, ANSI escapes, DEL, C1) are refused in names, and
 * nothing is stored. */
#include "model_fixture.h"

static const char *const bad_names[] = {"\x1b[31mred\x1b[0m", "caf\xc3", "ok\xc0\xaf", "tab\there", "del\x7f",
                                        "nel\xc2\x85"};
#define NBAD (sizeof bad_names / sizeof bad_names[0])

/* v by address: it is filled by the call in the first argument. */
static void expect_report(int rc, eng_validation **v, const char *path)
{
    assert_int_equal(rc, ENG_EVALIDATION);
    assert_int_equal(eng_validation_find(*v, path), ENG_EINVAL);
    eng_validation_free(*v);
}

static void campaign_and_message_texts(void **s)
{
    (void)s;
    fx f;
    fx_open(&f);
    uint64_t cid, mid, n;
    eng_validation *v;
    for (size_t i = 0; i < NBAD; i++) {
        eng_campaign_spec c = fx_campaign(bad_names[i]);
        expect_report(eng_campaign_create(f.e, "ann", &c, &cid, &v), &v, "campaign.name");
        const char *cats[] = {"shoes", bad_names[i]};
        c = fx_campaign("ok");
        c.objective = ENG_OBJ_PROMOTE_PRODUCTS;
        c.product_categories = cats;
        c.n_product_categories = 2;
        expect_report(eng_campaign_create(f.e, "ann", &c, &cid, &v), &v, "campaign.product_categories[1]");
    }
    uint64_t *ids;
    assert_int_equal(eng_campaign_list(f.e, "ann", &ids, &n), ENG_OK);
    assert_int_equal(n, 0); /* nothing stored */
    eng_free(f.e, ids);
    eng_campaign_spec c = fx_campaign("Diwali \xe2\x9c\xa8"); /* valid UTF-8 is fine */
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, NULL), ENG_OK);
    for (size_t i = 0; i < NBAD; i++) {
        eng_message_spec m = fx_message();
        m.title = bad_names[i];
        expect_report(eng_message_create(f.e, "ann", cid, &m, &mid, &v), &v, "message.title");
        eng_creative cr[2] = {fx_creatives[0], fx_creatives[1]};
        cr[1].subject = bad_names[i];
        m = fx_message();
        m.creatives = cr;
        expect_report(eng_message_create(f.e, "ann", cid, &m, &mid, &v), &v, "message.creative[email].subject");
    }
    /* Bodies may hold line breaks, never invalid UTF-8. */
    eng_creative cr[2] = {fx_creatives[0], fx_creatives[1]};
    cr[1].body = "<p>Hello\n{{first_name}}</p><a>{{unsubscribe}}</a>";
    eng_message_spec m = fx_message();
    m.creatives = cr;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &mid, NULL), ENG_OK);
    cr[1].body = "<p>Hello \xff</p><a>{{unsubscribe}}</a>";
    expect_report(eng_message_create(f.e, "ann", cid, &m, &mid, &v), &v, "message.creative[email].body");
    /* Approval comments: text, so UTF-8 is checked. */
    assert_int_equal(eng_message_reject(f.e, "bob", mid, "bad \xe0\x80\x80"), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "comment");
    fx_close(&f);
}

static void audience_names(void **s)
{
    (void)s;
    fx f;
    fx_open(&f);
    uint32_t g;
    for (size_t i = 0; i < NBAD; i++) {
        assert_int_equal(eng_group_create_uploaded(f.e, "root", bad_names[i], &g), ENG_EINVAL);
        assert_string_equal(eng_error_last()->detail, "name");
        assert_int_equal(eng_group_create_filter(f.e, "root", bad_names[i], "true", &g), ENG_EINVAL);
        assert_int_equal(eng_group_find(f.e, "root", bad_names[i], &g), ENG_ENOTFOUND); /* nothing stored */
    }
    assert_int_equal(eng_group_create_uploaded(f.e, "root", "Käufer 2025", &g), ENG_OK);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(campaign_and_message_texts),
        cmocka_unit_test(audience_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
