/* Locks the layout of every public struct (LP64): fields may only be appended,
 * so these offsets never change once released. Also checks that each *_init()
 * function and its static initialiser agree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "engage.h"

#define OFF(T, f, v) assert_int_equal(offsetof(T, f), (v))

static void struct_layouts(void **s)
{
    (void)s;
    if (sizeof(void *) != 8) {
        skip();
    }
    OFF(eng_allocator, version, 0); OFF(eng_allocator, malloc_fn, 8); OFF(eng_allocator, realloc_fn, 16);
    OFF(eng_allocator, free_fn, 24); OFF(eng_allocator, user, 32);
    assert_int_equal(sizeof(eng_allocator), 40);

    OFF(eng_error, code, 0); OFF(eng_error, message, 8); OFF(eng_error, detail, 16);
    assert_int_equal(sizeof(eng_error), 24);

    OFF(eng_store_methods, version, 0); OFF(eng_store_methods, get, 8); OFF(eng_store_methods, put, 16);
    OFF(eng_store_methods, del, 24); OFF(eng_store_methods, scan, 32); OFF(eng_store_methods, begin, 40);
    OFF(eng_store_methods, commit, 48); OFF(eng_store_methods, rollback, 56); OFF(eng_store_methods, destroy, 64);
    assert_int_equal(sizeof(eng_store_methods), 72);

    OFF(eng_transport_methods, version, 0); OFF(eng_transport_methods, send, 8);
    OFF(eng_transport_methods, destroy, 16);
    /* version 2 appended the batch call and its limits */
    OFF(eng_transport_methods, send_batch, 24); OFF(eng_transport_methods, max_in_flight, 32);
    OFF(eng_transport_methods, batch_size, 36);
    assert_int_equal(sizeof(eng_transport_methods), 40);

    OFF(eng_envelope, version, 0); OFF(eng_envelope, idempotency_key, 8); OFF(eng_envelope, channel, 16);
    OFF(eng_envelope, recipient, 24); OFF(eng_envelope, sender, 32); OFF(eng_envelope, subject, 40);
    OFF(eng_envelope, body, 48); OFF(eng_envelope, body_len, 56);
    /* version 2 appended what the send is about */
    OFF(eng_envelope, campaign, 64); OFF(eng_envelope, message, 72); OFF(eng_envelope, occurrence, 80);
    OFF(eng_envelope, customer, 84); OFF(eng_envelope, attempt, 88); OFF(eng_envelope, segments, 92);
    assert_int_equal(sizeof(eng_envelope), 96);

    OFF(eng_config, version, 0); OFF(eng_config, allocator, 8); OFF(eng_config, store, 16);
    OFF(eng_config, transport, 24); OFF(eng_config, transport_user, 32); OFF(eng_config, clock_fn, 40);
    OFF(eng_config, clock_user, 48); OFF(eng_config, log_fn, 56); OFF(eng_config, log_user, 64);
    OFF(eng_config, log_level, 72); OFF(eng_config, progress_fn, 80); OFF(eng_config, progress_user, 88);
    assert_int_equal(sizeof(eng_config), 96);
}

static void init_functions_match_initialisers(void **s)
{
    (void)s;
    eng_config a = ENG_CONFIG_INIT, b;
    memset(&b, 0xa5, sizeof b);
    assert_int_equal(eng_config_init(&b, ENG_CONFIG_VERSION), ENG_OK);
    assert_int_equal(a.version, b.version);
    assert_int_equal(a.log_level, b.log_level);
    assert_null(b.allocator);
    assert_null(b.store);
    assert_null(b.transport);
    assert_null(b.clock_fn);
    assert_null(b.log_fn);
    assert_null(b.progress_fn);

    eng_allocator al;
    assert_int_equal(eng_allocator_init(&al, ENG_ALLOCATOR_VERSION), ENG_OK);
    assert_int_equal(al.version, ENG_ALLOCATOR_VERSION);
    assert_non_null(al.malloc_fn);
    assert_non_null(al.realloc_fn);
    assert_non_null(al.free_fn);
}

static void enum_values_are_fixed(void **s)
{
    (void)s;
    assert_int_equal(ENG_EUSER, -24);
    assert_int_equal(ENG_ECORRUPT, -9);
    assert_int_equal(ENG_CH_SMS, 0);
    assert_int_equal(ENG_CH_EMAIL, 1);
    assert_int_equal(ENG_CH_COUNT, 15);
    assert_int_equal(ENG_SEND_UNKNOWN, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(struct_layouts),
        cmocka_unit_test(init_functions_match_initialisers),
        cmocka_unit_test(enum_values_are_fixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
