#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <stdlib.h>
#include <cmocka.h>

#include "engage.h"
#include "core/engine_impl.h"
#include "test_alloc.h"
#include "test_util.h"
#include "test_store.h"
#include "store/record.h"

static int setup(void **s) { (void)s; test_alloc_reset(); return 0; }
static int teardown(void **s) { (void)s; test_alloc_assert_clean(); return 0; }

static void version_matches_headers(void **s)
{
    (void)s;
    assert_int_equal(eng_version(), ENG_VERSION_NUMBER);
    assert_string_equal(eng_version_string(), ENG_VERSION_STRING);
    assert_true(ENG_VERSION_AT_LEAST(0, 0, 1));
}

static void open_defaults_and_close(void **s)
{
    (void)s;
    eng_engine *e = NULL;
    assert_int_equal(eng_open(NULL, &e), ENG_OK);
    assert_non_null(e);
    assert_true(eng_now(e) > 1600000000000LL);
    assert_int_equal(eng_close(e), ENG_OK);
    assert_int_equal(eng_close(NULL), ENG_OK);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The lease owner's id: engines open at once in one process never share one (the
 * random part is read once per process, each engine mixes in its own number). */
static void instances_differ(void **s)
{
    (void)s;
    enum { N = 256 };
    eng_engine *e[N];
    uint64_t id[N];
    for (int i = 0; i < N; i++) {
        assert_int_equal(eng_open(NULL, &e[i]), ENG_OK);
        id[i] = e[i]->instance;
        assert_true(id[i] != 0);
    }
    qsort(id, N, sizeof id[0], cmp_u64);
    for (int i = 1; i < N; i++)
        assert_true(id[i] != id[i - 1]);
    for (int i = 0; i < N; i++)
        assert_int_equal(eng_close(e[i]), ENG_OK);
}

static void config_errors(void **s)
{
    (void)s;
    eng_config cfg;
    assert_int_equal(eng_config_init(NULL, ENG_CONFIG_VERSION), ENG_EINVAL);
    assert_int_equal(eng_config_init(&cfg, 0), ENG_EVERSION);
    assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION + 1), ENG_EVERSION);
    assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
    assert_int_equal(cfg.log_level, ENG_LOG_WARN);
    eng_engine *e = (eng_engine *)&cfg;
    assert_int_equal(eng_open(&cfg, NULL), ENG_EINVAL);
    cfg.version = 42;
    assert_int_equal(eng_open(&cfg, &e), ENG_EVERSION);
    assert_null(e);
    assert_string_equal(eng_error_last()->detail, "config.version");
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.log_level = 9;
    assert_int_equal(eng_open(&cfg, &e), ENG_EINVAL);
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    assert_int_equal(cfg.threads, 1);
    cfg.threads = 65;
    assert_int_equal(eng_open(&cfg, &e), ENG_ERANGE);
    assert_string_equal(eng_error_last()->detail, "config.threads");
    /* A version-1 caller's struct ends before `threads`: the field is not read. */
    assert_int_equal(eng_config_init(&cfg, 1), ENG_OK);
    assert_int_equal(cfg.version, 1);
    cfg.threads = 65; /* past a version-1 struct: ignored */
    assert_int_equal(eng_open(&cfg, &e), ENG_OK);
    assert_int_equal(eng_close(e), ENG_OK);
    eng_allocator bad; /* some hooks but not all: refused (none at all is the system allocator) */
    eng_allocator_init(&bad, ENG_ALLOCATOR_VERSION);
    bad.realloc_fn = NULL;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.allocator = &bad;
    assert_int_equal(eng_open(&cfg, &e), ENG_EINVAL);
}

static int destroyed;
static void t_destroy(void *u) { (void)u; destroyed++; }
static int t_send(const eng_envelope *env, int *st, void *u) { (void)env; (void)u; *st = ENG_SEND_ACCEPTED; return 0; }

static void ownership_passes_on_every_outcome(void **s)
{
    (void)s;
    eng_config cfg;
    eng_transport_methods tm = {ENG_TRANSPORT_METHODS_VERSION, t_send, t_destroy, NULL, 0, 0};
    eng_engine *e;
    /* failure after accepting store and transport: both released, destroy once */
    destroyed = 0;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.allocator = test_alloc_get();
    assert_int_equal(eng_store_memory_new(test_alloc_get(), &cfg.store), ENG_OK);
    cfg.transport = &tm;
    cfg.log_level = -1;
    assert_int_equal(eng_open(&cfg, &e), ENG_EINVAL);
    assert_int_equal(destroyed, 1);
    test_alloc_assert_clean();
    /* success: released by close */
    destroyed = 0;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.allocator = test_alloc_get();
    assert_int_equal(eng_store_memory_new(test_alloc_get(), &cfg.store), ENG_OK);
    cfg.transport = &tm;
    assert_int_equal(eng_open(&cfg, &e), ENG_OK);
    eng_store_free(cfg.store); /* owned by the engine: a no-op */
    assert_int_equal(eng_close(e), ENG_OK);
    assert_int_equal(destroyed, 1);
    /* a transport without send is refused */
    tm.send = NULL;
    destroyed = 0;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.transport = &tm;
    assert_int_equal(eng_open(&cfg, &e), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "config.transport.send");
    assert_int_equal(destroyed, 1);
}

static void closed_engine_is_misuse_and_children_keep_it_alive(void **s)
{
    (void)s;
    eng_engine *e = test_engine_open(NULL);
    eng__engine_ref(e);                  /* a child handle */
    assert_int_equal(eng_close(e), ENG_OK);
    assert_int_equal(eng__enter(e), ENG_EMISUSE); /* closed: refused, not crashed */
    assert_int_equal(eng_now(e), 0);
    assert_true(test_alloc_live_blocks() > 0);   /* still alive for the child */
    eng__engine_unref(e);                         /* last child frees it */
    test_alloc_assert_clean();
    int garbage[16] = {0};
    assert_int_equal(eng_close((eng_engine *)garbage), ENG_EMISUSE);
}

static void default_transport_refuses(void **s)
{
    (void)s;
    eng_engine *e = test_engine_open(NULL);
    eng_envelope env = {ENG_ENVELOPE_VERSION, "k", ENG_CH_SMS, "+15550100", "", "", "hi", 2, 0, 0, 0, 0, 1, 1};
    int st = -1;
    assert_int_equal(e->transport.send(&env, &st, e->transport_user), ENG_ETRANSPORT);
    assert_int_equal(st, ENG_SEND_REJECTED);
    eng_close(e);
}

static void channel_names(void **s)
{
    (void)s;
    assert_string_equal(eng_channel_name(ENG_CH_SMS), "sms");
    assert_string_equal(eng_channel_name(ENG_CH_YOUTUBE), "youtube");
    assert_null(eng_channel_name(ENG_CH_COUNT));
    assert_null(eng_channel_name(-1));
}

static int oom_open(void *arg)
{
    (void)arg;
    eng_config cfg;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.allocator = test_alloc_get();
    eng_engine *e;
    int rc = eng_open(&cfg, &e);
    if (rc == ENG_OK)
        eng_close(e);
    return rc;
}

static void open_survives_allocation_failures(void **s)
{
    (void)s;
    assert_true(test_oom_loop(oom_open, NULL) >= 2);
}

/* The metadata record: counted opens survive close, a newer data format or a
 * damaged record is refused, and a failing store fails the open cleanly. */
static void info_and_stored_metadata(void **s)
{
    (void)s;
    test_store *ts = test_store_new();
    eng_info info = ENG_INFO_INIT;
    test_clock_now = 1767225600000;
    eng_engine *e = test_engine_open(test_store_handle(ts));
    assert_int_equal(eng_info_get(e, &info), ENG_OK);
    assert_int_equal(info.open_count, 1);
    assert_int_equal(info.created, 1767225600000);
    assert_int_equal(info.data_format, 1);
    assert_string_equal(info.store_kind, "custom");
    assert_int_equal(eng_info_get(e, NULL), ENG_EINVAL);
    info.version = 0;
    assert_int_equal(eng_info_get(e, &info), ENG_EVERSION);
    /* A version-1 caller: nothing past store_kind is written, by init or get. */
    union { eng_info i; unsigned char b[sizeof(eng_info)]; } v1;
    memset(&v1, 0xa5, sizeof v1);
    size_t v1size = offsetof(eng_info, store_kind) + sizeof(const char *);
    assert_int_equal(eng_info_init(&v1.i, 1), ENG_OK);
    assert_int_equal(eng_info_get(e, &v1.i), ENG_OK);
    assert_int_equal(v1.i.open_count, 1);
    for (size_t k = v1size; k < sizeof v1; k++)
        assert_int_equal(v1.b[k], 0xa5);
    info.version = ENG_INFO_VERSION;
    assert_int_equal(eng_info_get(e, &info), ENG_OK);
    assert_int_equal(info.store_file_bytes, 0); /* not a file store */
    eng_close(e);
    assert_int_equal(eng_info_get(NULL, &info), ENG_EMISUSE);

    test_clock_now += 3600000;
    e = test_engine_open(test_store_handle(ts));
    assert_int_equal(eng_info_get(e, &info), ENG_OK);
    assert_int_equal(info.open_count, 2);
    assert_int_equal(info.created, 1767225600000);
    assert_int_equal(info.last_opened, 1767225600000 + 3600000);
    eng_close(e);

    /* A failing store fails the open; nothing leaks, nothing is counted. */
    test_store_fail(ts, TV_PUT, 1, 0, TF_ERROR);
    assert_int_equal(test_store_open(ts, test_alloc_get(), &e), ENG_ESTORAGE);
    assert_null(e);
    test_store_nofail(ts);

    /* A store written by a newer data format is refused, not misread. */
    uint8_t *raw;
    size_t len;
    assert_int_equal(test_store_raw_get(ts, "e/meta", &raw, &len), ENG_OK);
    uint8_t *newer = malloc(len);
    memcpy(newer, raw, len);
    free(raw);
    eng_store *tmp;
    assert_int_equal(eng_store_memory_new(NULL, &tmp), ENG_OK);
    uint8_t payload[4] = {99, 0, 0, 0};
    assert_int_equal(eng__rec_put(tmp, ENG__K("e/meta"), ENG__REC_META, 1, payload, 4), ENG_OK);
    eng__val v;
    assert_int_equal(eng__kv_get(tmp, ENG__K("e/meta"), &v), ENG_OK);
    assert_int_equal(test_store_raw_put(ts, "e/meta", v.data, v.len), ENG_OK);
    eng__val_free(tmp, &v);
    eng_store_free(tmp);
    assert_int_equal(test_store_open(ts, test_alloc_get(), &e), ENG_EVERSION);
    assert_string_equal(eng_error_last()->detail, "e/meta");

    /* A damaged record names its key. */
    newer[len - 1] ^= 0xff;
    assert_int_equal(test_store_raw_put(ts, "e/meta", newer, len), ENG_OK);
    free(newer);
    assert_int_equal(test_store_open(ts, test_alloc_get(), &e), ENG_ECORRUPT);
    assert_non_null(strstr(eng_error_last()->message, "e/meta"));
    test_store_free(ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(version_matches_headers),
        cmocka_unit_test_setup_teardown(open_defaults_and_close, setup, teardown),
        cmocka_unit_test_setup_teardown(instances_differ, setup, teardown),
        cmocka_unit_test_setup_teardown(config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(ownership_passes_on_every_outcome, setup, teardown),
        cmocka_unit_test_setup_teardown(closed_engine_is_misuse_and_children_keep_it_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(default_transport_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(info_and_stored_metadata, setup, teardown),
        cmocka_unit_test(channel_names),
        cmocka_unit_test_setup_teardown(open_survives_allocation_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
