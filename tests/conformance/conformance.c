/* The storage conformance suite: the single-process cases (get/put/delete,
 * scan order and prefixes, batches, rollback, large values, errors, and random
 * operations against the reference model). The durable cases are in
 * conf_durable.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conf_internal.h"
#include "test_alloc.h"

const conf_backend *conf_cur;

/* Handles a case holds; teardown releases what a failed case left open, so
 * one failure does not show up again as a leak in every later case. */
static eng_store *held[4];

eng_store *conf_open(void *ctx)
{
    eng_store *s = NULL;
    int rc = conf_cur->open(ctx, test_alloc_get(), &s);
    if (rc)
        fail_msg("%s: open failed: %d %s", conf_cur->name, rc, eng_error_last()->message);
    assert_non_null(s);
    for (size_t i = 0; i < sizeof held / sizeof held[0]; i++)
        if (!held[i]) {
            held[i] = s;
            return s;
        }
    fail_msg("a case holds more than %zu handles", sizeof held / sizeof held[0]);
    return NULL;
}

void conf_forget(eng_store *s)
{
    for (size_t i = 0; i < sizeof held / sizeof held[0]; i++)
        if (held[i] == s)
            held[i] = NULL;
}

void conf_close(eng_store *s)
{
    conf_forget(s);
    eng_store_free(s);
}

void conf_need_persistent(void)
{
    if (!conf_cur->persistent)
        skip();
}

static int setup(void **state)
{
    test_alloc_reset();
    void *ctx = conf_cur->create(conf_cur->arg);
    if (!ctx)
        return -1;
    *state = ctx;
    return 0;
}

static int teardown(void **state)
{
    for (size_t i = 0; i < sizeof held / sizeof held[0]; i++)
        if (held[i])
            conf_close(held[i]);
    conf_cur->destroy(*state);
    test_alloc_assert_clean();
    return 0;
}

static void put(eng_store *s, conf_ref *r, const void *k, size_t kl, const void *v, size_t vl)
{
    int rc = eng__kv_put(s, k, kl, v, vl);
    if (rc)
        fail_msg("put: %d %s", rc, eng_error_last()->message);
    if (r)
        conf_ref_put(r, k, kl, v, vl);
}

static void del(eng_store *s, conf_ref *r, const void *k, size_t kl)
{
    int rc = eng__kv_del(s, k, kl);
    if (rc)
        fail_msg("delete: %d %s", rc, eng_error_last()->message);
    if (r)
        conf_ref_del(r, k, kl);
}

#define S(x) (x), (sizeof(x) - 1) /* a literal with its embedded zero bytes */

static void fresh_location_is_empty(void **state)
{
    eng_store *s = conf_open(*state);
    conf_ref empty = {0};
    conf_assert_equals(s, &empty);
    eng__val v;
    assert_int_equal(eng__kv_get(s, "k", 1, &v), ENG_ENOTFOUND);
    assert_null(v.data);
    conf_close(s);
}

static void put_get_replace_delete(void **state)
{
    eng_store *s = conf_open(*state);
    conf_ref r = {0};
    uint8_t all[256], maxkey[ENG_STORE_MAX_KEY];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof maxkey; i++)
        maxkey[i] = (uint8_t)(0xff - i % 7);
    put(s, &r, "k", 1, "v1", 2);
    put(s, &r, "k", 1, "value two", 9);        /* replace with a longer value */
    put(s, &r, "k", 1, "3", 1);                /* and a shorter one */
    put(s, &r, "empty", 5, "", 0);             /* a zero-length value is a value */
    put(s, &r, S("\0key\0zero"), all, 256);    /* zero bytes in keys, every byte value */
    put(s, &r, all, 256, S("\0"));
    put(s, &r, maxkey, sizeof maxkey, "max", 3);
    conf_assert_equals(s, &r);
    eng__val v;
    assert_int_equal(eng__kv_get(s, "empty", 5, &v), ENG_OK);
    assert_int_equal(v.len, 0);
    eng__val_free(s, &v);
    assert_int_equal(eng__kv_get(s, S("\0key"), &v), ENG_ENOTFOUND); /* a prefix of a key is not the key */
    assert_int_equal(eng__kv_get(s, S("\0key\0zero\0"), &v), ENG_ENOTFOUND);
    del(s, &r, "k", 1);
    del(s, &r, "k", 1);                        /* deleting a missing key is fine */
    del(s, &r, "never", 5);
    del(s, &r, maxkey, sizeof maxkey);
    assert_int_equal(eng__kv_get(s, "k", 1, &v), ENG_ENOTFOUND);
    conf_assert_equals(s, &r);
    put(s, &r, "k", 1, "back", 4);             /* a deleted key can come back */
    conf_assert_equals(s, &r);
    conf_close(s);
    conf_ref_free(&r);
}

/* Keys chosen around the places where byte order goes wrong: signed chars,
 * zero bytes, a key that is a prefix of another, 0xff runs at the end of a
 * prefix (its successor carries), and an all-0xff prefix (no successor). */
static const struct {
    const char *k;
    size_t kl;
} order_keys[] = {
    {S("a")}, {S("a\0")}, {S("a\0\0")}, {S("a\x01")}, {S("a\x7f")}, {S("a\x80")}, {S("a\xfe\xff")},
    {S("a\xff")}, {S("a\xff\0")}, {S("a\xff\xff")}, {S("a\xff\xff\x01")}, {S("aa")}, {S("ab")},
    {S("ab\xff")}, {S("b")}, {S("\0")}, {S("\0\0")}, {S("\x01")}, {S("\x7f")}, {S("\x80")},
    {S("\xff")}, {S("\xff\0")}, {S("\xff\xff")}, {S("\xff\xff\xff")}, {S("A")}, {S("Z")},
};
#define NORDER (sizeof order_keys / sizeof order_keys[0])

static int stop_after_3(const void *k, size_t kl, const void *v, size_t vl, void *u)
{
    (void)k; (void)kl; (void)v; (void)vl;
    return ++*(int *)u == 3 ? 1 : 0;
}

static int abort_at_2(const void *k, size_t kl, const void *v, size_t vl, void *u)
{
    (void)k; (void)kl; (void)v; (void)vl;
    return ++*(int *)u == 2 ? ENG_ECANCELLED : 0;
}

static void scan_is_memcmp_ordered_by_prefix(void **state)
{
    eng_store *s = conf_open(*state);
    conf_ref r = {0};
    /* Insert in a scrambled order: the store, not the insertion, sorts. */
    for (size_t i = 0; i < NORDER; i++) {
        size_t j = (i * 7 + 3) % NORDER;
        char v[8];
        snprintf(v, sizeof v, "%zu", j);
        put(s, &r, order_keys[j].k, order_keys[j].kl, v, strlen(v));
    }
    conf_assert_equals(s, &r);
    static const struct {
        const char *p;
        size_t pl;
    } prefixes[] = {{S("a")}, {S("a\0")}, {S("a\xff")}, {S("a\xff\xff")}, {S("ab")}, {S("\xff")},
                    {S("\xff\xff")}, {S("\xff\xff\xff\xff")}, {S("\0")}, {S("\x7f")}, {S("zz")}, {S("a\x80")}};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        conf_assert_prefix(s, &r, prefixes[i].p, prefixes[i].pl);
    /* A positive return stops early with ENG_OK; a negative one aborts with that code. */
    int n = 0;
    assert_int_equal(eng__kv_scan(s, "", 0, stop_after_3, &n), ENG_OK);
    assert_int_equal(n, 3);
    n = 0;
    assert_int_equal(eng__kv_scan(s, "a", 1, abort_at_2, &n), ENG_ECANCELLED);
    assert_int_equal(n, 2);
    conf_close(s);
    conf_ref_free(&r);
}

/* The contract lets a scan callback read (the library never writes there):
 * a get from inside every visit and whole nested scans, in and out of a batch. */
typedef struct nested {
    eng_store *s;
    const conf_ref *want;
    int visits;
} nested;

static int read_inside_scan(const void *k, size_t kl, const void *v, size_t vl, void *u)
{
    nested *n = u;
    eng__val got;
    if (eng__kv_get(n->s, k, kl, &got) != ENG_OK)
        return ENG_ERROR;
    int same = got.len == vl && (vl == 0 || memcmp(got.data, v, vl) == 0);
    eng__val_free(n->s, &got);
    if (n->visits++ % 25 == 0) { /* a nested scan now and then: long enough to be paged */
        conf_ref inner = {0};
        int rc = conf_scan_into(n->s, "n/", 2, &inner);
        same &= rc == ENG_OK && inner.n == n->want->n;
        conf_ref_free(&inner);
    }
    return same ? 0 : ENG_ERROR;
}

static void scan_callback_may_read(void **state)
{
    eng_store *s = conf_open(*state);
    conf_ref r = {0};
    for (int i = 0; i < 300; i++) {
        char k[16];
        snprintf(k, sizeof k, "n/%03d", i);
        put(s, &r, k, strlen(k), k, strlen(k));
    }
    nested n = {s, &r, 0};
    assert_int_equal(eng__kv_scan(s, "n/", 2, read_inside_scan, &n), ENG_OK);
    assert_int_equal(n.visits, 300);
    assert_int_equal(eng__kv_begin(s), ENG_OK);
    put(s, &r, "n/999", 5, "in batch", 8);
    n.visits = 0;
    assert_int_equal(eng__kv_scan(s, "n/", 2, read_inside_scan, &n), ENG_OK);
    assert_int_equal(n.visits, 301);
    assert_int_equal(eng__kv_commit(s), ENG_OK);
    conf_assert_equals(s, &r);
    conf_close(s);
    conf_ref_free(&r);
}

/* Enough keys that a backend reading a scan page by page crosses pages, and
 * prefixes that select runs in the middle. */
static void many_keys_in_one_batch(void **state)
{
    eng_store *s = conf_open(*state);
    conf_ref r = {0};
    assert_int_equal(eng__kv_begin(s), ENG_OK);
    for (int i = 0; i < 3000; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "m/%c/%05d", "abc"[i % 3], (i * 7919) % 3000);
        snprintf(v, sizeof v, "%d", i);
        put(s, &r, k, strlen(k), v, strlen(v));
    }
    conf_assert_prefix(s, &r, "m/b/", 4);       /* inside the batch */
    assert_int_equal(eng__kv_commit(s), ENG_OK);
    conf_assert_equals(s, &r);
    conf_assert_prefix(s, &r, "m/c/", 4);
    conf_assert_prefix(s, &r, "m/a/00", 6);
    conf_close(s);
    conf_ref_free(&r);
}

static void batch_reads_its_own_writes(void **state)
{
    eng_store *s = conf_open(*state);
    conf_ref r = {0};
    put(s, &r, "x/1", 3, "old1", 4);
    put(s, &r, "x/2", 3, "old2", 4);
    put(s, &r, "x/3", 3, "old3", 4);
    assert_int_equal(eng__kv_begin(s), ENG_OK);
    put(s, &r, "x/2", 3, "new2", 4);   /* overwrite */
    del(s, &r, "x/3", 3);              /* delete */
    put(s, &r, "x/25", 4, "ins", 3);   /* insert between */
    put(s, &r, "x/0", 3, "first", 5);  /* insert before */
    del(s, &r, "x/25", 4);             /* delete what the batch inserted */
    put(s, &r, "x/25", 4, "again", 5); /* and insert it again */
    conf_assert_equals(s, &r);         /* get and scan see the open batch */
    conf_assert_prefix(s, &r, "x/2", 3);
    assert_int_equal(eng__kv_commit(s), ENG_OK);
    conf_assert_equals(s, &r);
    /* An empty batch commits and changes nothing. */
    assert_int_equal(eng__kv_begin(s), ENG_OK);
    assert_int_equal(eng__kv_commit(s), ENG_OK);
    conf_assert_equals(s, &r);
    conf_close(s);
    conf_ref_free(&r);
}

static void rollback_discards_the_batch(void **state)
{
    eng_store *s = conf_open(*state);
    conf_ref r = {0};
    put(s, &r, "y/1", 3, "keep1", 5);
    put(s, &r, "y/2", 3, "keep2", 5);
    assert_int_equal(eng__kv_begin(s), ENG_OK);
    put(s, NULL, "y/1", 3, "changed", 7);
    del(s, NULL, "y/2", 3);
    put(s, NULL, "y/3", 3, "added", 5);
    assert_int_equal(eng__kv_rollback(s), ENG_OK);
    conf_assert_equals(s, &r);
    /* The store is usable after a rollback, in and out of batches. */
    assert_int_equal(eng__kv_begin(s), ENG_OK);
    put(s, &r, "y/4", 3, "b", 1);
    assert_int_equal(eng__kv_commit(s), ENG_OK);
    put(s, &r, "y/5", 3, "solo", 4);
    conf_assert_equals(s, &r);
    conf_close(s);
    conf_ref_free(&r);
}

static void large_values(void **state)
{
    eng_store *s = conf_open(*state);
    conf_ref r = {0};
    size_t n = (size_t)4 << 20;
    uint8_t *big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)(i * 2654435761u >> 13);
    put(s, &r, "big/solo", 8, big, n);
    assert_int_equal(eng__kv_begin(s), ENG_OK);
    big[n / 2] ^= 0x5a;
    put(s, &r, "big/batch", 9, big, n - 1);
    conf_assert_equals(s, &r);
    assert_int_equal(eng__kv_commit(s), ENG_OK);
    conf_assert_equals(s, &r);
    free(big);
    conf_close(s);
    conf_ref_free(&r);
}

/* What the library checks before calling the backend, and the batch state it
 * keeps: these hold whatever the backend. */
static void contract_errors(void **state)
{
    eng_store *s = conf_open(*state);
    char big[ENG_STORE_MAX_KEY + 1];
    memset(big, 'k', sizeof big);
    assert_int_equal(eng__kv_put(s, big, sizeof big, "v", 1), ENG_EINVAL);
    assert_int_equal(eng__kv_put(s, "", 0, "v", 1), ENG_EINVAL);
    assert_int_equal(eng__kv_commit(s), ENG_EMISUSE);
    assert_int_equal(eng__kv_begin(s), ENG_OK);
    assert_int_equal(eng__kv_begin(s), ENG_EBUSY);
    assert_int_equal(eng__kv_rollback(s), ENG_OK);
    eng__val v;
    assert_int_equal(eng__kv_get(s, "nope", 4, &v), ENG_ENOTFOUND);
    assert_string_equal(eng_error_last()->detail, "nope");
    conf_ref empty = {0};
    conf_assert_equals(s, &empty);
    conf_close(s);
}

/* Random puts, deletes, batches and rollbacks against the reference model,
 * compared after every step (inside the batch too). */
static void random_operations_match_reference(void **state)
{
    eng_store *s = conf_open(*state);
    conf_ref committed = {0}, cur = {0};
    unsigned seed = 12345;
    for (int round = 0; round < 150; round++) {
        seed = seed * 1103515245u + 12345u;
        int batch = (seed >> 16) % 3 != 0;
        if (batch)
            assert_int_equal(eng__kv_begin(s), ENG_OK);
        conf_ref_copy(&cur, &committed);
        int nops = 1 + (int)((seed >> 8) % 10);
        for (int o = 0; o < nops; o++) {
            seed = seed * 1103515245u + 12345u;
            uint8_t k[3] = {'r', (uint8_t)((seed >> 16) % 40 * 6), (uint8_t)(seed >> 24 & 1)};
            size_t kl = 2 + (seed >> 20 & 1);
            if ((seed >> 12) % 4 == 0) {
                del(s, &cur, k, kl);
            } else {
                char v[32];
                snprintf(v, sizeof v, "v%d-%d", round, o);
                put(s, &cur, k, kl, v, strlen(v) * ((seed >> 14) % 5 != 0)); /* some empty */
            }
            if (!batch)
                conf_ref_copy(&committed, &cur);
        }
        conf_assert_equals(s, &cur);
        if (batch) {
            if ((seed >> 10) % 4 == 0) {
                assert_int_equal(eng__kv_rollback(s), ENG_OK);
            } else {
                assert_int_equal(eng__kv_commit(s), ENG_OK);
                conf_ref_copy(&committed, &cur);
            }
            conf_assert_equals(s, &committed);
        }
    }
    conf_close(s);
    conf_ref_free(&committed);
    conf_ref_free(&cur);
}

#define CASE(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int conf_run(const conf_backend *b)
{
    conf_cur = b;
    const struct CMUnitTest tests[] = {
        CASE(fresh_location_is_empty),
        CASE(put_get_replace_delete),
        CASE(scan_is_memcmp_ordered_by_prefix),
        CASE(scan_callback_may_read),
        CASE(many_keys_in_one_batch),
        CASE(batch_reads_its_own_writes),
        CASE(rollback_discards_the_batch),
        CASE(large_values),
        CASE(contract_errors),
        CASE(random_operations_match_reference),
        CASE(conf_reopen_persists),
        CASE(conf_free_with_open_batch),
        CASE(conf_killed_inside_batch),
        CASE(conf_killed_at_random_points),
        CASE(conf_engine_round_trip),
    };
    return _cmocka_run_group_tests(b->name, tests, sizeof tests / sizeof tests[0], NULL, NULL);
}
