/* Counting and failing allocator for tests.
 *
 * test_alloc_get() returns an eng_allocator whose hooks count live blocks and
 * bytes; test_alloc_fail_at(n) makes the n-th allocation from now fail
 * (and every later one too when persistent). Every test ends with
 * test_alloc_assert_clean(), which fails the test if any block leaked. */
#ifndef TEST_ALLOC_H
#define TEST_ALLOC_H

#include <stddef.h>
#include <stdint.h>
#include "engage.h"

const eng_allocator *test_alloc_get(void);
void test_alloc_reset(void);
size_t test_alloc_live_blocks(void);
size_t test_alloc_live_bytes(void);
uint64_t test_alloc_total_calls(void);
/* Fail the n-th allocation call from now (1 = the next one); 0 disables. */
void test_alloc_fail_at(uint64_t n, int persistent);
/* Number of injected failures so far (since the last reset). */
uint64_t test_alloc_failures(void);
/* cmocka assertion: no live blocks. */
void test_alloc_assert_clean_(const char *file, int line);
#define test_alloc_assert_clean() test_alloc_assert_clean_(__FILE__, __LINE__)

/* Run fn(arg) with allocation n failing, for n = 1, 2, ... until a run injects
 * no failure. Each run must return ENG_OK or ENG_ENOMEM and leak nothing
 * (after its cleanup). Returns the number of runs. */
typedef int (*test_oom_fn)(void *arg);
int test_oom_loop(test_oom_fn fn, void *arg);

#endif
