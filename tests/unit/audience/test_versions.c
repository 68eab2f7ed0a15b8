/* Versioned structs of the audience area in use: a report of an unknown
 * version is refused. (Layouts, initialisers and enum values are locked in
 * tests/abi/test_abi_layout.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "engage.h"
#include "test_alloc.h"
#include "test_util.h"


static void initialisers_and_versions(void **s)
{
    (void)s;
    test_alloc_reset();
    eng_import_options a = ENG_IMPORT_OPTIONS_INIT, b;
    memset(&b, 0x5a, sizeof b);
    assert_int_equal(eng_import_options_init(&b, ENG_IMPORT_OPTIONS_VERSION), ENG_OK);
    assert_memory_equal(&a, &b, sizeof a);
    eng_engine *e = test_engine_open_org(NULL);
    eng_import_report rep = ENG_IMPORT_REPORT_INIT;
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, "id\n1\n", 5, NULL, &rep), ENG_OK);
    assert_int_equal(rep.version, ENG_IMPORT_REPORT_VERSION);
    assert_int_equal(rep.inserted, 1);
    rep.version = 7;
    assert_int_equal(eng_customers_import_csv_buffer(e, TA, "id\n2\n", 5, NULL, &rep), ENG_EVERSION);
    assert_int_equal(eng_group_upload_ids(e, TA, 1, NULL, 0, ENG_UPLOAD_APPEND, NULL, &rep), ENG_EVERSION);
    uint64_t n;
    assert_int_equal(eng_customers_count(e, TA, &n), ENG_OK);
    assert_int_equal(n, 1);
    assert_int_equal(eng_close(e), ENG_OK);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(initialisers_and_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
