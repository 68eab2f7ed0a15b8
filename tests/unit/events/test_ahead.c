/* Page faults taken ahead of a writer (base/mem.c eng__mem_populate, events/sends.c
 * eng__sends_ahead): the pages holding a range are resident afterwards, the pages
 * around it are not, and no byte changes; the thread a `sent` batch starts
 * brings in the pages of the per-send arrays its sends will be written to (and not
 * the key hashes, which mapped sends do not keep). Residency is read with mincore;
 * where the system cannot populate (not Linux, an old kernel) the tests skip.
 * The per-send arrays as mappings of their own (base/mem_big.c, from the first page
 * here) leave the same store and per-send state as arrays from the allocator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "events/ev_state.h"
#include "events/keypar.h"
#include "ev_fixture.h"
#include "../model/store_digest.h"

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>

/* 1 when every page holding a byte of [p, p + n) is resident. */
static int resident(const void *p, size_t n, int all)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)p & ~(pg - 1), hi = ((uintptr_t)p + n + pg - 1) & ~(pg - 1);
    size_t np = (hi - lo) / pg;
    unsigned char *v = malloc(np);
    assert_non_null(v);
    assert_int_equal(mincore((void *)lo, hi - lo, v), 0);
    size_t in = 0;
    for (size_t i = 0; i < np; i++)
        in += v[i] & 1;
    free(v);
    return all ? in == np : in > 0;
}

/* An anonymous mapping of n bytes in pages of the base size: not from malloc, whose
 * memory the test runner may fill (MALLOC_PERTURB_), so untouched until populated. */
static void *fresh(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
#ifdef MADV_NOHUGEPAGE
    (void)madvise(p, n, MADV_NOHUGEPAGE);
#endif
    return p;
}

/* The system allocator, or the test skips where it cannot populate. */
static void sys_mem(eng__mem *mem)
{
    assert_int_equal(eng__mem_init(mem, NULL), ENG_OK);
    if (!eng__mem_populates(mem))
        skip();
}

static void populate_whole_pages(void **st)
{
    (void)st;
    eng__mem mem;
    sys_mem(&mem);
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), n = 64 * pg;
    uint8_t *p = fresh(n);
    memset(p, 0xa5, pg);              /* page 0: written */
    memset(p + 63 * pg, 0x5a, pg);    /* page 63 too */
    /* from inside page 2 to inside page 40: pages 2..40 */
    if (eng__mem_populate(&mem, p + 2 * pg + 100, 38 * pg))
        skip(); /* refused here (an old kernel): nothing to check */
    assert_false(resident(p + pg, pg, 0));
    assert_true(resident(p + 2 * pg, 39 * pg, 1));
    assert_false(resident(p + 41 * pg, 22 * pg, 0));
    /* one byte: its page */
    assert_int_equal(eng__mem_populate(&mem, p + 50 * pg + 7, 1), 0);
    assert_true(resident(p + 50 * pg, pg, 1));
    assert_false(resident(p + 41 * pg, 9 * pg, 0));
    assert_false(resident(p + 51 * pg, 12 * pg, 0));
    for (size_t i = 0; i < pg; i++)
        assert_true(p[i] == 0xa5 && p[63 * pg + i] == 0x5a);
    for (size_t i = pg; i < 63 * pg; i++)
        assert_int_equal(p[i], 0);
    assert_int_equal(eng__mem_populate(&mem, p, 0), -1); /* nothing */
    munmap(p, n);
}

static void sends_ahead_pages(void **st)
{
    (void)st;
    eng__mem mem;
    sys_mem(&mem);
    eng__sends s;
    memset(&s, 0, sizeof s);
    s.cap = 1u << 20;
    s.hot = fresh((size_t)s.cap * sizeof *s.hot);
    s.ctx = fresh((size_t)s.cap * sizeof *s.ctx);
    s.customer = fresh((size_t)s.cap * sizeof *s.customer);
    s.sent_at = fresh((size_t)s.cap * sizeof *s.sent_at);
    s.keyhash = fresh((size_t)s.cap * sizeof *s.keyhash);
    uint32_t from = 1000, to = 200000;
    eng__tpool pool;
    eng__tpool_init(&pool);
    assert_null(eng__sends_ahead(&s, &mem, &pool, 0, from, to)); /* no thread beside the caller's */
    void *a = eng__sends_ahead(&s, &mem, &pool, 1, from, to);
    assert_non_null(a);
    eng__sends_ahead_join(&mem, a);
    size_t m = to - from;
    assert_true(resident(s.sent_at + from, m * sizeof *s.sent_at, 1));
    assert_true(resident(s.hot + from, m * sizeof *s.hot, 1));
    assert_true(resident(s.ctx + from, m * sizeof *s.ctx, 1));
    assert_true(resident(s.customer + from, m * sizeof *s.customer, 1));
    /* the pages before and after the range's are not; nor any of the key hashes' */
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    assert_false(resident(s.sent_at, from * sizeof *s.sent_at - pg, 0));
    assert_false(resident((char *)(s.sent_at + to) + pg, (s.cap - to) * sizeof *s.sent_at - pg, 0));
    assert_false(resident((char *)(s.customer + to) + pg, (s.cap - to) * sizeof *s.customer - pg, 0));
    assert_false(resident(s.keyhash, (size_t)s.cap * sizeof *s.keyhash, 0));
    /* beyond the capacity: cut to it */
    a = eng__sends_ahead(&s, &mem, &pool, 1, s.cap - 20000, s.cap + 100000);
    assert_non_null(a);
    eng__sends_ahead_join(&mem, a);
    assert_true(resident(s.sent_at + s.cap - 20000, 20000 * sizeof *s.sent_at, 1));
    assert_true(resident(s.customer + s.cap - 20000, 20000 * sizeof *s.customer, 1));
    assert_false(resident((char *)(s.sent_at + to) + pg, (s.cap - 20000 - to) * sizeof *s.sent_at - 2 * pg, 0));
    munmap(s.hot, (size_t)s.cap * sizeof *s.hot);
    munmap(s.ctx, (size_t)s.cap * sizeof *s.ctx);
    munmap(s.customer, (size_t)s.cap * sizeof *s.customer);
    munmap(s.sent_at, (size_t)s.cap * sizeof *s.sent_at);
    munmap(s.keyhash, (size_t)s.cap * sizeof *s.keyhash);
    eng__tpool_close(&pool);
}
#else
static void populate_whole_pages(void **st)
{
    (void)st;
    skip();
}
static void sends_ahead_pages(void **st)
{
    (void)st;
    skip();
}
#endif


/* A `sent` batch's thread faults in the pages of the batch's sends and of as many after
 * them (the next batch's, which it would otherwise write first): the arrays as mappings,
 * so a page not written nor populated is not resident. */
static void sent_batch_pages_ahead(void **st)
{
    (void)st;
    eng__mem mem;
    sys_mem(&mem);
    size_t keep = eng__big_map_min;
    eng__big_map_min = 1;
    eng__big_map_hosts = 1;
    eng__mem_populate_hosts = 1;
    evfx f;
    evfx_open(&f, 0);
    f.e->threads = 1;
    uint32_t n = (uint32_t)eng__keypar_min_rows + 808; /* a thread's worth of rows */
    evfx_send(&f, "acme", 1, 0, n, ENG_CH_EMAIL, 1767225600000);
    assert_int_equal(eng__enter(f.e), ENG_OK);
    eng__ev *ev;
    assert_int_equal(eng__ev_get(f.e, &ev), ENG_OK);
    eng__leave(f.e);
    eng__sends *s = &ev->s;
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    uint32_t end = 2 * n < s->cap ? 2 * n : s->cap; /* the capacity doubled from 1,024 sends: 16,384 */
    assert_true(s->n == n && end >= n + 4096);
    /* the next batch's sends, from the first whole page after the batch's */
    assert_true(resident(s->sent_at + n + pg / sizeof *s->sent_at, (end - n) * sizeof *s->sent_at - 2 * pg, 1));
    assert_true(resident(s->customer + n + pg / sizeof *s->customer, (end - n) * sizeof *s->customer - 2 * pg, 1));
    assert_true(resident(s->hot + n + pg / sizeof *s->hot, (end - n) * sizeof *s->hot - 2 * pg, 1));
    evfx_close(&f);
    eng__mem_populate_hosts = 0;
    eng__big_map_hosts = 0;
    eng__big_map_min = keep;
}

typedef struct sends_out {
    uint8_t digest[ENG__SHA256_LEN];
    evfx_sends v;
} sends_out;

/* Sends of map keys and of opaque keys (whose key hashes are kept), receipts of both,
 * a reopen (the arrays rebuilt from the store), more sends and receipts. */
static void sends_script(sends_out *o)
{
    evfx f;
    evfx_open(&f, 0);
    eng_time t = 1767225600000;
    for (uint32_t lo = 0; lo < 6000; lo += 1500)
        evfx_send(&f, "acme", 1, lo, lo + 1500, ENG_CH_EMAIL, t);
    evfx_opaque_keys = 1;
    evfx_send(&f, "acme", 2, 0, 2500, ENG_CH_SMS, t);
    for (uint32_t c = 0; c < 2500; c += 7)
        assert_int_equal(evfx_receipt(&f, 2, c, ENG_CH_SMS, ENG_TOUCH_DELIVERED, t + 5, NULL, NULL), ENG_OK);
    evfx_opaque_keys = 0;
    for (uint32_t c = 0; c < 6000; c += 5)
        assert_int_equal(evfx_receipt(&f, 1, c, ENG_CH_EMAIL, ENG_TOUCH_OPENED, t + 9, NULL, NULL), ENG_OK);
    evfx_reopen(&f);
    evfx_send(&f, "acme", 3, 0, 9000, ENG_CH_EMAIL, t + 100);
    for (uint32_t c = 1; c < 9000; c += 11)
        assert_int_equal(evfx_receipt(&f, 3, c, ENG_CH_EMAIL, ENG_TOUCH_CLICKED, t + 200, NULL, NULL), ENG_OK);
    evfx_opaque_keys = 1;
    for (uint32_t c = 3; c < 2500; c += 13)
        assert_int_equal(evfx_receipt(&f, 2, c, ENG_CH_SMS, ENG_TOUCH_OPENED, t + 300, NULL, NULL), ENG_OK);
    evfx_opaque_keys = 0;
    store_digest(f.e, o->digest);
    evfx_sends_take(&f, &o->v);
    evfx_close(&f);
}

static void arrays_as_mappings(void **st)
{
    (void)st;
    static sends_out a, b;
    sends_script(&a);
    size_t keep = eng__big_map_min;
    eng__big_map_min = 1;
    eng__big_map_hosts = 1;
    sends_script(&b);
    eng__big_map_min = keep;
    eng__big_map_hosts = 0;
    assert_true(a.v.n >= 17500);
    assert_memory_equal(a.digest, b.digest, ENG__SHA256_LEN);
    evfx_sends_assert_equal(&a.v, &b.v);
    evfx_sends_free(&a.v);
    evfx_sends_free(&b.v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sends_ahead_pages),
        cmocka_unit_test(populate_whole_pages),
        cmocka_unit_test(arrays_as_mappings),
        cmocka_unit_test(sent_batch_pages_ahead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
