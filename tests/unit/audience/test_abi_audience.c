/* Locks the layout (LP64) of the audience area's public structs: fields may
 * only be appended. Also: initialisers agree with the *_init() functions, a
 * report of an unknown version is refused, and enum values are fixed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "engage.h"
#include "test_alloc.h"
#include "test_util.h"

#define OFF(T, f, v) assert_int_equal(offsetof(T, f), (v))

static void layouts(void **s)
{
    (void)s;
    if (sizeof(void *) != 8)
        skip();
    OFF(eng_import_error, line, 0); OFF(eng_import_error, column, 8); OFF(eng_import_error, field, 16);
    OFF(eng_import_error, code, 24); OFF(eng_import_error, message, 32);
    assert_int_equal(sizeof(eng_import_error), 40);
    OFF(eng_import_options, version, 0); OFF(eng_import_options, on_error, 4);
    OFF(eng_import_options, max_bad_rows, 8); OFF(eng_import_options, max_field_bytes, 16);
    OFF(eng_import_options, error_fn, 24); OFF(eng_import_options, error_user, 32);
    assert_int_equal(sizeof(eng_import_options), 40);
    OFF(eng_import_report, version, 0); OFF(eng_import_report, rows, 8); OFF(eng_import_report, inserted, 16);
    OFF(eng_import_report, updated, 24); OFF(eng_import_report, bad_rows, 32); OFF(eng_import_report, bytes, 40);
    assert_int_equal(sizeof(eng_import_report), 48);
    OFF(eng_resolve_options, version, 0); OFF(eng_resolve_options, include, 8);
    OFF(eng_resolve_options, n_include, 16); OFF(eng_resolve_options, exclude, 24);
    OFF(eng_resolve_options, n_exclude, 32); OFF(eng_resolve_options, channels, 40);
    OFF(eng_resolve_options, seed, 48); OFF(eng_resolve_options, test_ratio, 56);
    assert_int_equal(sizeof(eng_resolve_options), 64);
}

static void initialisers_and_versions(void **s)
{
    (void)s;
    test_alloc_reset();
    eng_import_options a = ENG_IMPORT_OPTIONS_INIT, b;
    memset(&b, 0x5a, sizeof b);
    assert_int_equal(eng_import_options_init(&b, ENG_IMPORT_OPTIONS_VERSION), ENG_OK);
    assert_memory_equal(&a, &b, sizeof a);
    eng_resolve_options r;
    memset(&r, 0x5a, sizeof r);
    assert_int_equal(eng_resolve_options_init(&r, ENG_RESOLVE_OPTIONS_VERSION), ENG_OK);
    assert_int_equal(r.version, ENG_RESOLVE_OPTIONS_VERSION);
    assert_null(r.include);
    assert_null(r.exclude);
    assert_int_equal(r.channels, 0);
    assert_true(r.test_ratio == 1.0);
    eng_engine *e = test_engine_open(NULL);
    eng_import_report rep = ENG_IMPORT_REPORT_INIT;
    assert_int_equal(eng_customers_import_csv_buffer(e, "id\n1\n", 5, NULL, &rep), ENG_OK);
    assert_int_equal(rep.version, ENG_IMPORT_REPORT_VERSION);
    assert_int_equal(rep.inserted, 1);
    rep.version = 7;
    assert_int_equal(eng_customers_import_csv_buffer(e, "id\n2\n", 5, NULL, &rep), ENG_EVERSION);
    assert_int_equal(eng_group_upload_ids(e, 1, NULL, 0, ENG_UPLOAD_APPEND, NULL, &rep), ENG_EVERSION);
    uint64_t n;
    assert_int_equal(eng_customers_count(e, &n), ENG_OK);
    assert_int_equal(n, 1);
    assert_int_equal(eng_close(e), ENG_OK);
    test_alloc_assert_clean();
}

static void enum_values_are_fixed(void **s)
{
    (void)s;
    assert_int_equal(ENG_ID_STRING, 1); assert_int_equal(ENG_ID_INT64, 2);
    assert_int_equal(ENG_COL_STRING, 1); assert_int_equal(ENG_COL_BOOL, 5);
    assert_int_equal(ENG_IMPORT_REJECT_FILE, 0); assert_int_equal(ENG_IMPORT_SKIP_ROWS, 1);
    assert_int_equal(ENG_GROUP_UPLOADED, 1); assert_int_equal(ENG_GROUP_COMBINED, 3);
    assert_int_equal(ENG_COMBINE_UNION, 1); assert_int_equal(ENG_COMBINE_INTERSECT, 2);
    assert_int_equal(ENG_UPLOAD_REPLACE, 1); assert_int_equal(ENG_UPLOAD_APPEND, 2);
    assert_int_equal(ENG_PART_ALL, 0); assert_int_equal(ENG_PART_CONTROL, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layouts),
        cmocka_unit_test(initialisers_and_versions),
        cmocka_unit_test(enum_values_are_fixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
