#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "base/codec.h"
#include "base/error.h"
#include "test_alloc.h"

static eng__mem mem;

static int setup(void **s)
{
    (void)s;
    test_alloc_reset();
    return eng__mem_init(&mem, test_alloc_get());
}

static int teardown(void **s)
{
    (void)s;
    test_alloc_assert_clean();
    return 0;
}

static void roundtrip_every_kind(void **s)
{
    (void)s;
    eng__wr w;
    eng__wr_init(&w, &mem);
    const int64_t svals[] = {0, 1, -1, 63, -64, 64, INT64_MAX, INT64_MIN};
    const uint64_t uvals[] = {0, 1, 127, 128, 16383, 16384, UINT32_MAX, UINT64_MAX};
    for (int i = 0; i < 8; i++) {
        eng__wr_uvar(&w, uvals[i]);
        eng__wr_svar(&w, svals[i]);
    }
    eng__wr_u8(&w, 0xab);
    eng__wr_u16(&w, 0xbeef);
    eng__wr_u32(&w, 0xdeadbeefu);
    eng__wr_u64(&w, 0x0123456789abcdefull);
    eng__wr_str(&w, "héllo");
    eng__wr_str(&w, NULL);
    assert_int_equal(w.err, 0);

    eng__rd r;
    eng__rd_init(&r, w.data, w.len);
    for (int i = 0; i < 8; i++) {
        assert_true(eng__rd_uvar(&r) == uvals[i]);
        assert_true(eng__rd_svar(&r) == svals[i]);
    }
    assert_int_equal(eng__rd_u8(&r), 0xab);
    assert_int_equal(eng__rd_u16(&r), 0xbeef);
    assert_int_equal(eng__rd_u32(&r), 0xdeadbeefu);
    assert_true(eng__rd_u64(&r) == 0x0123456789abcdefull);
    char *a = eng__rd_str(&r, &mem), *b = eng__rd_str(&r, &mem);
    assert_string_equal(a, "héllo");
    assert_string_equal(b, "");
    assert_true(eng__rd_ok(&r));
    assert_int_equal(eng__rd_left(&r), 0);
    eng__free(&mem, a);
    eng__free(&mem, b);

    /* Every truncation of the buffer decodes to a sticky error, never a read past the end. */
    for (size_t cut = 0; cut < w.len; cut++) {
        eng__rd t;
        eng__rd_init(&t, w.data, cut);
        for (int i = 0; i < 8; i++) {
            eng__rd_uvar(&t);
            eng__rd_svar(&t);
        }
        eng__rd_u8(&t);
        eng__rd_u16(&t);
        eng__rd_u32(&t);
        eng__rd_u64(&t);
        char *x = eng__rd_str(&t, &mem), *y = eng__rd_str(&t, &mem);
        eng__free(&mem, x);
        eng__free(&mem, y);
        assert_false(eng__rd_ok(&t));
    }
    eng__wr_free(&w);
}

static void rejects_overlong_varint_and_bad_strings(void **s)
{
    (void)s;
    const uint8_t overlong[11] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    eng__rd r;
    eng__rd_init(&r, overlong, sizeof overlong);
    eng__rd_uvar(&r);
    assert_int_equal(r.err, ENG_ECORRUPT);
    const uint8_t huge_len[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 'a'};
    eng__rd_init(&r, huge_len, sizeof huge_len);
    assert_null(eng__rd_str(&r, &mem));
    assert_int_equal(r.err, ENG_ECORRUPT);
    const uint8_t nul[] = {3, 'a', 0, 'b'};
    eng__rd_init(&r, nul, sizeof nul);
    assert_null(eng__rd_str(&r, &mem));
    assert_int_equal(r.err, ENG_ECORRUPT);
}

static void writer_reports_oom_once(void **s)
{
    (void)s;
    eng__wr w;
    eng__wr_init(&w, &mem);
    test_alloc_fail_at(1, 1);
    eng__wr_str(&w, "abc");
    eng__wr_u32(&w, 1);
    test_alloc_fail_at(0, 0);
    assert_int_equal(w.err, ENG_ENOMEM);
    assert_int_equal(w.len, 0);
    eng__wr_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(roundtrip_every_kind, setup, teardown),
        cmocka_unit_test_setup_teardown(rejects_overlong_varint_and_bad_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(writer_reports_oom_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
