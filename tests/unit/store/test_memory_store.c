/* The memory backend against a plain reference (a sorted array of strings),
 * through the public storage contract and the internal eng__kv_* layer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store/store_impl.h"
#include "test_alloc.h"

#define NKEYS 64

typedef struct ref {
    int present[NKEYS];
    char val[NKEYS][32];
} ref;

static void key_of(int i, char *k) { snprintf(k, 16, "k/%02d", i); }

typedef struct collected {
    char keys[NKEYS * 2][16];
    char vals[NKEYS * 2][32];
    int n;
    int stop_after;
} collected;

static int collect(const void *k, size_t kl, const void *v, size_t vl, void *u)
{
    collected *c = u;
    assert_true(kl < 16 && vl < 32);
    memcpy(c->keys[c->n], k, kl);
    c->keys[c->n][kl] = 0;
    memcpy(c->vals[c->n], v, vl);
    c->vals[c->n][vl] = 0;
    c->n++;
    return c->stop_after && c->n >= c->stop_after ? 1 : 0;
}

static void check_against(eng_store *s, const ref *r)
{
    for (int i = 0; i < NKEYS; i++) {
        char k[16];
        key_of(i, k);
        eng__val v;
        int rc = eng__kv_get(s, k, strlen(k), &v);
        if (r->present[i]) {
            assert_int_equal(rc, ENG_OK);
            assert_int_equal(v.len, strlen(r->val[i]));
            assert_memory_equal(v.data, r->val[i], v.len);
            eng__val_free(s, &v);
        } else {
            assert_int_equal(rc, ENG_ENOTFOUND);
        }
    }
    collected c = {0};
    assert_int_equal(eng__kv_scan(s, "k/", 2, collect, &c), ENG_OK);
    int j = 0;
    for (int i = 0; i < NKEYS; i++) {
        if (!r->present[i])
            continue;
        char k[16];
        key_of(i, k);
        assert_true(j < c.n);
        assert_string_equal(c.keys[j], k);
        assert_string_equal(c.vals[j], r->val[i]);
        j++;
    }
    assert_int_equal(j, c.n);
}

static void random_ops_match_reference(void **s)
{
    (void)s;
    test_alloc_reset();
    eng_store *st;
    assert_int_equal(eng_store_memory_new(test_alloc_get(), &st), ENG_OK);
    ref committed = {0}, cur;
    srand(12345);
    for (int round = 0; round < 300; round++) {
        int batch = rand() % 3 != 0;
        if (batch)
            assert_int_equal(eng__kv_begin(st), ENG_OK);
        cur = committed;
        int nops = 1 + rand() % 12;
        for (int o = 0; o < nops; o++) {
            int i = rand() % NKEYS;
            char k[16];
            key_of(i, k);
            if (rand() % 4 == 0) {
                assert_int_equal(eng__kv_del(st, k, strlen(k)), ENG_OK);
                cur.present[i] = 0;
            } else {
                snprintf(cur.val[i], 32, "v%d-%d", round, o);
                assert_int_equal(eng__kv_put(st, k, strlen(k), cur.val[i], strlen(cur.val[i])), ENG_OK);
                cur.present[i] = 1;
            }
            if (!batch)
                committed = cur;
        }
        check_against(st, &cur); /* read-your-writes inside the batch */
        if (batch) {
            if (rand() % 4 == 0) {
                assert_int_equal(eng__kv_rollback(st), ENG_OK);
            } else {
                assert_int_equal(eng__kv_commit(st), ENG_OK);
                committed = cur;
            }
        }
        check_against(st, &committed);
    }
    eng_store_free(st);
    test_alloc_assert_clean();
}

static void scan_respects_prefix_order_and_stop(void **s)
{
    (void)s;
    test_alloc_reset();
    eng_store *st;
    assert_int_equal(eng_store_memory_new(test_alloc_get(), &st), ENG_OK);
    const char *keys[] = {"a", "ab", "abc", "abd", "ac", "b", "a\xff", "aa"};
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(eng__kv_put(st, keys[i], strlen(keys[i]), "x", 1), ENG_OK);
    collected c = {0};
    assert_int_equal(eng__kv_scan(st, "ab", 2, collect, &c), ENG_OK);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.keys[0], "ab");
    assert_string_equal(c.keys[1], "abc");
    assert_string_equal(c.keys[2], "abd");
    memset(&c, 0, sizeof c);
    assert_int_equal(eng__kv_scan(st, "a", 1, collect, &c), ENG_OK);
    assert_int_equal(c.n, 7);
    assert_string_equal(c.keys[6], "a\xff"); /* unsigned byte order */
    memset(&c, 0, sizeof c);
    c.stop_after = 2;
    assert_int_equal(eng__kv_scan(st, NULL, 0, collect, &c), ENG_OK);
    assert_int_equal(c.n, 2);
    /* a scan inside a batch sees the batch's puts and deletes, in order */
    assert_int_equal(eng__kv_begin(st), ENG_OK);
    assert_int_equal(eng__kv_put(st, "abcc", 4, "y", 1), ENG_OK);
    assert_int_equal(eng__kv_del(st, "abd", 3), ENG_OK);
    assert_int_equal(eng__kv_put(st, "ab", 2, "z", 1), ENG_OK);
    memset(&c, 0, sizeof c);
    assert_int_equal(eng__kv_scan(st, "ab", 2, collect, &c), ENG_OK);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.keys[0], "ab");
    assert_string_equal(c.vals[0], "z");
    assert_string_equal(c.keys[1], "abc");
    assert_string_equal(c.keys[2], "abcc");
    assert_int_equal(eng__kv_rollback(st), ENG_OK);
    eng_store_free(st);
    test_alloc_assert_clean();
}

static void contract_errors(void **s)
{
    (void)s;
    test_alloc_reset();
    eng_store *st;
    assert_int_equal(eng_store_memory_new(test_alloc_get(), &st), ENG_OK);
    char big[ENG_STORE_MAX_KEY + 1];
    memset(big, 'k', sizeof big);
    assert_int_equal(eng__kv_put(st, big, sizeof big, "v", 1), ENG_EINVAL);
    assert_int_equal(eng__kv_put(st, "", 0, "v", 1), ENG_EINVAL);
    assert_int_equal(eng__kv_commit(st), ENG_EMISUSE);
    assert_int_equal(eng__kv_begin(st), ENG_OK);
    assert_int_equal(eng__kv_begin(st), ENG_EBUSY);
    assert_int_equal(eng__kv_rollback(st), ENG_OK);
    eng__val v;
    assert_int_equal(eng__kv_get(st, "nope", 4, &v), ENG_ENOTFOUND);
    assert_string_equal(eng_error_last()->detail, "nope");
    assert_int_equal(eng_store_memory_new(NULL, NULL), ENG_EINVAL);
    eng_store_free(NULL);
    eng_store_free(st);
    test_alloc_assert_clean();
}

/* A host table missing a required entry is refused and destroy still runs once. */
static int destroyed;
static void count_destroy(void *u) { (void)u; destroyed++; }
static int dummy_get(const void *k, size_t kl, eng_buf *o, void *u) { (void)k; (void)kl; (void)o; (void)u; return ENG_ENOTFOUND; }

static void custom_table_validation(void **s)
{
    (void)s;
    eng_store_methods m = {ENG_STORE_METHODS_VERSION, dummy_get, NULL, NULL, NULL, NULL, NULL, NULL, count_destroy, NULL, NULL};
    eng_store *st = (eng_store *)1;
    destroyed = 0;
    assert_int_equal(eng_store_new(&m, NULL, NULL, &st), ENG_EINVAL);
    assert_null(st);
    assert_string_equal(eng_error_last()->detail, "put");
    assert_int_equal(destroyed, 1);
    m.version = 99;
    assert_int_equal(eng_store_new(&m, NULL, NULL, &st), ENG_EVERSION);
    assert_int_equal(destroyed, 2);
}

static int oom_trial(void *arg)
{
    (void)arg;
    eng_store *st;
    int rc = eng_store_memory_new(test_alloc_get(), &st);
    if (rc)
        return rc;
    for (int i = 0; i < 20 && rc == ENG_OK; i++) {
        char k[16];
        key_of(i, k);
        rc = eng__kv_put(st, k, strlen(k), "value", 5);
    }
    if (rc == ENG_OK && (rc = eng__kv_begin(st)) == ENG_OK) {
        for (int i = 0; i < 20 && rc == ENG_OK; i += 2) {
            char k[16];
            key_of(i, k);
            rc = eng__kv_del(st, k, strlen(k));
        }
        if (rc == ENG_OK) {
            collected c = {0};
            rc = eng__kv_scan(st, "k/", 2, collect, &c);
            if (rc == ENG_OK)
                assert_int_equal(c.n, 10);
        }
        if (rc == ENG_OK)
            rc = eng__kv_commit(st);
        else
            eng__kv_rollback(st);
    }
    eng_store_free(st);
    return rc;
}

static void allocation_failures_leak_nothing(void **s)
{
    (void)s;
    test_alloc_reset();
    int runs = test_oom_loop(oom_trial, NULL);
    assert_true(runs > 20);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_ops_match_reference),
        cmocka_unit_test(scan_respects_prefix_order_and_stop),
        cmocka_unit_test(contract_errors),
        cmocka_unit_test(custom_table_validation),
        cmocka_unit_test(allocation_failures_leak_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
