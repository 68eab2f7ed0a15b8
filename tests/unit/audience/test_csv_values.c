/* One syntax for values in CSV and in rules (issue 16): a date column is a
 * date inside rules, every value the import accepts can be written in a rule
 * (and the rule's date and timestamp syntax is the import's), decimals that
 * fit the column import, and empty follows PostgreSQL's CSV rule: an unquoted
 * empty field is NULL, a quoted "" is the empty string. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engage.h"
#include "test_alloc.h"
#include "test_store.h"
#include "test_util.h"

static uint64_t size_of(eng_engine *e, const char *expr)
{
    static int k;
    char name[32];
    snprintf(name, sizeof name, "g%d", k++);
    uint32_t g;
    if (eng_group_create_filter(e, TA, name, expr, &g) != ENG_OK)
        fail_msg("'%s': %s (%s)", expr, eng_error_last()->message, eng_error_last()->detail);
    uint64_t n = 0;
    assert_int_equal(eng_group_count(e, TA, g, &n), ENG_OK);
    return n;
}

static void csv_values_are_rule_values(void **st)
{
    (void)st;
    test_alloc_reset();
    test_store *ts = test_store_new();
    eng_engine *e = test_engine_open_org(test_store_handle(ts));
    assert_int_equal(eng_customers_add_column(e, TA, "s", ENG_COL_STRING), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "i", ENG_COL_INT64), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "d", ENG_COL_DECIMAL), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "t", ENG_COL_DATE), ENG_OK);
    static const char csv[] =
        "id,s,i,d,t\n"
        "a,\"\",-9223372036854775808,1.50000,2024-02-29 12:00:00Z\n"   /* "" is the empty string */
        "b,,9223372036854775807,922337203685477.5807,2024-02-29\n"    /* unquoted empty: NULL */
        "c,x,5,-922337203685477.5808,2024-02-28T23:59:59.999Z\n"
        "d,\"y\",,\"\",\"\"\n";                                       /* quoted "" of a non-string: NULL */
    eng_import_report rep = ENG_IMPORT_REPORT_INIT;
    if (eng_customers_import_csv_buffer(e, TA, csv, sizeof csv - 1, NULL, &rep) != ENG_OK)
        fail_msg("import: %s (%s)", eng_error_last()->message, eng_error_last()->detail);
    assert_int_equal(rep.bad_rows, 0);
    /* empty vs NULL */
    assert_int_equal(size_of(e, "s == \"\""), 1);
    assert_int_equal(size_of(e, "s is null"), 1);
    assert_int_equal(size_of(e, "s is not null"), 3);
    assert_int_equal(size_of(e, "len(s) == 0"), 1);
    assert_int_equal(size_of(e, "d is null and t is null and i is null"), 1);
    /* a date column is a date inside rules (the UTC day of the stored time) */
    assert_int_equal(size_of(e, "t == date(\"2024-02-29\")"), 2);
    assert_int_equal(size_of(e, "t > date(\"2024-02-28\")"), 2);
    assert_int_equal(size_of(e, "t between date(\"2024-02-28\") and date(\"2024-02-29\")"), 3);
    /* every value the import took is writable in a rule */
    assert_int_equal(size_of(e, "i == -9223372036854775808"), 1);
    assert_int_equal(size_of(e, "i == 9223372036854775807"), 1);
    assert_int_equal(size_of(e, "d == 1.5 and d == 1.50000"), 1);
    assert_int_equal(size_of(e, "d == 922337203685477.5807"), 1);
    assert_int_equal(size_of(e, "d == -922337203685477.5808"), 1);
    assert_int_equal(size_of(e, "d in (-922337203685477.5808, 1.5)"), 2);
    eng_close(e);
    test_store_free(ts);
    test_alloc_assert_clean();
}

/* The rule's date and timestamp literals accept what the import accepts,
 * and refuse what it refuses (year 0000, a decimal that does not fit). */
static void same_syntax_both_ways(void **st)
{
    (void)st;
    test_alloc_reset();
    test_store *ts = test_store_new();
    eng_engine *e = test_engine_open_org(test_store_handle(ts));
    assert_int_equal(eng_customers_add_column(e, TA, "t", ENG_COL_DATE), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, TA, "d", ENG_COL_DECIMAL), ENG_OK);
    eng_rule_field f[] = {{"ts", ENG_RT_TIMESTAMP, 0}};
    eng_rule_options o;
    eng_rule_options_init(&o, ENG_RULE_OPTIONS_VERSION);
    o.fields = f;
    o.nfields = 1;
    static const struct { const char *text; int ok; } lits[] = {
        {"2024-02-29 12:00:00Z", 1}, {"2024-02-29T12:00:00Z", 1}, {"2024-02-29T12:00:00.250Z", 1},
        {"2024-02-29 12:00:00.250Z", 1}, {"0000-01-01T00:00:00Z", 0}, {"2023-02-29T00:00:00Z", 0},
        {"0001-01-01T00:00:00Z", 1}, {"9999-12-31T23:59:59.999Z", 1}};
    for (size_t k = 0; k < sizeof lits / sizeof lits[0]; k++) {
        char rule[128], csv[128];
        snprintf(rule, sizeof rule, "ts == timestamp(\"%s\")", lits[k].text);
        eng_rule *r = NULL;
        int rc = eng_rule_compile(e, rule, &o, &r);
        eng_rule_free(r);
        snprintf(csv, sizeof csv, "id,t\nk%zu,%s\n", k, lits[k].text);
        eng_import_report rep = ENG_IMPORT_REPORT_INIT;
        eng_import_options io;
        eng_import_options_init(&io, ENG_IMPORT_OPTIONS_VERSION);
        io.on_error = ENG_IMPORT_SKIP_ROWS;
        io.max_bad_rows = 10;
        int irc = eng_customers_import_csv_buffer(e, TA, csv, strlen(csv), &io, &rep);
        int imported = irc == ENG_OK && rep.bad_rows == 0;
        if ((rc == ENG_OK) != lits[k].ok || imported != lits[k].ok)
            fail_msg("'%s': rule %d, import %d (bad rows %llu), want both %s", lits[k].text, rc, irc,
                     (unsigned long long)rep.bad_rows, lits[k].ok ? "accepted" : "refused");
    }
    eng_close(e);
    test_store_free(ts);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csv_values_are_rule_values),
        cmocka_unit_test(same_syntax_both_ways),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
