/* CSVs of external ids (a group upload, an erasure request) name their customers by an
 * `id` column found anywhere in the header. A header with `id` twice is ambiguous, and
 * picking one silently could erase (or target) the customers of the other column: it
 * must be refused with ENG_EINVAL at the second one's line:column, nothing changed.
 * One `id` among other columns, quoted, after a BOM and with CRLF still works. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "engage.h"

static eng_engine *open_org(void)
{
    eng_config cfg;
    assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
    eng_engine *e = NULL;
    assert_int_equal(eng_open(&cfg, &e), ENG_OK);
    assert_int_equal(eng_org_create(e, "o", NULL, "adm", NULL), ENG_OK);
    const char *csv = "id\nc1\nc2\nc3\n";
    assert_int_equal(eng_customers_import_csv_buffer(e, "adm", csv, strlen(csv), NULL, NULL), ENG_OK);
    return e;
}

static void erasure_with_two_id_columns_is_refused(void **st)
{
    (void)st;
    eng_engine *e = open_org();
    const char *two = "id,name,id\nc1,x,c2\n";
    eng_erase_report r = ENG_ERASE_REPORT_INIT;
    assert_int_equal(eng_customers_erase_csv(e, "adm", two, strlen(two), &r), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "1:3");
    assert_non_null(strstr(eng_error_last()->message, "id"));
    assert_int_equal(r.erased, 0);
    char *json = NULL;
    size_t len = 0;
    for (int i = 0; i < 2; i++) { /* neither column's customer was erased */
        assert_int_equal(eng_customer_export_json(e, "adm", i ? "c2" : "c1", &json, &len), ENG_OK);
        eng_free(e, json);
    }
    const char *one = "\xef\xbb\xbf" "name,\"id\"\r\nx,c2\r\n";
    assert_int_equal(eng_customers_erase_csv(e, "adm", one, strlen(one), &r), ENG_OK);
    assert_int_equal(r.erased, 1);
    assert_int_equal(eng_customer_export_json(e, "adm", "c2", &json, &len), ENG_ENOTFOUND);
    assert_int_equal(eng_close(e), ENG_OK);
}

static void upload_with_two_id_columns_is_refused(void **st)
{
    (void)st;
    eng_engine *e = open_org();
    uint32_t g = 0;
    uint64_t n = 0;
    assert_int_equal(eng_group_create_uploaded(e, "adm", "up", &g), ENG_OK);
    const char *first = "id\nc3\n";
    assert_int_equal(eng_group_upload_csv(e, "adm", g, first, strlen(first), ENG_UPLOAD_REPLACE, NULL, NULL), ENG_OK);
    const char *two = "id,id\nc1,c2\n";
    assert_int_equal(eng_group_upload_csv(e, "adm", g, two, strlen(two), ENG_UPLOAD_REPLACE, NULL, NULL), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "1:2");
    assert_int_equal(eng_group_count(e, "adm", g, &n), ENG_OK);
    assert_int_equal(n, 1); /* still c3 only */
    const char *one = "x,id\n1,c1\n2,c2\n";
    assert_int_equal(eng_group_upload_csv(e, "adm", g, one, strlen(one), ENG_UPLOAD_APPEND, NULL, NULL), ENG_OK);
    assert_int_equal(eng_group_count(e, "adm", g, &n), ENG_OK);
    assert_int_equal(n, 3);
    assert_int_equal(eng_close(e), ENG_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(erasure_with_two_id_columns_is_refused),
        cmocka_unit_test(upload_with_two_id_columns_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
