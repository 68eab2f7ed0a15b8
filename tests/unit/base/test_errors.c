#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "engage.h"
#include "base/error.h"

static void every_code_has_text(void **s)
{
    (void)s;
    for (int c = ENG_OK; c >= ENG_ITEROVER; c--) {
        const char *t = eng_errstr(c);
        assert_non_null(t);
        assert_string_not_equal(t, "unknown error");
    }
    assert_string_equal(eng_errstr(-1000), "unknown error");
    assert_string_equal(eng_errstr(5), "unknown error");
}

static void last_error_records_detail(void **s)
{
    (void)s;
    eng_error_clear();
    assert_int_equal(eng_error_last()->code, ENG_OK);
    assert_string_equal(eng_error_last()->message, "");
    int rc = eng__err(ENG_EVALIDATION, "message.creative[sms].body", "SMS must contain %s", "{{optout}}");
    assert_int_equal(rc, ENG_EVALIDATION);
    assert_int_equal(eng_error_last()->code, ENG_EVALIDATION);
    assert_string_equal(eng_error_last()->detail, "message.creative[sms].body");
    assert_string_equal(eng_error_last()->message, "SMS must contain {{optout}}");
    eng__err_wrap(ENG_EVALIDATION, "campaign 'x'");
    assert_string_equal(eng_error_last()->message, "campaign 'x': SMS must contain {{optout}}");
    eng_error_set(ENG_EUSER, "host said no");
    assert_int_equal(eng_error_last()->code, ENG_EUSER);
    assert_string_equal(eng_error_last()->message, "host said no");
    assert_string_equal(eng_error_last()->detail, "");
}

static void *other_thread(void *arg)
{
    (void)arg;
    eng__err(ENG_EIO, "other", "from the other thread");
    return NULL;
}

static void errors_are_per_thread(void **s)
{
    (void)s;
    eng__err(ENG_EPARSE, "1:5", "mine");
    pthread_t t;
    pthread_create(&t, NULL, other_thread, NULL);
    pthread_join(t, NULL);
    assert_int_equal(eng_error_last()->code, ENG_EPARSE);
    assert_string_equal(eng_error_last()->message, "mine");
    assert_string_equal(eng_error_last()->detail, "1:5");
}

static void long_messages_truncate_safely(void **s)
{
    (void)s;
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    eng_error_set(ENG_EUSER, big);
    assert_true(strlen(eng_error_last()->message) < 1024);
    eng__err(ENG_EINVAL, big, "%s", big);
    assert_true(strlen(eng_error_last()->detail) < 256);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_code_has_text),
        cmocka_unit_test(last_error_records_detail),
        cmocka_unit_test(errors_are_per_thread),
        cmocka_unit_test(long_messages_truncate_safely),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
