/* Stored rules: serialise/load round trip, schema checks, corruption. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rules_test_util.h"

static const char *text = "tier in ('gold', 'silver') and days_since_purchase > 30 and city == 'Pune' "
                          "and amount >= 12.50 and not vip";

static void roundtrip(void **s)
{
    (void)s;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    eng_rule_options o = rt_opts();
    eng_rule *r = NULL, *r2 = NULL;
    assert_int_equal(eng_rule_compile(e, text, &o, &r), ENG_OK);
    void *blob = NULL;
    size_t len = 0;
    assert_int_equal(eng_rule_serialize(r, &blob, &len), ENG_OK);
    assert_int_equal(eng_rule_deserialize(e, blob, len, &o, &r2), ENG_OK);
    char a[512], b[512];
    assert_int_equal(eng_rule_text(r, a, sizeof a, NULL), ENG_OK);
    assert_int_equal(eng_rule_text(r2, b, sizeof b, NULL), ENG_OK);
    assert_string_equal(a, b);
    eng_rule_free(r2);

    /* a schema with the fields in another order and extra fields still loads */
    eng_rule_field other[RT_NFIELDS + 1];
    for (size_t i = 0; i < RT_NFIELDS; i++)
        other[RT_NFIELDS - 1 - i] = rt_fields[i];
    other[RT_NFIELDS] = (eng_rule_field){"extra", ENG_RT_INT, 0};
    eng_rule_options o2 = o;
    o2.fields = other;
    o2.nfields = RT_NFIELDS + 1;
    assert_int_equal(eng_rule_deserialize(e, blob, len, &o2, &r2), ENG_OK);
    assert_int_equal(eng_rule_text(r2, b, sizeof b, NULL), ENG_OK);
    assert_string_equal(a, b);
    eng_rule_free(r2);

    /* a changed type or scale, or a missing field, is refused naming the field */
    other[RT_NFIELDS - 1 - 3].scale = 3; /* amount */
    assert_int_equal(eng_rule_deserialize(e, blob, len, &o2, &r2), ENG_ETYPE);
    assert_string_equal(eng_error_last()->detail, "amount");
    other[RT_NFIELDS - 1 - 3].scale = 2;
    other[RT_NFIELDS - 1 - 1].type = ENG_RT_INT; /* city */
    assert_int_equal(eng_rule_deserialize(e, blob, len, &o2, &r2), ENG_ETYPE);
    assert_string_equal(eng_error_last()->detail, "city");
    other[RT_NFIELDS - 1 - 1].type = ENG_RT_STRING;
    other[RT_NFIELDS - 1 - 4].name = "is_vip";
    assert_int_equal(eng_rule_deserialize(e, blob, len, &o2, &r2), ENG_ETYPE);
    assert_string_equal(eng_error_last()->detail, "vip");
    assert_null(r2);

    /* every flipped bit and every truncation is ECORRUPT */
    uint8_t *copy = malloc(len);
    for (size_t i = 0; i < len; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, blob, len);
            copy[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(eng_rule_deserialize(e, copy, len, &o, &r2), ENG_ECORRUPT);
        }
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(eng_rule_deserialize(e, blob, cut, &o, &r2), ENG_ECORRUPT);
    free(copy);
    assert_int_equal(eng_rule_deserialize(e, NULL, len, &o, &r2), ENG_EINVAL);
    assert_int_equal(eng_rule_serialize(r, NULL, &len), ENG_EINVAL);
    eng_free(e, blob);
    eng_rule_free(r);
    eng_close(e);
    test_alloc_assert_clean();
}

static void stored(void **s)
{
    (void)s;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    eng_rule_options o = rt_opts();
    eng_rule *r = NULL, *r2 = NULL;
    assert_int_equal(eng_rule_compile(e, text, &o, &r), ENG_OK);
    assert_int_equal(eng_rule_save(r, "segment/pune-gold"), ENG_OK);
    assert_int_equal(eng_rule_load(e, "segment/pune-gold", &o, &r2), ENG_OK);
    char a[512], b[512];
    assert_int_equal(eng_rule_text(r, a, sizeof a, NULL), ENG_OK);
    assert_int_equal(eng_rule_text(r2, b, sizeof b, NULL), ENG_OK);
    assert_string_equal(a, b);
    eng_rule_free(r2);
    assert_int_equal(eng_rule_load(e, "segment/none", &o, &r2), ENG_ENOTFOUND);
    assert_int_equal(eng_rule_load(e, "", &o, &r2), ENG_EINVAL);
    assert_int_equal(eng_rule_load(e, NULL, &o, &r2), ENG_EINVAL);
    assert_int_equal(eng_rule_save(r, ""), ENG_EINVAL);
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_int_equal(eng_rule_save(r, longname), ENG_EINVAL);
    /* replacing keeps one rule under the name */
    eng_rule *r3 = NULL;
    assert_int_equal(eng_rule_compile(e, "vip", &o, &r3), ENG_OK);
    assert_int_equal(eng_rule_save(r3, "segment/pune-gold"), ENG_OK);
    assert_int_equal(eng_rule_load(e, "segment/pune-gold", &o, &r2), ENG_OK);
    assert_int_equal(eng_rule_text(r2, b, sizeof b, NULL), ENG_OK);
    assert_string_equal(b, "vip");
    eng_rule_free(r2);
    eng_rule_free(r3);
    eng_rule_free(r);
    eng_close(e);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roundtrip),
        cmocka_unit_test(stored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
