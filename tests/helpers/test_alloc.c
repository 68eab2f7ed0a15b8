#include "test_alloc.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Each block carries a header recording its size so frees can be counted. */
typedef struct hdr {
    size_t size;
    uint64_t magic;
} hdr;
#define MAGIC 0xA110CA7EDB10C5ull

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static size_t live_blocks, live_bytes;
static uint64_t calls, fail_at, failures;
static int fail_persistent;

static int should_fail(void)
{
    calls++;
    if (fail_at && (calls == fail_at || (fail_persistent && calls > fail_at))) {
        failures++;
        return 1;
    }
    return 0;
}

static void *t_malloc(size_t n, void *u)
{
    (void)u;
    pthread_mutex_lock(&lock);
    int f = should_fail();
    pthread_mutex_unlock(&lock);
    if (f)
        return NULL;
    hdr *h = malloc(sizeof(hdr) + n);
    if (!h)
        return NULL;
    h->size = n;
    h->magic = MAGIC;
    pthread_mutex_lock(&lock);
    live_blocks++;
    live_bytes += n;
    pthread_mutex_unlock(&lock);
    return h + 1;
}

static void t_free(void *p, void *u)
{
    (void)u;
    if (!p)
        return;
    hdr *h = (hdr *)p - 1;
    if (h->magic != MAGIC) {
        fprintf(stderr, "test_alloc: free of a block not from this allocator\n");
        abort();
    }
    pthread_mutex_lock(&lock);
    live_blocks--;
    live_bytes -= h->size;
    pthread_mutex_unlock(&lock);
    h->magic = 0;
    free(h);
}

static void *t_realloc(void *p, size_t n, void *u)
{
    if (!p)
        return t_malloc(n, u);
    hdr *h = (hdr *)p - 1;
    if (h->magic != MAGIC) {
        fprintf(stderr, "test_alloc: realloc of a block not from this allocator\n");
        abort();
    }
    pthread_mutex_lock(&lock);
    int f = should_fail();
    pthread_mutex_unlock(&lock);
    if (f)
        return NULL;
    size_t old = h->size;
    hdr *nh = realloc(h, sizeof(hdr) + n);
    if (!nh)
        return NULL;
    nh->size = n;
    pthread_mutex_lock(&lock);
    live_bytes = live_bytes - old + n;
    pthread_mutex_unlock(&lock);
    return nh + 1;
}

static const eng_allocator alloc = {ENG_ALLOCATOR_VERSION, t_malloc, t_realloc, t_free, NULL};

const eng_allocator *test_alloc_get(void) { return &alloc; }

void test_alloc_reset(void)
{
    pthread_mutex_lock(&lock);
    calls = fail_at = failures = 0;
    fail_persistent = 0;
    pthread_mutex_unlock(&lock);
}

size_t test_alloc_live_blocks(void) { return live_blocks; }
size_t test_alloc_live_bytes(void) { return live_bytes; }
uint64_t test_alloc_total_calls(void) { return calls; }
uint64_t test_alloc_failures(void) { return failures; }

void test_alloc_fail_at(uint64_t n, int persistent)
{
    pthread_mutex_lock(&lock);
    fail_at = n ? calls + n : 0;
    fail_persistent = persistent;
    pthread_mutex_unlock(&lock);
}

void test_alloc_assert_clean_(const char *file, int line)
{
    if (live_blocks != 0) {
        fprintf(stderr, "%s:%d: leak: %zu blocks, %zu bytes still allocated\n", file, line, live_blocks,
                live_bytes);
        _fail(file, line);
    }
}

int test_oom_loop(test_oom_fn fn, void *arg)
{
    for (uint64_t n = 1;; n++) {
        size_t before = live_blocks;
        uint64_t f0 = failures;
        test_alloc_fail_at(n, 0);
        int rc = fn(arg);
        test_alloc_fail_at(0, 0);
        if (rc != ENG_OK && rc != ENG_ENOMEM) {
            fprintf(stderr, "oom loop: allocation %llu failing gave %d (%s): %s\n", (unsigned long long)n, rc,
                    eng_errstr(rc), eng_error_last()->message);
            fail();
        }
        if (live_blocks != before) {
            fprintf(stderr, "oom loop: allocation %llu failing leaked %zu blocks\n", (unsigned long long)n,
                    live_blocks - before);
            fail();
        }
        if (failures == f0) {
            assert_int_equal(rc, ENG_OK);
            return (int)n;
        }
    }
}
