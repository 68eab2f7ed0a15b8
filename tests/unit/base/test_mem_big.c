/* Arrays that grow large (base/mem_big.c): contents kept through every growth and
 * shrink, whichever the kind (from the allocator, a mapping of its own, the switch
 * from one to the other); a mapping grows without writing its pages (the pages past
 * what was written stay out of memory, read with mincore); a failed allocation leaves
 * the array as it was; every block goes back to the allocator; a huge-page mapping's
 * data stays on a 2 MiB boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/mem.h"
#include "test_alloc.h"

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

static uint32_t val(size_t i)
{
    return (uint32_t)(i * 2654435761u) ^ 0x5a5a5a5au;
}

/* Grows an array of uint32_t through 1..2^21 elements (8 MiB), writing each new part and
 * checking all of it after each step, then shrinks it to 1000 and checks again. */
static void grow_and_check(const eng__mem *mem)
{
    uint32_t *a = NULL;
    size_t n = 0;
    for (size_t cap = 1; cap <= ((size_t)1 << 21); cap *= 2) {
        uint32_t *b = eng__big_realloc(mem, a, cap * sizeof *a);
        assert_non_null(b);
        a = b;
        for (size_t i = 0; i < n; i++)
            assert_int_equal(a[i], val(i));
        for (; n < cap; n++)
            a[n] = val(n);
    }
    a = eng__big_realloc(mem, a, 1000 * sizeof *a);
    assert_non_null(a);
    for (size_t i = 0; i < 1000; i++)
        assert_int_equal(a[i], val(i));
    eng__big_free(mem, a);
    eng__big_free(mem, NULL);
}

static void system_allocator(void **st)
{
    (void)st;
    eng__mem mem;
    assert_int_equal(eng__mem_init(&mem, NULL), ENG_OK);
    grow_and_check(&mem);
    size_t keep = eng__big_map_min;
    eng__big_map_min = 1; /* mappings from the first byte */
    grow_and_check(&mem);
    eng__big_map_min = keep;
}

/* A host's allocator: every block through it and back; with the test switch, mappings
 * instead, which the allocator never sees. */
static void host_allocator(void **st)
{
    (void)st;
    test_alloc_reset();
    eng__mem mem;
    assert_int_equal(eng__mem_init(&mem, test_alloc_get()), ENG_OK);
    assert_int_equal(eng__big_maps(&mem, (size_t)1 << 30), 0);
    uint64_t calls = test_alloc_total_calls();
    grow_and_check(&mem);
    assert_true(test_alloc_total_calls() - calls >= 22); /* each step asked the allocator */
    test_alloc_assert_clean();
#if defined(__linux__)
    eng__big_map_hosts = 1;
    size_t keep = eng__big_map_min;
    eng__big_map_min = 64 << 10;
    assert_int_equal(eng__big_maps(&mem, 64 << 10), 1);
    calls = test_alloc_total_calls();
    grow_and_check(&mem); /* the allocator's while small, then mapped */
    assert_true(test_alloc_total_calls() - calls < 22);
    eng__big_map_min = keep;
    eng__big_map_hosts = 0;
    test_alloc_assert_clean();
#endif
}

/* Each allocation failing in turn: NULL, and the array as it was (checked, then freed). */
static void failures_leave_the_array(void **st)
{
    (void)st;
    test_alloc_reset();
    eng__mem mem;
    assert_int_equal(eng__mem_init(&mem, test_alloc_get()), ENG_OK);
    uint32_t *a = eng__big_realloc(&mem, NULL, 100 * sizeof *a);
    assert_non_null(a);
    for (size_t i = 0; i < 100; i++)
        a[i] = val(i);
    test_alloc_fail_at(1, 0);
    assert_null(eng__big_realloc(&mem, a, 100000 * sizeof *a));
    assert_int_equal(test_alloc_failures(), 1);
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(a[i], val(i));
    test_alloc_fail_at(1, 0);
    assert_null(eng__big_realloc(&mem, NULL, 10));
    assert_null(eng__big_realloc(&mem, a, SIZE_MAX - 8)); /* too large: refused before asking */
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(a[i], val(i));
    eng__big_free(&mem, a);
    test_alloc_assert_clean();
}

#if defined(__linux__)
/* Pages of [p, p + n) resident. */
static size_t resident_pages(const void *p, size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)p & ~(pg - 1), hi = ((uintptr_t)p + n + pg - 1) & ~(pg - 1);
    size_t np = (hi - lo) / pg, in = 0;
    unsigned char *v = malloc(np);
    assert_non_null(v);
    assert_int_equal(mincore((void *)lo, hi - lo, v), 0);
    for (size_t i = 0; i < np; i++)
        in += v[i] & 1;
    free(v);
    return in;
}

/* A mapping grows, and moves when something sits right after it, without its pages
 * being written: only those written before are resident after, and they hold their bytes. */
static void mapping_grows_without_writing(void **st)
{
    (void)st;
    eng__mem mem;
    assert_int_equal(eng__mem_init(&mem, NULL), ENG_OK);
    assert_int_equal(eng__big_maps(&mem, ENG__BIG_MAP), 1);
    assert_int_equal(eng__big_maps(&mem, ENG__BIG_MAP - 1), 0);
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), mb = (size_t)1 << 20;
    char *a = eng__big_realloc(&mem, NULL, 8 * mb);
    assert_non_null(a);
    assert_int_equal(resident_pages(a, 8 * mb), 0); /* a mapping: nothing written yet */
    memset(a, 0x11, mb);
    memset(a + 5 * mb, 0x22, pg);
    /* something right after it, so that it cannot grow in place */
    char *block = mmap(a + 8 * mb, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    block = block == a + 8 * mb ? block : (block != MAP_FAILED ? (munmap(block, pg), MAP_FAILED) : block);
    char *b = eng__big_realloc(&mem, a, 64 * mb);
    assert_non_null(b);
    if (block != MAP_FAILED) {
        assert_ptr_not_equal(a, b);
        munmap(block, pg);
    }
    assert_int_equal(resident_pages(b, 64 * mb), mb / pg + 1);
    for (size_t i = 0; i < mb; i++)
        assert_int_equal(b[i], 0x11);
    for (size_t i = mb; i < 8 * mb; i++)
        assert_int_equal(b[i], i >= 5 * mb && i < 5 * mb + pg ? 0x22 : 0);
    b[64 * mb - 1] = 3; /* the new end is there, and writable */
    eng__big_free(&mem, b);
}

/* A huge-page mapping's data starts on a 2 MiB boundary when made, when it grows in
 * place and when it must move (something mapped right after it), and keeps its bytes;
 * a shrink keeps them too. Under a host's allocator it is the allocator's block. */
static void huge_mapping_stays_aligned(void **st)
{
    (void)st;
    eng__mem mem;
    assert_int_equal(eng__mem_init(&mem, NULL), ENG_OK);
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), mb = (size_t)1 << 20;
    const uintptr_t huge = 2 * mb;
    uint32_t *a = eng__big_realloc_huge(&mem, NULL, 1000 * sizeof *a); /* small: the allocator's */
    assert_non_null(a);
    for (size_t i = 0; i < 1000; i++)
        a[i] = val(i);
    size_t n = 1000;
    for (size_t bytes = 4 * mb; bytes <= 32 * mb; bytes *= 2) {
        uint32_t *b = eng__big_realloc_huge(&mem, a, bytes);
        assert_non_null(b);
        assert_int_equal((uintptr_t)b % huge, 0);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(b[i], val(i));
        for (; n < bytes / sizeof *b; n++)
            b[n] = val(n);
        /* something right after it, so that the next growth cannot be in place */
        char *end = (char *)b + (bytes + pg - 1) / pg * pg;
        char *block = mmap(end, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        uint32_t *c = eng__big_realloc_huge(&mem, b, bytes + 3 * mb);
        assert_non_null(c);
        assert_int_equal((uintptr_t)c % huge, 0);
        if (block == end)
            assert_ptr_not_equal(c, b);
        if (block != MAP_FAILED)
            munmap(block, pg);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(c[i], val(i));
        c[(bytes + 3 * mb) / sizeof *c - 1] = 7; /* the new end is there, and writable */
        a = c;
    }
    a = eng__big_realloc_huge(&mem, a, 5 * mb);
    assert_non_null(a);
    assert_int_equal((uintptr_t)a % huge, 0);
    for (size_t i = 0; i < 5 * mb / sizeof *a; i++)
        assert_int_equal(a[i], val(i));
    eng__big_free(&mem, a);
    test_alloc_reset();
    eng__mem host;
    assert_int_equal(eng__mem_init(&host, test_alloc_get()), ENG_OK);
    uint64_t calls = test_alloc_total_calls();
    a = eng__big_realloc_huge(&host, NULL, 8 * mb);
    assert_non_null(a);
    assert_true(test_alloc_total_calls() > calls);
    eng__big_free(&host, a);
    test_alloc_assert_clean();
}
#else
static void mapping_grows_without_writing(void **st)
{
    (void)st;
    skip();
}
static void huge_mapping_stays_aligned(void **st)
{
    (void)st;
    skip();
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(system_allocator),
        cmocka_unit_test(host_allocator),
        cmocka_unit_test(failures_leave_the_array),
        cmocka_unit_test(mapping_grows_without_writing),
        cmocka_unit_test(huge_mapping_stays_aligned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
